#!/usr/bin/env bash
# Issue 13's fused shared-input projections measured in one GPU call of BUDGET_S seconds (default 240), in order:
#   1. tuned merged decode at batch 1 and 2. tuned dynamic decode at batch 1 (the dynamic/merged ratio, same call);
#   3. tuned 8B LoRA r16 at 4 x 2048 (MFU); 4. tuned 8B QLoRA, same shape, if time is left;
#   5. the gpu-marked tests of the fused paths (outputs against peft's), if time is left.
#   OUT=/some/dir bash benchmarks/jobs/h200-perf2.sh            (SUITE=cpu-perf2: the same entries, tiny, on a CPU)
# Rows go to $OUT/SUITE-{infer,train}.jsonl, the log to $OUT/job.log, torch.profiler summaries (decode steps, a
# training step: operators by GPU time, kernels launched) to $OUT/profiles.txt. The estimates (seconds) include
# the worker's start (about 15 s of imports without the fork server), the model build, compilation (33 s merged,
# 54 s dynamic and 13-17 s per training spec last time), the warm-up and measured runs and the profiled run.
# An entry starts only if its estimate fits in what is left, and is stopped when the budget is spent.
set -u
: "${OUT:?set OUT to the folder for rows and logs}"
BUDGET_S=${BUDGET_S:-240}
SUITE=${SUITE:-h200-perf2}
export PEFTPLAN_PROFILE_OUT="$OUT/profiles.txt"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "no nvidia-smi"; } >"$OUT/job.log" 2>&1
LEFT_S=$((BUDGET_S - SECONDS - 8)) # the runner's own start and exit, and the kill below
timeout -k 2 "$((LEFT_S + 5))" python3 -m benchmarks.jobs.budgeted "$SUITE" "$OUT" "$LEFT_S" \
  llama8b-bf16-merged-decode-b1-tuned=65 \
  llama8b-bf16-dynamic-decode-b1-tuned=85 \
  llama8b-lora-r16-b4x2048-tuned=50 \
  llama8b-qlora-r16-b4x2048-tuned=50 \
  >>"$OUT/job.log" 2>&1
echo "exit $? after $SECONDS s" >>"$OUT/job.log"
# 5. where at least TESTS_S seconds are left: the fused paths against peft's on this GPU (tiny model, gpu-marked)
TESTS_S=25
LEFT_S=$((BUDGET_S - SECONDS - 3))
if [ "$LEFT_S" -ge "$TESTS_S" ]; then
  timeout -k 2 "$LEFT_S" python3 -m pytest -q -m "gpu and not slow" -p no:cacheprovider \
    tests/test_lora_fused.py tests/test_lora_serve.py >>"$OUT/job.log" 2>&1
  echo "gpu tests exit $? after $SECONDS s" >>"$OUT/job.log"
else
  echo "skipped the gpu tests: needs about $TESTS_S s, $LEFT_S s left" >>"$OUT/job.log"
fi
