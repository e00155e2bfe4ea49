"""Price and hardware catalogs (data/catalog/*.csv), loaded and validated.

Every row carries `source` and `as_of`; prices move, so each figure keeps its date all the way to the
dashboard. A bad cell raises InputError naming the file, the CSV line, the field, the value and what is
accepted. Adding a GPU, a price or a managed offer is a one-line data change.

Public functions:
    load_catalog(catalog_dir=CATALOG_DIR) -> Catalog        (cached on the files' modification times)
    load_gpus(path) -> dict[str, Gpu]
    load_gpu_prices(path, gpus) -> tuple[GpuPrice, ...]
    load_managed(path) -> tuple[ManagedOffer, ...]
    load_onprem(path, gpus) -> dict[str, OnPrem]
    load_defaults(path) -> dict[str, Default]                (operating assumptions: people, spot preemption)
    resolve_gpu(name, gpus) -> Gpu                           (canonical name or alias, any case; InputError)
    gpu_of_device(device_name, gpus) -> str | None           (provenance.device_name -> catalog name)
    catalog_frame(catalog, which) -> pandas.DataFrame        (which: gpus | gpu_prices | managed | onprem | defaults)

Every price row has a `status`: current; legacy (closed to new users); unconfirmed (one secondary source, or
sources disagree); example (a worked example from a docs page: shown, never ranked).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from core.errors import InputError
from core.paths import CATALOG_DIR
from planner import catalog_fields as fields

PRICING_KINDS = ("on-demand", "spot", "reserved")
MANAGED_METHODS = ("lora", "full", "sft", "dpo", "rft", "import")  # import: serving only, no training
STATUSES = ("current", "legacy", "unconfirmed", "example")
# Operating assumptions every plan needs (data/catalog/defaults.csv); a missing one is an error, never a 0.
DEFAULT_NAMES = (
    "usd_per_engineer_year",
    "cloud_ops_fte",
    "spot_preemptions_per_day",
    "spot_restart_lost_hours",
)


@dataclass(frozen=True)
class Gpu:
    name: str
    aliases: tuple[str, ...]
    memory_gb: float  # datasheet figure
    memory_gib: float  # what PyTorch can address (total capacity as torch reports it)
    bf16_tflops: float  # dense bf16 tensor-core peak, datasheet
    bandwidth_tb_s: float
    tdp_w: float
    source: str
    as_of: str


@dataclass(frozen=True)
class GpuPrice:
    provider: str
    gpu: str
    region: str
    pricing_kind: str  # on-demand | spot | reserved
    term: str
    usd_per_gpu_hour: float
    gpus_per_instance: int  # the smallest number of GPUs one can rent
    min_commit_hours: float  # reserved: hours paid per commitment block, used or not
    instance: str
    status: str  # current | legacy | unconfirmed | example
    source: str
    as_of: str

    @property
    def label(self) -> str:
        term = f" {self.term}" if self.term else ""
        return f"{self.provider} {self.gpu} {self.pricing_kind}{term} ({self.region})"


@dataclass(frozen=True)
class ManagedOffer:
    provider: str
    offer: str
    managed_model: str  # the provider's own model, or "" for an open-model size bracket
    open_weights: bool  # True: tunes the open model you would self-host (by size bracket)
    min_params_b: float | None  # bracket: min < params <= max, in billions
    max_params_b: float | None
    method: str  # lora | full | sft | dpo | rft
    usd_per_1m_training_tokens: float | None
    usd_per_training_hour: float | None
    min_charge_usd: float
    usd_per_1m_input: float | None
    usd_per_1m_cached_input: float | None
    usd_per_1m_output: float | None
    hosting_usd_per_hour: float | None
    storage_usd_per_month: float
    multi_lora: bool  # True: many adapters share one hosted deployment of their base
    status: str  # current | legacy | unconfirmed | example
    source: str
    as_of: str

    @property
    def flags(self) -> tuple[str, ...]:
        """What a reader must know beside the price: another model than the one asked for, and a status
        other than current (legacy, unconfirmed)."""
        marks = ((not self.open_weights, "different model"), (self.status != "current", self.status))
        return tuple(name for on, name in marks if on)

    @property
    def label(self) -> str:
        return f"{self.provider} {self.offer}"


@dataclass(frozen=True)
class OnPrem:
    gpu: str
    unit: str  # what one buys: "8-GPU HGX server", "PCIe card in a 2U host"
    unit_gpus: int  # GPUs in one purchasable unit
    unit_usd: float
    years: float  # straight-line depreciation (also spreads the set-up cost)
    usd_per_kwh: float
    pue: float
    utilisation: float  # share of the hardware's hours that can run jobs
    system_w_per_gpu: float  # whole server at load, per GPU (GPU, CPUs, fans, network)
    colo_usd_per_kw_month: float
    support_frac_per_year: float  # hardware support contract, share of the unit price a year
    setup_usd_per_unit: float  # racking, cabling, burn-in: once per unit
    people_fte: float  # engineers needed to run the site
    status: str
    source: str
    as_of: str

    @property
    def usd_per_gpu(self) -> float:
        return self.unit_usd / self.unit_gpus


@dataclass(frozen=True)
class Default:
    name: str
    value: float
    unit: str
    status: str
    source: str
    as_of: str


@dataclass(frozen=True, eq=False)
class Catalog:
    gpus: dict[str, Gpu]
    prices: tuple[GpuPrice, ...]
    managed: tuple[ManagedOffer, ...]
    onprem: dict[str, OnPrem]
    directory: str
    defaults: dict[str, Default]

    def default(self, name: str) -> float:
        return self.defaults[name].value


# ---- the four catalogs ----------------------------------------------------------------------------------

_GPU_FIELDS = {
    "name": fields.text,
    "aliases": fields.aliases,
    "memory_gb": fields.positive,
    "memory_gib": fields.positive,
    "bf16_tflops": fields.positive,
    "bandwidth_tb_s": fields.positive,
    "tdp_w": fields.positive,
    "source": fields.text,
    "as_of": fields.date,
}


def load_gpus(path: Path) -> dict[str, Gpu]:
    gpus: dict[str, Gpu] = {}
    seen: set[str] = set()
    for line, row in fields.read_table(path, _GPU_FIELDS):
        names = {row["name"].lower(): "name"} | {a.lower(): "aliases" for a in row["aliases"]}
        for key, field in names.items():  # a name may also be listed as an alias of its own row
            fields.check_unique(path, line, field, key, seen)
        gpus[row["name"]] = Gpu(**row)
    return gpus


def resolve_gpu(
    name: str, gpus: dict[str, Gpu], *, file: str | None = None, row: int | None = None, field: str = "gpu"
) -> Gpu:
    """The catalog GPU called `name` (its canonical name or an alias, any case)."""
    wanted = name.strip().lower()
    for gpu in gpus.values():
        if wanted == gpu.name.lower() or wanted in (a.lower() for a in gpu.aliases):
            return gpu
    accepted = ", ".join(f"{g.name} ({g.aliases[0]})" if g.aliases else g.name for g in gpus.values())
    raise InputError("unknown GPU", file=file, row=row, field=field, value=name, accepted=accepted)


def gpu_of_device(device_name: str | None, gpus: dict[str, Gpu]) -> str | None:
    """Catalog name of the GPU a result row ran on (provenance.device_name), None for a CPU or unknown GPU."""
    if not device_name or device_name.strip().lower() == "cpu":
        return None
    try:
        return resolve_gpu(device_name, gpus).name
    except InputError:
        return None


_PRICE_FIELDS = {
    "provider": fields.text,
    "gpu": fields.text,
    "region": fields.text,
    "pricing_kind": fields.enum(*PRICING_KINDS),
    "term": fields.opt_text,
    "usd_per_gpu_hour": fields.positive,
    "gpus_per_instance": fields.positive_int,
    "min_commit_hours": fields.nonneg,
    "instance": fields.opt_text,
    "status": fields.enum(*STATUSES),
    "source": fields.text,
    "as_of": fields.date,
}


def load_gpu_prices(path: Path, gpus: dict[str, Gpu]) -> tuple[GpuPrice, ...]:
    prices, seen = [], set()
    for line, row in fields.read_table(path, _PRICE_FIELDS):
        row["gpu"] = resolve_gpu(row["gpu"], gpus, file=str(path), row=line).name
        if row["pricing_kind"] == "reserved" and row["min_commit_hours"] <= 0:
            raise InputError(
                "a reserved price needs its commitment",
                file=str(path),
                row=line,
                field="min_commit_hours",
                value=row["min_commit_hours"],
                accepted="hours paid per commitment block, > 0",
            )
        key = (row["provider"], row["gpu"], row["region"], row["pricing_kind"], row["term"])
        fields.check_unique(path, line, "provider", key, seen)
        prices.append(GpuPrice(**row))
    return tuple(prices)


_MANAGED_FIELDS = {
    "provider": fields.text,
    "offer": fields.text,
    "managed_model": fields.opt_text,
    "open_weights": fields.boolean,
    "min_params_b": fields.opt_nonneg,
    "max_params_b": fields.opt_nonneg,
    "method": fields.enum(*MANAGED_METHODS),
    "usd_per_1m_training_tokens": fields.opt_nonneg,
    "usd_per_training_hour": fields.opt_nonneg,
    "min_charge_usd": fields.zero_if_blank,
    "usd_per_1m_input": fields.opt_nonneg,
    "usd_per_1m_cached_input": fields.opt_nonneg,
    "usd_per_1m_output": fields.opt_nonneg,
    "hosting_usd_per_hour": fields.opt_nonneg,
    "storage_usd_per_month": fields.zero_if_blank,
    "multi_lora": fields.boolean,
    "status": fields.enum(*STATUSES),
    "source": fields.text,
    "as_of": fields.date,
}


def _check_offer(path: Path, line: int, row: dict) -> None:
    def fail(field: str, what: str, accepted: str) -> InputError:
        return InputError(what, file=str(path), row=line, field=field, value=row[field], accepted=accepted)

    if row["method"] == "import":
        if row["hosting_usd_per_hour"] is None:
            raise fail("hosting_usd_per_hour", "an import offer needs its hosting price", "USD per hour")
    elif row["usd_per_1m_training_tokens"] is None and row["usd_per_training_hour"] is None:
        raise fail("usd_per_1m_training_tokens", "no training price", "a price per 1M tokens or per hour")
    if row["open_weights"]:
        if row["max_params_b"] is None or row["min_params_b"] is None:
            raise fail("max_params_b", "an open-model offer needs its size bracket", "billions of parameters")
        if row["max_params_b"] <= row["min_params_b"]:
            raise fail("max_params_b", "empty size bracket", "max_params_b > min_params_b")
    elif not row["managed_model"]:
        raise fail("managed_model", "a proprietary offer must name its model", "the provider's model name")


def load_managed(path: Path) -> tuple[ManagedOffer, ...]:
    offers, seen = [], set()
    for line, row in fields.read_table(path, _MANAGED_FIELDS):
        _check_offer(path, line, row)
        fields.check_unique(path, line, "offer", (row["provider"], row["offer"]), seen)
        offers.append(ManagedOffer(**row))
    return tuple(offers)


_ONPREM_FIELDS = {
    "gpu": fields.text,
    "unit": fields.text,
    "unit_gpus": fields.positive_int,
    "unit_usd": fields.positive,
    "years": fields.positive,
    "usd_per_kwh": fields.nonneg,
    "pue": fields.pue,
    "utilisation": fields.fraction,
    "system_w_per_gpu": fields.positive,
    "colo_usd_per_kw_month": fields.nonneg,
    "support_frac_per_year": fields.nonneg,
    "setup_usd_per_unit": fields.nonneg,
    "people_fte": fields.nonneg,
    "status": fields.enum(*STATUSES),
    "source": fields.text,
    "as_of": fields.date,
}


def load_onprem(path: Path, gpus: dict[str, Gpu]) -> dict[str, OnPrem]:
    onprem: dict[str, OnPrem] = {}
    for line, row in fields.read_table(path, _ONPREM_FIELDS):
        row["gpu"] = resolve_gpu(row["gpu"], gpus, file=str(path), row=line).name
        fields.check_unique(path, line, "gpu", row["gpu"], set(onprem))
        onprem[row["gpu"]] = OnPrem(**row)
    return onprem


_DEFAULT_FIELDS = {
    "name": fields.enum(*DEFAULT_NAMES),
    "value": fields.nonneg,
    "unit": fields.text,
    "status": fields.enum(*STATUSES),
    "source": fields.text,
    "as_of": fields.date,
}


def load_defaults(path: Path) -> dict[str, Default]:
    """Operating assumptions by name; every name of DEFAULT_NAMES must be there, once."""
    found: dict[str, Default] = {}
    for line, row in fields.read_table(path, _DEFAULT_FIELDS):
        fields.check_unique(path, line, "name", row["name"], set(found))
        found[row["name"]] = Default(**row)
    missing = [n for n in DEFAULT_NAMES if n not in found]
    if missing:
        raise InputError(
            "missing operating assumption",
            file=str(path),
            field="name",
            value=missing[0],
            accepted="one row for each of " + ", ".join(DEFAULT_NAMES),
        )
    return found


def _stamp(directory: Path) -> tuple:
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(directory.glob("*.csv")))


@lru_cache(maxsize=8)
def _load(directory: str, _stamp_key: tuple) -> Catalog:
    d = Path(directory)
    gpus = load_gpus(d / "gpus.csv")
    return Catalog(
        gpus=gpus,
        prices=load_gpu_prices(d / "gpu_prices.csv", gpus),
        managed=load_managed(d / "managed.csv"),
        onprem=load_onprem(d / "onprem.csv", gpus),
        directory=str(d),
        defaults=load_defaults(d / "defaults.csv"),
    )


def load_catalog(catalog_dir: str | Path = CATALOG_DIR) -> Catalog:
    """All four catalogs of a folder, validated (cached until a file changes)."""
    d = Path(catalog_dir)
    if not d.is_dir():
        raise InputError(
            "catalog folder not found",
            file=str(d),
            accepted="a folder with gpus.csv, gpu_prices.csv, managed.csv, onprem.csv and defaults.csv",
        )
    return _load(str(d.resolve()), _stamp(d))


def catalog_frame(catalog: Catalog, which: str):
    """One catalog as a DataFrame (pandas imported lazily), one row per entry, with source and as_of."""
    import pandas as pd

    items = {
        "gpus": list(catalog.gpus.values()),
        "gpu_prices": list(catalog.prices),
        "managed": list(catalog.managed),
        "onprem": list(catalog.onprem.values()),
        "defaults": list(catalog.defaults.values()),
    }
    if which not in items:
        raise InputError("unknown catalog", field="which", value=which, accepted=", ".join(items))
    rows = [asdict(x) for x in items[which]]
    for row in rows:
        if "aliases" in row:
            row["aliases"] = ";".join(row["aliases"])
    return pd.DataFrame(rows)
