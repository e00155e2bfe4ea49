#!/usr/bin/env bash
# The h200-oos2 suite (the second pre-registered out-of-sample check) in one GPU call of at most BUDGET_S
# seconds (default 290 of a 300 s call), most informative first:
#   OUT=/some/dir bash benchmarks/jobs/h200-oos2.sh
# Rows go to $OUT/h200-oos2-train.jsonl as each spec ends, the log to $OUT/job.log. Estimates (seconds) are
# whole specs on the H200 host: a fresh interpreter's imports and set-up (~20 s, from the h200-oos rows'
# timestamps), the model's build, warm-up and timed steps at the predicted step time, the adapter's save.
# A spec whose estimate no longer fits what is left is skipped, with a line in the log.
# PEFTPLAN_JOB_DEVICE=cpu runs the same job on tiny models on the CPU (benchmarks/jobs/budgeted.py).
set -u
source "$(dirname "$0")/job-start.sh"
python3 -m benchmarks.jobs.budgeted h200-oos2 "$OUT" "${BUDGET_S:-290}" \
  oos2-llama1b-lora-r16-b4x512=22 \
  oos2-qwen7b-qlora-r16-b1x1024=25 \
  oos2-llama3b-qlora-r8-b2x2048=25 \
  oos2-llama8b-lora-r32-attn-b4x1024=23 \
  oos2-llama3b-lora-r128-mlp-b16x512=26 \
  oos2-llama3b-lora-r8-b1x16384-ckpt=27 \
  oos2-llama70b-qlora-r16-attn-b1x1024-ckpt=33 \
  oos2-qwen32b-lora-r16-b1x1024-ckpt=30 \
  oos2-llama1b-full-b8x1024=22 \
  oos2-mistral7b-qlora-r32-b1x4096-ckpt=27 \
  oos2-qwen14b-qlora-r8-qv-b2x1024-ckpt=27 \
  oos2-qwen72b-qlora-r8-mlp-b1x512-ckpt=30 \
  oos2-llama1b-lora-r16-b8x1024-tuned=45 \
  >>"$OUT/job.log" 2>&1
echo "exit $? after $SECONDS s" >>"$OUT/job.log"
