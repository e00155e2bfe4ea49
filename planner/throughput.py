"""Training throughput: a step's physical terms (planner/step_cost.py), calibrated on measured rows.

A single GPU's step time is

    step_s = max(tokens × (tensor_core_flops / (a × occupancy × bf16_peak) + adapter_flops × FP32_RATIO /
                 bf16_peak + k × traffic_bytes / bandwidth) + per_step_bytes / bandwidth,
                 launches × h)

with the terms of step_cost.step_terms: the matmuls and causal attention on tensor cores, LoRA's fp32
adapter matmuls, elementwise traffic (norms, activations, the loss's logits, LoRA's casts per target), the
per-step weight reads, NF4 dequantisation and optimizer step, and the host's kernel launches that bound
small models at small micro-batches. a (matmul efficiency, a fraction of the datasheet bf16 peak in
gpus.csv), k (bandwidth-seconds per counted byte) and h (host seconds per launch) are fitted on the
measured single-GPU rows of that GPU and profile (planner/step_fit.py: least squared relative error). With
too few rows for that fit, h is the prior LAUNCH_S, k = 0 and a is the
median over the narrowest group of rows (same model, method, profile and checkpointing; same model, method
and profile; same method and profile; same profile; every row) of the a that row implies. A GPU without
rows takes another GPU's a, k and h with its own peak and bandwidth ("projected through the bf16 TFLOP/s and
bandwidth ratios"; h is the host's, carried as it is); with no rows at all a default efficiency applies and
says so. CPU rows never calibrate a GPU. Multi-GPU rows give the scaling efficiency (tokens/s on N GPUs over
N × tokens/s on one).

Public:
    DEFAULT_TRAIN_EFFICIENCY, DEFAULT_SCALING_EFFICIENCY
    flops_per_token(config) -> float
    row_efficiency(record, gpu) -> float
    Calibration                                     a, k, h, rows and scope; .seconds_per_token(config, gpu)
    fit_step_model(records, gpu, scope) -> Calibration | None
    calibration(config, gpu, meas, catalog) -> tuple[Calibration, str]     the one used, and how
    predict_tokens_per_s(config, gpu, meas=None, catalog=None) -> ThroughputPrediction   (.host_bound: said in
                                                    the note, with how far host-bound rows moved between calls)
    scaling_efficiency(config, gpu, meas, catalog) -> tuple[float, str]
    efficiency_table(meas, catalog=None) -> DataFrame         one row per measured GPU row: efficiency
    scaling_table(meas, catalog=None) -> DataFrame            one row per multi-GPU row: scaling efficiency
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from functools import lru_cache

from core.flops import train_flops_per_token
from planner.catalog import Catalog, Gpu, load_catalog, resolve_gpu
from planner.config import TrainConfig
from planner.measured import Measurements, TrainRecord, empty_measurements
from planner.repeatability import HOST_BOUND_RATIO, host_bound_caveat, host_to_gpu
from planner.step_cost import LAUNCH_S, step_terms
from planner.step_fit import fit_inputs, fit_step, fit_traffic

# Assumption used only when no GPU row exists: a fraction of the datasheet bf16 peak. Tuned large-scale
# training reports 40-50 % MFU (PaLM, arXiv 2204.02311: 46 %); eager single-GPU fine-tuning with
# transformers + peft sits below that. 0.30 is a round figure under that bound, not a measurement.
DEFAULT_TRAIN_EFFICIENCY = 0.30
# Assumption for N GPUs of one node (NVLink) without a measured multi-GPU row: FSDP's all-gathers and
# reduce-scatters overlap compute only in part. A round figure, replaced by measured scaling rows.
DEFAULT_SCALING_EFFICIENCY = 0.85


@lru_cache(maxsize=4096)  # pure in the configuration; fits over many rows repeat them
def flops_per_token(config: TrainConfig) -> float:
    return train_flops_per_token(
        config.shape,
        config.method,
        config.seq_len,
        config.grad_checkpointing,
        config.rank,
        config.target_modules or "all-linear",
    )


def row_efficiency(record: TrainRecord, gpu: Gpu) -> float:
    """Fraction of the datasheet bf16 peak that a measured row reached (per GPU)."""
    flops_per_s = record.tokens_per_s * flops_per_token(record.config)
    return flops_per_s / (gpu.bf16_tflops * 1e12 * record.config.num_gpus)


@dataclass(frozen=True)
class Calibration:
    matmul_efficiency: float  # a: fraction of the bf16 peak at which the matmul FLOPs run
    traffic_factor: float  # k: elementwise time per kept activation byte, in units of 1 / bandwidth
    gpu: str  # whose rows it came from ("" for the default)
    n_rows: int
    scope: str
    power_w: float | None  # median measured power per GPU of those rows
    rms_rel_error: float | None = None
    host_s_per_launch: float = LAUNCH_S  # h: the prior unless host_bound_rows
    host_bound_rows: int = 0  # rows of the fit that the host bounds

    def step_parts(self, config: TrainConfig, gpu: Gpu) -> tuple[float, float]:
        """(the GPU's work, the host's launches) of one step of `config`, seconds per token."""
        x1, x2, fixed, launches = fit_inputs(step_terms(config), gpu)
        return (
            x1 / self.matmul_efficiency + self.traffic_factor * x2 + fixed,
            launches * self.host_s_per_launch,
        )

    def seconds_per_token(self, config: TrainConfig, gpu: Gpu) -> float:
        """One GPU's step time over its tokens: the GPU's work, or the host's launches when they take longer."""
        return max(self.step_parts(config, gpu))

    def describe(self) -> str:
        rows = f"{self.n_rows} {self.gpu} row{'s' * (self.n_rows > 1)} ({self.scope})"
        host = f"host {self.host_s_per_launch * 1e6:.1f} µs per launch"
        host += (
            f" (fitted, {self.host_bound_rows} host-bound row{'s' * (self.host_bound_rows > 1)})"
            if self.host_bound_rows
            else " (prior: no host-bound row)"
        )
        if self.traffic_factor:
            return (
                f"fitted on {rows}: matmul efficiency {self.matmul_efficiency:.3f}, elementwise traffic "
                f"{self.traffic_factor:.2f}× counted bytes / bandwidth, {host} (rms {self.rms_rel_error:.1%})"
            )
        return f"calibrated on {rows}, efficiency {self.matmul_efficiency:.3f}, {host}"


DEFAULT_CALIBRATION = Calibration(DEFAULT_TRAIN_EFFICIENCY, 0.0, "", 0, "default", None)


@dataclass(frozen=True)
class ThroughputPrediction:
    tokens_per_s: float  # the whole job's, all GPUs together
    basis: str  # measured | projected
    model: str  # how the figure was obtained
    gpu: str
    num_gpus: int
    efficiency: float  # achieved fraction of the datasheet bf16 peak per GPU
    scaling_efficiency: float  # 1.0 on one GPU
    flops_per_token: float
    energy_j_per_token: float  # whole job, GPUs only
    energy_basis: str  # measured | projected (from measured power) | projected (from TDP)
    host_bound: bool = (
        False  # projected with the host's launches taking HOST_BOUND_RATIO of the GPU's work or more
    )


_LEVELS = (
    (
        "same model, method, profile and checkpointing",
        lambda a, b: (
            (a.model, a.method, a.profile, a.grad_checkpointing)
            == (b.model, b.method, b.profile, b.grad_checkpointing)
        ),
    ),
    (
        "same model, method and profile",
        lambda a, b: (a.model, a.method, a.profile) == (b.model, b.method, b.profile),
    ),
    ("same method and profile", lambda a, b: (a.method, a.profile) == (b.method, b.profile)),
    ("same profile", lambda a, b: a.profile == b.profile),
    ("every method and profile", lambda a, b: True),
)


@lru_cache(maxsize=256)
def _single_gpu_rows(meas: Measurements, gpu_name: str) -> tuple[TrainRecord, ...]:
    """The one-GPU rows with a speed measured on this GPU (Measurements is immutable: found once per set)."""
    return tuple(
        r for r in meas.gpu_train() if r.gpu == gpu_name and r.config.num_gpus == 1 and r.tokens_per_s
    )


def _power(records: list[TrainRecord]) -> float | None:
    powers = [r.energy_j_per_token * r.tokens_per_s for r in records if r.energy_j_per_token]
    return statistics.median(powers) if powers else None


def _row_matmul_efficiency(record: TrainRecord, gpu: Gpu) -> float:
    """The a that one row implies with k = 0 and the prior h (the one-term fallback)."""
    x1, _, fixed, _ = fit_inputs(step_terms(record.config), gpu)
    y = 1 / record.tokens_per_s - fixed
    return x1 / y if y > 0 else row_efficiency(record, gpu)


def fit_step_model(
    records: list[TrainRecord], gpu: Gpu, scope: str, base: Calibration | None = None
) -> Calibration | None:
    """a, k and h by least squared relative error over the rows (planner/step_fit.py); None with fewer than
    three rows or no fit. With `base` (another profile's fit on this GPU) only k is fitted, from one row up."""
    points = [(*fit_inputs(step_terms(r.config), gpu), 1 / r.tokens_per_s) for r in records]
    if base is not None and records:
        fit = fit_traffic(points, base.matmul_efficiency, base.host_s_per_launch)
    else:
        fit = fit_step(points) if len(records) >= 3 else None
    if fit is None:
        return None
    return Calibration(
        fit.matmul_efficiency,
        fit.traffic_factor,
        gpu.name,
        len(records),
        scope,
        _power(records),
        fit.rms_rel_error,
        fit.host_s_per_launch,
        fit.host_bound_rows,
    )


# Profiles that share the plain profile's matmuls and host: they take its matmul efficiency and host time per
# launch and fit their own elementwise traffic factor (compiled layers fuse the elementwise kernels).
SHARES_PLAIN_FIT = ("tuned",)


@lru_cache(maxsize=256)
def _profile_fit(meas: Measurements, gpu: Gpu, profile: str) -> Calibration | None:
    """The step-model fit of a profile's one-GPU rows on this GPU, once per measurement set and GPU spec (a
    scenario's narrowed catalog keeps the same specs, so its options reuse the fits)."""
    rows = [r for r in _single_gpu_rows(meas, gpu.name) if r.config.profile == profile]
    if profile in SHARES_PLAIN_FIT and (base := _profile_fit(meas, gpu, "plain")) is not None:
        scope = f"{profile} profile: its traffic factor, the plain fit's matmul efficiency and host time"
        fit = fit_step_model(rows, gpu, scope, base)
        if fit is not None:
            return replace(fit, host_bound_rows=base.host_bound_rows)  # h is the plain fit's
    return fit_step_model(rows, gpu, f"{profile} profile, step-model fit")


def _own(config: TrainConfig, gpu: Gpu, meas: Measurements) -> Calibration | None:
    """This GPU's calibration for the config: the step-model fit of its profile, else one-term medians."""
    fit = _profile_fit(meas, gpu, config.profile)
    if fit is not None:
        return fit
    rows = _single_gpu_rows(meas, gpu.name)
    for scope, same in _LEVELS:
        group = [r for r in rows if same(r.config, config)]
        if group:
            eff = statistics.median(_row_matmul_efficiency(r, gpu) for r in group)
            return Calibration(eff, 0.0, gpu.name, len(group), scope, _power(group))
    return None


@lru_cache(maxsize=64)
def _source_gpu(meas: Measurements, gpu_names: tuple[str, ...]) -> str | None:
    """The GPU with the most single-GPU rows (ties: name order), used to project to other GPUs."""
    counts = {name: len(_single_gpu_rows(meas, name)) for name in gpu_names}
    best = max(sorted(counts), key=lambda n: counts[n], default=None)
    return best if best is not None and counts[best] else None


def calibration(
    config: TrainConfig, gpu: Gpu, meas: Measurements, catalog: Catalog
) -> tuple[Calibration, str]:
    """The calibration a prediction for this config on this GPU uses, and a note saying where it came from."""
    own = _own(config, gpu, meas)
    if own is not None:
        return own, own.describe()
    source = _source_gpu(meas, tuple(catalog.gpus))
    if source is not None:
        cal, src = _own(config, catalog.gpus[source], meas), catalog.gpus[source]
        note = (
            f"projected from {source} through the bf16 TFLOP/s ({src.bf16_tflops:g} -> {gpu.bf16_tflops:g}) "
            f"and bandwidth ({src.bandwidth_tb_s:g} -> {gpu.bandwidth_tb_s:g} TB/s) ratios: {cal.describe()}"
        )
        return replace(cal, power_w=None), note
    note = f"no measured GPU rows: default efficiency {DEFAULT_TRAIN_EFFICIENCY:.2f} of the bf16 peak (assumption)"
    return DEFAULT_CALIBRATION, note


def scaling_efficiency(
    config: TrainConfig, gpu: Gpu, meas: Measurements, catalog: Catalog
) -> tuple[float, str]:
    """Scaling efficiency for config.num_gpus GPUs of this type: measured (median over the closest multi-GPU
    rows) or the default assumption. 1.0 on one GPU."""
    n = config.num_gpus
    if n == 1:
        return 1.0, "one GPU"
    rows = [r for r in meas.gpu_train() if r.gpu == gpu.name and r.config.num_gpus > 1 and r.tokens_per_s]
    for scope, pick in (
        ("same model and GPU count", lambda r: r.config.model == config.model and r.config.num_gpus == n),
        ("same GPU count", lambda r: r.config.num_gpus == n),
        ("any GPU count", lambda r: True),
    ):
        group = [r for r in rows if pick(r)]
        if group:
            values = [_row_scaling(r, gpu, meas, catalog) for r in group]
            value = statistics.median(values)
            return (
                value,
                f"scaling efficiency {value:.2f} measured on {len(group)} multi-GPU row(s) ({scope})",
            )
    return (
        DEFAULT_SCALING_EFFICIENCY,
        f"default scaling efficiency {DEFAULT_SCALING_EFFICIENCY:.2f} (assumption)",
    )


def _row_scaling(record: TrainRecord, gpu: Gpu, meas: Measurements, catalog: Catalog) -> float:
    single = record.config.with_(num_gpus=1, sharding=None, cpu_offload=False)
    base = meas.find_train(single, gpu.name)
    if base is not None and base.tokens_per_s:
        one_gpu = base.tokens_per_s
    else:
        cal, _ = calibration(single, gpu, meas.without(lambda r: r.config.num_gpus > 1), catalog)
        one_gpu = 1 / cal.seconds_per_token(single, gpu)
    return record.tokens_per_s / (record.config.num_gpus * one_gpu)


def predict_tokens_per_s(
    config: TrainConfig, gpu: str | Gpu, meas: Measurements | None = None, catalog: Catalog | None = None
) -> ThroughputPrediction:
    """Training tokens/s of the whole job (config.num_gpus GPUs of this type)."""
    catalog = catalog or load_catalog()
    meas = meas if meas is not None else empty_measurements()
    gpu = resolve_gpu(gpu, catalog.gpus) if isinstance(gpu, str) else gpu
    fpt = flops_per_token(config)
    peak = gpu.bf16_tflops * 1e12 * config.num_gpus
    record = meas.find_train(config, gpu.name)
    if record is not None and record.tokens_per_s is not None:
        energy, e_basis = _energy(record, None, gpu, config, record.tokens_per_s)
        note = f"measured on {gpu.name} ({record.timestamp or record.file})"
        return ThroughputPrediction(
            record.tokens_per_s,
            "measured",
            note,
            gpu.name,
            config.num_gpus,
            record.tokens_per_s * fpt / peak,
            1.0,
            fpt,
            energy,
            e_basis,
        )
    single = config.with_(num_gpus=1, sharding=None, cpu_offload=False)
    cal, note = calibration(single, gpu, meas, catalog)
    scaling, s_note = scaling_efficiency(config, gpu, meas, catalog)
    tps = config.num_gpus * scaling / cal.seconds_per_token(single, gpu)
    if config.num_gpus > 1:
        note = f"{note}; {config.num_gpus} GPUs, {s_note}"
    ratio = host_to_gpu(cal, single, gpu)
    host_bound = ratio >= HOST_BOUND_RATIO
    if host_bound:
        note = f"{note}; {host_bound_caveat(ratio, cal, gpu, meas, catalog)}"
    energy, e_basis = _energy(None, cal.power_w, gpu, config, tps)
    return ThroughputPrediction(
        tps,
        "projected",
        note,
        gpu.name,
        config.num_gpus,
        tps * fpt / peak,
        scaling,
        fpt,
        energy,
        e_basis,
        host_bound,
    )


def _energy(record, power_w, gpu: Gpu, config: TrainConfig, tps: float) -> tuple[float, str]:
    """GPU energy per token: measured, else measured average power / tokens/s, else TDP / tokens/s."""
    if record is not None and record.energy_j_per_token:
        return record.energy_j_per_token, "measured"
    if power_w:
        return power_w * config.num_gpus / tps, "projected (from measured power)"
    return gpu.tdp_w * config.num_gpus / tps, "projected (from TDP)"


def efficiency_table(meas: Measurements, catalog: Catalog | None = None):
    """Every measured single-GPU row on a catalog GPU with its efficiency (fraction of datasheet peak).
    (`row["mfu"]` in the results is against the matmul peak measured in the run; this is against the
    datasheet, the figure that transfers between GPUs.)"""
    import pandas as pd

    catalog = catalog or load_catalog()
    rows = []
    for rec in meas.gpu_train():
        if rec.config.num_gpus == 1 and rec.tokens_per_s:
            gpu = catalog.gpus[rec.gpu]
            rows.append(
                {
                    **rec.config.describe(),
                    "gpu": rec.gpu,
                    "tokens_per_s": rec.tokens_per_s,
                    "flops_per_token": flops_per_token(rec.config),
                    "efficiency": row_efficiency(rec, gpu),
                    "timestamp": rec.timestamp,
                }
            )
    return pd.DataFrame(rows)


def scaling_table(meas: Measurements, catalog: Catalog | None = None):
    """Every measured multi-GPU row with its scaling efficiency against one GPU."""
    import pandas as pd

    catalog = catalog or load_catalog()
    rows = []
    for rec in meas.gpu_train():
        if rec.config.num_gpus > 1 and rec.tokens_per_s:
            gpu = catalog.gpus[rec.gpu]
            rows.append(
                {
                    **rec.config.describe(),
                    "gpu": rec.gpu,
                    "tokens_per_s": rec.tokens_per_s,
                    "scaling_efficiency": _row_scaling(rec, gpu, meas, catalog),
                }
            )
    return pd.DataFrame(rows)
