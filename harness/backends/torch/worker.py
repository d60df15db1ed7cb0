"""detbench's PyTorch worker: runs workloads sent by harness/backends/torch/torch.ts.

Protocol version 1 (documented in harness/backends/torch/torch.ts): JSON lines on stdin and stdout, one
request and one reply per line; tensors travel as raw little-endian files (float32, or int32 for
token ids), never pickle. The determinism mode comes from the environment
(DETBENCH_TORCH_MODE=det|nondet) and is applied before anything touches CUDA; CUBLAS_WORKSPACE_CONFIG
is set by the caller for det, as PyTorch requires it before CUDA initialises.
"""
import array
import json
import math
import os
import queue
import sys
import threading
import time

PROTOCOL = 1
MODE = os.environ.get("DETBENCH_TORCH_MODE", "nondet")


def reply(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


try:
    import torch
except Exception as err:  # answer every request with the reason, so the harness can say it
    for line in sys.stdin:
        request = json.loads(line)
        reply({"id": request.get("id"), "ok": False, "unsupported": False, "error": "torch is not importable: %r" % (err,)})
    sys.exit(0)

if MODE == "det":
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
else:
    torch.backends.cudnn.benchmark = True


def hello(threads=None):
    """Versions, devices and every switch as PyTorch reports it back; `threads` (CPU sessions) sets the
    intra-op thread count first."""
    if threads:
        torch.set_num_threads(int(threads))
    cuda = torch.cuda.is_available()
    return {
        "protocol": PROTOCOL,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        "flags": {
            "use_deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "cudnn.deterministic": bool(torch.backends.cudnn.deterministic),
            "cudnn.benchmark": bool(torch.backends.cudnn.benchmark),
            "CUBLAS_WORKSPACE_CONFIG": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
            "num_threads": torch.get_num_threads(),
        },
    }


def load(entry, device):
    with open(entry["path"], "rb") as f:
        data = bytearray(f.read())
    dtype = torch.int32 if entry["dtype"] == "int32" else torch.float32
    return torch.frombuffer(data, dtype=dtype).reshape(entry["shape"]).to(device)


def raw_float32(t):
    """Little-endian float32 bytes of a tensor (numpy when PyTorch has it, the array module otherwise)."""
    data = t.detach().float().contiguous().cpu()
    try:
        return data.numpy().astype("<f4", copy=False).tobytes()
    except Exception:
        values = array.array("f", data.reshape(-1).tolist())
        if sys.byteorder != "little":
            values.byteswap()
        return values.tobytes()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward(spec, params, x):
    """The harness's primitives in PyTorch. Data and conv weights arrive in TensorFlow layouts (NHWC,
    [kh, kw, cin, cout]) and are transposed here, so every backend starts from the same bits."""
    h, p, nchw = x, 0, False
    for layer in spec["layers"]:
        kind = layer["kind"]
        if kind == "dense":
            h = h @ params[p] + params[p + 1]
            p += 2
            if layer["activation"] == "relu":
                h = torch.relu(h)
        elif kind == "conv2d":
            if not nchw:
                h, nchw = h.permute(0, 3, 1, 2), True
            h = torch.nn.functional.conv2d(h, params[p].permute(3, 2, 0, 1), params[p + 1], padding="same")
            p += 2
            if layer["activation"] == "relu":
                h = torch.relu(h)
        elif kind == "pool":
            pool = torch.nn.functional.max_pool2d if layer["op"] == "max" else torch.nn.functional.avg_pool2d
            h = pool(h, layer["size"], layer["size"])
        elif kind == "flatten":
            if nchw:  # flatten in NHWC order, as the other backends do
                h, nchw = h.permute(0, 2, 3, 1), False
            h = h.reshape(h.shape[0], -1)
        elif kind == "embedding":
            h = params[p][h.long()]
            p += 1
        elif kind == "meanPool":
            h = h.mean(dim=1)
        else:
            raise ValueError("unknown layer %s" % kind)
    return h @ params[p] + params[p + 1]


def mean_xent(spec, params, x, y):
    logits = forward(spec, params, x)
    onehot = torch.nn.functional.one_hot(y.long(), spec["classes"]).to(logits.dtype)
    return -(onehot * torch.log_softmax(logits, dim=1)).sum() / spec["batch"]


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


def compute(spec, tensors, names, device, trace=False):
    """The timed part of a run: the workload on `device`, synchronised before and after.
    Returns (outputs [(name, tensor)], loss, compute_ms, per-step weights or [])."""
    steps = []
    if spec["kind"] == "infer":
        sync(device)
        start = time.perf_counter()
        with torch.no_grad():
            if spec["op"] == "attention":
                q, k, v = tensors["q"], tensors["k"], tensors["v"]
                out = torch.softmax(q @ k.transpose(-1, -2) * (1 / math.sqrt(spec["dim"])), dim=-1) @ v
            elif spec["op"] == "reduceSum":
                out = tensors["x"].sum().reshape(1)
            elif spec["op"] == "indexAdd":
                src = tensors["src"]
                out = torch.zeros(spec["buckets"], dtype=src.dtype, device=device).index_add_(0, tensors["index"].long(), src)
            else:
                out = tensors["a"] @ tensors["b"]
        sync(device)
        return [("out", out)], None, (time.perf_counter() - start) * 1000, steps
    params = [tensors[n].clone().requires_grad_(True) for n in names]
    xs, ys = tensors["x"], tensors["y"]
    lr = spec["learningRate"]
    loss = None
    sync(device)
    start = time.perf_counter()
    copy_ms = 0.0
    for step in range(spec["steps"]):
        value = mean_xent(spec, params, xs[step], ys[step])
        value.backward()
        with torch.no_grad():
            for w in params:
                w -= lr * w.grad
                w.grad = None
        loss = value
        if trace:
            t0 = time.perf_counter()
            steps.append(torch.cat([w.detach().reshape(-1) for w in params]).float().cpu())
            copy_ms += (time.perf_counter() - t0) * 1000
    sync(device)
    compute_ms = (time.perf_counter() - start) * 1000 - copy_ms
    return [(n, w.detach()) for n, w in zip(names, params)], (float(loss.item()) if loss is not None else None), compute_ms, steps


def run(request):
    device = torch.device(request["device"])
    if device.type == "cpu" and request.get("threads"):
        torch.set_num_threads(int(request["threads"]))  # intra-op threads: the cell's thread count
    tensors = load_inputs(request, device)
    outputs, loss, compute_ms, trace = compute(request["spec"], tensors, request["params"], device, request.get("trace"))
    meta, offset = [], 0
    with open(request["out"], "wb") as f:
        for name, t in outputs:
            f.write(raw_float32(t))
            meta.append({"name": name, "shape": list(t.shape), "offset": offset})
            offset += t.numel()
    if trace:
        with open(request["out"] + ".trace", "wb") as f:
            for t in trace:
                f.write(raw_float32(t))
    return {"outputs": meta, "elements": offset, "compute_ms": compute_ms, "loss": loss, "trace": bool(trace)}


def unsupported(err):
    """PyTorch's error for an op without a deterministic implementation under
    use_deterministic_algorithms(True): the run is `unsupported`, not failed."""
    return isinstance(err, RuntimeError) and "does not have a deterministic implementation" in str(err)


EXIT_GRACE_S = float(os.environ.get("DETBENCH_TORCH_EXIT_GRACE", "10"))  # seconds; tests shorten it


def requests():
    """Request lines, read by a thread of their own. When stdin closes — detbench ended the session,
    terminated its worker thread after a run timeout, or died — the requests already read are still
    answered, but the process leaves after EXIT_GRACE_S seconds whatever it is doing, so a hung or
    abandoned run does not keep a GPU busy."""
    lines = queue.Queue()

    def read():
        for line in sys.stdin:
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
                result = hello(request.get("threads"))
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
