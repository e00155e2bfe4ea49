#!/usr/bin/env bash
# Configurations measured again, in one GPU call of at most BUDGET_S seconds (default 240):
#   OUT=/some/dir bash benchmarks/jobs/h200-remeasure.sh
# First the Mistral entries of 4,096 tokens, which earlier ran with transformers' default sliding window
# (benchmarks/models.py: the released Mistral-7B-v0.3 has none), then host-bound entries of h200-oos3 and
# h200-oos4, unchanged, to see again how far a host-bound step moves between calls. Rows go to
# $OUT/<suite>-train.jsonl, the log to $OUT/job.log. PEFTPLAN_JOB_DEVICE=cpu rehearses it on the CPU.
set -u
source "$(dirname "$0")/job-start.sh"
budget=${BUDGET_S:-240}
part h200-oos4 $((budget * 40 / 100)) \
  oos4-mistral7b-lora-r64-attn-b4x4096-ckpt=20 \
  oos4-mistral7b-lora-r32-b2x4096-ckpt-tuned=45
part h200-oos2 $((budget * 12 / 100)) oos2-mistral7b-qlora-r32-b1x4096-ckpt=18
part h200-oos4 $((budget - SECONDS - 45)) \
  oos4-llama1b-lora-r32-qv-b2x2048=12 \
  oos4-llama3b-qlora-r16-attn-b1x4096=14
part h200-oos3 $((budget - SECONDS)) oos3-llama1b-qlora-r64-b8x512=12
