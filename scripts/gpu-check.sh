#!/usr/bin/env bash
# One prepared GPU check, for a lent offline GPU host (see ../shared/offline-gpu/README.md): run it from
# the checkout root after `../shared/offline-gpu/pack.sh` here and carrying `.offline` there.
#
#   bash scripts/gpu-check.sh            # writes everything under $OUT (or ./gpu-check)
#
# Every step has its own timeout and goes on when one fails: what the GPU backends are, the acceptance
# suite (its 5-minute target), and the torch overhead against a plain Python loop.
set -uo pipefail
out="${OUT:-gpu-check}"
mkdir -p "$out"
[ -f .offline/unpack.sh ] && source .offline/unpack.sh >/dev/null
python="${DETBENCH_PYTHON:-python3}"
step() { local name=$1 limit=$2; shift 2; echo "== $name (≤ ${limit}s)"; local t0=$SECONDS; timeout "$limit" "$@" > "$out/$name.out" 2> "$out/$name.err"; echo "   exit $? after $((SECONDS - t0)) s"; tail -n 3 "$out/$name.err"; }
step nvidia-smi 30 nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv
step torch 60 "$python" -c 'import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version(), [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])'
step backends 180 node bin/detbench.mjs backends --python "$python"
step acceptance 420 node bin/detbench.mjs run --suite acceptance --python "$python" --out "$out/results" --json
step torch-overhead 240 env DETBENCH_PYTHON="$python" node --import tsx scripts/bench.ts --torch-only --torch-preset standard
cat "$out/backends.out"
[ -s "$out/acceptance.out" ] && node -e '
  const { summary } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const c of summary.cells.filter((c) => c.distinctDigests > 0)) console.log(c.cell, c.verdict, c.distinctDigests);
  for (const m of summary.modes.filter((m) => m.slowdown)) console.log(m.workload, m.backend, m.device, m.slowdown.ratio.toFixed(3), m.slowdown.low.toFixed(3), m.slowdown.high.toFixed(3));
  console.log(JSON.stringify({ negativeControls: summary.negativeControls, devices: summary.devices, findings: summary.findings }, null, 1));
' "$out/acceptance.out"
cat "$out/torch-overhead.out"
