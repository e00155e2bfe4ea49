"""Measured rows as the planner uses them: `ok` rows only, each tied to a catalog GPU.

The GPU of a row is its provenance.device_name matched to data/catalog/gpus.csv names and aliases
("NVIDIA H200" -> H200). CPU rows are kept (the dashboard shows them) but never calibrate a GPU figure.
Rows whose model is not in the model catalog, or whose spec does not parse, are set aside with the reason.
Tuned rows measured with an earlier tuned training path (core.vocab.TUNED_FUSED_LORA), and Mistral rows of
4,096 tokens and more measured with a sliding window the released model does not have, are set aside too:
"measured" means this configuration run by this code. They stay in `.superseded`, where the scoring of
predictions made before the path changed finds them (planner/preregister.py). Tuned rows that fused dense
base weights before the path released the freed copies keep their speed and allocated figures but not their
reserved peak (stale_reserved).

Public:
    Measurements                         train / infer records, skipped rows, source, hint; .train_frame()
                                         .superseded: tuned rows of an earlier tuned path (not calibrating)
    superseded_tuned(row) -> str | None  why a tuned row measured code that no longer runs, else None
    superseded_mistral_window(row) -> str | None   why a Mistral row measured a windowed model, else None
    superseded_why(row) -> str | None    the first of SUPERSEDED_RULES that sets the row aside
    stale_reserved(row) -> bool          whether a row's reserved peak measured a path that no longer runs
    TrainRecord, InferRecord             one measured row each
    load_measurements(path=RESULTS_DIR, catalog=None) -> Measurements      (cached on file stamps)
    empty_measurements() -> Measurements
    measurements_from_rows(rows, gpus, source="<rows>") -> Measurements
    NO_ROWS_HINT, MEASURE_HINT           what to say, and what to run to fill data/results/
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from core.errors import InputError
from core.infer_config import INFER_CONFIG_FIELDS, InferConfig, infer_config_from_spec
from core.paths import CATALOG_DIR, RESULTS_DIR
from core.rows import load_rows, result_files
from core.vocab import DEFAULT_ALLOCATOR, TUNED_BASE_RELEASED, TUNED_FUSED_BASE, TUNED_FUSED_LORA
from planner.catalog import Gpu, gpu_of_device, load_catalog
from planner.config import TrainConfig, config_from_spec

MEASURE_HINT = (
    "Measure with `peftplan bench train --suite h200-standard` on a GPU (or `make bench-cpu` for the CPU "
    "smoke suite) to fill data/results/"
)
NO_ROWS_HINT = (
    f"no measured rows: every figure is projected from formulas and default assumptions. {MEASURE_HINT}"
)


@dataclass(frozen=True)
class TrainRecord:
    config: TrainConfig
    gpu: str | None  # catalog GPU name; None for CPU rows and unknown GPUs
    device_name: str
    is_cpu: bool
    tokens_per_s: float | None
    peak_allocated_gib: float | None
    energy_j_per_token: float | None
    timestamp: str
    spec_hash: str
    file: str
    peak_reserved_gib: float | None = None  # None where the row's reserved peak is stale (stale_reserved)
    # what the row says, stale or not: it scores the predictions made for the path it ran
    reserved_as_measured_gib: float | None = None


@dataclass(frozen=True)
class InferRecord:
    """One measured inference row: its configuration (whose fields read through: record.batch) and figures."""

    config: InferConfig
    gpu: str | None
    device_name: str
    is_cpu: bool
    metrics: dict
    timestamp: str
    spec_hash: str
    file: str

    def __getattr__(self, name: str):
        if name in INFER_CONFIG_FIELDS:
            return getattr(object.__getattribute__(self, "config"), name)
        raise AttributeError(name)


@dataclass(frozen=True)
class CappedRun:
    """A training run under a capped caching allocator (`memory_cap_gib`): the measured answer to "does this
    configuration fit a card that leaves a process this much?" (`ok`: it ran; `oom`: it did not)."""

    config: TrainConfig
    cap_gib: float
    ran: bool
    name: str
    device_name: str
    file: str


@dataclass(frozen=True, eq=False)
class Measurements:
    train: tuple[TrainRecord, ...] = ()
    infer: tuple[InferRecord, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (file and spec hash, reason)
    source: str = ""
    _by_key: dict = field(default_factory=dict, repr=False)
    capped: tuple[CappedRun, ...] = ()  # runs under an allocator cap, ok and oom alike
    _capped_by_key: dict = field(default_factory=dict, repr=False)
    superseded: tuple[TrainRecord, ...] = ()  # tuned rows of an earlier tuned path: shown, never used

    def __post_init__(self):
        index: dict = {}
        for rec in sorted(self.train, key=lambda r: r.timestamp):  # the latest measurement wins
            index[(rec.gpu, rec.config.key)] = rec
        object.__setattr__(self, "_by_key", index)
        capped: dict = {}
        for run in self.capped:
            capped.setdefault(run.config.key, []).append(run)
        object.__setattr__(self, "_capped_by_key", capped)

    @property
    def empty(self) -> bool:
        return not self.train and not self.infer

    def gpu_train(self) -> tuple[TrainRecord, ...]:
        """Training records measured on a catalog GPU (the ones that calibrate GPU predictions)."""
        return tuple(r for r in self.train if r.gpu is not None and not r.is_cpu)

    def find_train(self, config: TrainConfig, gpu: str) -> TrainRecord | None:
        """The latest measured row for exactly this configuration on this GPU."""
        return self._by_key.get((gpu, config.key))

    def without(self, predicate) -> Measurements:
        """A copy without the training records for which predicate(record) is true (leave-one-out)."""
        kept = tuple(r for r in self.train if not predicate(r))
        return Measurements(
            kept, self.infer, self.skipped, self.source, capped=self.capped, superseded=self.superseded
        )

    def capped_run(self, config: TrainConfig, usable_gib: float) -> CappedRun | None:
        """The capped run that answers whether `config` fits a card leaving `usable_gib` to the allocator: one
        that ran under a cap no larger, or ran out of memory under a cap no smaller (the closest cap wins)."""
        tol = 0.05  # GiB: caps are written to two decimals
        fitting = [
            r
            for r in self._capped_by_key.get(config.key, ())
            if (r.ran and r.cap_gib <= usable_gib + tol) or (not r.ran and r.cap_gib >= usable_gib - tol)
        ]
        return min(fitting, key=lambda r: abs(r.cap_gib - usable_gib), default=None)

    def train_frame(self):
        """Training records as a DataFrame: the config fields, gpu, device and the measured figures."""
        import pandas as pd

        rows = [
            {
                **r.config.describe(),
                "gpu": r.gpu,
                "device_name": r.device_name,
                "tokens_per_s": r.tokens_per_s,
                "peak_allocated_gib": r.peak_allocated_gib,
                "energy_j_per_token": r.energy_j_per_token,
                "timestamp": r.timestamp,
                "spec_hash": r.spec_hash,
                "file": r.file,
            }
            for r in self.train
        ]
        return pd.DataFrame(rows)


def empty_measurements() -> Measurements:
    return Measurements(source="(none)")


def _number(metrics: dict, name: str) -> float | None:
    value = metrics.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value <= 0:
        return None
    return float(value)


def _device(row: dict, gpus: dict[str, Gpu]) -> tuple[str | None, str, bool]:
    device_name = str(row["provenance"].get("device_name") or "")
    is_cpu = row["spec"].get("device") == "cpu" or device_name.strip().lower() in ("", "cpu")
    return (None if is_cpu else gpu_of_device(device_name, gpus)), device_name, is_cpu


def _train_record(row: dict, gpus: dict[str, Gpu]) -> TrainRecord:
    gpu, device_name, is_cpu = _device(row, gpus)
    m = row["metrics"]
    return TrainRecord(
        config=config_from_spec(row["spec"]),
        gpu=gpu,
        device_name=device_name,
        is_cpu=is_cpu,
        tokens_per_s=_number(m, "tokens_per_s"),
        peak_allocated_gib=_number(m, "peak_allocated_gib"),
        energy_j_per_token=_number(m, "energy_j_per_token"),
        timestamp=str(row["provenance"].get("timestamp") or ""),
        spec_hash=row["spec_hash"],
        file=row.get("_file", ""),
        peak_reserved_gib=None if stale_reserved(row) else _number(m, "peak_reserved_gib"),
        reserved_as_measured_gib=_number(m, "peak_reserved_gib"),
    )


def stale_reserved(row: dict) -> bool:
    """Whether a training row's reserved peak measured a path that no longer runs (its other figures stand):
    a tuned run that fused dense base weights before the path gave the freed separate copies back
    (core.vocab.TUNED_BASE_RELEASED), under the default caching allocator, which kept them reserved.
    Expandable segments hand freed pages to requests of any size, so there the release changes nothing."""
    applied = (row.get("metrics") or {}).get("tuned_applied") or ()
    caching = row["spec"].get("allocator", DEFAULT_ALLOCATOR) == "caching"
    return caching and TUNED_FUSED_BASE in applied and TUNED_BASE_RELEASED not in applied


def _infer_record(row: dict, gpus: dict[str, Gpu]) -> InferRecord:
    gpu, device_name, is_cpu = _device(row, gpus)
    return InferRecord(
        config=infer_config_from_spec(row["spec"]),  # missing fields take the benchmark's defaults
        gpu=gpu,
        device_name=device_name,
        is_cpu=is_cpu,
        metrics=dict(row["metrics"]),
        timestamp=str(row["provenance"].get("timestamp") or ""),
        spec_hash=row["spec_hash"],
        file=row.get("_file", ""),
    )


def superseded_mistral_window(row: dict) -> str | None:
    """Why a Mistral row of 4,096 tokens or more measured a model the released one is not, or None: before
    rows said their `sliding_window`, the benchmark built Mistral with transformers' default 4,096-token
    window (benchmarks/models.py), whose explicit mask took a slower attention kernel at that length."""
    spec, metrics = row["spec"], row.get("metrics") or {}
    if row["kind"] != "train" or "sliding_window" in metrics or int(spec.get("seq_len") or 0) < 4096:
        return None
    if not str(spec.get("model", "")).startswith("mistral"):
        return None
    return (
        "Mistral row measured with transformers' default 4,096-token sliding window (an explicit attention "
        "mask, a slower kernel), which Mistral-7B-v0.3 does not have: measure it again"
    )


def superseded_tuned(row: dict) -> str | None:
    """Why a tuned training row measured an earlier tuned path (module docstring), or None."""
    spec, metrics = row["spec"], row.get("metrics") or {}
    if row["kind"] != "train" or spec.get("profile") != "tuned" or spec.get("method", "lora") == "full":
        return None
    if TUNED_FUSED_LORA in (metrics.get("tuned_applied") or ()):
        return None
    if any(str(why).startswith(TUNED_FUSED_LORA) for why in metrics.get("tuned_skipped") or ()):
        return None  # the current code tried and could not (dropout): the row is what it runs
    return (
        f"tuned row measured before the tuned path computed adapters as {TUNED_FUSED_LORA} (its "
        "tuned_applied lacks it): not a figure of the current code; measure it again"
    )


SUPERSEDED_RULES = (superseded_tuned, superseded_mistral_window)


def superseded_why(row: dict) -> str | None:
    """Why a row measured code or a model that no longer runs (the first rule that says so), else None."""
    return next((why for rule in SUPERSEDED_RULES if (why := rule(row)) is not None), None)


def measurements_from_rows(rows: list[dict], gpus: dict[str, Gpu], source: str = "<rows>") -> Measurements:
    """Measurements from validated rows (core.rows); non-ok rows are ignored, unusable ones set aside."""
    train, infer, skipped, capped, superseded = [], [], [], [], []
    for row in rows:
        where = f"{row.get('_file', source)} {row['spec_hash'][:12]}"
        why = superseded_why(row) if row["status"] == "ok" else None  # an oom row cannot say what code ran
        if (
            row["kind"] == "train"
            and row["status"] in ("ok", "oom")
            and row["spec"].get("memory_cap_gib")
            and not why
        ):
            try:
                capped.append(_capped_run(row))
            except (InputError, TypeError, ValueError, KeyError) as exc:
                skipped.append((where, f"capped run not understood: {exc}"))
        if row["status"] != "ok":
            continue
        if (row.get("provenance") or {}).get("device_shared"):  # another sweep ran on the GPU meanwhile
            skipped.append((where, "measured while another sweep shared the device: not a clean figure"))
            continue
        try:
            if why is not None:
                superseded.append(_train_record(row, gpus))
                skipped.append((where, why))
            elif row["kind"] == "train":
                train.append(_train_record(row, gpus))
            else:
                infer.append(_infer_record(row, gpus))
        except InputError as exc:
            skipped.append((where, str(exc)))
        except (TypeError, ValueError, KeyError) as exc:
            skipped.append((where, f"spec not understood: {exc}"))
    return Measurements(
        tuple(train), tuple(infer), tuple(skipped), source, capped=tuple(capped), superseded=tuple(superseded)
    )


def _capped_run(row: dict) -> CappedRun:
    cap = float(row["spec"]["memory_cap_gib"])
    if not 0 < cap < 1e4:
        raise ValueError(f"memory_cap_gib {cap!r}")
    return CappedRun(
        config=config_from_spec(row["spec"]),
        cap_gib=cap,
        ran=row["status"] == "ok",
        name=row.get("name", ""),
        device_name=str((row.get("provenance") or {}).get("device_name") or ""),
        file=row.get("_file", ""),
    )


def _stamp(path: Path) -> tuple:
    if not path.exists():
        return ()
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in result_files(path))


@lru_cache(maxsize=16)
def _load(path: str, catalog_dir: str, _stamp_key: tuple) -> Measurements:
    if not _stamp_key:
        return Measurements(source=path)
    gpus = load_catalog(catalog_dir).gpus
    rows = load_rows(
        path
    )  # bad lines are skipped (and said on stderr); they are listed with the skipped rows
    meas = measurements_from_rows(rows, gpus, source=path)
    bad = tuple((f"{b.file} line {b.line}", b.why) for b in rows.problems)
    if not bad:
        return meas
    return Measurements(
        meas.train,
        meas.infer,
        bad + meas.skipped,
        meas.source,
        capped=meas.capped,
        superseded=meas.superseded,
    )


def load_measurements(path: str | Path = RESULTS_DIR, catalog_dir: str | Path | None = None) -> Measurements:
    """Measured rows of a results file or folder. An empty folder (or a missing data/results/) gives empty
    Measurements (check `.empty` and show NO_ROWS_HINT); any other missing path raises InputError. Bad lines
    are skipped and listed in `.skipped`."""
    path = Path(path)
    if not path.exists() and path != RESULTS_DIR:  # a typo must not quietly mean "no measurements"
        raise InputError(
            "results path not found", file=str(path), accepted="a .jsonl file or a folder of them"
        )
    return _load(str(path), str(catalog_dir or CATALOG_DIR), _stamp(path))
