"""The baseline for detbench's torch overhead (npm run bench): the same runs as detbench's torch
backend, done by a plain Python loop in one process. Inputs are loaded onto the device once, outside
the timing; each iteration is the workload (synchronised, as worker.py times it) plus copying the
results to the CPU, which any user who looks at them pays too.

usage: DETBENCH_TORCH_MODE=det|nondet python3 torch-plain-loop.py REQUEST.json ITERATIONS
prints {"iteration_ms": [...]} (a warm-up iteration first, not counted).
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness", "backends", "torch"))
import worker  # noqa: E402  (applies the determinism mode from the environment on import)

request = json.load(open(sys.argv[1]))
iterations = int(sys.argv[2])
device = worker.torch.device(request["device"])
if device.type == "cpu":
    worker.torch.set_num_threads(int(request["threads"]))  # the thread count detbench ran at
tensors = worker.load_inputs(request, device)
times = []
for i in range(iterations + 1):
    start = time.perf_counter()
    outputs, loss, *_ = worker.compute(request["spec"], tensors, request["params"], device, False,
                                   request.get("state", ()), request.get("dropout", ()))
    results = [t.detach().cpu() for _, t in outputs]
    if i > 0:
        times.append((time.perf_counter() - start) * 1000)
print(json.dumps({"iteration_ms": times, "mode": worker.MODE, "device": str(device)}))
