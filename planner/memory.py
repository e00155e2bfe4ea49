"""Peak training memory per GPU as a sum of named terms, with an overhead fitted on measured rows.

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

- overhead: what theory misses (allocator rounding, workspaces, transient buffers), fitted on measured
  `ok` rows as peak = other terms + factor × activations + constant, by least squares, per profile.

Reserved memory (what the caching allocator holds from the device, and what runs into an out-of-memory
error) is the allocated peak plus the allocator's fragmentation: blocks freed between the forward and the
backward pass that the next, differently sized tensors cannot reuse. It grows with the transient tensors:
the loss's logits, the kept activations and, with checkpointing, the recomputed layer (RESERVED_TERMS), and
is fitted per profile on the rows that report `peak_reserved_gib` as reserved − allocated = Σ coefficient ×
term, non-negative coefficients, by least squared relative error of the reserved peak.

FSDP (full_shard, hybrid_shard within a node) divides weights, adapter, gradients and optimizer states by the
number of GPUs and adds two gathered layers in flight; shard_grad_op divides only gradients and optimizer
states. A measured row for the same configuration on the same GPU replaces the sum.

Public:
    memory_terms(config) -> dict[str, float]              terms alive at the peak, GiB (before the fit)
    memory_components(config) -> dict[str, float]         every component, GiB, whichever moment it peaks
    activation_bytes_per_token_layer(config) -> float
    weight_bytes(config) -> float
    fit_overhead(records, profile=None) -> OverheadFit
    overhead_fit(meas, profile) -> OverheadFit           (the fit used for a profile; cached)
    fit_reserved(records, profile=None) -> ReservedFit   reserved − allocated against the transient terms
    reserved_features(config) -> tuple[float, ...]       the RESERVED_TERMS, GiB
    predict_memory(config, gpu=None, meas=None, catalog=None, headroom_frac=DEFAULT_HEADROOM_FRAC)
        -> MemoryPrediction
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import combinations

from core.shapes import lora_params
from planner.catalog import Catalog, Gpu, load_catalog, resolve_gpu
from planner.config import TrainConfig
from planner.lsq import held_out_error, least_squares
from planner.measured import Measurements, TrainRecord, empty_measurements

GIB = 2**30
BF16_BYTES = 2
NF4_BYTES_PER_PARAM = 0.516  # 4 bits + ~0.127 bits of double-quantised constants (arXiv 2305.14314)
ADAPTER_BYTES = 4  # peft upcasts LoRA weights of a bf16 model to fp32
# log-softmax's fp32 output (kept for backward), the fp32 gradient into it, the fp32 gradient out of it
LOGITS_BYTES_PER_ELEMENT = 4 + 4 + 4
# Fused linear cross-entropy (tuned): an fp32 chunk of logits and the bf16 gradient of the hidden state
FUSED_CE_BYTES_PER_HIDDEN = 4 + 2
# With no measured rows: activations as counted, plus half a GiB for cuBLAS workspaces and allocator
# rounding. An assumption, replaced by the least-squares fit as soon as measured rows exist.
DEFAULT_ACTIVATION_FACTOR = 1.0
DEFAULT_OVERHEAD_GIB = 0.5
# Keep 5% of the GPU free: the caching allocator reserves more than it allocates (fragmentation).
DEFAULT_HEADROOM_FRAC = 0.05
# Reserved minus allocated at the peak, as the upper envelope of the first committed single-GPU rows
# (data/results/h200-standard-train.jsonl, h200-tuned-train.jsonl; 14 rows): at least a floor, else a share of
# the allocated peak. plain: 1.4-7.0 GiB (3-23 %); tuned: 0.8-2.0 GiB (2-3.4 %). Used only where no row
# reports reserved memory (a results folder without them); otherwise fit_reserved below decides.
RESERVED_MARGIN = {"plain": (4.5, 0.076), "tuned": (0.9, 0.034)}  # profile: (floor GiB, share of allocated)


def reserved_gib(peak_allocated_gib: float, profile: str) -> float:
    """What the caching allocator holds at the peak: the allocated peak plus the fitted margin."""
    floor_gib, share = RESERVED_MARGIN.get(profile, RESERVED_MARGIN["plain"])
    return peak_allocated_gib + max(floor_gib, share * peak_allocated_gib)


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
    return dict(_memory_terms(config))  # a copy: the cached dict is shared


@lru_cache(maxsize=4096)  # a fit over many rows asks for the same configurations again and again
def _memory_terms(config: TrainConfig) -> dict[str, float]:
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


def _static_gib(terms: dict[str, float]) -> float:
    return sum(v for k, v in terms.items() if k != "activations_gib")


@dataclass(frozen=True)
class OverheadFit:
    activation_factor: float
    constant_gib: float
    n_rows: int
    rms_error_gib: float | None
    profile: str | None  # the profile the rows came from; None when fitted on every profile
    note: str


DEFAULT_FIT = OverheadFit(
    DEFAULT_ACTIVATION_FACTOR,
    DEFAULT_OVERHEAD_GIB,
    0,
    None,
    None,
    f"default: activations × {DEFAULT_ACTIVATION_FACTOR:g} + {DEFAULT_OVERHEAD_GIB:g} GiB (no measured rows)",
)


def _usable_for_fit(rec: TrainRecord) -> bool:
    return rec.peak_allocated_gib is not None and rec.config.num_gpus == 1 and not rec.is_cpu


def fit_overhead(records: Iterable[TrainRecord], profile: str | None = None) -> OverheadFit:
    """Least squares of peak − static terms = factor × activations + constant over measured GPU rows."""
    pts = []
    for rec in records:
        if _usable_for_fit(rec) and (profile is None or rec.config.profile == profile):
            terms = memory_terms(rec.config)
            pts.append((terms["activations_gib"], rec.peak_allocated_gib - _static_gib(terms)))
    if not pts:
        return DEFAULT_FIT
    n = len(pts)
    mx, my = sum(x for x, _ in pts) / n, sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    factor = sum((x - mx) * (y - my) for x, y in pts) / sxx if n >= 2 and sxx > 1e-9 * max(mx * mx, 1) else 0
    if factor <= 0:  # one row, no spread in activations, or a nonsensical slope: keep the counted activations
        factor = 1.0
    constant = my - factor * mx
    rms = math.sqrt(sum((factor * x + constant - y) ** 2 for x, y in pts) / n)
    scope = f"{profile} rows" if profile else "rows of every profile"
    note = f"fitted on {n} {scope}: activations × {factor:.3f} + {constant:.2f} GiB (rms {rms:.2f} GiB)"
    return OverheadFit(factor, constant, n, rms, profile, note)


@lru_cache(maxsize=64)
def overhead_fit(meas: Measurements, profile: str) -> OverheadFit:
    """The fit for a profile: on that profile's rows, else on every row, else the default."""
    records = meas.gpu_train()
    fit = fit_overhead(records, profile)
    return fit if fit.n_rows else fit_overhead(records)


# What leaves the caching allocator holding more than is allocated, per GiB of each (fitted per profile):
# the loss's logits (the largest tensors freed and reallocated in every step), the kept activations (freed
# layer by layer in the backward, in sizes the next allocations do not match) and, with checkpointing, the
# recomputed layer's activations (allocated and freed once per layer), and the logits again where checkpointing
# recomputes layers in the backward (the loss's freed blocks then meet the recomputed layers' smaller ones; on
# the 53 plain H200 rows this term takes the leave-one-out median from 1.4% to 0.9%). No constant: on the H200
# rows one made the worst leave-one-out error worse (10.6% against 8.6% without). Which terms a profile uses is
# chosen by the error on rows left out of the fit, so that a profile with few rows does not fit noise. Each mode
# of the allocator (core.vocab.ALLOCATORS) has its own fit: expandable segments hand freed pages to requests of
# any size, so their slack is smaller (tuned: 0.2-1.0 GiB; plain with checkpointing still 1.3-8 GiB). The
# caching allocator's slack is deterministic (rows of one configuration from different calls reserve the same
# to 0.01 GiB), so what the fit misses is the model's, not noise. The tuned path concatenates q, k, v (gate, up)
# base weights and frees the separate copies; before it handed their blocks back to the driver the allocator
# kept them (0.25-0.66 of them, up to 10.5 GiB): `fused_base` remains a term, and rows of the path that kept
# them no longer report a reserved peak (planner/measured.py stale_reserved).
RESERVED_TERMS = (
    "logits_gib",
    "activations_gib",
    "recomputed_layer_gib",
    "checkpointed_logits_gib",
    "fused_base_gib",
)


def reserved_features(config: TrainConfig) -> tuple[float, ...]:
    """The RESERVED_TERMS of a configuration, GiB: logits and the recomputed layer whenever they exist,
    activations as kept at the peak, the logits once more with checkpointing."""
    c, t = memory_components(config), _memory_terms(config)
    # tuned: Liger's fused cross-entropy materialises one chunk of logits, no full tensor to fragment around
    checkpointed = c["logits_gib"] if config.grad_checkpointing and config.profile != "tuned" else 0.0
    return (
        c["logits_gib"],
        t["activations_gib"],
        c["recomputed_layer_gib"],
        checkpointed,
        _fused_base_gib(config),
    )


def _fused_base_gib(config: TrainConfig) -> float:
    """The bf16 base weights the tuned path concatenates (q, k, v; gate, up: groups whose every member carries an
    adapter) and whose separate copies it frees: blocks the caching allocator keeps reserved."""
    if not config.fused_lora or config.method != "lora":
        return 0.0
    shapes, targets = config.shape.linear_shapes(), set(config.target_modules)
    per_layer = sum(
        shapes[t][0] * shapes[t][1] for group in SHARED_INPUTS if set(group) <= targets for t in group
    )
    return per_layer * BF16_BYTES * config.shape.num_layers / GIB


@dataclass(frozen=True)
class ReservedFit:
    coefficients: tuple[float, ...]  # GiB reserved beyond allocation per GiB of each RESERVED_TERMS
    n_rows: int
    note: str

    def gap_gib(self, config: TrainConfig) -> float:
        return sum(c * x for c, x in zip(self.coefficients, reserved_features(config), strict=True))


# With no row reporting reserved memory predict_memory uses reserved_gib(), the shipped rows' envelope.
DEFAULT_RESERVED = ReservedFit((0.0,) * len(RESERVED_TERMS), 0, "no rows report reserved memory")


def fit_reserved(
    records: Iterable[TrainRecord], profile: str | None = None, allocator: str = "caching"
) -> ReservedFit:
    """Reserved − allocated = Σ coefficient × RESERVED_TERMS, least squared relative error of the reserved
    peak, over the subsets of the terms whose coefficients are all non-negative (the best one kept). Only rows
    of the allocator's mode: each mode keeps its own slack."""
    pts = [
        (reserved_features(rec.config), rec.peak_reserved_gib - rec.peak_allocated_gib, rec.peak_reserved_gib)
        for rec in records
        if _usable_for_fit(rec)
        and rec.peak_reserved_gib
        and rec.config.allocator == allocator
        and (profile is None or rec.config.profile == profile)
    ]
    n_terms = len(RESERVED_TERMS)
    subsets = [
        c for k in range(1, n_terms + 1) for c in combinations(range(n_terms), k) if k < max(len(pts), 2)
    ]
    fits = [(f, cols) for cols in subsets if (f := least_squares(pts, cols)) is not None] if pts else []
    if not fits:
        return DEFAULT_RESERVED
    (error, coef), cols = min(fits, key=lambda f: (held_out_error(pts, f[1]), f[0][0]))
    coefficients = [0.0] * n_terms
    for c, i in zip(coef, cols, strict=True):
        coefficients[i] = c
    scope = f"{profile} rows" if profile else "rows of every profile"
    scope += "" if allocator == "caching" else f" ({allocator} allocator)"
    terms = " + ".join(
        f"{c:.3f} × {RESERVED_TERMS[i].removesuffix('_gib')}" for c, i in zip(coef, cols, strict=True)
    )
    rms = math.sqrt(error / len(pts))
    note = f"reserved fitted on {len(pts)} {scope}: allocated + {terms} (rms {rms:.1%})"
    return ReservedFit(tuple(coefficients), len(pts), note)


@lru_cache(maxsize=64)
def reserved_fit(meas: Measurements, profile: str, allocator: str = "caching") -> ReservedFit:
    """The reserved-memory fit for a profile and allocator mode: on that profile's rows of the mode, else on
    the mode's rows of every profile; with no row of the mode, the caching allocator's (its slack is the
    larger), else the default."""
    records = meas.gpu_train()
    for prof, mode in ((profile, allocator), (None, allocator), (profile, "caching"), (None, "caching")):
        fit = fit_reserved(records, prof, mode)
        if fit.n_rows:
            if mode != allocator:
                fit = replace(fit, note=f"no {allocator}-allocator rows: the caching allocator's {fit.note}")
            return fit
    return fit


@dataclass(frozen=True)
class MemoryPrediction:
    peak_allocated_gib: float
    breakdown: dict[str, float]  # named terms in GiB; they sum to the peak (measured: plus residual_gib)
    basis: str  # measured | projected
    model: str  # how the figure was obtained
    gpu: str | None
    memory_gib: float | None
    fits: bool | None  # on that GPU with the headroom kept free; None without a GPU
    headroom_gib: float | None  # usable memory left after the peak (negative: short by that much)
    config: dict = field(default_factory=dict)
    reserved_gib: float | None = None  # peak reserved by the caching allocator: what runs out of memory
    reserved_basis: str = "projected"  # measured | projected
    reserved_derivation: str = ""  # how the reserved figure was obtained


def _predicted(config: TrainConfig, meas: Measurements) -> tuple[dict[str, float], str]:
    terms = memory_terms(config)
    fit = overhead_fit(meas, config.profile)
    terms["activations_gib"] *= fit.activation_factor
    terms["overhead_gib"] = fit.constant_gib
    return terms, fit.note


def predict_memory(
    config: TrainConfig,
    gpu: str | Gpu | None = None,
    meas: Measurements | None = None,
    catalog: Catalog | None = None,
    headroom_frac: float = DEFAULT_HEADROOM_FRAC,
) -> MemoryPrediction:
    """Peak allocated memory per GPU for a configuration; measured when a matching row exists on `gpu`."""
    meas = meas if meas is not None else empty_measurements()
    if isinstance(gpu, str):
        gpu = resolve_gpu(gpu, (catalog or load_catalog()).gpus)
    terms, note = _predicted(config, meas)
    peak, basis = sum(terms.values()), "projected"
    rfit = reserved_fit(meas, config.profile, config.allocator)
    reserved, r_basis, r_note = peak + rfit.gap_gib(config), "projected", rfit.note
    if not rfit.n_rows:  # no row reports reserved memory: the envelope of the shipped rows' gaps
        reserved = reserved_gib(peak, config.profile)
        r_note = "no rows report reserved memory: allocated + the shipped rows' envelope (RESERVED_MARGIN)"
    record = meas.find_train(config, gpu.name) if gpu is not None else None
    if record is not None and record.peak_allocated_gib is not None:
        terms["residual_gib"] = record.peak_allocated_gib - peak
        reserved += record.peak_allocated_gib - peak
        peak, basis = record.peak_allocated_gib, "measured"
        note = f"measured on {gpu.name} ({record.file or 'results'}, {record.timestamp or 'no timestamp'})"
        if record.peak_reserved_gib is not None:
            reserved, r_basis, r_note = record.peak_reserved_gib, "measured", note
    fits = headroom = None
    if gpu is not None:
        headroom = gpu.memory_gib * (1 - headroom_frac) - peak
        fits = headroom >= 0
    return MemoryPrediction(
        peak_allocated_gib=peak,
        breakdown=terms,
        basis=basis,
        model=note,
        gpu=gpu.name if gpu else None,
        memory_gib=gpu.memory_gib if gpu else None,
        fits=fits,
        headroom_gib=headroom,
        config=config.describe(),
        reserved_gib=reserved,
        reserved_basis=r_basis,
        reserved_derivation=r_note,
    )
