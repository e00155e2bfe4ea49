"""A training scenario as data: every assumption a cost verdict depends on, with the catalog's values as the
starting point, validated from a URL's query parameters or a JSON file, and applied to the catalog as a copy.

A scenario is a plain dict (JSON-ready):

    the job         model, method, tokens (per epoch), epochs, runs_per_month, rank, seq_len, micro_batch,
                    profile, allocator, managed_scope
    assumptions     utilisation, ops_usd_per_month (operating and people costs of self-hosting), the scaling
                    factors of planner.cost.TrainScenario (gpu_price_factor, ...)
    selection       gpus, kinds (empty: all)
    overrides       prices {price_key: USD per GPU-hour}, managed {offer label: USD per 1M training tokens},
                    onprem {field: value, for every on-prem site}, defaults {name: value of defaults.csv}

Nothing here prices anything: apply() returns the TrainScenario and the catalog (with overrides substituted)
that planner.cost.compare_training prices. A file or URL is data: parsed with json and checked field by
field; a bad value is an InputError naming the file, field and value and what is accepted.

Public:
    default_scenario() -> dict                  the Overview's question, before anything is changed
    validate(data, file) -> dict                a complete scenario from a partial dict, or InputError
    from_json(text, file) / to_json(scn)        the scenario file
    from_query(params) / to_query(scn)          the URL (only what differs from the default)
    changes(scn, base=None) -> list[str]        one line per changed assumption
    price_key(price) -> str                     how a GPU price is named in `prices`
    apply(scn, catalog) -> (TrainScenario, Catalog)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import replace

from core.errors import InputError
from core.numbers import accepted_range, check_number, parse_number
from core.vocab import ALLOCATORS, DEFAULT_ALLOCATOR, METHODS, PROFILES

SCHEMA = "peftplan-scenario/1"
KINDS = ("on-demand", "spot", "reserved", "on-prem")
# On-prem assumptions a scenario may replace for every site (a new catalog column is one more name here).
ONPREM_FIELDS = (
    "years",
    "usd_per_kwh",
    "pue",
    "utilisation",
    "colo_usd_per_kw_month",
    "support_frac_per_year",
    "setup_usd_per_unit",
    "people_fte",
)


def _num(lo: float, hi: float, integer: bool = False):
    """A number (or its text, as a link carries it) in [lo, hi], checked by core.numbers: an InputError
    names the field, the value and the range."""

    def check(value, field: str):
        read = parse_number if isinstance(value, str) else check_number
        return read(value, field, lo=lo, hi=hi, integer=integer)

    return check, accepted_range(lo, hi, integer)


def _choice(*allowed: str):
    def check(value, field: str):
        if str(value) not in allowed:
            raise ValueError
        return str(value)

    return check, ", ".join(allowed)


def _text(value, field: str):
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ValueError
    return value.strip()


# field → (check, what is accepted, default, label with unit)
FIELDS: dict[str, tuple] = {
    "model": (_text, "a model name of data/catalog/models.csv", "llama-3.1-8b", "model"),
    "method": (*_choice(*METHODS), "lora", "method"),
    "tokens": (*_num(1, 1e13, integer=True), 100_000_000, "tokens per epoch"),
    "epochs": (*_num(0.01, 100), 3.0, "epochs"),
    "runs_per_month": (*_num(0, 10_000), 4.0, "runs per month"),
    "rank": (*_num(1, 1024, integer=True), 16, "LoRA rank"),
    "seq_len": (*_num(16, 131_072, integer=True), 2048, "sequence length (tokens)"),
    "micro_batch": (*_num(1, 512, integer=True), 4, "micro-batch (sequences)"),
    "profile": (*_choice(*PROFILES), "plain", "profile"),
    "allocator": (*_choice(*ALLOCATORS), DEFAULT_ALLOCATOR, "CUDA allocator"),
    "managed_scope": (*_choice("all", "same-model"), "all", "managed offers"),
    "utilisation": (*_num(0.05, 1), 0.9, "utilisation of billed GPU-hours"),
    # None: the catalog's engineering cost (defaults.csv cloud_ops_fte × usd_per_engineer_year)
    "ops_usd_per_month": (
        *_num(0, 1e8),
        None,
        "operating and people costs of self-hosted cloud jobs (USD per month)",
    ),
    "max_hours_per_run": (*_num(0.1, 730), 730.0, "longest acceptable run (hours)"),
    "gpu_price_factor": (*_num(0.01, 100), 1.0, "GPU prices (× catalog)"),
    "managed_price_factor": (*_num(0.01, 100), 1.0, "managed prices (× catalog)"),
    "throughput_factor": (*_num(0.01, 100), 1.0, "throughput (× projection)"),
    "onprem_capex_factor": (*_num(0.01, 100), 1.0, "server price (× catalog)"),
    "power_price_factor": (*_num(0.01, 100), 1.0, "power price (× catalog)"),
}
LISTS = {"gpus": "GPU names of data/catalog/gpus.csv", "kinds": ", ".join(KINDS)}
OVERRIDES = {
    "prices": ("USD per GPU-hour", _num(0, 10_000)),
    "managed": ("USD per 1M training tokens", _num(0, 100_000)),
    "onprem": ("on-prem assumption", _num(0, 1e9)),
    "defaults": ("operating assumption", _num(0, 1e9)),  # data/catalog/defaults.csv: people, spot preemption
}


def default_scenario() -> dict:
    """The question the Overview answers before anything is changed."""
    scn = {name: spec[2] for name, spec in FIELDS.items()}
    return {**scn, **{name: [] for name in LISTS}, **{name: {} for name in OVERRIDES}}


def _bad(file: str | None, field: str, value, accepted: str) -> InputError:
    return InputError("bad scenario value", file=file, field=field, value=value, accepted=accepted)


def _list(value, field: str, file: str | None) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise _bad(file, field, value, LISTS[field])
    out = [v.strip() for v in items if v.strip()]
    if field == "kinds" and any(v not in KINDS for v in out):
        raise _bad(file, field, value, LISTS[field])
    return out


def _overrides(value, field: str, file: str | None) -> dict[str, float]:
    what, (check, accepted) = OVERRIDES[field]
    if not isinstance(value, dict):
        raise _bad(file, field, value, f"an object of name → {what}")
    out = {}
    for key, number in value.items():
        if field == "onprem" and key not in ONPREM_FIELDS:
            raise _bad(file, f"onprem.{key}", number, "one of " + ", ".join(ONPREM_FIELDS))
        try:
            out[str(key)] = check(number, f"{field}.{key}")
        except InputError as exc:
            raise InputError(
                exc.what, file=file, field=exc.field, value=number, accepted=f"{what}: {accepted}"
            ) from None
    return out


def validate(data: Mapping, file: str | None = "scenario") -> dict:
    """A complete scenario: the defaults, replaced by the fields of `data`, each checked."""
    if not isinstance(data, Mapping):
        raise InputError("a scenario is a JSON object", file=file, accepted="{...} as written by Download")
    scn = default_scenario()
    for name, value in data.items():
        if name == "schema":
            if value != SCHEMA:
                raise _bad(file, name, value, SCHEMA)
        elif name in FIELDS:
            check, accepted = FIELDS[name][:2]
            if value is None and FIELDS[name][2] is None:  # "the catalog's value"
                scn[name] = None
                continue
            try:
                scn[name] = check(value, name)
            except InputError as exc:
                raise exc.located(file=file) from None
            except (TypeError, ValueError):
                raise _bad(file, name, value, accepted) from None
        elif name in LISTS:
            scn[name] = _list(value, name, file)
        elif name in OVERRIDES:
            scn[name] = _overrides(value, name, file)
        else:
            known = ", ".join([*FIELDS, *LISTS, *OVERRIDES])
            raise InputError("unknown scenario field", file=file, field=name, value=value, accepted=known)
    return scn


def to_json(scn: dict) -> str:
    return json.dumps({"schema": SCHEMA, **scn}, indent=2, sort_keys=False) + "\n"


def from_json(text: str | bytes, file: str = "scenario file") -> dict:
    """A scenario file (JSON, as written by to_json), validated; never executed."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"not JSON ({exc})", file=file, accepted="a scenario file written by Download"
        ) from None
    return validate(data, file)


def to_query(scn: dict) -> dict[str, str]:
    """URL query parameters: each field that differs from the default (overrides as compact JSON)."""
    base, out = default_scenario(), {}
    for name, value in scn.items():
        if value == base.get(name):
            continue
        if name in LISTS:
            out[name] = ",".join(value)
        elif name in OVERRIDES:
            out[name] = json.dumps(value, separators=(",", ":"), sort_keys=True)
        else:
            out[name] = str(value)
    return out


def from_query(params: Mapping[str, str]) -> dict:
    """A scenario from URL query parameters (unknown parameters are ignored: a link may carry others)."""
    data: dict = {}
    for name, value in params.items():
        if name in OVERRIDES:
            try:
                data[name] = json.loads(value)
            except json.JSONDecodeError:
                raise _bad("the link", name, value, "a JSON object") from None
        elif name in FIELDS or name in LISTS:  # numbers as text: the fields' checks parse them
            data[name] = value
    return validate(data, "the link")


def _show(value) -> str:
    if value is None:
        return "the catalog's"
    return (
        f"{value:,g}"
        if isinstance(value, int | float)
        else (", ".join(value) or "all")
        if isinstance(value, list)
        else str(value)
    )


def changes(scn: dict, base: dict | None = None) -> list[str]:
    """'epochs: 3 → 5' for every assumption that differs from `base` (the defaults)."""
    base = base or default_scenario()
    out = []
    for name, spec in FIELDS.items():
        if scn[name] != base[name]:
            out.append(f"{spec[3]}: {_show(base[name])} → {_show(scn[name])}")
    for name in LISTS:
        if scn[name] != base[name]:
            out.append(f"{name}: {_show(base[name])} → {_show(scn[name])}")
    for name, (what, _) in OVERRIDES.items():
        for key, value in sorted(scn[name].items()):
            if base[name].get(key) != value:
                out.append(f"{key} ({what}): {_show(value)}")
    return out


def price_key(price) -> str:
    """How a GPU price row is named in a scenario's `prices`."""
    term = f" {price.term}" if price.term else ""
    return f"{price.provider} {price.gpu} {price.pricing_kind}{term} ({price.region}, {price.instance})"


def _check_keys(given: dict, known: set[str], field: str) -> None:
    for key in given:
        if key not in known:
            raise _bad("scenario", f"{field}.{key}", given[key], f"a {field} name of the catalog")


def apply(scn: dict, catalog):
    """(planner.cost.TrainScenario, the catalog narrowed to the selection with the overrides substituted)."""
    from planner.job_plan import TrainScenario

    prices = {price_key(p): p for p in catalog.prices}
    offers = {o.label: o for o in catalog.managed}
    _check_keys(scn["prices"], set(prices), "prices")
    _check_keys(scn["managed"], set(offers), "managed")
    gpus, kinds = set(scn["gpus"]), set(scn["kinds"])
    kept = tuple(
        replace(p, usd_per_gpu_hour=scn["prices"].get(key, p.usd_per_gpu_hour))
        for key, p in prices.items()
        if (not gpus or p.gpu in gpus) and (not kinds or p.pricing_kind in kinds)
    )
    managed = tuple(
        replace(o, usd_per_1m_training_tokens=scn["managed"].get(o.label, o.usd_per_1m_training_tokens))
        for o in catalog.managed
    )
    onprem_fields = {k: v for k, v in scn["onprem"].items() if k in ONPREM_FIELDS}
    onprem = {
        g: replace(site, **{k: v for k, v in onprem_fields.items() if hasattr(site, k)})
        for g, site in catalog.onprem.items()
        if (not gpus or g in gpus) and (not kinds or "on-prem" in kinds)
    }
    _check_keys(scn["defaults"], set(catalog.defaults), "defaults")
    defaults = {n: replace(d, value=scn["defaults"].get(n, d.value)) for n, d in catalog.defaults.items()}
    values = {name: scn[name] for name in FIELDS if name not in ("model", "tokens")}
    train = TrainScenario.build(scn["model"], scn["tokens"], **values)
    return train, replace(catalog, prices=kept, managed=managed, onprem=onprem, defaults=defaults)


def month_fit(
    job_hours: float | None,
    runs_per_month: float,
    runs_capacity: float = math.inf,
    hours_per_month: float = 730.0,
) -> tuple[float | None, bool | None]:
    """(wall-clock hours the month's runs take one after another, whether they fit in the month).

    Where an option has a capacity (on-prem servers, a reserved block) the planner's runs_capacity decides;
    else the runs must fit one after another in the month's hours (more instances would run them at once).
    """
    if job_hours is None or not math.isfinite(job_hours):
        return None, None
    hours = job_hours * runs_per_month
    if math.isfinite(runs_capacity):
        return hours, runs_per_month <= runs_capacity + 1e-9
    return hours, hours <= hours_per_month


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """For (hours per run, dollars per run) points: True where no other point is at least as good in both and
    better in one (the cost-versus-time front)."""

    def dominated(i: int) -> bool:
        h, d = points[i]
        return any(h2 <= h and d2 <= d and (h2 < h or d2 < d) for j, (h2, d2) in enumerate(points) if j != i)

    return [not dominated(i) for i in range(len(points))]


def band(value: float, error_frac: float) -> tuple[float, float]:
    """(low, high) of a figure inversely proportional to tokens/s (hours, dollars per run) when tokens/s may be
    off by ±error_frac (the planner's out-of-sample error)."""
    low = value / (1 + error_frac)
    high = value / (1 - error_frac) if error_frac < 1 else math.inf
    return low, high


def all_in_usd_per_run(usd_total: float, runs_per_month: float) -> float | None:
    """A run's share of the month's cost (fixed blocks, owned servers and operating costs spread over the
    month's runs): what the cost-against-time chart plots, as usd_per_run alone is 0 on a reserved block."""
    return usd_total / runs_per_month if runs_per_month > 0 else None
