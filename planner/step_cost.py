"""What one training step costs a GPU, term by term, before calibration.

A step of `micro_batch` × `seq_len` tokens (× grad_accum micro-steps) is modelled as GPU work plus, when
the host cannot launch kernels as fast as the GPU runs them, the host's launch time instead:

    step_s = max(tokens × (tensor_core_s + adapter_s + k × traffic_s) + per_step_s,  launches × h)

- tensor-core work: the frozen or trained bf16 matmuls (4N for LoRA/QLoRA, 6N for full, +2N recomputed
  with checkpointing; core/flops.py) and attention. Causal SDPA (flash / memory-efficient) skips the masked
  half of Kaplan's 2·L·s·d_attn, so attention's share grows with the sequence. Both run at the fitted
  fraction `a` of the bf16 peak, scaled by two tile-occupancy factors (`matmul_occupancy`): M / (M +
  GEMM_HALF_TOKENS) for the M = micro_batch × seq_len rows of each matmul (small micro-steps leave tensor
  cores idle) and d / (d + GEMM_HALF_WIDTH) for the hidden width d (narrow matrices of 1B-3B models load
  more bytes per FLOP and fill fewer waves of tiles than the 8192-wide ones of 70B).
- adapter work: peft keeps LoRA A and B in fp32 and casts the input to fp32, so the 6 × adapter FLOPs (8 ×
  with checkpointing) run on the fp32 units, about 1/FP32_RATIO of the bf16 tensor-core peak. On the H200
  the rank sweep (r8 / r16 / r64, plain) puts that at ~74 TFLOP/s against 989 dense bf16. The tuned
  profile's fused adapters (`TrainConfig.fused_lora`) compute in bf16: their FLOPs join the tensor-core work
  and their elementwise traffic is lora_B's output added to the base output.
- traffic: bytes that elementwise kernels read and write per token (norms, rotary embedding, the gated MLP's
  activation, residual adds, the loss's logits and, per LoRA target, the fp32 cast of the input, the scaling
  and the add of lora_B's output), forward and backward, the forward again with checkpointing. `k` (fitted)
  turns these counted bytes into bandwidth-seconds; it absorbs what the count misses.
- per step: reading the frozen weights once per pass, NF4 dequantisation (QLoRA: each pass reads 0.5 B and
  writes 2 B per quantised weight, which the matmul then reads), and the optimizer step (AdamW reads and
  writes parameter, gradient and both moments).
- launches: eager PyTorch issues a fixed number of kernels per layer and per LoRA target; a 1B model at
  small micro-batch runs out of work before the host has launched the next kernel. The tuned profile
  compiles each decoder layer, which fuses most of its elementwise kernels on the GPU but saves the host no
  time: its host-bound H200 rows spend as long per layer as eager ones (1B LoRA 7.5 ms against 5-6.5; 1B
  QLoRA 11.7 against 9.9; the compiled code's wrapper, guards and autograd function, peft's and
  bitsandbytes' Python still run per layer), so it counts the eager launches. `h`, the host's seconds per
  launch (Python, dispatcher, autograd, peft's and bitsandbytes' module code, cudaLaunchKernel), is fitted
  on the rows the host bounds (planner/step_fit.py); LAUNCH_S is its prior where no row is host-bound.
  The step is the larger of the two, not their sum: eager PyTorch queues kernels ahead of the GPU, so the
  host's time hides behind the device's until it is the longer. Compared on the 24 plain H200 rows with the
  same terms, the sum fits only with a matmul efficiency of 1.09 (above the peak) and misses by up to 56% in
  leave-one-out; the max by up to 24%; smooth maxima ((G^p + H^p)^(1/p), p = 2-6) fall in between.

Public:
    FP32_RATIO, GEMM_HALF_TOKENS, GEMM_HALF_WIDTH, LAUNCH_S
    StepTerms(tensor_core_flops, adapter_flops, traffic_bytes, per_step_bytes, launches, tokens, matmul_rows,
              matmul_width)
    step_terms(config) -> StepTerms
    matmul_occupancy(terms) -> float        fraction of the large-matmul rate that this step's matmuls reach
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from core.flops import attention_flops_per_token
from core.shapes import lora_params

# bf16 dense tensor-core peak over the fp32 (non-tensor-core) peak: 989 / 67 TFLOP/s on H100/H200.
FP32_RATIO = 14.0
# Matmuls with M rows reach M / (M + this) of their large-M speed (wave quantisation, tile occupancy).
GEMM_HALF_TOKENS = 128
# ... and matrices of hidden width d reach d / (d + this). 1024 is the round value that, with the fitted a,
# puts the H200's large-matmul rate at 0.78 × 989 = 775 TFLOP/s, the 8192³ bf16 matmul measured in every row
# (`matmul_peak_tflops`, 767-781); of 0, 256, 512, 1024 and 2048 it also gives the lowest leave-one-out error
# (median 5.0%, 4.1%, 2.8%, 2.6%, 3.5% on the 24 plain H200 rows).
GEMM_HALF_WIDTH = 1024
# Prior host time to issue one eager kernel, used only where no measured row is host-bound: a round 8 µs
# (a bare `x.add_(1)` loop). On the H200 host the fit over the host-bound rows gives ~38 µs per counted
# launch: module code in Python (peft, bitsandbytes, transformers) costs more than the launches themselves.
LAUNCH_S = 8e-6
# Kernels per decoder layer per step, forward + backward + AdamW, counted with a TorchDispatchMode over
# non-view aten operators on tiny-llama, 2 and 4 layers (eager transformers 5.17 + peft 0.21): 98 per frozen
# layer, 109 with trainable weights (full), 15 per LoRA target; checkpointing 278 / 203 = 1.37.
BASE_LAUNCHES_PER_LAYER = 98
FULL_LAUNCHES_PER_LAYER = 109
LORA_LAUNCHES_PER_TARGET = 15
# bitsandbytes' NF4 linear, in launch-equivalents of host time: absmax and NF4 dequantisation in the forward
# and again in the backward, plus its Python (quant-state checks, output allocation). Counted on the CPU path
# it is 3 operators; on CUDA the host-bound QLoRA rows put it higher: of 4, 8, 12, 16 and 24 compared against
# them, 12 gives the lowest leave-one-out error (a chosen constant, not a fitted factor).
NF4_LAUNCHES_PER_LINEAR = 12
CKPT_LAUNCH_FACTOR = 1.37  # the recomputed forward
NF4_BYTES = 0.5 + 2 + 2  # read the 4-bit weight, write bf16, the matmul reads it back
BF16 = 2
FP32 = 4


@dataclass(frozen=True)
class StepTerms:
    tensor_core_flops: float  # per token, at the bf16 tensor-core rate
    adapter_flops: float  # per token, at the fp32 rate
    traffic_bytes: float  # per token, elementwise reads and writes
    per_step_bytes: float  # per optimizer step: weight reads, NF4 dequantisation, optimizer
    launches: float  # kernels per optimizer step
    tokens: int  # tokens per optimizer step (one GPU)
    matmul_rows: int  # M of the matmuls: micro_batch × seq_len
    matmul_width: int  # the hidden size: the narrower dimension of most of the step's matmuls


def matmul_occupancy(terms: StepTerms) -> float:
    """Fraction of the large-matmul rate this step's matmuls reach: rows M and width d (module docstring)."""
    rows, width = terms.matmul_rows, terms.matmul_width
    return rows / (rows + GEMM_HALF_TOKENS) * width / (width + GEMM_HALF_WIDTH)


def _passes(config) -> int:
    """Forward passes over the weights per micro-step: forward, backward (input gradients), recompute."""
    return 3 if config.grad_checkpointing else 2


def _layer_traffic(config) -> float:
    """Elementwise bytes per token of one decoder layer, forward only, eager."""
    s = config.shape
    h, i = s.hidden_size, s.intermediate_size
    qk = (s.num_heads + s.num_kv_heads) * s.head_dim
    norms = (
        2 * (BF16 + FP32 + FP32 + FP32 + FP32 + BF16 + BF16) * h
    )  # cast, square, mean, scale, back, weight
    rotary = 6 * 2 * BF16 * qk  # rotate_half: slice, negate, cat, two products, sum
    mlp = (2 + 2 + 2 + 2 + 2) * i  # SiLU read/write, product reads two, writes one
    residual = 2 * 3 * BF16 * h
    lora = 0.0
    if config.fused_lora:  # bf16 adapters over a shared input: lora_B's output read and added (bf16)
        lora = sum(2 * BF16 * s.linear_shapes()[t][1] for t in config.target_modules)
    elif config.method != "full":
        shapes = s.linear_shapes()
        for t in config.target_modules:
            d_in, d_out = shapes[t]
            # input cast to fp32 (read bf16, write fp32), lora_A reads it; lora_B writes fp32, scaled
            # (read + write), cast and added to the base output (read fp32 + bf16, write bf16)
            lora += (BF16 + FP32 + FP32) * d_in + (FP32 + 2 * FP32 + FP32 + 2 * BF16) * d_out
    return norms + rotary + mlp + residual + lora


def _logits_traffic(config) -> float:
    """Bytes per token of the output head's loss, forward and backward."""
    v = config.shape.vocab_size
    if config.profile == "tuned":  # fused linear cross-entropy: one fp32 chunk written and read
        return 2 * FP32 * v
    # bf16 logits, fp32 up-cast, log-softmax out, its gradient in and out, bf16 gradient to the head
    return (BF16 + BF16 + FP32 + FP32 + FP32 + 3 * FP32 + FP32 + BF16 + BF16) * v


def _launches(config) -> float:
    s = config.shape
    per_layer = FULL_LAUNCHES_PER_LAYER if config.method == "full" else BASE_LAUNCHES_PER_LAYER
    if config.method != "full":
        per_layer += LORA_LAUNCHES_PER_TARGET * len(config.target_modules)
    if config.method == "qlora":
        per_layer += NF4_LAUNCHES_PER_LINEAR * len(s.linear_shapes())
    per_layer *= CKPT_LAUNCH_FACTOR if config.grad_checkpointing else 1.0
    return s.num_layers * per_layer * config.grad_accum + 40  # + head, loss, optimizer


def _per_step_bytes(config, trainable: int) -> float:
    s = config.shape
    micro_steps = config.grad_accum
    passes = _passes(config)
    if config.method == "qlora":
        quantised = s.quantizable_params()
        weights = quantised * NF4_BYTES + (s.total_params() - quantised) * BF16
    else:
        weights = s.total_params() * BF16
    state = 8 if config.optimizer == "paged_adamw_8bit" else None
    if config.method == "full":  # bf16 parameter, gradient, m and v: read 4, write 3
        optimizer = trainable * (state or 7 * BF16)
        gradients = trainable * BF16 * micro_steps
    else:
        optimizer = trainable * (state or 7 * FP32)
        gradients = trainable * FP32 * micro_steps
    return weights * passes * micro_steps + optimizer + gradients


@lru_cache(maxsize=4096)  # pure in the configuration; fits over many rows repeat it
def step_terms(config) -> StepTerms:
    """The physical terms of one optimizer step of `config` on one GPU (see the module docstring)."""
    s = config.shape
    n = float(s.matmul_params())
    ckpt = config.grad_checkpointing
    dense = (6.0 if config.method == "full" else 4.0) * n + (2.0 * n if ckpt else 0.0)
    attention = 0.5 * attention_flops_per_token(s, config.seq_len) * (4.0 if ckpt else 3.0)
    adapter, trainable = 0.0, s.total_params()
    if config.method != "full":
        trainable = lora_params(s, config.rank, config.target_modules)
        adapter = (8.0 if ckpt else 6.0) * trainable
    if config.fused_lora:  # the tuned path computes adapters in bf16, on the tensor cores
        dense, adapter = dense + adapter, 0.0
    fwd = _layer_traffic(config) * s.num_layers
    traffic = fwd * (4 if ckpt else 3) + _logits_traffic(config)  # backward moves about twice the forward
    tokens = config.micro_batch * config.seq_len * config.grad_accum
    return StepTerms(
        tensor_core_flops=dense + attention,
        adapter_flops=adapter,
        traffic_bytes=traffic,
        per_step_bytes=_per_step_bytes(config, trainable),
        launches=_launches(config),
        tokens=tokens,
        matmul_rows=config.micro_batch * config.seq_len,
        matmul_width=s.hidden_size,
    )
