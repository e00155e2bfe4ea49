#!/usr/bin/env bash
# The fourth pre-registered out-of-sample check (h200-oos4) in one GPU call of at most BUDGET_S seconds
# (default 540 of a 600 s call), most informative first:
#   OUT=/some/dir bash benchmarks/jobs/h200-oos4.sh
# Rows go to $OUT/h200-oos4-train.jsonl as each spec ends, the log to $OUT/job.log. Estimates (seconds) are
# whole specs forked from one server on the H200 host (h200-oos3's took 6-33 s): build, warm-up (compilation
# for tuned entries) and timed steps at the predicted step time. A spec whose estimate no longer fits what is
# left is skipped, with a line in the log. PEFTPLAN_JOB_DEVICE=cpu runs the same job on tiny models on the CPU.
set -u
source "$(dirname "$0")/job-start.sh"
part h200-oos4 "${BUDGET_S:-540}" \
  oos4-llama1b-lora-r32-qv-b2x2048=12 \
  oos4-llama3b-qlora-r16-attn-b1x4096=14 \
  oos4-llama3b-full-b1x8192-ckpt=16 \
  oos4-qwen7b-full-b1x2048-ckpt=18 \
  oos4-mistral7b-lora-r64-attn-b4x4096-ckpt=20 \
  oos4-llama8b-lora-r8-mlp-b8x1024=18 \
  oos4-llama8b-qlora-r16-b16x1024-ckpt=24 \
  oos4-qwen14b-qlora-r32-b4x2048-ckpt=24 \
  oos4-qwen14b-lora-r16-qv-b2x1024=16 \
  oos4-qwen32b-lora-r8-attn-b2x2048-ckpt=26 \
  oos4-llama70b-qlora-r32-mlp-b2x2048-ckpt=32 \
  oos4-qwen72b-qlora-r8-b1x8192-ckpt=48 \
  oos4-llama1b-qlora-r16-b16x512-tuned=40 \
  oos4-mistral7b-lora-r32-b2x4096-ckpt-tuned=45 \
  oos4-llama8b-qlora-r16-attn-b8x1024-tuned=45 \
  oos4-qwen14b-lora-r8-b2x2048-ckpt-tuned=50
