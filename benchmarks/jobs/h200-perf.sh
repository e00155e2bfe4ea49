#!/usr/bin/env bash
# The h200-perf suite in one GPU call, most important first, within BUDGET_S seconds (default 440):
#   OUT=/some/dir benchmarks/jobs/h200-perf.sh
# Rows go to $OUT/h200-perf-{infer,train}.jsonl, the log to $OUT/job.log, a torch.profiler summary of one extra
# generate call per inference spec to $OUT/profiles.txt. Estimates (seconds) include imports and compilation.
set -u
: "${OUT:?set OUT to the folder for rows and logs}"
export PEFTPLAN_PROFILE_OUT="$OUT/profiles.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$OUT/job.log" 2>&1
python3 -m benchmarks.jobs.budgeted h200-perf "$OUT" "${BUDGET_S:-440}" \
  llama8b-bf16-dynamic-decode-b1-tuned-lean=80 \
  llama8b-bf16-dynamic-prefill-b8x2048-tuned=20 \
  llama8b-bf16-mixed-b32-a16-tuned=80 \
  llama8b-bf16-mixed-b32-a1-tuned=80 \
  llama70b-qlora-r16-b1x2048-ckpt-tuned-cap48=50 \
  llama8b-bf16-base-decode-b1=15 \
  llama8b-nf4-dynamic-decode-b1=25 \
  llama8b-bf16-mixed-b32-a4=20 \
  llama70b-qlora-r16-b1x4096-ckpt-tuned-cap48=55 \
  llama8b-nf4-merged-decode-b1-tuned=80 \
  llama8b-bf16-merged-decode-b1-tuned=70 \
  >>"$OUT/job.log" 2>&1
echo "exit $? after $SECONDS s" >>"$OUT/job.log"
