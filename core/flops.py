"""FLOPs per token for training and inference.

Kaplan et al., "Scaling Laws for Neural Language Models" (arXiv 2001.08361), Table 1: a forward pass costs
about 2N + 2·L·s·d_attn FLOPs per token, where N counts the parameters used in matmuls (here the decoder's
linears and the output head) and the second term is attention over a context of s tokens.

Training multiplies the forward:
- full fine-tuning: forward + activation gradients + weight gradients = 3 × forward = 6N (+ attention ×3);
- LoRA / QLoRA: the base weights are frozen, so their weight-gradient matmuls vanish: 4N; the adapter adds
  6 × its own parameters; attention has no weights and still costs 3 × its forward;
- full activation checkpointing recomputes one forward: + 2N (+ attention ×1).
"""

from __future__ import annotations

from core.shapes import ModelShape, lora_params
from core.vocab import METHODS


def attention_flops_per_token(shape: ModelShape, seq_len: int) -> float:
    """Forward attention FLOPs per token: 2·L·s·d_attn (Kaplan's term, d_attn = heads × head_dim)."""
    return 2.0 * shape.num_layers * seq_len * shape.num_heads * shape.head_dim


def forward_flops_per_token(shape: ModelShape, seq_len: int) -> float:
    return 2.0 * shape.matmul_params() + attention_flops_per_token(shape, seq_len)


def train_flops_per_token(
    shape: ModelShape,
    method: str,
    seq_len: int,
    grad_checkpointing: bool = False,
    rank: int = 0,
    targets="all-linear",
) -> float:
    """Model FLOPs of one training token (the 'model' FLOPs of MFU: recomputation is counted, as it is work
    the hardware does; see the module docstring for the terms)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    n = float(shape.matmul_params())
    attn = attention_flops_per_token(shape, seq_len)
    if method == "full":
        flops = 6.0 * n + 3.0 * attn
    else:
        flops = 4.0 * n + 3.0 * attn + 6.0 * lora_params(shape, rank, targets)
    if grad_checkpointing:
        flops += 2.0 * n + attn
    return flops
