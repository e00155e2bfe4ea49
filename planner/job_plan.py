"""A training job (a configuration and a token count) and the cheapest configuration that runs it on a GPU.

TrainScenario wraps the training configuration (planner.config.TrainConfig: model, method, rank, targets,
micro-batch, sequence, profile) with what makes it a monthly job: tokens per epoch, epochs, runs per month,
the share of billed hours spent training, operating costs and limits. The configuration's micro-batch is the
largest the chooser tries.

The chooser searches micro-batch (the requested one, then halving to 1) × gradient checkpointing (off, on) on
a given number of GPUs (more than one: FSDP full sharding). On a fixed number of GPUs the cheapest run is the
fastest one, so it keeps the configuration with the most tokens/s among those that fit (planner.gpu_fit:
reserved memory plus context), comfortable fits before tight ones. Checkpointing is not preferred over a
smaller micro-batch: both are tried and the faster wins. Over GPU counts it keeps the fewest GPU-hours among
runs within the scenario's hour limit.

Public:
    HOURS_PER_MONTH, GPU_COUNTS, DEFAULT_UTILISATION
    TrainScenario(job: TrainConfig, tokens, epochs=1, runs_per_month=1, ...)   .build(model, tokens, ...)
    JobPlan                                   config, memory, fit, throughput, tokens_per_s, job_hours
    plan_job(scn, gpu, n_gpus, meas, catalog) -> JobPlan | None        fastest fitting config on n GPUs
    choose_config(scn, gpu, meas, catalog, counts=GPU_COUNTS) -> JobPlan | None   fewest GPU-hours
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from core.errors import InputError
from planner.catalog import Catalog, Gpu
from planner.config import TrainConfig
from planner.gpu_fit import Fit, gpu_fit
from planner.measured import Measurements
from planner.memory import MemoryPrediction, predict_memory
from planner.throughput import ThroughputPrediction, predict_tokens_per_s

HOURS_PER_MONTH = 730.0
GPU_COUNTS = (1, 2, 4, 8)
# Share of billed GPU-hours spent in training steps (start-up, data loading, evaluation, checkpoints take the
# rest). An assumption; set it per scenario.
DEFAULT_UTILISATION = 0.9
# Beyond these a figure is computed but a warning says the input looks wrong.
ABSURD_TOKENS_PER_RUN = 1e13
ABSURD_HOURS_PER_RUN = 24 * 365.0

_FACTORS = (
    "gpu_price_factor",
    "managed_price_factor",
    "throughput_factor",
    "onprem_capex_factor",
    "power_price_factor",
)


def build_wrapping(cls, model: str, amount, values: dict):
    """An instance of a job wrapper (cls holds `job`, a TrainConfig, then its amount of work) from flat
    values: TrainConfig's fields go to the configuration, the wrapper's own fields to it."""
    mine = {f.name for f in fields(cls)} - {"job"}
    job = TrainConfig(model, **{k: v for k, v in values.items() if k not in mine})
    return cls(job, amount, **{k: v for k, v in values.items() if k in mine})


@dataclass(frozen=True)
class TrainScenario:
    job: TrainConfig  # micro_batch is the largest tried; num_gpus and checkpointing are chosen per GPU
    tokens: int  # per epoch
    epochs: float = 1.0
    runs_per_month: float = 1.0
    utilisation: float = DEFAULT_UTILISATION
    ops_usd_per_month: float | None = (
        None  # engineering cost of self-hosted cloud jobs; None: catalog default
    )
    managed_scope: str = "all"  # all | same-model (only offers that tune this open model)
    max_hours_per_run: float = HOURS_PER_MONTH  # a run longer than this is set aside
    # multipliers for sensitivity analysis (1.0 = catalog and prediction as they are)
    gpu_price_factor: float = 1.0
    managed_price_factor: float = 1.0
    throughput_factor: float = 1.0
    onprem_capex_factor: float = 1.0
    power_price_factor: float = 1.0

    def __post_init__(self):
        checks = [
            ("tokens", math.isfinite(self.tokens) and self.tokens >= 1, "at least one token"),
            ("epochs", 0 < self.epochs <= 1000, "in (0, 1000]"),
            ("runs_per_month", 0 <= self.runs_per_month <= 100_000, "in [0, 100000]"),
            ("utilisation", 0 < self.utilisation <= 1, "a fraction in (0, 1]"),
            ("managed_scope", self.managed_scope in ("all", "same-model"), "all, same-model"),
            ("max_hours_per_run", 0 < self.max_hours_per_run <= HOURS_PER_MONTH, "hours in (0, 730]"),
        ]
        if self.ops_usd_per_month is not None:
            ok = math.isfinite(self.ops_usd_per_month) and 0 <= self.ops_usd_per_month <= 1e8
            checks.append(("ops_usd_per_month", ok, "USD in [0, 1e8]"))
        checks += [(f, 0 < getattr(self, f) < 1000, "in (0, 1000)") for f in _FACTORS]
        for name, ok, accepted in checks:
            if not ok:
                raise InputError("bad value", field=name, value=getattr(self, name), accepted=accepted)

    @classmethod
    def build(cls, model: str, tokens: int, **values) -> TrainScenario:
        """A scenario from flat values: TrainConfig's fields (method, rank, targets, micro_batch, seq_len,
        profile, ...) and the scenario's own."""
        return build_wrapping(cls, model, tokens, values)

    @property
    def model(self) -> str:
        return self.job.model

    @property
    def method(self) -> str:
        return self.job.method

    @property
    def billed_tokens(self) -> float:
        return self.tokens * self.epochs


@dataclass(frozen=True)
class JobPlan:
    config: TrainConfig
    memory: MemoryPrediction
    fit: Fit
    throughput: ThroughputPrediction
    tokens_per_s: float
    job_hours: float  # wall-clock hours of one run, utilisation included

    @property
    def gpu_hours(self) -> float:
        return self.job_hours * self.config.num_gpus


def _batches(largest: int) -> list[int]:
    out, b = [largest], largest
    while b > 1:
        b //= 2
        out.append(b)
    return out


def plan_job(
    scn: TrainScenario, gpu: Gpu, n_gpus: int, meas: Measurements, catalog: Catalog
) -> JobPlan | None:
    """The fastest configuration that fits n_gpus GPUs of this type (comfortable fits before tight ones)."""
    best = None
    for batch in _batches(scn.job.micro_batch):
        for ckpt in (False, True):
            cfg = scn.job.with_(
                micro_batch=batch,
                grad_checkpointing=ckpt,
                num_gpus=n_gpus,
                sharding="full_shard" if n_gpus > 1 else None,
            )
            mem = predict_memory(cfg, gpu, meas, catalog)
            fit = gpu_fit(mem, gpu, meas, cfg)
            if not fit.ok:
                continue
            tput = predict_tokens_per_s(cfg, gpu, meas, catalog)
            tps = tput.tokens_per_s * scn.throughput_factor
            hours = scn.billed_tokens / tps / 3600 / scn.utilisation
            plan = JobPlan(cfg, mem, fit, tput, tps, hours)
            if best is None or (fit.state == "tight", hours) < (best.fit.state == "tight", best.job_hours):
                best = plan
    return best


def choose_config(
    scn: TrainScenario,
    gpu: Gpu,
    meas: Measurements,
    catalog: Catalog,
    counts: tuple[int, ...] = GPU_COUNTS,
) -> JobPlan | None:
    """The plan with the fewest GPU-hours (the cheapest at one price per GPU-hour) among the GPU counts whose
    run fits in memory and within the scenario's hour limit; else the fastest plan that fits at all (the
    caller sets it aside for its hours); None when nothing fits."""
    plans = [p for n in counts if (p := plan_job(scn, gpu, n, meas, catalog)) is not None]
    if not plans:
        return None
    within = [p for p in plans if p.job_hours <= scn.max_hours_per_run]
    if within:
        return min(within, key=lambda p: (p.fit.state == "tight", p.gpu_hours, p.config.num_gpus))
    return min(plans, key=lambda p: p.job_hours)
