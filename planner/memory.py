"""Peak training memory per GPU as a sum of named terms (planner/memory_terms.py), with an overhead fitted on
measured rows, and the reserved peak beside it (planner/reserved.py).

The terms (weights, adapter, optimizer states, activations, logits, gradients) and when they peak are counted in
planner/memory_terms.py; this module fits what they miss and sums them:

- overhead: what theory misses (allocator rounding, workspaces, transient buffers), fitted on measured
  `ok` rows as peak = other terms + factor × activations + constant, by least squares, per profile.

A measured row for the same configuration on the same GPU replaces the sum (and its reserved peak the reserved
prediction).

Public:
    fit_overhead(records, profile=None) -> OverheadFit
    overhead_fit(meas, profile) -> OverheadFit           (the fit used for a profile; cached)
    predict_memory(config, gpu=None, meas=None, catalog=None, headroom_frac=DEFAULT_HEADROOM_FRAC)
        -> MemoryPrediction
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from planner.catalog import Catalog, Gpu, load_catalog, resolve_gpu
from planner.config import TrainConfig
from planner.measured import Measurements, TrainRecord, empty_measurements
from planner.memory_terms import memory_terms, static_gib
from planner.reserved import reserved_fit, reserved_gib, usable_for_fit

# With no measured rows: activations as counted, plus half a GiB for cuBLAS workspaces and allocator
# rounding. An assumption, replaced by the least-squares fit as soon as measured rows exist.
DEFAULT_ACTIVATION_FACTOR = 1.0
DEFAULT_OVERHEAD_GIB = 0.5
# Keep 5% of the GPU free: the caching allocator reserves more than it allocates (fragmentation).
DEFAULT_HEADROOM_FRAC = 0.05


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


def fit_overhead(records: Iterable[TrainRecord], profile: str | None = None) -> OverheadFit:
    """Least squares of peak − static terms = factor × activations + constant over measured GPU rows."""
    pts = []
    for rec in records:
        if usable_for_fit(rec) and (profile is None or rec.config.profile == profile):
            terms = memory_terms(rec.config)
            pts.append((terms["activations_gib"], rec.peak_allocated_gib - static_gib(terms)))
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
