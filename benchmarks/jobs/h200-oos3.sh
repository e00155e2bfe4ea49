#!/usr/bin/env bash
# The third pre-registered out-of-sample check (h200-oos3), then the tuned rows the fused adapter path made
# stale, then repeats of host-bound h200-oos2 entries under the profiler, in one GPU call of at most BUDGET_S
# seconds (default 560 of a 600 s call):
#   OUT=/some/dir bash benchmarks/jobs/h200-oos3.sh
# Rows go to $OUT/<suite>-train.jsonl as each spec ends, the profiles of the repeats to $OUT/profiles.txt
# (each after its row's measured steps: no figure is taken under the profiler), the log to $OUT/job.log.
# Estimates (seconds) are whole specs forked from one server on the H200 host (h200-oos2's took 3-20 s): build,
# warm-up (compilation for tuned entries) and timed steps at the predicted step time. A spec whose estimate no
# longer fits what is left of its part's budget is skipped, with a line in the log.
# PEFTPLAN_JOB_DEVICE=cpu runs the same job on tiny models on the CPU (benchmarks/jobs/budgeted.py).
set -u
source "$(dirname "$0")/job-start.sh"
budget=${BUDGET_S:-560}
part h200-oos3 $((budget * 60 / 100)) \
  oos3-llama1b-qlora-r64-b8x512=12 \
  oos3-llama3b-lora-r32-attn-b4x1024=10 \
  oos3-llama1b-full-b4x4096-ckpt=12 \
  oos3-llama3b-full-b8x1024=12 \
  oos3-qwen7b-lora-r8-qv-b8x1024-ckpt=18 \
  oos3-mistral7b-lora-r16-b16x512=15 \
  oos3-mistral7b-qlora-r8-b4x2048=15 \
  oos3-llama8b-qlora-r128-b2x4096=16 \
  oos3-llama8b-lora-r16-b1x16384-ckpt=20 \
  oos3-qwen14b-lora-r64-mlp-b1x8192-ckpt=18 \
  oos3-qwen32b-qlora-r32-attn-b2x2048-ckpt=18 \
  oos3-llama70b-qlora-r8-qv-b1x4096-ckpt=25 \
  oos3-qwen72b-qlora-r16-b2x1024-ckpt=22 \
  oos3-llama3b-qlora-r32-b8x1024-tuned=35 \
  oos3-qwen7b-lora-r16-b4x2048-tuned=40 \
  oos3-llama8b-lora-r64-attn-b2x4096-ckpt-tuned=45
part h200-tuned $((budget * 25 / 100)) \
  llama8b-lora-r16-b8x2048-ckpt-tuned=45 \
  llama70b-qlora-r16-b1x2048-ckpt-tuned=60
part h200-oos $((budget * 7 / 100)) oos-llama3b-lora-r16-b4x2048-tuned=35
left=$((budget - SECONDS))
if [ "$left" -gt 20 ]; then
  PEFTPLAN_PROFILE_OUT="$OUT/profiles.txt" part h200-oos2 "$left" \
    oos2-qwen32b-lora-r16-b1x1024-ckpt=14 \
    oos2-llama1b-lora-r16-b4x512=10 \
    oos2-qwen7b-qlora-r16-b1x1024=10 \
    oos2-llama70b-qlora-r16-attn-b1x1024-ckpt=16
fi
