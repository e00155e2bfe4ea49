"""What a training job costs: self-hosted cloud GPUs, on-prem hardware, managed fine-tuning APIs.

A job is tokens × epochs. Every option is a monthly cost curve in the number of runs r:

    usd(r) = units(r) × usd_fixed_per_month + r × usd_per_run + ops_usd_per_month
    units(r) = max(1, ceil(r / runs_capacity)) where there is a fixed block (reserved term, owned servers)

- cloud on-demand / spot: per run = billed GPU-hours × price; billed hours = tokens / tokens_per_s /
  utilisation (start-up, evaluation, checkpoints), on whole instances (an 8-GPU instance runs 8 data-parallel
  replicas, so the job is shorter, not dearer).
- cloud reserved: a commitment block of min_commit_hours on whole instances, used or not.
- on-prem: the fewest GPUs that fit, bought: fixed = straight-line depreciation + colocation per month;
  capacity = 730 h × utilisation of the catalog row; per run = energy (measured J/token where present, else
  the server's power) × PUE × price per kWh.
- managed: per run = max(minimum charge, tokens × epochs × price per 1M). Open-model offers apply when the
  model's size is in their bracket ("same open model"); proprietary ones are a different model and say so.

Configuration: the requested micro-batch without checkpointing if it fits one GPU, else with checkpointing,
else smaller micro-batches, else more GPUs (FSDP full sharding), the fewest GPUs first.

Public:
    TrainScenario(model, tokens, method="lora", epochs=1, runs_per_month=1, ...)
    TrainOption                                     one priced option; .usd_for_runs(r), .breakpoints(max_r)
    TrainComparison(options, notes, skipped)        .frame() -> DataFrame, ranked by usd_total
    compare_training(scenario, catalog=None, meas=None) -> TrainComparison
    choose_config(scenario, gpu, meas, catalog, max_gpus=8) -> tuple[TrainConfig, MemoryPrediction] | None
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from core.errors import InputError
from planner.catalog import Catalog, Gpu, GpuPrice, ManagedOffer, OnPrem, load_catalog
from planner.config import TrainConfig
from planner.measured import NO_ROWS_HINT, Measurements, empty_measurements
from planner.memory import MemoryPrediction, predict_memory
from planner.throughput import ThroughputPrediction, predict_tokens_per_s

HOURS_PER_MONTH = 730.0
GPU_COUNTS = (1, 2, 4, 8)
# Share of billed GPU-hours spent in training steps (start-up, data loading, evaluation, checkpoints take the
# rest). An assumption; set it per scenario.
DEFAULT_UTILISATION = 0.9
_MANAGED_METHODS = {"lora": ("lora", "sft"), "qlora": ("lora", "sft"), "full": ("full", "sft")}


@dataclass(frozen=True)
class TrainScenario:
    model: str
    tokens: int  # per epoch
    method: str = "lora"
    epochs: float = 1.0
    runs_per_month: float = 1.0
    rank: int = 16
    targets: str | tuple[str, ...] = "all-linear"
    micro_batch: int = 4
    seq_len: int = 2048
    profile: str = "plain"
    utilisation: float = DEFAULT_UTILISATION
    ops_usd_per_month: float = 0.0  # fixed cost of running self-hosted jobs (engineering time, storage)
    managed_scope: str = "all"  # all | same-model (only offers that tune this open model)
    # multipliers for sensitivity analysis (1.0 = catalog and prediction as they are)
    gpu_price_factor: float = 1.0
    managed_price_factor: float = 1.0
    throughput_factor: float = 1.0
    onprem_capex_factor: float = 1.0
    power_price_factor: float = 1.0

    def __post_init__(self):
        checks = [
            ("tokens", self.tokens >= 1, "at least one token"),
            ("epochs", self.epochs > 0, "> 0"),
            ("runs_per_month", self.runs_per_month >= 0, ">= 0"),
            ("utilisation", 0 < self.utilisation <= 1, "a fraction in (0, 1]"),
            ("ops_usd_per_month", self.ops_usd_per_month >= 0, ">= 0"),
            ("managed_scope", self.managed_scope in ("all", "same-model"), "all, same-model"),
        ]
        checks += [
            (f, getattr(self, f) > 0, "> 0")
            for f in (
                "gpu_price_factor",
                "managed_price_factor",
                "throughput_factor",
                "onprem_capex_factor",
                "power_price_factor",
            )
        ]
        for name, ok, accepted in checks:
            if not ok:
                raise InputError("bad value", field=name, value=getattr(self, name), accepted=accepted)

    @property
    def billed_tokens(self) -> float:
        return self.tokens * self.epochs


@dataclass(frozen=True)
class TrainOption:
    provider: str
    kind: str  # self-hosted | on-prem | managed
    option: str  # what is bought: "H200 on-demand (us-east-1)", "SFT LoRA up to 16B"
    usd_per_run: float  # variable cost of one run
    usd_fixed_per_month: float  # per commitment block / owned server set
    runs_capacity: float  # runs one block can do in a month (inf without a block)
    usd_total: float  # monthly cost of the scenario's runs_per_month
    ops_usd_per_month: float
    basis: str  # measured | projected (tokens/s) | catalog (managed price)
    model: str  # how the figures were obtained
    as_of: str
    source: str
    gpu: str | None = None
    pricing_kind: str | None = None
    region: str | None = None
    n_gpus: int | None = None  # GPUs billed (whole instances)
    tokens_per_s: float | None = None
    job_hours: float | None = None  # wall-clock hours of one run
    gpu_hours_per_run: float | None = None
    energy_kwh_per_run: float | None = None
    peak_allocated_gib: float | None = None
    memory_basis: str | None = None
    config: dict = field(default_factory=dict)
    managed_model: str | None = None
    match: str | None = None  # same open model (bracket) | a different, proprietary model
    status: str = "active"

    def usd_for_runs(self, runs: float) -> float:
        """Monthly cost of `runs` runs."""
        units = max(1, math.ceil(runs / self.runs_capacity - 1e-9)) if self.usd_fixed_per_month else 0
        return units * self.usd_fixed_per_month + runs * self.usd_per_run + self.ops_usd_per_month

    def breakpoints(self, max_runs: float) -> list[float]:
        """Run counts where the curve jumps (a new commitment block or server set)."""
        if not self.usd_fixed_per_month or not math.isfinite(self.runs_capacity):
            return []
        count = min(int(max_runs / self.runs_capacity), 10_000)
        return [k * self.runs_capacity for k in range(1, count + 1)]


@dataclass(frozen=True)
class TrainComparison:
    scenario: TrainScenario
    options: list[TrainOption]
    notes: list[str]
    skipped: list[tuple[str, str]]  # (option, why it is not priced)

    def frame(self):
        import pandas as pd

        rows = []
        for rank, o in enumerate(self.options, start=1):
            row = {"rank": rank, **asdict(o)}
            row["config"] = ", ".join(f"{k}={v}" for k, v in o.config.items()) if o.config else ""
            rows.append(row)
        frame = pd.DataFrame(rows)
        return frame.astype({"n_gpus": "Int64"}) if not frame.empty else frame


def _candidates(scn: TrainScenario, num_gpus: int) -> list[TrainConfig]:
    batches = [b for b in (scn.micro_batch, 4, 2, 1) if b <= scn.micro_batch]
    out = []
    for ckpt in (False, True):
        for b in dict.fromkeys(batches):
            out.append(
                TrainConfig(
                    scn.model,
                    scn.method,
                    scn.rank,
                    scn.targets,
                    b,
                    scn.seq_len,
                    ckpt,
                    profile=scn.profile,
                    num_gpus=num_gpus,
                    sharding="full_shard" if num_gpus > 1 else None,
                )
            )
            if not ckpt:
                break  # without checkpointing only the requested micro-batch; then trade batch for memory
    return out


def choose_config(
    scn: TrainScenario, gpu: Gpu, meas: Measurements, catalog: Catalog, max_gpus: int = 8
) -> tuple[TrainConfig, MemoryPrediction] | None:
    """The fewest GPUs of this type that fit, and the first configuration that fits on them."""
    for n in (c for c in GPU_COUNTS if c <= max_gpus):
        for cfg in _candidates(scn, n):
            mem = predict_memory(cfg, gpu, meas, catalog)
            if mem.fits:
                return cfg, mem
    return None


def _job(scn: TrainScenario, gpu: Gpu, n_gpus: int, fit, meas, catalog):
    """(config, memory, throughput prediction, tokens/s, job hours) for one run on n_gpus GPUs."""
    cfg, mem = fit
    if n_gpus != cfg.num_gpus:  # the extra GPUs of a rented instance run data-parallel or shard further
        cfg = cfg.with_(num_gpus=n_gpus)
        mem = predict_memory(cfg, gpu, meas, catalog)
    tput = predict_tokens_per_s(cfg, gpu, meas, catalog)
    tps = tput.tokens_per_s * scn.throughput_factor
    return cfg, mem, tput, tps, scn.billed_tokens / tps / 3600 / scn.utilisation


def _common(cfg: TrainConfig, mem: MemoryPrediction, tput: ThroughputPrediction) -> dict:
    basis = "measured" if tput.basis == "measured" else "projected"
    return dict(
        basis=basis,
        model=f"tokens/s {tput.basis}: {tput.model}; memory {mem.basis}: {mem.model}",
        peak_allocated_gib=mem.peak_allocated_gib,
        memory_basis=mem.basis,
        config=cfg.describe(),
    )


def _cloud_option(scn, price: GpuPrice, gpu: Gpu, fit, meas, catalog) -> TrainOption:
    per = price.gpus_per_instance
    n_billed = math.ceil(fit[0].num_gpus / per) * per
    cfg, mem, tput, tps, hours = _job(scn, gpu, n_billed, fit, meas, catalog)
    rate = price.usd_per_gpu_hour * scn.gpu_price_factor
    gpu_hours = hours * n_billed
    if price.pricing_kind == "reserved":
        fixed, capacity, per_run = (
            n_billed * price.min_commit_hours * rate,
            price.min_commit_hours / hours,
            0.0,
        )
    else:
        fixed, capacity, per_run = 0.0, math.inf, gpu_hours * rate
    opt = TrainOption(
        provider=price.provider,
        kind="self-hosted",
        option=f"{gpu.name} {price.pricing_kind}"
        + (f" {price.term}" if price.term else "")
        + f" ({price.region}, {price.instance})",
        usd_per_run=per_run,
        usd_fixed_per_month=fixed,
        runs_capacity=capacity,
        usd_total=0.0,
        ops_usd_per_month=scn.ops_usd_per_month,
        as_of=price.as_of,
        source=price.source,
        gpu=gpu.name,
        pricing_kind=price.pricing_kind,
        region=price.region,
        n_gpus=n_billed,
        tokens_per_s=tps,
        job_hours=hours,
        gpu_hours_per_run=gpu_hours,
        **_common(cfg, mem, tput),
    )
    if n_billed > per:
        opt = _noted(opt, f"assumes {n_billed} GPUs in one instance at the same per-GPU price")
    return _with_total(opt, scn)


def _noted(opt: TrainOption, note: str) -> TrainOption:
    return TrainOption(**{**asdict(opt), "model": f"{opt.model}; {note}"})


def _onprem_option(scn, site: OnPrem, gpu: Gpu, fit, meas, catalog) -> TrainOption:
    n = fit[0].num_gpus
    cfg, mem, tput, tps, hours = _job(scn, gpu, n, fit, meas, catalog)
    capex_month = site.server_usd_per_gpu * scn.onprem_capex_factor / (site.years * 12)
    colo_month = site.colo_usd_per_kw_month * site.system_w_per_gpu / 1000
    host_factor = site.system_w_per_gpu / gpu.tdp_w  # GPU energy -> whole server
    kwh = tput.energy_j_per_token * scn.billed_tokens * host_factor / 3.6e6
    per_run = kwh * site.pue * site.usd_per_kwh * scn.power_price_factor
    opt = TrainOption(
        provider="on-prem",
        kind="on-prem",
        option=f"{n} × {gpu.name} owned ({site.years:g}-year depreciation)",
        usd_per_run=per_run,
        usd_fixed_per_month=n * (capex_month + colo_month),
        runs_capacity=HOURS_PER_MONTH * site.utilisation / hours,
        usd_total=0.0,
        ops_usd_per_month=scn.ops_usd_per_month,
        as_of=site.as_of,
        source=site.source,
        gpu=gpu.name,
        pricing_kind="owned",
        n_gpus=n,
        tokens_per_s=tps,
        job_hours=hours,
        gpu_hours_per_run=hours * n,
        energy_kwh_per_run=kwh,
        **_common(cfg, mem, tput),
    )
    return _with_total(_noted(opt, f"energy {tput.energy_basis}"), scn)


def _offer_applies(scn: TrainScenario, offer: ManagedOffer, params_b: float) -> tuple[bool, str]:
    if offer.method not in _MANAGED_METHODS[scn.method]:
        return False, f"method {offer.method} is not {scn.method}"
    if offer.usd_per_1m_training_tokens is None:
        return False, "priced per training hour, not per token"
    if offer.open_weights:
        if not offer.min_params_b < params_b <= offer.max_params_b:
            return (
                False,
                f"{scn.model} ({params_b:.1f}B) is outside the {offer.min_params_b:g}-{offer.max_params_b:g}B bracket",
            )
        return True, f"same open model ({scn.model}, bracket {offer.min_params_b:g}-{offer.max_params_b:g}B)"
    if scn.managed_scope == "same-model":
        return False, "a proprietary model, not the same model"
    return True, f"a different model: {offer.managed_model} (proprietary, size undisclosed)"


def _managed_option(scn: TrainScenario, offer: ManagedOffer, match: str) -> TrainOption:
    price = offer.usd_per_1m_training_tokens * scn.managed_price_factor
    per_run = max(offer.min_charge_usd, scn.billed_tokens / 1e6 * price)
    opt = TrainOption(
        provider=offer.provider,
        kind="managed",
        option=offer.offer,
        usd_per_run=per_run,
        usd_fixed_per_month=0.0,
        runs_capacity=math.inf,
        usd_total=0.0,
        ops_usd_per_month=0.0,
        basis="catalog",
        model=f"{scn.billed_tokens / 1e6:,.1f}M billed tokens × ${price:g}/1M"
        + (f", minimum ${offer.min_charge_usd:g}" if offer.min_charge_usd else ""),
        as_of=offer.as_of,
        source=offer.source,
        managed_model=offer.managed_model or scn.model,
        match=match,
        status=offer.status,
    )
    return _with_total(opt, scn)


def _with_total(opt: TrainOption, scn: TrainScenario) -> TrainOption:
    return TrainOption(**{**asdict(opt), "usd_total": opt.usd_for_runs(scn.runs_per_month)})


def compare_training(
    scenario: TrainScenario, catalog: Catalog | None = None, meas: Measurements | None = None
) -> TrainComparison:
    """Every priced way to run the scenario's training, cheapest monthly total first."""
    catalog = catalog or load_catalog()
    meas = meas if meas is not None else empty_measurements()
    probe = TrainConfig(
        scenario.model,
        scenario.method,
        scenario.rank,
        scenario.targets,
        scenario.micro_batch,
        scenario.seq_len,
        profile=scenario.profile,
    )  # validates
    options, skipped, fits = [], [], {}
    for gpu in catalog.gpus.values():
        fits[gpu.name] = choose_config(scenario, gpu, meas, catalog)
    for price in catalog.prices:
        if fits[price.gpu] is None:
            skipped.append((price.label, f"{scenario.model} {scenario.method} does not fit 8 × {price.gpu}"))
            continue
        options.append(
            _cloud_option(scenario, price, catalog.gpus[price.gpu], fits[price.gpu], meas, catalog)
        )
    for site in catalog.onprem.values():
        if fits[site.gpu] is None:
            skipped.append((f"on-prem {site.gpu}", f"does not fit 8 × {site.gpu}"))
            continue
        options.append(_onprem_option(scenario, site, catalog.gpus[site.gpu], fits[site.gpu], meas, catalog))
    params_b = probe.shape.total_params() / 1e9
    for offer in catalog.managed:
        ok, why = _offer_applies(scenario, offer, params_b)
        if ok:
            options.append(_managed_option(scenario, offer, why))
        else:
            skipped.append((offer.label, why))
    options.sort(key=lambda o: (o.usd_total, o.provider, o.option))
    notes = [NO_ROWS_HINT] if not meas.gpu_train() else []
    if any(o.status == "legacy" for o in options):
        notes.append("legacy offers (status 'legacy') are closed to new users; shown for comparison")
    return TrainComparison(scenario, options, notes, skipped)
