"""The named terms of peak training memory per GPU, counted from a configuration (planner/memory.py fits and
sums them; planner/reserved.py adds the allocator's slack).

What the benchmark allocates, term by term (bytes; "Transformer Math 101", EleutherAI 2023, for the
bytes per parameter; Korthikanti et al., arXiv 2205.05198, for activations):

- weights: bf16, 2 B/param. QLoRA stores the decoder's linear weights in NF4 with double quantisation,
  4 bits + ~0.127 bits of constants = ~0.516 B/param (Dettmers et al., arXiv 2305.14314); embeddings,
  lm_head, norms and biases stay bf16.
- adapter: LoRA A and B in fp32 (peft casts adapters of a bf16 model to fp32, `autocast_adapter_dtype`).
- optimizer: fused torch AdamW keeps m and v in the parameter's dtype: 8 B per fp32 adapter parameter,
  4 B per bf16 parameter in full fine-tuning (so full = 2 + 2 + 4 = 8 B/param with the gradients, the
  benchmark's recipe); paged 8-bit AdamW: 2 B/param.
- activations: Korthikanti's per-layer count redone for these blocks: RMSNorm saves its fp32 input, the
  attention kernel q, k, v and output (SDPA / flash: no s² term; eager adds 5·heads·s bytes per token), the
  gated MLP three intermediate tensors; LoRA keeps each targeted linear's input cast to fp32 for lora_A's
  gradient. The tuned profile keeps less: Liger's RMSNorm its bf16 input, Liger's SwiGLU the gate and up
  outputs (the SiLU is recomputed), and its fused adapters each distinct input once in bf16. Full checkpointing keeps the bf16 input of every layer, and recomputes one layer at a time.
- logits: in log-softmax's backward the loss holds its fp32 output, the fp32 gradient coming in and the fp32
  gradient going out: 12 B per batch × sequence × vocabulary element.
  The `tuned` profile uses Liger's fused linear cross-entropy: logits exist one chunk at a time and the
  gradient of the last hidden state is computed in the forward, so this term is ~6 B per token × hidden.
- gradients: one per trainable parameter, in its dtype (fp32 adapter; bf16 for full fine-tuning).

The peak is the larger of two moments. At the start of the backward pass every kept activation and the
loss's logits are alive and no gradient is yet (the benchmark frees them each step, zero_grad(set_to_none=
True)); with checkpointing, the recomputed layer replaces the logits when it is larger. At the end of the
backward pass the gradients are all there and only the first layer's activations remain. The breakdown shows
the terms alive at the peak (the others are 0).

FSDP (full_shard, hybrid_shard within a node) divides weights, adapter, gradients and optimizer states by the
number of GPUs and adds two gathered layers in flight; shard_grad_op divides only gradients and optimizer
states. A measured row for the same configuration on the same GPU replaces the sum.

Public:
    memory_terms(config) -> dict[str, float]              terms alive at the peak, GiB (before the fit)
    memory_components(config) -> dict[str, float]         every component, GiB, whichever moment it peaks
    shared_memory_terms(config) -> dict[str, float]       the same, cached and shared (read only)
    static_gib(terms) -> float                            every term but the activations
    activation_bytes_per_token_layer(config) -> float
    weight_bytes(config) -> float
    GIB, BF16_BYTES, SHARED_INPUTS
"""

from __future__ import annotations

from functools import lru_cache

from core.shapes import lora_params
from planner.config import TrainConfig

GIB = 2**30
BF16_BYTES = 2
NF4_BYTES_PER_PARAM = 0.516  # 4 bits + ~0.127 bits of double-quantised constants (arXiv 2305.14314)
ADAPTER_BYTES = 4  # peft upcasts LoRA weights of a bf16 model to fp32
# log-softmax's fp32 output (kept for backward), the fp32 gradient into it, the fp32 gradient out of it
LOGITS_BYTES_PER_ELEMENT = 4 + 4 + 4
# Fused linear cross-entropy (tuned): an fp32 chunk of logits and the bf16 gradient of the hidden state
FUSED_CE_BYTES_PER_HIDDEN = 4 + 2


def weight_bytes(config: TrainConfig) -> float:
    shape = config.shape
    total = shape.total_params()
    if config.method == "qlora":
        quantised = shape.quantizable_params()
        return quantised * NF4_BYTES_PER_PARAM + (total - quantised) * BF16_BYTES
    return total * BF16_BYTES


def _trainable(config: TrainConfig) -> tuple[int, int]:
    """(trainable parameters, bytes per trainable parameter)."""
    if config.method == "full":
        return config.shape.total_params(), BF16_BYTES
    return lora_params(config.shape, config.rank, config.target_modules), ADAPTER_BYTES


# Adapted linears that read one input (benchmarks/lora_fused.py's groups).
SHARED_INPUTS = (("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj"))


def _fused_lora_inputs(config: TrainConfig) -> float:
    """Bytes per token one layer keeps for the fused tuned adapters: each distinct input once, in bf16,
    and each adapter's rank-wide output of lora_A."""
    shapes, targets = config.shape.linear_shapes(), config.target_modules
    inputs = {next((g[0] for g in SHARED_INPUTS if t in g), t) for t in targets}
    return sum(BF16_BYTES * shapes[t][0] for t in inputs) + BF16_BYTES * config.rank * len(targets)


def activation_bytes_per_token_layer(config: TrainConfig) -> float:
    """Bytes one decoder layer keeps for the backward pass, per token, without checkpointing."""
    s = config.shape
    h, i = s.hidden_size, s.intermediate_size
    q_dim, kv_dim = s.num_heads * s.head_dim, s.num_kv_heads * s.head_dim
    full, tuned = config.method == "full", config.profile == "tuned"
    # fp32 input; bf16 normalised input if the weight trains. Liger's RMSNorm (tuned) keeps its bf16 input.
    norms = 2 * ((2 if tuned else 4) * h + (2 * h if full else 0))
    attention = 2 * (2 * q_dim + 2 * kv_dim)  # q, output, k, v in bf16 (flash / memory-efficient SDPA)
    if config.attn_impl == "eager":
        attention += 5 * s.num_heads * config.seq_len  # Korthikanti's 5as/h: scores, softmax, mask
    # gate output (SiLU input), SiLU output, up output; Liger's SwiGLU recomputes the SiLU in the backward
    mlp = (2 if tuned else 3) * 2 * i
    if full:  # trainable linears keep their (shared) inputs: normalised hidden twice, down's input
        linears = 2 * h + 2 * h + 2 * i
    elif config.fused_lora:
        linears = _fused_lora_inputs(config)
    else:  # peft casts each targeted linear's input to fp32 for lora_A; lora_A's output feeds lora_B
        shapes = s.linear_shapes()
        per_input = 4 + (1 if config.dropout > 0 else 0)  # + the dropout mask
        linears = sum(per_input * shapes[t][0] + 4 * config.rank for t in config.target_modules)
    return float(norms + attention + mlp + linears)


def _shards(config: TrainConfig) -> tuple[int, int]:
    """(divisor for weights and adapter, divisor for gradients and optimizer states)."""
    n = config.num_gpus
    if config.sharding in ("full_shard", "hybrid_shard"):
        return n, n
    if config.sharding == "shard_grad_op":
        return 1, n
    return 1, 1


def memory_components(config: TrainConfig) -> dict[str, float]:
    """Every memory component per GPU in GiB, each at its own largest (not all alive at once)."""
    s = config.shape
    tokens = config.micro_batch * config.seq_len
    n_trainable, bytes_per = _trainable(config)
    param_shards, state_shards = _shards(config)
    weights = weight_bytes(config) / param_shards
    if param_shards > 1:  # FSDP gathers a layer's full weights before using it, and prefetches the next
        weights += 2 * weight_bytes(config) / s.num_layers
    per_layer = activation_bytes_per_token_layer(config)
    final_norm = 4 * s.hidden_size * (2 if config.method == "full" else 1)
    kept_per_token = (
        s.num_layers * 2 * s.hidden_size if config.grad_checkpointing else s.num_layers * per_layer
    )
    per_state = 1 if config.optimizer == "paged_adamw_8bit" else bytes_per  # 8-bit m and v: 2 B/param
    return {
        "weights_gib": weights / GIB,
        "adapter_gib": (0.0 if config.method == "full" else n_trainable * ADAPTER_BYTES / param_shards) / GIB,
        "optimizer_gib": 2 * n_trainable * per_state / state_shards / GIB,
        "kept_activations_gib": tokens * (kept_per_token + final_norm) / GIB,
        "layer_activations_gib": tokens * per_layer / GIB,  # one layer's, without checkpointing
        "recomputed_layer_gib": tokens * per_layer / GIB if config.grad_checkpointing else 0.0,
        "logits_gib": tokens
        * (
            FUSED_CE_BYTES_PER_HIDDEN * s.hidden_size
            if config.profile == "tuned"
            else s.vocab_size * LOGITS_BYTES_PER_ELEMENT
        )
        / GIB,
        "gradients_gib": n_trainable * bytes_per / state_shards / GIB,
    }


def memory_terms(config: TrainConfig) -> dict[str, float]:
    """Terms alive at the peak, per GPU in GiB (activations before the fitted factor; no overhead)."""
    return dict(shared_memory_terms(config))  # a copy: the cached dict is shared


@lru_cache(maxsize=4096)  # a fit over many rows asks for the same configurations again and again
def shared_memory_terms(config: TrainConfig) -> dict[str, float]:
    """memory_terms without the copy, for the fits' inner loops: the dict is cached and shared, never change it."""
    c = memory_components(config)
    recompute_wins = c["recomputed_layer_gib"] > c["logits_gib"]
    terms = {
        "weights_gib": c["weights_gib"],
        "adapter_gib": c["adapter_gib"],
        "optimizer_gib": c["optimizer_gib"],
        "activations_gib": c["kept_activations_gib"] + (c["recomputed_layer_gib"] if recompute_wins else 0.0),
        "logits_gib": 0.0 if recompute_wins else c["logits_gib"],
        "gradients_gib": 0.0,
    }
    # At the end of backward every gradient exists and the first layer's activations are being consumed.
    if c["gradients_gib"] + c["layer_activations_gib"] > terms["activations_gib"] + terms["logits_gib"]:
        terms.update(
            activations_gib=c["layer_activations_gib"], logits_gib=0.0, gradients_gib=c["gradients_gib"]
        )
    return terms


def static_gib(terms: dict[str, float]) -> float:
    return sum(v for k, v in terms.items() if k != "activations_gib")
