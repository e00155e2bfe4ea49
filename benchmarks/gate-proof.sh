#!/usr/bin/env bash
# The regression gate's proof on one GPU machine: RUNS runs of a suite (train and infer entries) on unchanged
# code, then one run with the testing-only slowdown (PEFTPLAN_TEST_SLOWDOWN=0.10, recorded in every row).
# Rows go to OUT/SUITE-runN.jsonl and OUT/SUITE-slowdown10.jsonl, wall times to OUT/wall.txt. The gate's
# pairwise comparisons need no GPU: run them afterwards with `peftplan results compare`.
#     bash benchmarks/gate-proof.sh OUT [RUNS] [SUITE]
# GATE_PROOF_BUDGET_S (optional): stop the unchanged runs early when the next one and the slowdown run would
# no longer fit in that many seconds, so that the slowdown run always happens.
set -uo pipefail
out=${1:?usage: gate-proof.sh OUT [RUNS] [SUITE]}
runs=${2:-5}
suite=${3:-ci-gpu}
budget_s=${GATE_PROOF_BUDGET_S:-0}
mkdir -p "$out"
py=${PYTHON:-python3}
name=$(basename "$suite" .toml)
SECONDS=0

suite_run() {  # $1: rows file; the wall time of the whole suite (train then infer sweeps) goes to wall.txt
    local start=$SECONDS
    $py -m peftplan.cli bench train --suite "$suite" --out "$1" --no-progress
    $py -m peftplan.cli bench infer --suite "$suite" --out "$1" --no-progress
    last_s=$((SECONDS - start))
    echo "$(basename "$1") wall_s $last_s" | tee -a "$out/wall.txt"
}

for i in $(seq 1 "$runs"); do
    suite_run "$out/$name-run$i.jsonl"
    if [ "$budget_s" -gt 0 ] && [ $((SECONDS + 2 * last_s + last_s / 5)) -gt "$budget_s" ]; then
        echo "stopping after $i unchanged runs: the time budget (${budget_s} s) leaves room for the slowdown run only" | tee -a "$out/wall.txt"
        break
    fi
done
PEFTPLAN_TEST_SLOWDOWN=0.10 suite_run "$out/$name-slowdown10.jsonl"
