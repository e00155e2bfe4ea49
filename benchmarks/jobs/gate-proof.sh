#!/usr/bin/env bash
# The regression gate's proof in one GPU call, within BUDGET_S seconds in all (default 560):
#   OUT=/some/dir bash benchmarks/jobs/gate-proof.sh
# 1. RUNS (default 5) runs of the suite on unchanged code (`peftplan bench all`, one sweep each), each to its
#    own rows file, while the next run, the slowed run and the comparisons still fit in what is left;
# 2. one run with the testing-only slowdown (PEFTPLAN_TEST_SLOWDOWN=0.10, recorded in every row);
# 3. `peftplan results compare` for every ordered pair of unchanged runs, each run against the slowed one and
#    each against the committed baseline (benchmarks/jobs/gate_compare.py: no GPU);
# 4. last, so that it is what a short budget skips: the pytest-benchmark step benchmarks.
# Files in $OUT (at most 8 come back from a GPU call): NAME-run1..5.jsonl, NAME-slowdown10.jsonl, proof.log
# (device, every sweep's status lines, wall time per suite run, the comparisons' exit codes and non-ok
# verdicts, each spec's spread, the step benchmarks' table) and compare.log (each comparison's whole report).
# Switches: SUITE (default ci-gpu, or a .toml path), RUNS, BUDGET_S, EST_RUN_S (a suite run's seconds until one
# is measured), STEP_TESTS (pytest's -m expression, default "gpu"; "" skips the step), PYTHON.
# A rehearsal on the CPU, same code paths, tiny models:
#   OUT=/tmp/proof SUITE=benchmarks/jobs/gate-proof-cpu.toml RUNS=2 STEP_TESTS="not gpu" bash benchmarks/jobs/gate-proof.sh
set -u
: "${OUT:?set OUT to the folder for rows and logs}"
budget_s=${BUDGET_S:-560}
runs=${RUNS:-5}
suite=${SUITE:-ci-gpu}
est_s=${EST_RUN_S:-150}      # ci-gpu.toml's estimate when each spec starts a fresh interpreter
marks=${STEP_TESTS-gpu}
py=${PYTHON:-python3}
compare_s=10                 # kept back for the comparisons (31 of them take a few seconds, in one process)
step_tests_s=70              # the step benchmarks: imports, two 8B builds, 2 x 18 steps
# The sweep's fork server on a CUDA machine: torch asks NVML, not the CUDA driver, whether a GPU is there, so
# that importing transformers leaves CUDA alone (benchmarks/launch.py probes it and falls back if not).
export PYTORCH_NVML_BASED_CUDA_CHECK=${PYTORCH_NVML_BASED_CUDA_CHECK:-1}
name=$(basename "$suite" .toml)
log="$OUT/proof.log"
mkdir -p "$OUT"
SECONDS=0
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv 2>&1 || echo "no nvidia-smi"; } >"$log"
say() { echo "[${SECONDS} s] $*" >>"$log"; }
left() { echo $((budget_s - SECONDS)); }

suite_run() {  # $1: rows file; $2: the most seconds it may take
    local start=$SECONDS rc
    timeout --kill-after=5 "$2" "$py" -m peftplan.cli bench all --suite "$suite" --out "$1" --no-progress >>"$log" 2>&1
    rc=$?
    last_s=$((SECONDS - start))
    say "$(basename "$1"): exit $rc, suite wall_s $last_s$([ "$rc" -eq 124 ] && echo ' (cut at its time limit)')"
    [ "$last_s" -gt "$slowest_s" ] && slowest_s=$last_s
    est_s=$slowest_s  # plan the next runs on the slowest measured so far
}

say "budget ${budget_s} s; suite $suite; a run estimated at ${est_s} s until measured"
done_runs=0
slowest_s=0
for i in $(seq 1 "$runs"); do
    need=$((2 * est_s + est_s / 10 + compare_s))  # this run, the slowed run (10% more), the comparisons
    if [ "$need" -gt "$(left)" ]; then
        say "stopping after $done_runs unchanged run(s): another needs about $need s with the slowed run and the comparisons; $(left) s left"
        break
    fi
    suite_run "$OUT/$name-run$i.jsonl" $(($(left) - compare_s - est_s))
    done_runs=$i
done
PEFTPLAN_TEST_SLOWDOWN=0.10 suite_run "$OUT/$name-slowdown10.jsonl" $(($(left) - compare_s))
say "comparisons"
timeout 60 "$py" -m benchmarks.jobs.gate_compare "$OUT" "$OUT/compare.log" >>"$log" 2>&1 || say "comparisons: exit $?"
if [ -n "$marks" ] && [ "$(left)" -gt "$step_tests_s" ]; then
    say "step benchmarks (pytest -m '$marks')"
    timeout --kill-after=5 $(($(left) - 3)) "$py" -m pytest -q -o addopts= -p no:cacheprovider -m "$marks" \
        tests/test_gpu_regression.py --benchmark-enable --tb=short \
        --benchmark-columns=min,median,iqr,max,rounds >>"$log" 2>&1
    say "step benchmarks: exit $?"
elif [ -n "$marks" ]; then
    say "step benchmarks skipped: $(left) s left, they need about $step_tests_s s"
fi
say "proof done: $done_runs unchanged run(s), total wall_s $SECONDS"
