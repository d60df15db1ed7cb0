"""detbench's PyTorch worker: runs workloads sent by harness/backends/torch/torch.ts.

Protocol version 3 (documented in harness/backends/torch/torch.ts): JSON lines on stdin and stdout, one
request and one reply per line; tensors travel as raw little-endian files (float32, or int32 for
token ids), never pickle. The determinism mode comes from the environment
(DETBENCH_TORCH_MODE=det|nondet, or det-warn for `detbench doctor`) and is applied before anything touches CUDA; CUBLAS_WORKSPACE_CONFIG
is set by the caller for det, as PyTorch requires it before CUDA initialises.
"""
import array
import contextlib
import ctypes
import json
import math
import os
import queue
import sys
import threading
import time

PROTOCOL = 3
MODE = os.environ.get("DETBENCH_TORCH_MODE", "nondet")


def reply(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


try:
    import torch
    import datalayer
except Exception as err:  # answer every request with the reason, so the harness can say it
    for line in sys.stdin:
        request = json.loads(line)
        reply({"id": request.get("id"), "ok": False, "unsupported": False, "error": "torch is not importable: %s: %s" % (type(err).__name__, err)})
    sys.exit(0)

# PyTorch's own default, before the mode sets it (hello reports it: `detbench doctor` checks it)
BENCHMARK_DEFAULT = bool(torch.backends.cudnn.benchmark)

if MODE == "det-warn":  # `detbench doctor`: warn where det would raise, to name every such op
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
elif MODE == "det":
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
else:
    torch.backends.cudnn.benchmark = True

# The session's numerics (harness/axes.ts): fp32 unless hello says otherwise.
NUMERICS = "fp32"


def set_numerics(numerics):
    """fp32 turns TF32 off for cuBLAS matmuls and cuDNN convolutions (PyTorch leaves
    cudnn.allow_tf32 on by default, so on Ampere and later GPUs a float32 convolution would run in
    TF32); tf32 turns both on; bf16 keeps TF32 off and runs forward passes under autocast."""
    global NUMERICS
    NUMERICS = numerics or "fp32"
    tf32 = NUMERICS == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


set_numerics("fp32")


def autocast(device):
    """bf16: torch.autocast to bfloat16 (matmuls and convolutions in bfloat16, the rest as autocast
    decides); otherwise no context at all."""
    if NUMERICS == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def autocast_state(device):
    """What autocast does inside autocast(device), read back from PyTorch: a dtype name, or "off".
    PyTorch 2.4 replaced the per-device getters (get_autocast_gpu_dtype, is_autocast_cpu_enabled, …)
    with get_autocast_dtype(device_type) and is_autocast_enabled(device_type) and deprecated the old
    ones (pytorch/pytorch#124359); the new ones are used wherever they exist, the old ones on 1.x."""
    with autocast(device):
        if hasattr(torch, "get_autocast_dtype"):
            enabled, dtype = torch.is_autocast_enabled(device.type), torch.get_autocast_dtype(device.type)
        elif device.type == "cuda":
            enabled, dtype = torch.is_autocast_enabled(), torch.get_autocast_gpu_dtype()
        else:
            enabled, dtype = torch.is_autocast_cpu_enabled(), torch.get_autocast_cpu_dtype()
        return str(dtype).replace("torch.", "") if enabled else "off"


def hello(threads=None, numerics=None, device=None, autotune=None):
    """Versions, devices and every switch as PyTorch reports it back; `threads` (CPU sessions) sets the
    intra-op thread count, `numerics` the session's numerics and `autotune` "on" cuDNN's algorithm
    search (cudnn.benchmark) first. det keeps use_deterministic_algorithms and cudnn.deterministic,
    so cuDNN then times deterministic algorithms only and keeps the fastest: which one may differ
    from process to process. "off" leaves the mode's setting (det: off; nondet: PyTorch's defaults
    with benchmark on)."""
    if threads:
        torch.set_num_threads(int(threads))
    if numerics:
        set_numerics(numerics)
    if autotune == "on":
        torch.backends.cudnn.benchmark = True
    cuda = torch.cuda.is_available()
    return {
        "protocol": PROTOCOL,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        "defaults": {"cudnn.benchmark": BENCHMARK_DEFAULT},
        "flags": {
            "use_deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "cudnn.deterministic": bool(torch.backends.cudnn.deterministic),
            "cudnn.benchmark": bool(torch.backends.cudnn.benchmark),
            "CUBLAS_WORKSPACE_CONFIG": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
            "num_threads": torch.get_num_threads(),
            "cuda.matmul.allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
            "cudnn.allow_tf32": bool(torch.backends.cudnn.allow_tf32),
            "autocast": autocast_state(torch.device(device or "cpu")),
            # environment variables that override the TF32 flags behind PyTorch's back
            "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE": os.environ.get("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE"),
            "NVIDIA_TF32_OVERRIDE": os.environ.get("NVIDIA_TF32_OVERRIDE"),
        },
    }


def load(entry, device):
    with open(entry["path"], "rb") as f:
        data = bytearray(f.read())
    dtype = torch.int32 if entry["dtype"] == "int32" else torch.float32
    return torch.frombuffer(data, dtype=dtype).reshape(entry["shape"]).to(device)


def raw_float32(t):
    """Little-endian float32 bytes of a tensor, read straight from its CPU memory: no numpy, which
    pip's PyTorch does not require, and no Python float per element (tolist, the old fallback without
    numpy): a traced run of the gpu preset writes hundreds of millions of elements."""
    data = t.detach().to(device="cpu", dtype=torch.float32).contiguous()
    if data.numel() == 0:
        return b""
    raw = ctypes.string_at(data.data_ptr(), data.numel() * 4)
    if sys.byteorder == "little":
        return raw
    values = array.array("f", raw)
    values.byteswap()
    return values.tobytes()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Ops:
    """Locating (harness/run/locate.ts): every op's output as it is computed, in the declared layout
    (NHWC), under the names the request gives (workloads/ops.ts), appended to a raw float32 file.
    Reading values and gradient hooks that return nothing change no bit of what is computed."""

    def __init__(self, names, path):
        self.names = names
        self.step = 0
        self.index = []  # [step, op, elements] in the order written
        self.file = open(path, "wb")

    def record(self, op, t, nchw=False):
        if nchw and t.dim() == 4:
            t = t.permute(0, 2, 3, 1)
        self.file.write(raw_float32(t))
        self.index.append([self.step, op, t.numel()])

    def layer(self, path, sub, t, nchw=False):
        self.record("%s.%s" % (self.names["layers"][path], sub), t, nchw)

    def gradient(self, op, t, nchw=False):
        """Records t's gradient when backward reaches it (only where one is computed)."""
        if op and t.requires_grad:
            t.register_hook(lambda g: self.record(op, g, nchw))

    def close(self):
        self.file.close()


class Model:
    """The training primitives of workloads/types.ts in PyTorch, by parameter name. Data and conv
    weights arrive in TensorFlow layouts (NHWC, [kh, kw, cin, cout]) and are transposed here, so every
    backend starts from the same bits; flatten goes back to NHWC order, as the other backends flatten."""

    def __init__(self, spec, tensors):
        self.spec = spec
        self.tensors = tensors  # name -> parameter (requires grad) or running statistic
        self.ops = None  # locating: an Ops, during training steps only

    def forward(self, x, training, masks=None):
        h, nchw = self.layers(self.spec["layers"], x, "l", training, masks or {}, False)
        if nchw:
            h = h.permute(0, 2, 3, 1)
        if self.ops:
            self.ops.gradient(self.ops.names.get("headGradInput"), h)
        z = h @ self.tensors["head.w"]
        if self.ops:
            self.ops.layer("head", "matmul", z)
        logits = z + self.tensors["head.b"]
        if self.ops:
            self.ops.layer("head", "forward", logits)
        return logits

    def layers(self, layers, h, prefix, training, masks, nchw):
        for i, layer in enumerate(layers):
            path = "l%d" % i if prefix == "l" else "%s.%d" % (prefix, i)
            if self.ops:
                self.ops.gradient(self.ops.names["gradInput"].get(path), h, nchw)
            h, nchw = self.layer(layer, h, path, training, masks, nchw)
            if self.ops and layer["kind"] != "flatten":
                self.ops.layer(path, "forward", h, nchw)
        return h, nchw

    def layer(self, layer, h, path, training, masks, nchw):
        F = torch.nn.functional
        t = lambda name: self.tensors["%s.%s" % (path, name)]
        kind = layer["kind"]
        if kind == "dense":
            h = h @ t("w")
            if self.ops:
                self.ops.layer(path, "matmul", h)
            if layer.get("bias", True):
                h = h + t("b")
            return activate(h, layer["activation"]), nchw
        if kind == "conv2d":
            if not nchw:
                h, nchw = h.permute(0, 3, 1, 2), True
            bias = t("b") if layer.get("bias", True) else None
            y = F.conv2d(h, t("w").permute(3, 2, 0, 1), bias, padding="same")
            if self.ops and bias is None:  # with a bias, torch adds it inside the convolution: no op of its own
                self.ops.layer(path, "conv", y, True)
            return activate(y, layer["activation"]), nchw
        if kind == "pool":
            pool = F.max_pool2d if layer["op"] == "max" else F.avg_pool2d
            return pool(h, layer["size"], layer["size"]), nchw
        if kind == "flatten":
            if nchw:
                h, nchw = h.permute(0, 2, 3, 1), False
            return h.reshape(h.shape[0], -1), nchw
        if kind == "embedding":
            return t("table")[h.long()], nchw
        if kind == "meanPool":
            return h.mean(dim=1), nchw
        if kind == "positionEmbedding":
            return h + t("table"), nchw
        if kind == "layerNorm":
            return F.layer_norm(h, (h.shape[-1],), t("gamma"), t("beta"), eps=LAYER_NORM_EPSILON), nchw
        if kind == "batchNorm":
            # PyTorch's own definition is the one declared: batch statistics (biased variance) in
            # training, running statistics updated in place with the unbiased variance, momentum 0.1
            h = F.batch_norm(h, t("runningMean"), t("runningVar"), t("gamma"), t("beta"), training=training,
                             momentum=BATCH_NORM_MOMENTUM, eps=BATCH_NORM_EPSILON)
            if self.ops:  # the running statistics, updated in place
                self.ops.layer(path, "runningMean", t("runningMean"))
                self.ops.layer(path, "runningVar", t("runningVar"))
            return h, nchw
        if kind == "activation":
            return activate(h, layer["fn"]), nchw
        if kind == "dropout":
            if not training:
                return h, nchw
            mask = masks["dropout." + path]
            return h * (mask.permute(0, 3, 1, 2) if nchw else mask), nchw
        if kind == "selfAttention":
            return self_attention(h, layer["heads"], t, self.ops and (lambda sub, v: self.ops.layer(path, sub, v))), nchw
        if kind == "residual":
            inner, inner_nchw = self.layers(layer["layers"], h, path, training, masks, nchw)
            if inner_nchw != nchw:
                raise ValueError("%s: a residual block must keep its layout" % path)
            return h + inner, nchw
        if kind == "globalAvgPool":
            # a plain mean over height and width: its backward has deterministic kernels, unlike
            # AdaptiveAvgPool2d's on CUDA
            return (h.mean(dim=(2, 3)) if nchw else h.mean(dim=(1, 2))), False
        raise ValueError("unknown layer %s" % kind)


LAYER_NORM_EPSILON = 1e-5
BATCH_NORM_EPSILON = 1e-5
BATCH_NORM_MOMENTUM = 0.1


def activate(h, fn):
    if fn == "relu":
        return torch.relu(h)
    if fn == "gelu":
        return torch.nn.functional.gelu(h, approximate="tanh")
    return h


def self_attention(x, heads, t, record=None):
    """Causal multi-head self-attention (workloads/types.ts): masked scores are -inf, weights exactly 0.
    `record(sub, value)` (locating) sees q, k, v, the softmax weights and the heads' concatenated output."""
    batch, seq, dim = x.shape
    dh = dim // heads
    record = record or (lambda sub, v: None)
    split = lambda y: y.reshape(batch, seq, heads, dh).transpose(1, 2)
    q, k, v = x @ t("wq") + t("bq"), x @ t("wk"), x @ t("wv") + t("bv")  # no key bias
    for sub, value in (("q", q), ("k", k), ("v", v)):
        record(sub, value)
    q, k, v = split(q), split(k), split(v)
    scores = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(dh))
    causal = torch.ones(seq, seq, dtype=torch.bool, device=x.device).triu(1)
    weights = torch.softmax(scores.masked_fill(causal, float("-inf")), dim=-1)
    record("softmax", weights)
    o = (weights @ v).transpose(1, 2).reshape(batch, seq, dim)
    record("context", o)
    return o @ t("wo") + t("bo")


def mean_xent(logits, y, classes):
    """Mean softmax cross-entropy over the prediction units (examples, or examples x tokens)."""
    logits = logits.reshape(-1, classes)
    onehot = torch.nn.functional.one_hot(y.reshape(-1).long(), classes).to(logits.dtype)
    return -(onehot * torch.log_softmax(logits, dim=1)).sum() / logits.shape[0]


def optimizer_for(spec, params):
    """PyTorch's own optimizers, whose update rules are the ones workloads/types.ts declares."""
    o = spec.get("optimizer") or {"kind": "sgd"}
    lr = spec["learningRate"]
    if o["kind"] == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=o["momentum"], weight_decay=o["weightDecay"])
    if o["kind"] == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(o["beta1"], o["beta2"]), eps=o["epsilon"], weight_decay=o["weightDecay"])
    return torch.optim.SGD(params, lr=lr)


_loaded = {"key": None, "tensors": None}


def load_inputs(request, device):
    """The request's input files on `device`. The harness writes each input set to new files once,
    so the last set loaded is kept and reused while requests name the same files."""
    key = (str(device), tuple(t["path"] for t in request["inputs"]))
    if _loaded["key"] != key:
        _loaded["key"], _loaded["tensors"] = None, None  # free the old set first
        _loaded["tensors"] = {t["name"]: load(t, device) for t in request["inputs"]}
        _loaded["key"] = key
    return _loaded["tensors"]


def compute(spec, tensors, names, device, trace=False, state=(), dropout=(), dtype=torch.float32, ops=None, resume=None):
    """The timed part of a run: the workload on `device`, synchronised before and after; for training
    workloads the evaluation forward pass follows, untimed. `ops` (locating): an Ops. `resume` (resume
    replay, datalayer.py): `from` a checkpoint (name -> tensor), `stop_after` K steps (no evaluation),
    `state` (return the training state). Returns (outputs [(name, tensor)], loss, compute_ms, per-step
    weights or [], (evaluation logits, their milliseconds) or None, training state [(name, tensor)] or None)."""
    resume = resume or {}
    steps = []
    cast = lambda t: t.to(dtype) if t.is_floating_point() else t
    if spec["kind"] == "infer":
        sync(device)
        start = time.perf_counter()
        with torch.no_grad(), autocast(device):
            if spec["op"] == "attention":
                q, k, v = (cast(tensors[n]) for n in ("q", "k", "v"))
                weights = torch.softmax(q @ k.transpose(-1, -2) * (1 / math.sqrt(spec["dim"])), dim=-1)
                if ops:
                    ops.record(ops.names["infer"][0], weights)
                out = weights @ v
            elif spec["op"] in ("reduceSum", "atomicSum"):  # atomic-sum's value is a plain sum (the oracle's)
                out = cast(tensors["x"]).sum().reshape(1)
            elif spec["op"] == "indexAdd":
                src = cast(tensors["src"])
                out = torch.zeros(spec["buckets"], dtype=src.dtype, device=device).index_add_(0, tensors["index"].long(), src)
            elif spec["op"] == "forward":  # a model at its initial weights, evaluation mode, on its held-out set
                model = Model(spec["model"], {n: cast(tensors[n]) for n in list(names) + list(state)})
                x = tensors["xEval"]
                out = model.forward(cast(x) if x.is_floating_point() else x, False).reshape(-1, spec["model"]["classes"])
            else:
                out = cast(tensors["a"]) @ cast(tensors["b"])
        if ops:
            ops.record(ops.names["infer"][-1], out)
        sync(device)
        return [("out", out)], None, (time.perf_counter() - start) * 1000, steps, None, None
    params = [cast(tensors[n]).clone().requires_grad_(True) for n in names]
    buffers = [cast(tensors[n]).clone() for n in state]
    model = Model(spec, dict(zip(list(names) + list(state), params + buffers)))
    model.ops = ops
    xs, ys, lrs = tensors["x"], tensors["y"], tensors["lr"].tolist()
    masks = {n: cast(tensors[n]) for n in dropout}
    if xs.is_floating_point():
        xs = cast(xs)
    optimizer = optimizer_for(spec, params)
    weight_names, weights = list(names) + list(state), params + buffers
    first = datalayer.restore_state(spec, weight_names, weights, params, optimizer, resume["from"], bool(dropout)) if resume.get("from") else 0
    last = resume.get("stop_after") or spec["steps"]
    clip = spec.get("clipNorm")
    loss = None
    sync(device)
    start = time.perf_counter()
    copy_ms = 0.0
    for step in range(first, last):
        if ops:
            ops.step = step
        with autocast(device):  # the forward pass and the loss (PyTorch's recipe); backward outside
            logits = model.forward(xs[step], True, {n: m[step] for n, m in masks.items()})
            if ops:
                ops.gradient(ops.names["lossGrad"], logits)
            value = mean_xent(logits, ys[step], spec["classes"])
        if ops:
            ops.record(ops.names["loss"], value)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        if ops:
            for n, p in zip(names, params):
                ops.record(ops.names["paramGrad"][n], p.grad)
        if clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(params, clip)
            if ops:
                ops.record(ops.names["clip"], norm)
        for group in optimizer.param_groups:
            group["lr"] = lrs[step]
        optimizer.step()
        if ops:
            for n, p in zip(names, params):
                ops.record(ops.names["update"][n], p)
        loss = value
        if trace:
            # the step's kernels finish inside the timed span: the copy below would wait for them
            sync(device)
            t0 = time.perf_counter()
            steps.append(torch.cat([w.detach().reshape(-1) for w in params + buffers]).float().cpu())
            copy_ms += (time.perf_counter() - t0) * 1000
    sync(device)
    compute_ms = (time.perf_counter() - start) * 1000 - copy_ms
    model.ops = None
    evaluation = None
    if not resume.get("stop_after"):
        t0 = time.perf_counter()
        with torch.no_grad(), autocast(device):
            x_eval = tensors["xEval"]
            logits = model.forward(cast(x_eval) if x_eval.is_floating_point() else x_eval, False).reshape(-1, spec["classes"])
        logits = logits.detach().cpu()  # read back, as tfjs and onnxruntime time it
        evaluation = (logits, (time.perf_counter() - t0) * 1000)
    outputs = [(n, w.detach()) for n, w in zip(weight_names, weights)]
    training_state = datalayer.export_state(spec, weight_names, weights, params, optimizer, last, bool(dropout)) if resume.get("state") or resume.get("stop_after") else None
    return outputs, (float(loss.item()) if loss is not None else None), compute_ms, steps, evaluation, training_state


def run(request):
    device = torch.device(request["device"])
    if device.type == "cpu" and request.get("threads"):
        torch.set_num_threads(int(request["threads"]))  # intra-op threads: the cell's thread count
    tensors = load_inputs(request, device)
    dtype = torch.float64 if request.get("dtype") == "float64" else torch.float32
    resume = dict(request.get("resume") or {})
    if resume.get("from"):
        resume["from"] = load_state(resume["from"], device)
    if request.get("loader"):
        # the cached inputs stay as loaded: this run's batches come from its own DataLoader
        first = int(float(resume["from"]["data/position"])) // request["spec"]["batch"] if resume.get("from") else 0
        tensors = dict(tensors)
        tensors["x"], tensors["y"] = datalayer.load_batches(request["spec"], tensors, request["loader"], first)
    ops = Ops(request["ops"], request["out"] + ".ops") if request.get("ops") else None
    run_compute = lambda: compute(request["spec"], tensors, request["params"], device, request.get("trace"),
                                  request.get("state", ()), request.get("dropout", ()), dtype, ops, resume)
    alerts = []
    try:
        if MODE == "det-warn":
            (outputs, loss, compute_ms, trace, evaluation, training_state), alerts = datalayer.nondeterministic_ops(run_compute)
        else:
            outputs, loss, compute_ms, trace, evaluation, training_state = run_compute()
    finally:
        if ops:
            ops.close()
    meta = write_tensors(request["out"], outputs)
    offset = sum(t.numel() for _, t in outputs)
    if trace:
        with open(request["out"] + ".trace", "wb") as f:
            for t in trace:
                f.write(raw_float32(t))
    if evaluation is not None:
        with open(request["out"] + ".eval", "wb") as f:
            f.write(raw_float32(evaluation[0]))
    reply = {"outputs": meta, "elements": offset, "compute_ms": compute_ms, "loss": loss, "trace": bool(trace), "eval": evaluation is not None,
             "ops": ops.index if ops else None}
    if evaluation is not None:
        reply["eval_ms"] = evaluation[1]
    if training_state is not None:
        reply["state"] = write_tensors(request["out"] + ".state", training_state)
    if MODE == "det-warn":
        reply["nondeterministic"] = alerts
    return reply


def write_tensors(path, named):
    """Tensors as one raw float32 file; returns where each lies: [{name, shape, offset}]."""
    meta, offset = [], 0
    with open(path, "wb") as f:
        for name, t in named:
            f.write(raw_float32(t))
            meta.append({"name": name, "shape": list(t.shape), "offset": offset})
            offset += t.numel()
    return meta


def load_state(entry, device):
    """A training state written by detbench (harness/checkpoint.ts): {path, tensors: [{name, shape,
    offset}]} of one raw float32 file -> {name: tensor}."""
    with open(entry["path"], "rb") as f:
        data = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    tensors, metas = {}, entry["tensors"]
    for i, m in enumerate(metas):
        end = metas[i + 1]["offset"] if i + 1 < len(metas) else data.numel()
        tensors[m["name"]] = data[m["offset"]:end].reshape(m["shape"]).to(device)
    return tensors


def unsupported(err):
    """PyTorch's error for an op without a deterministic implementation under
    use_deterministic_algorithms(True): the run is `unsupported`, not failed."""
    return isinstance(err, RuntimeError) and "does not have a deterministic implementation" in str(err)


EXIT_GRACE_S = float(os.environ.get("DETBENCH_TORCH_EXIT_GRACE", "10"))  # seconds; tests shorten it


def raw_lines(fd):
    """Lines of a file descriptor read with os.read, not through sys.stdin: a thread blocked in
    sys.stdin holds its buffer's lock, and a process forked meanwhile (a DataLoader worker) hangs for
    ever when multiprocessing closes stdin in the child, which takes that lock."""
    pending = b""
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        *complete, pending = (pending + chunk).split(b"\n")
        for line in complete:
            yield line.decode("utf-8")
    if pending:
        yield pending.decode("utf-8")


def requests():
    """Request lines, read by a thread of their own. When stdin closes — detbench ended the session,
    terminated its worker thread after a run timeout, or died — the requests already read are still
    answered, but the process leaves after EXIT_GRACE_S seconds whatever it is doing, so a hung or
    abandoned run does not keep a GPU busy."""
    lines = queue.Queue()

    def read():
        for line in raw_lines(0):
            lines.put(line)
        lines.put(None)
        time.sleep(EXIT_GRACE_S)
        os._exit(0)

    threading.Thread(target=read, daemon=True).start()
    while True:
        line = lines.get()
        if line is None:
            return
        yield line


def serve():
    for line in requests():
        request = json.loads(line)
        try:
            if request["op"] == "hello":
                result = hello(request.get("threads"), request.get("numerics"), request.get("device"), request.get("autotune"))
            elif request["op"] == "run":
                result = run(request)
            elif request["op"] == "exit":
                reply({"id": request["id"], "ok": True})
                break
            else:
                raise ValueError("unknown op %r" % request["op"])
            reply(dict(result, id=request["id"], ok=True))
        except Exception as err:  # a run that fails is a record, not a dead worker
            reply({"id": request["id"], "ok": False, "error": "%s: %s" % (type(err).__name__, err), "unsupported": unsupported(err)})


if __name__ == "__main__":
    serve()
