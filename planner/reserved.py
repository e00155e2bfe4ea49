"""Reserved training memory per GPU: what the CUDA caching allocator holds from the device at the peak, and
what runs into an out-of-memory error. The allocated peak (planner/memory.py) plus the allocator's slack.

Reserved memory (what the caching allocator holds from the device, and what runs into an out-of-memory
error) is the allocated peak plus the allocator's fragmentation: blocks freed between the forward and the
backward pass that the next, differently sized tensors cannot reuse. It grows with the transient tensors:
the loss's logits, the kept activations and, with checkpointing, the recomputed layer (RESERVED_TERMS), and
is fitted per profile on the rows that report `peak_reserved_gib` as reserved − allocated = Σ coefficient ×
term, non-negative coefficients, by least squared relative error of the reserved peak.

Public:
    RESERVED_TERMS, RESERVED_MARGIN
    reserved_features(config) -> tuple[float, ...]       the RESERVED_TERMS, GiB
    fit_reserved(records, profile=None, allocator="caching") -> ReservedFit
    reserved_fit(meas, profile, allocator="caching") -> ReservedFit      (the fit used; cached)
    reserved_gib(peak_allocated_gib, profile) -> float   the envelope used where no row reports reserved memory
    usable_for_fit(record) -> bool                       a single-GPU row with an allocated peak
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import combinations

from core.vocab import DEFAULT_ALLOCATOR
from planner.config import TrainConfig
from planner.lsq import held_out_error, least_squares
from planner.measured import Measurements, TrainRecord
from planner.memory_terms import BF16_BYTES, GIB, SHARED_INPUTS, memory_components, shared_memory_terms

# Reserved minus allocated at the peak, as the upper envelope of the first committed single-GPU rows
# (data/results/h200-standard-train.jsonl, h200-tuned-train.jsonl; 14 rows): at least a floor, else a share of
# the allocated peak. plain: 1.4-7.0 GiB (3-23 %); tuned: 0.8-2.0 GiB (2-3.4 %). Used only where no row
# reports reserved memory (a results folder without them); otherwise fit_reserved below decides.
RESERVED_MARGIN = {"plain": (4.5, 0.076), "tuned": (0.9, 0.034)}  # profile: (floor GiB, share of allocated)


def reserved_gib(peak_allocated_gib: float, profile: str) -> float:
    """What the caching allocator holds at the peak: the allocated peak plus the fitted margin."""
    floor_gib, share = RESERVED_MARGIN.get(profile, RESERVED_MARGIN["plain"])
    return peak_allocated_gib + max(floor_gib, share * peak_allocated_gib)


def usable_for_fit(rec: TrainRecord) -> bool:
    """A row that can calibrate the memory fits: one GPU, an allocated peak."""
    return rec.peak_allocated_gib is not None and rec.config.num_gpus == 1 and not rec.is_cpu


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
    c, t = memory_components(config), shared_memory_terms(config)
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
    records: Iterable[TrainRecord], profile: str | None = None, allocator: str = DEFAULT_ALLOCATOR
) -> ReservedFit:
    """Reserved − allocated = Σ coefficient × RESERVED_TERMS, least squared relative error of the reserved
    peak, over the subsets of the terms whose coefficients are all non-negative (the best one kept). Only rows
    of the allocator's mode: each mode keeps its own slack."""
    pts = [
        (reserved_features(rec.config), rec.peak_reserved_gib - rec.peak_allocated_gib, rec.peak_reserved_gib)
        for rec in records
        if usable_for_fit(rec)
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
    scope += "" if allocator == DEFAULT_ALLOCATOR else f" ({allocator} allocator)"
    terms = " + ".join(
        f"{c:.3f} × {RESERVED_TERMS[i].removesuffix('_gib')}" for c, i in zip(coef, cols, strict=True)
    )
    rms = math.sqrt(error / len(pts))
    note = f"reserved fitted on {len(pts)} {scope}: allocated + {terms} (rms {rms:.1%})"
    return ReservedFit(tuple(coefficients), len(pts), note)


@lru_cache(maxsize=64)
def reserved_fit(meas: Measurements, profile: str, allocator: str = DEFAULT_ALLOCATOR) -> ReservedFit:
    """The reserved-memory fit for a profile and allocator mode: on that profile's rows of the mode, else on
    the mode's rows of every profile; with no row of the mode, the caching allocator's (its slack is the
    larger), else the default."""
    records = meas.gpu_train()
    for prof, mode in (
        (profile, allocator),
        (None, allocator),
        (profile, DEFAULT_ALLOCATOR),
        (None, DEFAULT_ALLOCATOR),
    ):
        fit = fit_reserved(records, prof, mode)
        if fit.n_rows:
            if mode != allocator:
                fit = replace(fit, note=f"no {allocator}-allocator rows: the caching allocator's {fit.note}")
            return fit
    return fit
