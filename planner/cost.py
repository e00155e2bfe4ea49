"""What a training job costs: self-hosted cloud GPUs, on-prem hardware, managed fine-tuning APIs.

A job is tokens × epochs (planner.job_plan.TrainScenario). Every option is a monthly cost curve in runs r:

    usd(r) = units(r) × usd_fixed_per_month + r × usd_per_run + ops_usd_per_month
    units(r) = max(1, ceil(r / runs_capacity)) where there is a fixed block (reserved term, owned servers)

- cloud on-demand / spot: per run = billed GPU-hours × price, on whole instances (an 8-GPU instance runs one
  job on all 8 GPUs). Spot adds its preemptions: a job on k instances is stopped k × rate times a day and
  redoes `spot_restart_lost_hours` each time (data/catalog/defaults.csv), so its hours grow by
  1 / (1 − k × rate/24 × lost).
- cloud reserved: a commitment block of min_commit_hours on whole instances, used or not.
- on-prem: bought in the catalog's purchasable unit (an 8-GPU HGX server for SXM parts, a PCIe card in its
  host); fixed per unit = (price + set-up) over the depreciation years + support contract + colocation;
  people (onprem.csv people_fte × usd_per_engineer_year) per site; capacity = 730 h × utilisation / hours;
  per run = energy (measured J/token where present, else the server's power) × PUE × price per kWh.
- self-hosted cloud jobs carry an engineering cost (defaults.csv cloud_ops_fte × usd_per_engineer_year, or
  the scenario's ops_usd_per_month); managed APIs none.
- managed: per run = max(minimum charge, tokens × epochs × price per 1M). Open-model offers apply when the
  model's size is in their bracket ("same open model"); proprietary ones are a different model.

Like for like: self-hosted, on-prem and same-open-model managed offers are ranked together; other models in
their own list; runs longer than the month or the scenario's max_hours_per_run are set aside with the reason;
example prices are never priced; every option carries flags (spot, unconfirmed, legacy, different model,
tight memory).

Public:
    TrainScenario, choose_config (from planner.job_plan)
    TrainOption                                     one priced option; .usd_for_runs(r), .breakpoints(max_r)
    TrainComparison(options, others, set_aside, skipped, notes)   .frame(), .all_options()
    compare_training(scenario, catalog=None, meas=None) -> TrainComparison
    cloud_ops_usd_per_month(catalog) -> float        the default engineering cost of self-hosted cloud jobs
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from planner.catalog import Catalog, GpuPrice, load_catalog
from planner.job_plan import (
    ABSURD_HOURS_PER_RUN,
    ABSURD_TOKENS_PER_RUN,
    DEFAULT_UTILISATION,
    GPU_COUNTS,
    HOURS_PER_MONTH,
    JobPlan,
    TrainScenario,
    choose_config,
)
from planner.managed_train import managed_options
from planner.measured import NO_ROWS_HINT, Measurements, empty_measurements

__all__ = [
    "DEFAULT_UTILISATION",
    "GPU_COUNTS",
    "HOURS_PER_MONTH",
    "TrainComparison",
    "TrainOption",
    "TrainScenario",
    "choose_config",
    "cloud_ops_usd_per_month",
    "compare_training",
]


@dataclass(frozen=True)
class TrainOption:
    provider: str
    kind: str  # self-hosted | on-prem | managed
    option: str  # what is bought: "H200 on-demand (us-east-1)", "SFT LoRA up to 16B"
    usd_per_run: float  # variable cost of one run
    usd_fixed_per_month: float  # per commitment block / owned unit set
    runs_capacity: float  # runs one block can do in a month (inf without a block)
    usd_total: float  # monthly cost of the scenario's runs_per_month
    ops_usd_per_month: float  # engineering / people cost, once a month
    basis: str  # measured | projected (tokens/s) | catalog (managed price)
    derivation: str  # how the figures were obtained
    as_of: str
    source: str
    status: str = "current"  # of the price row: current | legacy | unconfirmed
    flags: tuple[str, ...] = ()  # spot, unconfirmed, legacy, different model, tight memory
    group: str = "like-for-like"  # like-for-like | other model | set aside
    set_aside: str | None = None  # why it is not ranked
    gpu: str | None = None
    pricing_kind: str | None = None
    region: str | None = None
    n_gpus: int | None = None  # GPUs billed (whole instances) or owned (whole units)
    unit: str | None = None  # on-prem: what one buys
    units: int | None = None
    tokens_per_s: float | None = None
    job_hours: float | None = None  # wall-clock hours of one run (spot: with its preemptions)
    gpu_hours_per_run: float | None = None
    preemptions_per_run: float | None = None
    preemption_usd_per_run: float | None = None
    energy_kwh_per_run: float | None = None
    peak_allocated_gib: float | None = None
    reserved_gib: float | None = None
    need_gib: float | None = None  # reserved plus CUDA context
    headroom_gib: float | None = None
    memory_state: str | None = None  # fits | tight
    memory_basis: str | None = None
    micro_batch: int | None = None
    grad_checkpointing: bool | None = None
    config: dict = field(default_factory=dict)
    managed_model: str | None = None
    match: str | None = None  # same open model (bracket) | a different, proprietary model

    def usd_for_runs(self, runs: float) -> float:
        """Monthly cost of `runs` runs."""
        units = max(1, math.ceil(runs / self.runs_capacity - 1e-9)) if self.usd_fixed_per_month else 0
        return units * self.usd_fixed_per_month + runs * self.usd_per_run + self.ops_usd_per_month

    def breakpoints(self, max_runs: float) -> list[float]:
        """Run counts where the curve jumps (a new commitment block or unit set)."""
        if not self.usd_fixed_per_month or not math.isfinite(self.runs_capacity):
            return []
        count = min(int(max_runs / self.runs_capacity), 10_000)
        return [k * self.runs_capacity for k in range(1, count + 1)]


@dataclass(frozen=True)
class TrainComparison:
    scenario: TrainScenario
    options: list[TrainOption]  # like for like, cheapest monthly total first
    notes: list[str]
    skipped: list[tuple[str, str]]  # (option, why it is not priced)
    others: list[TrainOption] = field(default_factory=list)  # other models, cheapest first
    set_aside: list[TrainOption] = field(default_factory=list)  # priced, not ranked: see .set_aside

    def all_options(self) -> list[TrainOption]:
        return self.options + self.others + self.set_aside

    def frame(self, which: str = "all"):
        """Options as a DataFrame: `ranked` (like for like), or `all` (with other models and set-aside
        ones; `group` says which, `rank` counts within the group)."""
        import pandas as pd

        groups = [self.options] if which == "ranked" else [self.options, self.others, self.set_aside]
        rows = []
        for group in groups:
            for rank, o in enumerate(group, start=1):
                row = {"rank": rank, **asdict(o)}
                row["config"] = ", ".join(f"{k}={v}" for k, v in o.config.items()) if o.config else ""
                row["flags"] = ", ".join(o.flags)
                rows.append(row)
        frame = pd.DataFrame(rows)
        return frame.astype({"n_gpus": "Int64", "units": "Int64"}) if not frame.empty else frame


def _flags(*pairs: tuple[bool, str]) -> tuple[str, ...]:
    return tuple(name for on, name in pairs if on)


def _job_fields(plan: JobPlan) -> dict:
    mem, tput = plan.memory, plan.throughput
    return dict(
        basis="measured" if tput.basis == "measured" else "projected",
        derivation=f"tokens/s {tput.basis}: {tput.model}; memory {mem.basis}: {mem.model}",
        tokens_per_s=plan.tokens_per_s,
        peak_allocated_gib=mem.peak_allocated_gib,
        reserved_gib=mem.reserved_gib,
        need_gib=plan.fit.need_gib,
        headroom_gib=plan.fit.headroom_gib,
        memory_state=plan.fit.state,
        memory_basis=mem.basis,
        micro_batch=plan.config.micro_batch,
        grad_checkpointing=plan.config.grad_checkpointing,
        config=plan.config.describe(),
    )


def _spot_hours(hours: float, instances: int, catalog: Catalog) -> tuple[float, float]:
    """(hours with preemptions, expected preemptions) of a spot job on `instances` instances."""
    per_hour = instances * catalog.default("spot_preemptions_per_day") / 24
    lost = catalog.default("spot_restart_lost_hours")
    if per_hour * lost >= 1:
        return math.inf, math.inf
    total = hours / (1 - per_hour * lost)
    return total, per_hour * total


def cloud_ops_usd_per_month(catalog: Catalog) -> float:
    """The catalog's default engineering cost of running self-hosted cloud jobs, per month."""
    return catalog.default("cloud_ops_fte") * catalog.default("usd_per_engineer_year") / 12


def _cloud_ops(scn: TrainScenario, catalog: Catalog) -> float:
    return scn.ops_usd_per_month if scn.ops_usd_per_month is not None else cloud_ops_usd_per_month(catalog)


def _cloud_option(scn: TrainScenario, price: GpuPrice, plan: JobPlan, catalog: Catalog) -> TrainOption:
    n = plan.config.num_gpus
    rate = price.usd_per_gpu_hour * scn.gpu_price_factor
    hours, preemptions, preempt_usd = plan.job_hours, None, None
    if price.pricing_kind == "spot":
        hours, preemptions = _spot_hours(plan.job_hours, n // price.gpus_per_instance, catalog)
        preempt_usd = (hours - plan.job_hours) * n * rate
    if price.pricing_kind == "reserved":
        fixed, capacity, per_run = n * price.min_commit_hours * rate, price.min_commit_hours / hours, 0.0
    else:
        fixed, capacity, per_run = 0.0, math.inf, hours * n * rate
    term = f" {price.term}" if price.term else ""
    return TrainOption(
        provider=price.provider,
        kind="self-hosted",
        option=f"{price.gpu} {price.pricing_kind}{term} ({price.region}, {price.instance})",
        usd_per_run=per_run,
        usd_fixed_per_month=fixed,
        runs_capacity=capacity,
        usd_total=0.0,
        ops_usd_per_month=_cloud_ops(scn, catalog),
        as_of=price.as_of,
        source=price.source,
        status=price.status,
        flags=_flags(
            (price.pricing_kind == "spot", "spot"),
            (price.status != "current", price.status),
            (plan.fit.state == "tight", "tight memory"),
        ),
        gpu=price.gpu,
        pricing_kind=price.pricing_kind,
        region=price.region,
        n_gpus=n,
        job_hours=hours,
        gpu_hours_per_run=hours * n,
        preemptions_per_run=preemptions,
        preemption_usd_per_run=preempt_usd,
        **_job_fields(plan),
    )


def _onprem_option(scn: TrainScenario, site, plan: JobPlan, catalog: Catalog) -> TrainOption:
    n, units = plan.config.num_gpus, plan.config.num_gpus // site.unit_gpus
    gpu = catalog.gpus[site.gpu]
    months = site.years * 12
    per_unit = (
        (site.unit_usd * scn.onprem_capex_factor + site.setup_usd_per_unit) / months
        + site.support_frac_per_year * site.unit_usd * scn.onprem_capex_factor / 12
        + site.colo_usd_per_kw_month * site.system_w_per_gpu * site.unit_gpus / 1000
    )
    host_factor = site.system_w_per_gpu / gpu.tdp_w  # GPU energy -> whole server
    kwh = plan.throughput.energy_j_per_token * scn.billed_tokens * host_factor / 3.6e6
    opt = TrainOption(
        provider="on-prem",
        kind="on-prem",
        option=f"{units} × {site.unit} ({n} × {site.gpu}), owned, {site.years:g}-year depreciation",
        usd_per_run=kwh * site.pue * site.usd_per_kwh * scn.power_price_factor,
        usd_fixed_per_month=units * per_unit,
        runs_capacity=HOURS_PER_MONTH * site.utilisation / plan.job_hours,
        usd_total=0.0,
        ops_usd_per_month=site.people_fte * catalog.default("usd_per_engineer_year") / 12,
        as_of=site.as_of,
        source=site.source,
        status=site.status,
        flags=_flags((site.status != "current", site.status), (plan.fit.state == "tight", "tight memory")),
        gpu=site.gpu,
        pricing_kind="owned",
        n_gpus=n,
        unit=site.unit,
        units=units,
        job_hours=plan.job_hours,
        gpu_hours_per_run=plan.gpu_hours,
        energy_kwh_per_run=kwh,
        **_job_fields(plan),
    )
    return replace(opt, derivation=f"{opt.derivation}; energy {plan.throughput.energy_basis}")


def _with_total(opt: TrainOption, scn: TrainScenario) -> TrainOption:
    return replace(opt, usd_total=opt.usd_for_runs(scn.runs_per_month))


def _why_aside(opt: TrainOption, scn: TrainScenario) -> str | None:
    if opt.job_hours is None:
        return None
    if not math.isfinite(opt.job_hours):
        return "spot preemptions would never let a run finish"
    if opt.job_hours > HOURS_PER_MONTH:
        return f"one run takes {opt.job_hours:,.0f} h, longer than a month"
    if opt.job_hours > scn.max_hours_per_run:
        return f"one run takes {opt.job_hours:,.0f} h, over the limit of {scn.max_hours_per_run:g} h"
    return None


def _self_hosted(
    scn: TrainScenario, catalog: Catalog, meas: Measurements, skipped: list
) -> list[TrainOption]:
    plans: dict[tuple, JobPlan | None] = {}

    def plan_for(gpu_name: str, step: int) -> JobPlan | None:
        counts = tuple(c for c in GPU_COUNTS if c % step == 0) or (step,)
        key = (gpu_name, counts)
        if key not in plans:
            plans[key] = choose_config(scn, catalog.gpus[gpu_name], meas, catalog, counts)
        return plans[key]

    found = []
    for price in catalog.prices:
        if price.status == "example":
            skipped.append((price.label, "an example figure, not a price"))
        elif (plan := plan_for(price.gpu, price.gpus_per_instance)) is None:
            skipped.append((price.label, f"{scn.model} {scn.method} does not fit 8 × {price.gpu}"))
        else:
            found.append(_cloud_option(scn, price, plan, catalog))
    for site in catalog.onprem.values():
        if (plan := plan_for(site.gpu, site.unit_gpus)) is None:
            skipped.append((f"on-prem {site.gpu}", f"does not fit 8 × {site.gpu}"))
        else:
            found.append(_onprem_option(scn, site, plan, catalog))
    return found


def _notes(scn: TrainScenario, meas: Measurements, priced: list[TrainOption]) -> list[str]:
    notes = [NO_ROWS_HINT] if not meas.gpu_train() else []
    if scn.billed_tokens > ABSURD_TOKENS_PER_RUN:
        notes.append(
            f"{scn.billed_tokens:,.0f} billed tokens a run is beyond any fine-tuning job: check --tokens"
        )
    long_runs = [o for o in priced if o.job_hours and o.job_hours > ABSURD_HOURS_PER_RUN]
    if long_runs and len(long_runs) == len([o for o in priced if o.job_hours]):
        notes.append("every self-hosted run takes more than a year: check --tokens and --epochs")
    if any("legacy" in o.flags for o in priced):
        notes.append("legacy offers are closed to new users; shown for comparison")
    if any("spot" in o.flags for o in priced):
        notes.append(
            "spot hours include expected preemptions (defaults.csv: spot_preemptions_per_day, "
            "spot_restart_lost_hours)"
        )
    return notes


def compare_training(
    scenario: TrainScenario, catalog: Catalog | None = None, meas: Measurements | None = None
) -> TrainComparison:
    """Every way to run the scenario's training: like for like ranked by monthly total, other models apart,
    runs that do not fit the month or the hour limit set aside, and what could not be priced with why."""
    catalog = catalog or load_catalog()
    meas = meas if meas is not None else empty_measurements()
    skipped: list[tuple[str, str]] = []
    priced = _self_hosted(scenario, catalog, meas, skipped)
    priced += managed_options(scenario, catalog, skipped)
    priced = [_with_total(o, scenario) for o in priced]
    ranked, others, aside = [], [], []
    for o in priced:
        why = _why_aside(o, scenario)
        if why:
            aside.append(replace(o, group="set aside", set_aside=why))
        elif o.group == "other model":
            others.append(o)
        else:
            ranked.append(o)
    for group in (ranked, others, aside):
        group.sort(key=lambda o: (o.usd_total, o.provider, o.option))
    return TrainComparison(scenario, ranked, _notes(scenario, meas, priced), skipped, others, aside)
