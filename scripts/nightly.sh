#!/usr/bin/env bash
# The documented way to wire detbench into CI, nightly:
#
#   scripts/nightly.sh [SUITE]        SUITE: quick (default), standard or a suite file
#
# Runs the suite (which writes report.html and report.md into the results folder), compares it with
# the newest baseline of this hardware, writes compare.txt, compare.json and junit.xml next to the
# results, and (with DETBENCH_SITE) publishes the site of every night so far.
#
# Exit codes, as detbench's own:
#   0  no regression, and the run itself has no findings
#   1  a regression against the baseline, or findings of the run itself — among them a det cell that
#      was already unstable in the baseline (compare's still-unstable): a known problem keeps the
#      night red until it is fixed or left out of the suite, it is never accepted silently
#   2  bad input · 3 incomplete (interrupted) or inconclusive (a timing CI straddles the threshold)
#   4  detbench crashed (internal error): not a regression, and never reported as one
#
# With no baseline for this hardware yet, the run becomes the baseline only if it finished and no
# run failed (errored, timed out or crashed); the script exits with the run's code either way.
#
# Environment: DETBENCH_OUT (results root, default results), DETBENCH_BASELINES (default
# results/baselines), DETBENCH_RUN_ARGS (extra `detbench run` flags, e.g. "--repeats 5"),
# DETBENCH_COMPARE_ARGS (extra `detbench compare` flags, e.g. "--confirm 3 --expect known.yml"),
# DETBENCH_SITE (a folder: publish the site of DETBENCH_OUT and DETBENCH_BASELINES there; a failed
# publish is reported and does not change the exit code). With GITHUB_ACTIONS=true, run and compare
# also write the step summary and annotations (scripts/ci/detbench-nightly.yml).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
detbench() { node "$here/../bin/detbench.mjs" "$@"; }
suite="${1:-quick}"
out="${DETBENCH_OUT:-results}"
baselines="${DETBENCH_BASELINES:-results/baselines}"

# shellcheck disable=SC2086 # DETBENCH_RUN_ARGS is a list of flags
json="$(detbench run --suite "$suite" --out "$out" --json ${DETBENCH_RUN_ARGS:-})"
run_code=$?
case "$run_code" in
  0 | 1) ;;
  2) echo "nightly: detbench run refused its input (exit 2)" >&2; exit 2 ;;
  3) echo "nightly: the run was interrupted: results are incomplete (exit 3)" >&2; exit 3 ;;
  4) echo "nightly: detbench crashed (internal error, exit 4; its message is above): not a regression" >&2; exit 4 ;;
  *) echo "nightly: detbench ended abnormally (exit $run_code): not a regression" >&2; exit 4 ;;
esac

# The results folder, and how many cells had failed runs (typed findings of kind runs-failed).
if ! read -r failed current < <(printf '%s' "$json" | node -e '
  let s = "";
  process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const { resultsDir, summary } = JSON.parse(s);
    // failed runs an expectation names are still failed runs: no baseline from them
    const failed = (f) => f.kind === "runs-failed" || (f.kind === "expected" && f.evidence.finding.kind === "runs-failed");
    console.log(summary.findings.filter(failed).length, resultsDir);
  });'); then
  echo "nightly: detbench run printed no readable summary (exit $run_code)" >&2
  exit 4
fi
echo "nightly: results in $current (run exit $run_code)"

# The site of every night so far; publishing is a report: its failure does not change the verdict.
publish() {
  if [ -n "${DETBENCH_SITE:-}" ]; then
    local roots=("$out")
    [ -d "$baselines" ] && roots+=("$baselines")
    detbench publish "${roots[@]}" --out "$DETBENCH_SITE" || echo "nightly: publishing the site to $DETBENCH_SITE failed (exit $?); the night's verdict stands" >&2
  fi
}

baseline="$(detbench baseline latest --dir "$baselines" 2>/dev/null)"
latest_code=$?
if [ "$latest_code" -eq 2 ]; then
  if [ "$failed" -gt 0 ]; then
    echo "nightly: no baseline for this hardware yet, and $failed cell(s) had failed runs: not saving this run as the baseline (see $current/report.md)" >&2
    publish
    exit "$run_code"
  fi
  echo "nightly: no baseline for this hardware yet: saving this run as the baseline"
  detbench baseline save "$current" --dir "$baselines" || exit $?
  publish
  exit "$run_code"
elif [ "$latest_code" -ne 0 ]; then
  echo "nightly: detbench baseline latest failed (exit $latest_code)" >&2
  exit "$latest_code"
fi

# shellcheck disable=SC2086 # DETBENCH_COMPARE_ARGS is a list of flags
detbench compare "$baseline" "$current" --save "$current" --junit "$current/junit.xml" ${DETBENCH_COMPARE_ARGS:-}
compare_code=$?
publish
if [ "$run_code" -eq 1 ] && { [ "$compare_code" -eq 0 ] || [ "$compare_code" -eq 3 ]; }; then
  echo "nightly: no regression against the baseline, but the run has findings of its own (see $current/report.md)"
  exit 1
fi
exit "$compare_code"
