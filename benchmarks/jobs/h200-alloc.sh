#!/usr/bin/env bash
# The allocator check (h200-alloc) in one GPU call of at most BUDGET_S seconds (default 540 of a 600 s call):
#   OUT=/some/dir bash benchmarks/jobs/h200-alloc.sh
# Fifteen configurations of h200-oos3 to oos5 again with expandable segments, then four host-bound ones again
# with the default allocator. Rows go to $OUT/h200-alloc-train.jsonl as each spec ends, the log to $OUT/job.log.
# Estimates (seconds) are whole specs forked from one server, from the same entries' times in h200-oos3 to oos5.
# A spec whose estimate no longer fits what is left is skipped, with a line in the log.
# PEFTPLAN_JOB_DEVICE=cpu runs the same job on tiny models on the CPU.
set -u
source "$(dirname "$0")/job-start.sh"
part h200-alloc "${BUDGET_S:-540}" \
  alloc-llama3b-lora-r16-b2x4096-ckpt-tuned-exp=40 \
  alloc-llama1b-full-b4x4096-ckpt-exp=14 \
  alloc-llama3b-full-b1x8192-ckpt-exp=16 \
  alloc-qwen32b-qlora-r8-mlp-b1x8192-ckpt-exp=30 \
  alloc-llama8b-lora-r64-attn-b2x4096-ckpt-tuned-exp=45 \
  alloc-llama1b-lora-r16-b8x512-exp=12 \
  alloc-llama3b-full-b8x1024-exp=14 \
  alloc-mistral7b-lora-r16-b16x512-exp=18 \
  alloc-llama8b-qlora-r16-b16x1024-ckpt-exp=20 \
  alloc-qwen7b-lora-r8-qv-b8x1024-ckpt-exp=16 \
  alloc-qwen14b-lora-r32-attn-b4x2048-ckpt-exp=22 \
  alloc-llama70b-qlora-r16-attn-b4x1024-ckpt-exp=30 \
  host-llama1b-lora-r32-qv-b2x2048=12 \
  host-llama3b-qlora-r16-attn-b1x4096=12 \
  host-llama1b-lora-r32-b4x1024-tuned=35 \
  host-llama1b-qlora-r64-b8x512=12 \
  alloc-qwen7b-qlora-r16-b8x1024-tuned-exp=40 \
  alloc-mistral7b-lora-r16-b8x1024-tuned-exp=45 \
  alloc-llama1b-lora-r32-b4x1024-tuned-exp=35
