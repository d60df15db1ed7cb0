#!/usr/bin/env bash
# The documented way to wire detbench into CI, nightly:
#
#   scripts/nightly.sh [SUITE]        SUITE: quick (default), standard or a suite file
#
# Runs the suite (which writes report.html and report.md into the results folder), compares it with
# the newest baseline of this hardware, writes compare.txt and compare.json next to the results and
# exits with compare's code: 0 no regression, 1 regression, 2 bad input, 3 inconclusive.
# With no baseline for this hardware yet, the run becomes the baseline and the script exits 0.
#
# Environment: DETBENCH_OUT (results root, default results), DETBENCH_BASELINES (default
# results/baselines), DETBENCH_RUN_ARGS (extra `detbench run` flags, e.g. "--repeats 5").
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
detbench() { node "$here/../bin/detbench.mjs" "$@"; }
suite="${1:-quick}"
out="${DETBENCH_OUT:-results}"
baselines="${DETBENCH_BASELINES:-results/baselines}"

json="$(detbench run --suite "$suite" --out "$out" --json ${DETBENCH_RUN_ARGS:-})"
run_code=$?
if [ "$run_code" -eq 2 ] || [ -z "$json" ]; then
  echo "nightly: detbench run failed (exit $run_code)" >&2
  exit 2
fi
if [ "$run_code" -eq 3 ]; then
  echo "nightly: the run was interrupted: results are incomplete" >&2
  exit 3
fi
current="$(printf '%s' "$json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).resultsDir))')"
echo "nightly: results in $current (run exit $run_code)"

if ! baseline="$(detbench baseline latest --dir "$baselines" 2>/dev/null)"; then
  echo "nightly: no baseline for this hardware yet: saving this run as the baseline"
  detbench baseline save "$current" --dir "$baselines" || exit 2
  exit 0
fi
detbench compare "$baseline" "$current" --save "$current"
