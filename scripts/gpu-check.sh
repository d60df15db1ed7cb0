#!/usr/bin/env bash
# One prepared GPU check, for a lent offline GPU host (see ../shared/offline-gpu/README.md): run it from
# the checkout root after `../shared/offline-gpu/pack.sh` here and carrying `.offline` there.
#
#   bash scripts/gpu-check.sh            # writes everything under $OUT (or ./gpu-check)
#
# Every step has its own timeout and goes on when one fails, most valuable first: what the GPU backends
# are, the acceptance suite at the gpu preset (its 5-minute target), where any disagreeing GPU cell's
# runs part (locate, on the acceptance folder), the numerics axis on torch (fp32 against tf32 and
# bf16), the autotune axis on torch (det with cudnn.benchmark off against on: does autotuning alone
# move the bits?), the batch-size axis, and the torch overhead against a plain Python loop.
#
# The whole script keeps within GPU_CHECK_BUDGET seconds (default 540, under the device's 600 s per
# call): each step's limit is cut to what is left, a step is skipped when less than 30 s is, and the
# last line names the steps that did not run, for a second call (GPU_CHECK_STEPS="numerics autotune"
# runs only those). The steps' own limits add up to 25 min. The bundle is not started here: it and
# .offline/ do not both fit in one 64 MiB carry.
#
# What comes back from a lent host is at most 8 files under $OUT (16 MiB each, see the device tool's
# limits), so the steps write into a work folder beside it ($GPU_CHECK_WORK, else a temporary one,
# kept with the artifacts), and $OUT gets two files: gpu-check.log (what this script prints) and
# gpu-check.tar.gz (every step's output and results folder, without artifacts: manifest, runs,
# summary, report.md and charts — what docs/measurements/ is written from).
set -uo pipefail
out="${OUT:-gpu-check}"
mkdir -p "$out"
work="${GPU_CHECK_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")}"
mkdir -p "$work"
[ -f .offline/unpack.sh ] && source .offline/unpack.sh >/dev/null
main() {
# detbench's TypeScript compiled for this tree (its files' times changed on the way here): each
# process and worker thread then starts without tsx; if it fails, everything runs through tsx
timeout -k 5 60 node scripts/compile.mjs > "$work/compile.out" 2>&1 || true
python="${DETBENCH_PYTHON:-python3}"
only="${GPU_CHECK_STEPS:-}"
budget="${GPU_CHECK_BUDGET:-540}"
skipped=()
step() {
  local name=$1 limit=$2; shift 2
  if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then return; fi
  local left=$((budget - SECONDS))
  if [ "$left" -lt 30 ]; then skipped+=("$name"); echo "== $name: skipped (${left}s of the budget left)"; return; fi
  [ "$limit" -gt "$((left - 15))" ] && limit=$((left - 15))  # room for the SIGKILL that follows a timeout
  echo "== $name (≤ ${limit}s)"; local t0=$SECONDS
  timeout -k 15 "$limit" "$@" > "$work/$name.out" 2> "$work/$name.err"; echo "   exit $? after $((SECONDS - t0)) s"; tail -n 3 "$work/$name.err"
}
# the full nvidia-smi too: its header is where the driver's CUDA version is
step nvidia-smi 30 sh -c 'nvidia-smi; nvidia-smi --query-gpu=index,name,driver_version,memory.total,pci.bus_id --format=csv'
step torch 60 "$python" -c '
import importlib.util, platform, torch
cuda = torch.cuda.is_available()
print("python", platform.python_version(), "numpy", importlib.util.find_spec("numpy") is not None)
print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version() if cuda else None)
for i in range(torch.cuda.device_count()): print("cuda:%d" % i, torch.cuda.get_device_name(i), "sm_%d%d" % torch.cuda.get_device_capability(i))'
step backends 180 node bin/detbench.mjs backends --python "$python"
step acceptance 420 node bin/detbench.mjs run --suite acceptance --python "$python" --out "$work/results" --json
results=$(ls -d "$work"/results/*/ 2>/dev/null | head -n 1)
# an acceptance run stopped by its limit leaves runs without a summary: analyse and report what there is, here, where its artifacts are
[ -n "$results" ] && [ ! -f "$results/summary.json" ] && step acceptance-report 60 node bin/detbench.mjs report "$results" --format md,json,png
[ -n "$results" ] && step locate 180 node bin/detbench.mjs locate "$results" --json
# GPU devices only, at the standard preset (the acceptance run has the gpu preset's sizes)
printf 'name: gpu-axes\npreset: standard\ndevices: gpu\nthreads: [1]\ntimeoutSec: 120\n' > "$work/gpu-axes.yaml"
step numerics 150 node bin/detbench.mjs run --suite "$work/gpu-axes.yaml" --backends torch --workloads matmul,conv-train,transformer-train --numerics fp32,tf32,bf16 --repeats 3 --python "$python" --no-report --no-oracle --out "$work/numerics" --json
step autotune 150 node bin/detbench.mjs run --suite "$work/gpu-axes.yaml" --backends torch --workloads conv-train,resnet-train --autotune off,on --repeats 3 --python "$python" --no-report --no-oracle --out "$work/autotune" --json
step batch-sizes 90 node bin/detbench.mjs run --suite "$work/gpu-axes.yaml" --workloads matmul,attention-infer,transformer-infer --batch-sizes 1,7,32,128,all --repeats 2 --python "$python" --no-report --no-oracle --out "$work/batch-sizes" --json
step torch-overhead 240 env DETBENCH_PYTHON="$python" node --import tsx scripts/bench.ts --torch-only --torch-preset standard
cat "$work/nvidia-smi.out" "$work/torch.out" "$work/backends.out" 2>/dev/null
[ -s "$work/acceptance.out" ] && node -e '
  const { summary } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const c of summary.cells.filter((c) => c.distinctDigests > 0)) console.log(c.cell, c.verdict, c.distinctDigests);
  for (const m of summary.modes.filter((m) => m.slowdown)) console.log(m.workload, m.backend, m.device, m.slowdown.ratio.toFixed(3), m.slowdown.low.toFixed(3), m.slowdown.high.toFixed(3));
  console.log(JSON.stringify({ negativeControls: summary.negativeControls, devices: summary.devices, findings: summary.findings }, null, 1));
' "$work/acceptance.out"
for f in locate numerics autotune batch-sizes; do [ -s "$work/$f.out" ] && node -e '
  const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const s = j.summary ?? j;
  for (const f of s.findings ?? []) if (["divergence-located", "invariance-broken"].includes(f.kind)) console.log(process.argv[2], f.kind, f.cell?.id, JSON.stringify(f.evidence));
  for (const a of s.agreement ?? []) console.log(process.argv[2], a.axis, a.workload, a.backend, a.device, JSON.stringify(a.classes));
' "$work/$f.out" "$f"; done
cat "$work/torch-overhead.out" 2>/dev/null
[ "${#skipped[@]}" -gt 0 ] && echo "not run within the budget: GPU_CHECK_STEPS=\"${skipped[*]}\" bash scripts/gpu-check.sh runs them"
echo "gpu-check: ${SECONDS} s; everything, artifacts included, in $work"
}
main 2>&1 | tee "$out/gpu-check.log"
tar -czf "$out/gpu-check.tar.gz" --exclude='*/artifacts' -C "$work" .
ls -l "$out"
