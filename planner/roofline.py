"""Decode step time as a roofline: the bytes one step reads over the GPU's bandwidth, plus a per-step overhead
measured on the best profile.

One decode step reads every weight once and the KV cache of every request in the batch:

    step_s = (weight bytes + batch × context × KV bytes per token) / (bandwidth × GPUs) + overhead_s

The overhead is what a measured row spent beyond its own bandwidth floor (kernel launches, Python, sampling,
the adapters' extra kernels in dynamic mode): measured step − floor on the measuring GPU. It is taken from
the profile with the smallest overhead (the tuned profile's static cache and compiled step when measured),
for the same serving mode (merged/base or dynamic) and weights (bf16 or NF4), preferring the same model.
It does not scale with bandwidth, so scaling a slow eager step by the bandwidth ratio (793 ms on an L4
where the floor is 55 ms) is avoided. Without measured decode rows the caller falls back to
planner.inference.decode_step_s.

Public: decode_roofline(model, base, mode, gpu, batch, context_tokens, meas, catalog, n_gpus=1) -> Figure | None
"""

from __future__ import annotations

from functools import lru_cache

from planner.catalog import Catalog, Gpu
from planner.inference import Figure, decode_step_bytes
from planner.measured import InferRecord, Measurements


def _overhead_s(r: InferRecord, catalog: Catalog) -> float | None:
    ms = r.metrics.get("ms_per_token")
    if not isinstance(ms, (int, float)) or ms <= 0 or r.gpu not in catalog.gpus:
        return None
    floor = decode_step_bytes(r.model, r.base, r.batch, r.prompt_len) / (
        catalog.gpus[r.gpu].bandwidth_tb_s * 1e12
    )
    return max(0.0, ms / 1000 - floor)


@lru_cache(maxsize=64)  # the same for every GPU of a serving comparison
def _best_overhead(model: str, base: str, mode: str, meas: Measurements, catalog: Catalog):
    modes = ("dynamic",) if mode == "dynamic" else ("merged", "base")
    rows = [
        r
        for r in meas.infer
        if r.task == "decode" and not r.is_cpu and r.gpu is not None and r.mode in modes and r.base == base
    ]
    for scope, pick in (("same model", lambda r: r.model == model), ("other models", lambda r: True)):
        found = [(o, r) for r in rows if pick(r) and (o := _overhead_s(r, catalog)) is not None]
        if found:
            return min(found, key=lambda x: x[0]) + (scope,)
    return None


def decode_roofline(
    model: str,
    base: str,
    mode: str,
    gpu: Gpu,
    batch: int,
    context_tokens: int,
    meas: Measurements,
    catalog: Catalog,
    n_gpus: int = 1,
) -> Figure | None:
    """Seconds per decode step of one replica (each step yields `batch` tokens), projected as a roofline."""
    best = _best_overhead(model, base, mode, meas, catalog)
    if best is None:
        return None
    overhead, row, scope = best
    floor = decode_step_bytes(model, base, batch, context_tokens) / (gpu.bandwidth_tb_s * 1e12 * n_gpus)
    note = (
        f"roofline: {floor * 1000:.1f} ms bandwidth floor on {n_gpus} × {gpu.name} + {overhead * 1000:.1f} ms "
        f"per-step overhead measured on {row.gpu} ({row.profile} profile, {row.mode}, {scope})"
    )
    return Figure(floor + overhead, "projected", note)
