"""Suites: the benchmark entries of a suite file (core.suite_file reads the TOML), each a validated spec.

    [[train]] entries are fields of benchmarks.spec.TrainSpec, [[infer]] of benchmarks.infer_spec.InferSpec,
    each with a unique `name` and an optional `timeout_s` (per-spec time limit, not part of the spec).

Files are parsed as data (tomllib), never executed.
"""

from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError
from core.numbers import check_number
from core.suite_file import check_name, suite_entries, suite_path

# Spec class and runner of each kind, imported lazily: the parent process never needs torch.
SPEC_TYPES = {"train": "benchmarks.spec:TrainSpec", "infer": "benchmarks.infer_spec:InferSpec"}
RUNNERS = {"train": "benchmarks.train:run_train", "infer": "benchmarks.infer:run_infer"}
DEFAULT_TIMEOUT_S = 600
MAX_TIMEOUT_S = 7 * 24 * 3600  # a week: longer is a typo, and no time limit at all


def resolve(ref: str):
    module, attr = ref.split(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    spec: object  # a TrainSpec or InferSpec
    timeout_s: float
    suite: str | None = None

    @property
    def spec_hash(self) -> str:
        return self.spec.hash


def make_entry(kind: str, values: dict, *, where: str, suite: str | None, device: str | None) -> Entry:
    from benchmarks.spec import build_spec

    values = dict(values)
    name = check_name(values.pop("name", None), where)
    timeout_s = values.pop("timeout_s", DEFAULT_TIMEOUT_S)
    check_number(timeout_s, "timeout_s", lo=1, hi=MAX_TIMEOUT_S, file=where)
    if device is not None:
        values["device"] = device
    spec = build_spec(resolve(SPEC_TYPES[kind]), values, where=f"{where} ({name})")
    return Entry(kind=kind, name=name, spec=spec, timeout_s=float(timeout_s), suite=suite)


def spec_field_names() -> dict[str, set[str]]:
    """Each kind's fields a suite entry (or its [defaults]) may set: its spec's and timeout_s."""
    from benchmarks.spec import spec_fields

    return {k: set(spec_fields(resolve(ref))[0]) | {"timeout_s"} for k, ref in SPEC_TYPES.items()}


def load_suite(
    name_or_path: str, kind: str, *, only: str | None = None, device: str | None = None
) -> list[Entry]:
    """The entries of one kind in a suite, validated, optionally filtered by a name pattern (glob or substring)."""
    path = suite_path(name_or_path)
    entries = [
        make_entry(kind, e.values, where=e.where, suite=path.stem, device=device)
        for e in suite_entries(path, kind, spec_field_names())
    ]
    return _only(entries, only, path, f"[[{kind}]]")


def load_suite_all(name_or_path: str, *, only: str | None = None, device: str | None = None) -> list[Entry]:
    """Every entry of a suite, training entries first, optionally filtered by a name pattern."""
    entries = [e for kind in ("train", "infer") for e in load_suite(name_or_path, kind, device=device)]
    return _only(entries, only, suite_path(name_or_path), "[[train]] or [[infer]]")


def _only(entries: list[Entry], only: str | None, path: Path, tables: str) -> list[Entry]:
    """The entries whose name matches `only` (a glob, or a substring); all of them without it."""
    if not only:
        return entries
    pattern = only if any(c in only for c in "*?[") else f"*{only}*"
    chosen = [e for e in entries if fnmatch.fnmatch(e.name, pattern)]
    if not chosen:
        names = ", ".join(e.name for e in entries[:20]) or f"none: the suite has no {tables} entries"
        raise InputError(
            "--only matches no entry", file=str(path), field="--only", value=only, accepted=names
        )
    return chosen
