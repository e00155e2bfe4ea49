"""Serving A LoRA adapters of one base model: merged, dynamic or managed, priced per month.

Traffic: requests per day spread evenly over the adapters, each with a prompt and an output length, sized
for the peak hour (peak_to_mean × the average rate). A replica is the fewest GPUs that hold the weights, the
KV cache of `batch` concurrent requests and the adapters; one request costs it

    replica_s = prompt / prefill_tokens_per_s + output × decode_step_s / batch

Decode steps are a roofline (planner.roofline: bytes per step over bandwidth plus the per-step overhead of the
best measured profile), never a slow eager step scaled by bandwidth; without decode rows, planner.inference.

Strategies:
- merged, one deployment per adapter: each adapter gets its own replicas (at least one, always on); an NF4
  model is merged and quantised again, so it is served at its NF4 size;
- merged, swapping: one pool; every batch of one adapter's requests first swaps that adapter's merged
  weights in (merge + unmerge time, shared by the batch);
- dynamic: one base plus all adapters, the measured (else assumed) dynamic-over-merged overhead on both
  prefill and decode;
- managed: per-token prices of the tuned model and/or an hourly hosting fee: one deployment for every adapter
  where the provider serves many LoRA adapters on one base (multi_lora), else one per adapter; plus storage.
  Example prices are never ranked.
Self-hosted GPUs run around the clock at the on-demand or reserved price of each catalog row (spot is left
out: an interruptible server is not a serving deployment).

Public:
    ServeScenario(model, n_adapters=10, requests_per_day=10000, prompt_tokens=512, output_tokens=128, ...)
    ServeOption                                  one priced option
    ServeComparison(options, notes, skipped)     .frame() -> DataFrame, cheapest first
    compare_serving(scenario, catalog=None, meas=None) -> ServeComparison
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from core.errors import InputError
from core.shapes import get_shape, lora_params
from planner.catalog import Catalog, Gpu, GpuPrice, ManagedOffer, load_catalog
from planner.inference import (
    Figure,
    decode_step_s,
    dynamic_overhead,
    kv_bytes_per_token,
    merge_s,
    prefill_tokens_per_s,
    serving_weight_bytes,
)
from planner.measured import Measurements, empty_measurements
from planner.memory import DEFAULT_HEADROOM_FRAC
from planner.memory_terms import GIB
from planner.roofline import decode_roofline

HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
# Traffic is not flat: size replicas for a peak hour at twice the daily average (an assumption; set it).
DEFAULT_PEAK_TO_MEAN = 2.0


@dataclass(frozen=True)
class ServeScenario:
    model: str
    n_adapters: int = 10
    requests_per_day: float = 10_000
    prompt_tokens: int = 512
    output_tokens: int = 128
    base: str = "bf16"  # bf16 | nf4 (the weights served)
    batch: int = 8  # concurrent requests per replica
    rank: int = 16
    peak_to_mean: float = DEFAULT_PEAK_TO_MEAN

    def __post_init__(self):
        shape = get_shape(self.model)
        if self.base not in ("bf16", "nf4"):
            raise InputError("bad value", field="base", value=self.base, accepted="bf16, nf4")
        for name in ("n_adapters", "prompt_tokens", "output_tokens", "batch", "rank"):
            if getattr(self, name) <= 0:
                raise InputError(
                    "bad value", field=name, value=getattr(self, name), accepted="a positive integer"
                )
        if self.requests_per_day <= 0 or self.peak_to_mean < 1:
            raise InputError(
                "bad value",
                field="requests_per_day/peak_to_mean",
                value=(self.requests_per_day, self.peak_to_mean),
                accepted="> 0 and >= 1",
            )
        if self.prompt_tokens + self.output_tokens > shape.max_positions:
            raise InputError(
                "bad value",
                field="prompt_tokens",
                value=self.prompt_tokens,
                accepted=f"prompt + output within {shape.max_positions} positions",
            )

    @property
    def peak_requests_per_s(self) -> float:
        return self.requests_per_day / 86400 * self.peak_to_mean

    @property
    def tokens_per_month(self) -> float:
        return self.requests_per_day * DAYS_PER_MONTH * (self.prompt_tokens + self.output_tokens)


@dataclass(frozen=True)
class ServeOption:
    provider: str
    kind: str  # self-hosted | managed
    strategy: str  # merged-per-adapter | merged-swap | dynamic | managed-per-token | managed-hosted
    option: str
    usd_per_month: float
    usd_per_1m_tokens: float
    basis: str  # measured | projected | catalog
    model: str
    as_of: str
    gpu: str | None = None
    pricing_kind: str | None = None
    n_gpus: int | None = None  # billed
    gpus_per_replica: int | None = None
    replicas: int | None = None
    replica_s_per_request: float | None = None
    ms_per_step: float | None = None  # one decode step of a replica
    replica_gib: float | None = None  # weights, KV cache and adapters one replica holds
    managed_model: str | None = None
    match: str | None = None
    status: str = "current"
    flags: tuple[str, ...] = ()  # unconfirmed, legacy, different model


@dataclass(frozen=True)
class ServeComparison:
    scenario: ServeScenario
    options: list[ServeOption]
    notes: list[str]
    skipped: list[tuple[str, str]]

    def frame(self):
        import pandas as pd

        rows = [{"rank": i, **asdict(o)} for i, o in enumerate(self.options, start=1)]
        for row in rows:
            row["flags"] = ", ".join(row["flags"])
        frame = pd.DataFrame(rows)
        ints = {c: "Int64" for c in ("n_gpus", "gpus_per_replica", "replicas")}
        return frame.astype(ints) if not frame.empty else frame


def _replica_gib(scn: ServeScenario, adapters: int, base: str) -> float:
    """Memory one replica holds: weights, the KV cache of `batch` requests, the adapters (bf16)."""
    return (
        serving_weight_bytes(scn.model, base)
        + scn.batch * (scn.prompt_tokens + scn.output_tokens) * kv_bytes_per_token(scn.model)
        + adapters * lora_params(get_shape(scn.model), scn.rank, "all-linear") * 2
    ) / GIB


def _replica_gpus(scn: ServeScenario, gpu: Gpu, adapters: int, base: str) -> int | None:
    need = _replica_gib(scn, adapters, base)
    for n in (1, 2, 4, 8):
        if need <= n * gpu.memory_gib * (1 - DEFAULT_HEADROOM_FRAC):
            return n
    return None


def _worst(*figures: Figure) -> tuple[str, str]:
    basis = "measured" if all(f.basis == "measured" for f in figures) else "projected"
    return basis, "; ".join(dict.fromkeys(f.model for f in figures))


def _strategies(scn: ServeScenario, gpu: Gpu, meas: Measurements, catalog: Catalog):
    """(strategy, gpus per replica, replicas, replica seconds per request, basis, note, step s) per strategy."""
    out = []
    a = scn.n_adapters
    base = scn.base  # an NF4 model is merged and quantised again: served at its NF4 size
    for strategy, adapters in (("merged-per-adapter", 0), ("merged-swap", 0), ("dynamic", a)):
        n = _replica_gpus(scn, gpu, adapters, base)
        if n is None:
            continue
        mode = "dynamic" if strategy == "dynamic" else "merged"
        prefill = prefill_tokens_per_s(
            scn.model, base, gpu, meas, catalog, n, scn.prompt_tokens, batch=scn.batch
        )
        context = scn.prompt_tokens + scn.output_tokens // 2
        step = decode_roofline(scn.model, base, mode, gpu, scn.batch, context, meas, catalog, n)
        roofline = step is not None
        step = step or decode_step_s(
            scn.model, base, gpu, scn.batch, context, meas, catalog, n, prompt_len=scn.prompt_tokens
        )
        t_prefill = scn.prompt_tokens / prefill.value
        t_decode = scn.output_tokens * step.value / scn.batch
        figures = [prefill, step]
        if strategy == "dynamic":
            same = dict(base=base, batch=scn.batch, prompt_len=scn.prompt_tokens, gpu=gpu.name)
            over_p = dynamic_overhead(scn.model, "prefill", meas, **same)
            # the roofline of dynamic rows already holds the adapters' decode overhead
            over_d = (
                Figure(0.0, "measured", "")
                if roofline
                else dynamic_overhead(scn.model, "decode", meas, **same)
            )
            seconds = t_prefill * (1 + over_p.value) + t_decode * (1 + over_d.value)
            figures += [over_p] + ([over_d] if not roofline else [])
        elif strategy == "merged-swap":
            swap = merge_s(scn.model, scn.base, gpu, meas, catalog)  # the merge itself starts from the base
            seconds = t_prefill + t_decode + (1 - 1 / a) * swap.value / scn.batch
            figures.append(swap)
        else:
            seconds = t_prefill + t_decode
        if strategy == "merged-per-adapter":
            replicas = a * max(1, math.ceil(scn.peak_requests_per_s / a * seconds - 1e-9))
        else:
            replicas = max(1, math.ceil(scn.peak_requests_per_s * seconds - 1e-9))
        basis, note = _worst(*figures)
        out.append(
            (strategy, n, replicas, seconds, basis, note, step.value, _replica_gib(scn, adapters, base))
        )
    return out


def _self_hosted(scn: ServeScenario, price: GpuPrice, gpu: Gpu, strategies) -> list[ServeOption]:
    options = []
    for strategy, n, replicas, seconds, basis, note, step_s, gib in strategies:
        gpus = n * replicas
        billed = math.ceil(gpus / price.gpus_per_instance) * price.gpus_per_instance
        usd = billed * HOURS_PER_MONTH * price.usd_per_gpu_hour
        options.append(
            ServeOption(
                provider=price.provider,
                kind="self-hosted",
                strategy=strategy,
                option=f"{strategy}: {replicas} × {n} {gpu.name} {price.pricing_kind} ({price.region})",
                usd_per_month=usd,
                usd_per_1m_tokens=usd / (scn.tokens_per_month / 1e6),
                basis=basis,
                model=note,
                as_of=price.as_of,
                gpu=gpu.name,
                pricing_kind=price.pricing_kind,
                n_gpus=billed,
                gpus_per_replica=n,
                replicas=replicas,
                replica_s_per_request=seconds,
                ms_per_step=step_s * 1000,
                replica_gib=gib,
                status=price.status,
                flags=(price.status,) if price.status != "current" else (),
            )
        )
    return options


def _managed(
    scn: ServeScenario, offer: ManagedOffer, params_b: float
) -> tuple[list[ServeOption], str | None]:
    if offer.status == "example":
        return [], "an example figure from a docs page, not a price"
    if offer.open_weights and not offer.min_params_b < params_b <= offer.max_params_b:
        return (
            [],
            f"{scn.model} ({params_b:.1f}B) is outside the {offer.min_params_b:g}-{offer.max_params_b:g}B bracket",
        )
    match = (
        f"same open model ({scn.model})"
        if offer.open_weights
        else f"a different model: {offer.managed_model} (proprietary, size undisclosed)"
    )
    storage = scn.n_adapters * offer.storage_usd_per_month
    monthly_requests = scn.requests_per_day * DAYS_PER_MONTH
    common = dict(
        provider=offer.provider,
        kind="managed",
        basis="catalog",
        as_of=offer.as_of,
        managed_model=offer.managed_model or scn.model,
        match=match,
        status=offer.status,
        flags=offer.flags,
    )
    options = []
    tokens_usd = None
    if offer.usd_per_1m_input is not None and offer.usd_per_1m_output is not None:
        tokens_usd = (
            monthly_requests
            * (scn.prompt_tokens * offer.usd_per_1m_input + scn.output_tokens * offer.usd_per_1m_output)
            / 1e6
        )
    if tokens_usd is not None:
        usd = tokens_usd + storage
        options.append(
            ServeOption(
                strategy="managed-per-token",
                option=f"{offer.offer}: per-token serving",
                usd_per_month=usd,
                usd_per_1m_tokens=usd / (scn.tokens_per_month / 1e6),
                model="token prices × monthly tokens + storage",
                **common,
            )
        )
    if offer.hosting_usd_per_hour is not None:
        deployments = 1 if offer.multi_lora else scn.n_adapters
        usd = deployments * offer.hosting_usd_per_hour * HOURS_PER_MONTH + storage + (tokens_usd or 0)
        note = (
            "one hosted deployment of the base carries every adapter (multi-LoRA), always on"
            if offer.multi_lora
            else "one hosted deployment per adapter, always on"
        )
        if tokens_usd is None:
            note += "; token charges on top of hosting, if any, are not in the catalog"
        options.append(
            ServeOption(
                strategy="managed-hosted",
                option=f"{offer.offer}: {deployments} hosted deployment{'s' if deployments > 1 else ''}",
                usd_per_month=usd,
                usd_per_1m_tokens=usd / (scn.tokens_per_month / 1e6),
                model=note,
                **common,
            )
        )
    return options, None if options else "no serving price in the catalog"


def compare_serving(
    scenario: ServeScenario, catalog: Catalog | None = None, meas: Measurements | None = None
) -> ServeComparison:
    """Every priced way to serve the scenario's adapters, cheapest per month first."""
    catalog = catalog or load_catalog()
    meas = meas if meas is not None else empty_measurements()
    options, skipped = [], []
    strategies = {name: _strategies(scenario, gpu, meas, catalog) for name, gpu in catalog.gpus.items()}
    for price in catalog.prices:
        if price.pricing_kind == "spot":
            continue
        if not strategies[price.gpu]:
            skipped.append((price.label, f"{scenario.model} ({scenario.base}) does not fit 8 × {price.gpu}"))
        options += _self_hosted(scenario, price, catalog.gpus[price.gpu], strategies[price.gpu])
    params_b = get_shape(scenario.model).total_params() / 1e9
    seen = set()
    for offer in catalog.managed:
        key = (offer.provider, offer.managed_model, offer.min_params_b, offer.max_params_b)
        if key in seen:  # several training offers share one serving price
            continue
        seen.add(key)
        found, why = _managed(scenario, offer, params_b)
        options += found
        if why:
            skipped.append((offer.label, why))
    options.sort(key=lambda o: (o.usd_per_month, o.provider, o.option))
    notes = [
        "merged-swap assumes requests wait to be batched per adapter; the latency that adds is not modelled"
    ]
    if not any(r.task in ("decode", "prefill") for r in meas.infer):
        notes.append(
            "no measured inference rows: serving speeds are projected; measure with "
            "`peftplan bench infer --suite h200-standard`"
        )
    return ServeComparison(scenario, options, notes, skipped)
