"""Serving performance for one replica: prefill and decode speed, the dynamic-adapter overhead, merge time.

Prefill is compute-bound: tokens/s = efficiency × bf16 peak / forward FLOPs per token. Decode is
bandwidth-bound: one step reads the weights and the KV cache, so step_s = bytes / (efficiency × bandwidth),
and a batch of B requests gets B tokens per step. Efficiencies are calibrated on measured `infer` rows
(base or merged mode) of the same GPU, else projected from another GPU's rows through the TFLOP/s
(prefill) or bandwidth (decode) ratio, else the defaults below, and every figure says which.

The overhead of dynamic (unmerged) adapters over merged weights is derived from pairs of rows with equal
specs but mode (never stored): median of dynamic time / merged time − 1.

Public:
    DEFAULT_PREFILL_EFFICIENCY, DEFAULT_DECODE_BANDWIDTH_EFFICIENCY, DEFAULT_DYNAMIC_OVERHEAD
    Figure                                        value, basis, model (how it was obtained)
    serving_weight_bytes(model, base) -> float
    kv_bytes_per_token(model) -> float
    prefill_tokens_per_s(model, base, gpu, meas, catalog, n_gpus=1, prompt_len=512) -> Figure
    decode_step_s(model, base, gpu, batch, context_tokens, meas, catalog, n_gpus=1) -> Figure
    dynamic_overhead(model, task, meas) -> Figure                  (fraction: 0.5 = 50 % slower)
    merge_s(model, base, gpu, meas, catalog) -> Figure             (merge + unmerge, for swapping)
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from core.flops import forward_flops_per_token
from core.shapes import get_shape
from planner.catalog import Catalog, Gpu
from planner.measured import InferRecord, Measurements

GIB = 2**30
# Assumptions used only without measured rows (each figure built on them says so):
# prefill runs large matmuls, typically well under half of the dense peak in eager PyTorch;
DEFAULT_PREFILL_EFFICIENCY = 0.40
# decode reads every weight once per step; eager generate loses much of the bandwidth to launch overhead;
DEFAULT_DECODE_BANDWIDTH_EFFICIENCY = 0.50
# unmerged peft adapters: users report 1.3× to 10× the merged latency; 1.0 (twice as slow) is a middle guess.
DEFAULT_DYNAMIC_OVERHEAD = 1.0
NF4_BYTES_PER_PARAM = 0.516


@dataclass(frozen=True)
class Figure:
    value: float
    basis: str  # measured | projected
    model: str


def serving_weight_bytes(model: str, base: str) -> float:
    shape = get_shape(model)
    if base == "nf4":
        q = shape.quantizable_params()
        return q * NF4_BYTES_PER_PARAM + (shape.total_params() - q) * 2
    return shape.total_params() * 2.0


def kv_bytes_per_token(model: str) -> float:
    """bf16 K and V of every layer for one token of context."""
    s = get_shape(model)
    return 2 * s.num_layers * s.num_kv_heads * s.head_dim * 2.0


def _rows(meas: Measurements, task: str, gpu: str | None = None) -> list[InferRecord]:
    return [
        r
        for r in meas.infer
        if r.task == task and not r.is_cpu and r.gpu is not None and (gpu is None or r.gpu == gpu)
    ]


def _source_gpu(meas: Measurements, task: str) -> str | None:
    counts: dict[str, int] = {}
    for r in _rows(meas, task):
        counts[r.gpu] = counts.get(r.gpu, 0) + 1
    return max(sorted(counts), key=counts.get) if counts else None


def _prefill_eff(r: InferRecord, gpu: Gpu) -> float | None:
    tps = r.metrics.get("prefill_tokens_per_s")
    if not isinstance(tps, (int, float)) or tps <= 0:
        return None
    return tps * forward_flops_per_token(get_shape(r.model), r.prompt_len) / (gpu.bf16_tflops * 1e12)


def _decode_eff(r: InferRecord, gpu: Gpu) -> float | None:
    ms = r.metrics.get("ms_per_token")
    if not isinstance(ms, (int, float)) or ms <= 0:
        return None
    step_bytes = serving_weight_bytes(r.model, r.base) + r.batch * r.prompt_len * kv_bytes_per_token(r.model)
    return step_bytes / (ms / 1000) / (gpu.bandwidth_tb_s * 1e12)


def _calibrate(
    meas, catalog, gpu: Gpu, task: str, eff_of, model: str, base: str, default: float, ratio_field: str
) -> tuple[float, str, str]:
    """(efficiency, basis, note) from base/merged rows of this GPU, else another GPU's, else the default."""
    for name, basis in ((gpu.name, "projected"), (_source_gpu(meas, task), "projected")):
        if name is None:
            continue
        src = catalog.gpus[name]
        rows = [r for r in _rows(meas, task, name) if r.mode in ("base", "merged")]
        for scope, pick in (
            ("same model and base", lambda r: r.model == model and r.base == base),
            ("every model", lambda r: True),
        ):
            effs = [e for r in rows if pick(r) and (e := eff_of(r, src)) is not None]
            if effs:
                eff = statistics.median(effs)
                note = f"efficiency {eff:.3f} calibrated on {len(effs)} {name} {task} row(s) ({scope})"
                if name != gpu.name:
                    note = (
                        f"projected from {name} by {ratio_field} ratio ({getattr(src, ratio_field):g} -> "
                        f"{getattr(gpu, ratio_field):g}): {note}"
                    )
                return eff, basis, note
    return default, "projected", f"no measured {task} rows: default efficiency {default:.2f} (assumption)"


def _measured(
    meas: Measurements, gpu: Gpu, task: str, model: str, base: str, batch: int | None, metric: str
) -> InferRecord | None:
    rows = [
        r
        for r in _rows(meas, task, gpu.name)
        if r.model == model
        and r.base == base
        and r.mode in ("base", "merged")
        and (batch is None or r.batch == batch)
        and isinstance(r.metrics.get(metric), (int, float))
    ]
    return max(rows, key=lambda r: r.timestamp) if rows else None


def prefill_tokens_per_s(
    model: str,
    base: str,
    gpu: Gpu,
    meas: Measurements,
    catalog: Catalog,
    n_gpus: int = 1,
    prompt_len: int = 512,
) -> Figure:
    """Prefill tokens/s of one replica on n_gpus GPUs (merged weights) for prompts of prompt_len tokens;
    measured rows of the nearest prompt length are used as they are."""
    rows = [
        r
        for r in _rows(meas, "prefill", gpu.name)
        if r.model == model
        and r.base == base
        and r.mode in ("base", "merged")
        and isinstance(r.metrics.get("prefill_tokens_per_s"), (int, float))
    ]
    if n_gpus == 1 and rows:
        rec = max(rows, key=lambda r: (-abs(r.prompt_len - prompt_len), r.batch, r.timestamp))
        note = f"measured on {gpu.name} (batch {rec.batch} × {rec.prompt_len}-token prompts)"
        return Figure(rec.metrics["prefill_tokens_per_s"], "measured", note)
    eff, basis, note = _calibrate(
        meas, catalog, gpu, "prefill", _prefill_eff, model, base, DEFAULT_PREFILL_EFFICIENCY, "bf16_tflops"
    )
    tps = eff * gpu.bf16_tflops * 1e12 * n_gpus / forward_flops_per_token(get_shape(model), prompt_len)
    return Figure(tps, basis, note)


def decode_step_s(
    model: str,
    base: str,
    gpu: Gpu,
    batch: int,
    context_tokens: int,
    meas: Measurements,
    catalog: Catalog,
    n_gpus: int = 1,
) -> Figure:
    """Seconds per decode step of one replica (each step yields `batch` tokens)."""
    if n_gpus == 1 and (rec := _measured(meas, gpu, "decode", model, base, batch, "ms_per_token")):
        return Figure(
            rec.metrics["ms_per_token"] / 1000, "measured", f"measured on {gpu.name} at batch {batch}"
        )
    eff, basis, note = _calibrate(
        meas,
        catalog,
        gpu,
        "decode",
        _decode_eff,
        model,
        base,
        DEFAULT_DECODE_BANDWIDTH_EFFICIENCY,
        "bandwidth_tb_s",
    )
    step_bytes = serving_weight_bytes(model, base) + batch * context_tokens * kv_bytes_per_token(model)
    return Figure(step_bytes / (eff * gpu.bandwidth_tb_s * 1e12 * n_gpus), basis, note)


def dynamic_overhead(model: str, task: str, meas: Measurements) -> Figure:
    """Extra time of dynamic adapters over merged weights for decode or prefill, from rows equal but mode."""
    metric, slower_is_bigger = ("ms_per_token", True) if task == "decode" else ("prefill_tokens_per_s", False)
    rows = [
        r
        for r in meas.infer
        if r.task == task and not r.is_cpu and isinstance(r.metrics.get(metric), (int, float))
    ]
    merged = {
        (r.gpu, r.model, r.base, r.batch, r.prompt_len, r.profile): r for r in rows if r.mode == "merged"
    }
    ratios_by_model: dict[bool, list[float]] = {True: [], False: []}
    for r in rows:
        m = merged.get((r.gpu, r.model, r.base, r.batch, r.prompt_len, r.profile))
        if r.mode == "dynamic" and m is not None and m.metrics[metric] > 0 and r.metrics[metric] > 0:
            a, b = r.metrics[metric], m.metrics[metric]
            ratios_by_model[r.model == model].append((a / b if slower_is_bigger else b / a) - 1)
    for same, scope in ((True, f"{model}"), (False, "other models")):
        if ratios_by_model[same]:
            value = statistics.median(ratios_by_model[same])
            n = len(ratios_by_model[same])
            return Figure(value, "measured", f"median of {n} dynamic/merged {task} pair(s) ({scope})")
    return Figure(
        DEFAULT_DYNAMIC_OVERHEAD,
        "projected",
        f"no dynamic/merged {task} pairs: default overhead {DEFAULT_DYNAMIC_OVERHEAD:.0%} (assumption)",
    )


def merge_s(model: str, base: str, gpu: Gpu, meas: Measurements, catalog: Catalog) -> Figure:
    """Seconds to merge an adapter into the weights and unmerge it again (the cost of one swap)."""
    rows = [
        r
        for r in _rows(meas, "merge", gpu.name)
        if r.model == model and r.base == base and isinstance(r.metrics.get("merge_s"), (int, float))
    ]
    if rows:
        r = max(rows, key=lambda x: x.timestamp)
        unmerge = r.metrics.get("unmerge_s")
        total = r.metrics["merge_s"] + (
            unmerge if isinstance(unmerge, (int, float)) else r.metrics["merge_s"]
        )
        return Figure(total, "measured", f"merge + unmerge measured on {gpu.name}")
    # Merging reads and writes every targeted weight (and dequantises / requantises an NF4 base): about
    # four passes over the bf16 weights at the default decode bandwidth efficiency, each way.
    bf16 = serving_weight_bytes(model, "bf16")
    seconds = 2 * 4 * bf16 / (DEFAULT_DECODE_BANDWIDTH_EFFICIENCY * gpu.bandwidth_tb_s * 1e12)
    return Figure(seconds, "projected", "no merge rows: 4 passes over the bf16 weights each way (assumption)")
