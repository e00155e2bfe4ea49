#!/usr/bin/env bash
# The tuned path's release of its freed base-weight copies (h200-release) in one GPU call of at most BUDGET_S
# seconds (default 300):
#   OUT=/some/dir bash benchmarks/jobs/h200-release.sh
# Rows go to $OUT/h200-release-train.jsonl as each spec ends, the log to $OUT/job.log. Estimates (seconds) are
# whole specs forked from one server, from the same entries' times in earlier calls (compilation included).
# PEFTPLAN_JOB_DEVICE=cpu runs the same job on tiny models on the CPU.
set -u
source "$(dirname "$0")/job-start.sh"
part h200-release "${BUDGET_S:-300}" \
  release-qwen14b-lora-r8-b2x2048-ckpt-tuned=30 \
  release-llama8b-lora-r16-b8x2048-ckpt-tuned=30 \
  release-llama8b-lora-r16-mlp-b4x2048-ckpt-tuned=25 \
  release-mistral7b-lora-r16-b8x1024-tuned=25 \
  release-qwen7b-lora-r16-b4x2048-tuned=25 \
  release-llama8b-lora-r64-attn-b2x4096-ckpt-tuned=25 \
  release-llama3b-lora-r16-b2x4096-ckpt-tuned=25 \
  release-llama1b-lora-r32-b4x1024-tuned=20 \
  release-mistral7b-lora-r16-b8x1024-tuned-exp=25
