"""The configuration vocabulary: every list of accepted values, declared once.

Benchmark specs, the planner's configurations, the CLI's choices and the dashboard's pickers import these;
none restates them.
"""

from __future__ import annotations

# Training
METHODS = ("lora", "qlora", "full")  # qlora: NF4 base, double quantisation, bf16 compute; full: every weight
OPTIMIZERS = ("adamw_fused", "paged_adamw_8bit")
ATTN_IMPLS = ("sdpa", "eager")
# plain = transformers + peft defaults; tuned = fused kernels, torch.compile (training) or a static-cache
# compiled generate (decode) with lean or batched LoRA serving (benchmarks/lora_serve.py)
PROFILES = ("plain", "tuned")
DEVICES = ("cuda", "cpu")
# How PyTorch's CUDA caching allocator holds memory: caching = its default (fixed-size segments, which a freed
# block of one size cannot serve to a larger request: what it reserves runs GiBs above what it allocates);
# expandable = PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True (one segment per stream that grows by mapping
# pages, so freed memory is reused by requests of any size). It moves reserved memory, what decides an OOM.
DEFAULT_ALLOCATOR = "caching"  # PyTorch's own default: rows from before the field ran it
ALLOCATORS = (DEFAULT_ALLOCATOR, "expandable")
# The tuned training profile computes LoRA adapters that share an input together, in bf16
# (benchmarks/lora_fused.py); a row's `tuned_applied` names it. A tuned LoRA or QLoRA row without it, and
# without a `tuned_skipped` reason for it, ran an earlier tuned path: it measures code that no longer runs.
TUNED_FUSED_LORA = "lora_fused_shared_input"
# Where the base weights of a group are dense (bf16 LoRA) the tuned path concatenates them too and frees the
# separate copies; it then hands the freed blocks back to the driver (torch.cuda.empty_cache), which a row's
# `tuned_applied` names. Without that, the caching allocator kept them reserved for the whole run.
TUNED_FUSED_BASE = "fused_base_projections"
TUNED_BASE_RELEASED = "fused_base_released"
SHARDINGS = (
    "full_shard",
    "shard_grad_op",
    "hybrid_shard",
)  # FSDP over num_gpus > 1 (benchmarks/train_fsdp.py)

# Inference
BASES = ("bf16", "nf4")  # how the base weights are stored
MODES = ("base", "dynamic", "merged")  # how a LoRA adapter is served
TASKS = ("prefill", "decode", "merge", "adapters", "mixed", "fidelity")
DTYPES = ("bf16", "fp32")
# The modes each task accepts: merging and fidelity need an adapter to merge; adapter operations and
# mixed batches exist only beside an unmerged base.
TASK_MODES = {
    "prefill": MODES,
    "decode": MODES,
    "merge": ("merged",),
    "adapters": ("dynamic",),
    "mixed": ("dynamic",),
    "fidelity": ("merged",),
}
