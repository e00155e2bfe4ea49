#!/usr/bin/env bash
# The seventh pre-registered out-of-sample check (h200-oos7) in one GPU call of at most BUDGET_S seconds
# (default 420), tuned entries first:
#   OUT=/some/dir bash benchmarks/jobs/h200-oos7.sh
# Rows go to $OUT/h200-oos7-train.jsonl as each spec ends, the log to $OUT/job.log. Estimates (seconds) are
# whole specs forked from one server, from like entries of h200-oos6 and h200-release (compilation included).
# PEFTPLAN_JOB_DEVICE=cpu runs the same job on tiny models on the CPU.
set -u
source "$(dirname "$0")/job-start.sh"
part h200-oos7 "${BUDGET_S:-420}" \
  oos7-llama3b-lora-r64-attn-b8x1024-tuned=30 \
  oos7-qwen14b-lora-r16-b4x1024-ckpt-tuned=30 \
  oos7-llama8b-lora-r32-b2x4096-tuned=30 \
  oos7-mistral7b-lora-r8-mlp-b4x4096-ckpt-tuned=30 \
  oos7-qwen32b-lora-r8-qv-b1x2048-ckpt-tuned=30 \
  oos7-llama70b-qlora-r32-attn-b1x4096-ckpt-tuned=50 \
  oos7-qwen7b-qlora-r32-mlp-b4x2048-ckpt-tuned=30 \
  oos7-llama1b-lora-r8-b4x4096-ckpt=15 \
  oos7-qwen7b-lora-r32-attn-b2x4096=15 \
  oos7-llama8b-qlora-r64-qv-b1x8192-ckpt=15 \
  oos7-llama1b-full-b16x512=15 \
  oos7-qwen72b-qlora-r32-b2x2048-ckpt=35 \
  oos7-llama8b-lora-r8-mlp-b4x4096-ckpt-exp=15 \
  oos7-llama3b-qlora-r128-b8x2048-ckpt-exp=15 \
  oos7-mistral7b-full-b1x2048-ckpt-exp=15
