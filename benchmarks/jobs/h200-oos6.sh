#!/usr/bin/env bash
# The sixth pre-registered out-of-sample check (h200-oos6) in one GPU call of at most BUDGET_S seconds
# (default 480 of a 600 s call), most informative first:
#   OUT=/some/dir bash benchmarks/jobs/h200-oos6.sh
# Rows go to $OUT/h200-oos6-train.jsonl as each spec ends, the log to $OUT/job.log. Estimates (seconds) are
# whole specs forked from one server on the H200 host (h200-oos5's and h200-alloc's took 6-40 s): build,
# warm-up (compilation for tuned entries) and timed steps at the predicted step time. A spec whose estimate no
# longer fits what is left is skipped, with a line in the log. PEFTPLAN_JOB_DEVICE=cpu runs the same job on
# tiny models on the CPU.
set -u
source "$(dirname "$0")/job-start.sh"
part h200-oos6 "${BUDGET_S:-480}" \
  oos6-llama1b-lora-r64-qv-b16x512-exp=10 \
  oos6-llama3b-qlora-r32-b4x2048-ckpt-exp=12 \
  oos6-llama8b-lora-r16-attn-b2x8192-ckpt-exp=20 \
  oos6-qwen7b-full-b2x1024-ckpt-exp=16 \
  oos6-mistral7b-qlora-r8-mlp-b4x1024-exp=14 \
  oos6-qwen14b-qlora-r64-b2x4096-ckpt-exp=25 \
  oos6-qwen32b-lora-r16-qv-b1x4096-ckpt-exp=25 \
  oos6-llama70b-qlora-r64-b1x8192-ckpt-exp=45 \
  oos6-llama3b-lora-r32-b4x2048-tuned-exp=30 \
  oos6-llama8b-qlora-r16-b4x4096-ckpt-tuned-exp=40 \
  oos6-llama1b-qlora-r16-attn-b4x2048=10 \
  oos6-llama8b-full-b1x4096-ckpt=16 \
  oos6-mistral7b-lora-r128-b2x2048-tuned=35 \
  oos6-qwen7b-qlora-r64-qv-b1x16384-ckpt=25 \
  oos6-qwen72b-qlora-r8-mlp-b1x4096-ckpt=35 \
  oos6-llama3b-lora-r8-mlp-b16x1024-ckpt=16
