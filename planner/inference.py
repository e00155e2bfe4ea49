"""Serving performance for one replica: prefill and decode speed, the dynamic-adapter overhead, merge time.

Prefill is compute-bound: tokens/s = efficiency × bf16 peak / forward FLOPs per token. Decode is
bandwidth-bound: one step reads the weights and the KV cache, so step_s = bytes / (efficiency × bandwidth),
and a batch of B requests gets B tokens per step. Efficiencies are calibrated on measured `infer` rows
(base or merged mode) of the same GPU, else projected from another GPU's rows through the TFLOP/s
(prefill) or bandwidth (decode) ratio, else the defaults below, and every figure says which.

A figure is measured only when a row matches every field that moves it: model, base, batch, prompt length
and profile (plain eager generate or the tuned compiled one), on the same GPU; otherwise it is projected,
and its derivation names the rows it was projected from. The overhead of dynamic (unmerged) adapters over
merged weights is measured from the pair of rows equal to the scenario but for the mode; without that pair
it is projected as the median over the pairs that exist (named).

Public:
    DEFAULT_PREFILL_EFFICIENCY, DEFAULT_DECODE_BANDWIDTH_EFFICIENCY, DEFAULT_DYNAMIC_OVERHEAD
    Figure                                        value, basis, model (how it was obtained)
    serving_weight_bytes(model, base) -> float
    kv_bytes_per_token(model) -> float
    prefill_tokens_per_s(model, base, gpu, meas, catalog, n_gpus=1, prompt_len=512, *, batch=1,
                         profile="plain") -> Figure
    decode_step_s(model, base, gpu, batch, context_tokens, meas, catalog, n_gpus=1, *, prompt_len=None,
                  profile="plain") -> Figure       (measured needs a row at prompt_len, default context_tokens)
    dynamic_overhead(model, task, meas, *, base="bf16", batch=1, prompt_len=512, profile="plain", gpu=None)
        -> Figure                                                  (fraction: 0.5 = 50 % slower)
    merge_s(model, base, gpu, meas, catalog) -> Figure             (merge + unmerge, for swapping)
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from functools import lru_cache

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
    model: str  # how the figure was derived: the matching row, or the rows it was projected from

    @property
    def derivation(self) -> str:
        return self.model


def describe_rows(rows: list[InferRecord], limit: int = 3) -> str:
    """Rows named by what they measured: "llama-3.1-8b bf16 merged decode b1×512 plain", ..."""
    names = [
        f"{r.model} {r.base} {r.mode} {r.task} b{r.batch}×{r.prompt_len} {r.profile}" for r in rows[:limit]
    ]
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return "; ".join(names) + more


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


def decode_step_bytes(model: str, base: str, batch: int, context_tokens: int) -> float:
    """Bytes one decode step reads: the weights as served plus every sequence's KV cache."""
    return serving_weight_bytes(model, base) + batch * context_tokens * kv_bytes_per_token(model)


def _decode_eff(r: InferRecord, gpu: Gpu) -> float | None:
    ms = r.metrics.get("ms_per_token")
    if not isinstance(ms, (int, float)) or ms <= 0:
        return None
    step_bytes = decode_step_bytes(r.model, r.base, r.batch, r.prompt_len)
    return step_bytes / (ms / 1000) / (gpu.bandwidth_tb_s * 1e12)


def _calibrate(
    meas,
    catalog,
    gpu: Gpu,
    task: str,
    eff_of,
    model: str,
    base: str,
    default: float,
    ratio_field: str,
    profile: str = "plain",
) -> tuple[float, str, str]:
    """(efficiency, basis, note) from base/merged rows of this GPU and profile, else another GPU's, else
    the default; the note names the rows."""
    for name, basis in ((gpu.name, "projected"), (_source_gpu(meas, task), "projected")):
        if name is None:
            continue
        src = catalog.gpus[name]
        rows = [r for r in _rows(meas, task, name) if r.mode in ("base", "merged")]
        for scope, pick in (
            (
                "same model, base and profile",
                lambda r: (r.model, r.base, r.profile) == (model, base, profile),
            ),
            ("same profile", lambda r: r.profile == profile),
            ("every model and profile", lambda r: True),
        ):
            used = [(r, e) for r in rows if pick(r) and (e := eff_of(r, src)) is not None]
            if used:
                eff = statistics.median(e for _, e in used)
                note = (
                    f"efficiency {eff:.3f} calibrated on {len(used)} {name} {task} row(s) ({scope}: "
                    f"{describe_rows([r for r, _ in used])})"
                )
                if name != gpu.name:
                    note = (
                        f"projected from {name} by {ratio_field} ratio ({getattr(src, ratio_field):g} -> "
                        f"{getattr(gpu, ratio_field):g}): {note}"
                    )
                return eff, basis, note
    return default, "projected", f"no measured {task} rows: default efficiency {default:.2f} (assumption)"


def _measured(
    meas: Measurements,
    gpu: Gpu,
    task: str,
    metric: str,
    *,
    model: str,
    base: str,
    batch: int,
    prompt_len: int,
    profile: str,
) -> InferRecord | None:
    """The newest base/merged row of this GPU equal to the scenario in every field that moves the figure."""
    rows = [
        r
        for r in _rows(meas, task, gpu.name)
        if _shape(r) == (model, base, batch, prompt_len, profile)
        and r.mode in ("base", "merged")
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
    *,
    batch: int = 1,
    profile: str = "plain",
) -> Figure:
    """Prefill tokens/s of one replica on n_gpus GPUs (merged weights) for `batch` prompts of prompt_len
    tokens: measured where a row matches, else projected from the calibrated efficiency."""
    match = dict(model=model, base=base, batch=batch, prompt_len=prompt_len, profile=profile)
    if n_gpus == 1 and (rec := _measured(meas, gpu, "prefill", "prefill_tokens_per_s", **match)):
        note = f"measured on {gpu.name} ({describe_rows([rec])}, {rec.timestamp})"
        return Figure(rec.metrics["prefill_tokens_per_s"], "measured", note)
    eff, basis, note = _calibrate(
        meas,
        catalog,
        gpu,
        "prefill",
        _prefill_eff,
        model,
        base,
        DEFAULT_PREFILL_EFFICIENCY,
        "bf16_tflops",
        profile,
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
    *,
    prompt_len: int | None = None,
    profile: str = "plain",
) -> Figure:
    """Seconds per decode step of one replica (each step yields `batch` tokens); measured where a row of
    this batch, prompt length (default: context_tokens) and profile exists."""
    match = dict(
        model=model, base=base, batch=batch, prompt_len=prompt_len or context_tokens, profile=profile
    )
    if n_gpus == 1 and (rec := _measured(meas, gpu, "decode", "ms_per_token", **match)):
        note = f"measured on {gpu.name} ({describe_rows([rec])}, {rec.timestamp})"
        return Figure(rec.metrics["ms_per_token"] / 1000, "measured", note)
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
        profile,
    )
    step_bytes = decode_step_bytes(model, base, batch, context_tokens)
    return Figure(step_bytes / (eff * gpu.bandwidth_tb_s * 1e12 * n_gpus), basis, note)


def _shape(r: InferRecord) -> tuple:
    """The fields of a serving row that move its figures, besides the GPU and the mode."""
    return (r.model, r.base, r.batch, r.prompt_len, r.profile)


def _twin(r: InferRecord) -> tuple:
    """What a dynamic row and its merged twin share."""
    return (r.gpu, *_shape(r))


@lru_cache(maxsize=16)  # Measurements hash by identity; serving asks once per GPU and mode
def _overhead_pairs(task: str, metric: str, meas: Measurements) -> tuple[tuple[InferRecord, float], ...]:
    """(dynamic row, overhead) for every dynamic row whose merged twin (equal but mode) was measured."""
    rows = [
        r
        for r in meas.infer
        if r.task == task and not r.is_cpu and isinstance(r.metrics.get(metric), (int, float))
    ]
    merged = {_twin(r): r for r in sorted(rows, key=lambda r: r.timestamp) if r.mode == "merged"}
    pairs = []
    for r in rows:
        m = merged.get(_twin(r))
        if r.mode == "dynamic" and m is not None and m.metrics[metric] > 0 and r.metrics[metric] > 0:
            a, b = r.metrics[metric], m.metrics[metric]
            pairs.append((r, (a / b if task == "decode" else b / a) - 1))
    return tuple(pairs)


def dynamic_overhead(
    model: str,
    task: str,
    meas: Measurements,
    *,
    base: str = "bf16",
    batch: int = 1,
    prompt_len: int = 512,
    profile: str = "plain",
    gpu: str | None = None,
) -> Figure:
    """Extra time of dynamic adapters over merged weights for decode or prefill: measured from the pair of
    rows equal to this scenario but for the mode; else projected as the median of the other pairs (the
    same model's first), named."""
    metric = "ms_per_token" if task == "decode" else "prefill_tokens_per_s"
    pairs = _overhead_pairs(task, metric, meas)
    want = (model, base, batch, prompt_len, profile)
    exact = [(r, v) for r, v in pairs if _shape(r) == want and (gpu is None or r.gpu == gpu)]
    if exact:
        r, value = max(exact, key=lambda p: p[0].timestamp)
        return Figure(
            value, "measured", f"dynamic/merged {task} pair measured on {r.gpu} ({describe_rows([r])})"
        )
    for scope, pick in ((f"{model}", lambda r: r.model == model), ("other models", lambda r: True)):
        used = [(r, v) for r, v in pairs if pick(r)]
        if used:
            value = statistics.median(v for _, v in used)
            note = (
                f"projected: no {task} pair for {model} {base} b{batch}×{prompt_len} {profile}; median of "
                f"{len(used)} dynamic/merged pair(s) ({scope}: {describe_rows([r for r, _ in used])})"
            )
            return Figure(value, "projected", note)
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
