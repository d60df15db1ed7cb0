"""The data and training-process layers of detbench's torch worker (worker.py): a real
torch.utils.data.DataLoader for workloads with a data loader, the full training state that resume
replay writes and restores (harness/checkpoint.ts has the format), and the collection of PyTorch's
"does not have a deterministic implementation" warnings for `detbench doctor`.
"""
import re
import warnings

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


class Augmented(Dataset):
    """The augmented samples of workloads/types.ts (Loader), indexed by position in the epochs laid end
    to end. det reads each sample's draw from the harness's tables, keyed by (epoch, image index) — an
    index-keyed generator, so the worker that builds a sample does not matter; nondet draws from the
    generator of the process that builds it, as most training code does: torch seeds each DataLoader
    worker with base_seed + worker_id, and the main process's generator builds them without workers."""

    def __init__(self, spec, tensors, det):
        loader = spec["loader"]
        self.height, self.width, self.channels = spec["input"]["shape"]
        self.span = 2 * loader["pad"] + 1
        self.noise_std = loader["noiseStd"]
        self.examples = loader["examples"]
        self.det = det
        self.dataset = tensors["dataset"].cpu()
        self.labels = tensors["datasetLabels"].cpu()
        self.order = tensors["loader.order"].cpu()
        if det:
            self.crop, self.flip, self.noise = (tensors[n].cpu() for n in ("loader.crop", "loader.flip", "loader.noise"))

    def __len__(self):
        return self.order.numel()

    def __getitem__(self, position):
        epoch, offset = divmod(position, self.examples)
        index = int(self.order[epoch, offset])
        if self.det:
            dy, dx = (int(v) for v in self.crop[epoch, index])
            flip, noise = bool(self.flip[epoch, index]), self.noise[epoch, index]
        else:
            dy, dx = (int(v) for v in torch.randint(0, self.span, (2,)))
            flip = bool(torch.rand(()) < 0.5)
            noise = torch.randn(self.height, self.width, self.channels) * self.noise_std
        x = self.dataset[index, dy:dy + self.height, dx:dx + self.width]
        if flip:
            x = x.flip(1)
        return x + noise, self.labels[index]


class Positions(Sampler):
    """Positions [first, last) in order: the sampler of a resumed loader starts where the data
    position of its checkpoint says."""

    def __init__(self, first, last):
        self.first, self.last = first, last

    def __iter__(self):
        return iter(range(self.first, self.last))

    def __len__(self):
        return self.last - self.first


def load_batches(spec, tensors, loader, first_step):
    """`x` [steps, batch, H, W, C] and `y` [steps, batch] as a DataLoader of loader["workers"] workers
    delivers them from step `first_step` on (earlier steps' rows stay zeros: a resumed run never reads
    them). The main process's generator is seeded with the run's seed first, as training code does."""
    batch, steps = spec["batch"], spec["steps"]
    torch.manual_seed(loader["seed"])
    data = Augmented(spec, tensors, loader["mode"] == "det")
    batches = DataLoader(data, batch_size=batch, sampler=Positions(first_step * batch, steps * batch), num_workers=loader["workers"])
    x = torch.zeros_like(tensors["x"], device="cpu")
    y = torch.zeros_like(tensors["y"], device="cpu")
    for step, (bx, by) in enumerate(batches, start=first_step):
        x[step], y[step] = bx, by
    device = tensors["x"].device
    return x.to(device), y.to(device)


# optimizer state slots, as harness/checkpoint.ts names them, and torch.optim's keys for them
SLOTS = {"adamw": (("m", "exp_avg"), ("v", "exp_avg_sq")), "momentum": (("velocity", "momentum_buffer"),), "sgd": ()}


def counters(spec, steps, dropout):
    """schedule/step, data/position and (with dropout) rng/dropout.step after `steps` steps."""
    out = [("schedule/step", torch.tensor(float(steps))), ("data/position", torch.tensor(float(steps * spec["batch"])))]
    if dropout:
        out.append(("rng/dropout.step", torch.tensor(float(steps))))
    return out


def export_state(spec, names, tensors, params, optimizer, steps, dropout):
    """The training state after `steps` steps: weights (parameters then statistics, as `names` lists
    them with `tensors`; the parameters `params` first), each parameter's optimizer slots, then the
    counters."""
    kind = (spec.get("optimizer") or {"kind": "sgd"})["kind"]
    out = [("weights/" + n, t.detach()) for n, t in zip(names, tensors)]
    for name, p in zip(names, params):  # the parameters are the first len(params) names
        state = optimizer.state.get(p, {})
        for slot, key in SLOTS[kind]:
            out.append(("optimizer/%s.%s" % (name, slot), state[key].detach() if key in state else torch.zeros_like(p)))
    return out + counters(spec, steps, dropout)


def restore_state(spec, names, tensors, params, optimizer, state, dropout):
    """Loads a checkpoint (name -> tensor) into the weights and the optimizer's state; returns the step
    to continue from. The counters must agree with the schedule's step, as harness/checkpoint.ts asks."""
    step = float(state["schedule/step"])
    if step != int(step) or not 1 <= step < spec["steps"]:
        raise ValueError("the checkpoint is at step %s, outside 1...%d" % (step, spec["steps"] - 1))
    step = int(step)
    for name, value in counters(spec, step, dropout):
        if float(state[name]) != float(value):
            raise ValueError("the checkpoint's %s is %s, but its schedule is at step %d (expected %s)" % (name, float(state[name]), step, float(value)))
    with torch.no_grad():
        for name, t in zip(names, tensors):
            t.copy_(state["weights/" + name].reshape(t.shape))
    kind = (spec.get("optimizer") or {"kind": "sgd"})["kind"]
    for name, p in zip(names, params):  # the parameters are the first len(params) names
        slots = {key: state["optimizer/%s.%s" % (name, slot)].reshape(p.shape).clone().to(p.device, p.dtype) for slot, key in SLOTS[kind]}
        if kind == "adamw":
            # torch.optim.AdamW keeps the steps done as a float tensor and takes β^t of it
            slots["step"] = torch.tensor(float(step))
        if slots:
            optimizer.state[p] = slots
    return step


ALERT = re.compile(r"^(.+?) does not have a deterministic implementation")


def nondeterministic_ops(run):
    """Calls run() and returns (its result, the ops PyTorch warned have no deterministic implementation,
    with their messages, in order, each once). Needs torch.use_deterministic_algorithms(True,
    warn_only=True), under which PyTorch warns where it would otherwise raise."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run()
    ops = {}
    for w in caught:
        text = str(w.message)
        match = ALERT.match(text)
        if match and match.group(1) not in ops:
            ops[match.group(1)] = text.split(". ")[0]
    return result, [{"op": op, "message": message} for op, message in ops.items()]
