#!/usr/bin/env bash
# The fifth pre-registered out-of-sample check (h200-oos5) in one GPU call of at most BUDGET_S seconds
# (default 540 of a 600 s call), most informative first:
#   OUT=/some/dir bash benchmarks/jobs/h200-oos5.sh
# Rows go to $OUT/h200-oos5-train.jsonl as each spec ends, the log to $OUT/job.log. Estimates (seconds) are
# whole specs forked from one server on the H200 host (h200-oos4's took 4-35 s): build, warm-up (compilation
# for tuned entries) and timed steps at the predicted step time. A spec whose estimate no longer fits what is
# left is skipped, with a line in the log. PEFTPLAN_JOB_DEVICE=cpu runs the same job on tiny models on the CPU.
set -u
source "$(dirname "$0")/job-start.sh"
part h200-oos5 "${BUDGET_S:-540}" \
  oos5-llama1b-lora-r16-b8x512=12 \
  oos5-llama3b-lora-r64-mlp-b2x2048=12 \
  oos5-qwen7b-qlora-r32-attn-b4x1024=14 \
  oos5-mistral7b-lora-r16-qv-b1x8192-ckpt=18 \
  oos5-mistral7b-qlora-r64-b2x4096-ckpt=18 \
  oos5-llama8b-full-b1x2048-ckpt=16 \
  oos5-qwen14b-lora-r32-attn-b4x2048-ckpt=22 \
  oos5-qwen32b-qlora-r8-mlp-b1x8192-ckpt=30 \
  oos5-llama70b-qlora-r16-attn-b4x1024-ckpt=30 \
  oos5-qwen72b-qlora-r32-qv-b2x2048-ckpt=30 \
  oos5-llama1b-lora-r32-b4x1024-tuned=35 \
  oos5-llama3b-lora-r16-b2x4096-ckpt-tuned=40 \
  oos5-qwen7b-qlora-r16-b8x1024-tuned=40 \
  oos5-llama8b-lora-r16-mlp-b4x2048-ckpt-tuned=45 \
  oos5-mistral7b-lora-r16-b8x1024-tuned=45
