"""Suites: TOML files listing benchmark specs (benchmarks/suites/NAME.toml, or any path).

    description = "..."
    [defaults]               # applied to every entry below whose kind has the field (an entry's own keys win)
    device = "cuda"
    timeout_s = 300          # per-spec time limit (not part of the spec)
    [[train]]                # one training spec (fields of benchmarks.spec.TrainSpec) plus a unique `name`
    name = "llama8b-lora-r16"
    model = "llama-3.1-8b"
    method = "lora"
    [[infer]]                # one inference spec (benchmarks.infer_spec.InferSpec)

Files are parsed as data (tomllib), never executed.
"""

from __future__ import annotations

import fnmatch
import importlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError
from core.numbers import check_number, has_control_chars

SUITES_DIR = Path(__file__).resolve().parent / "suites"
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


def suite_names() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def suite_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise InputError("suite file not found", file=str(path), accepted="a .toml suite file")
        return path
    builtin = SUITES_DIR / f"{name_or_path}.toml"
    if not builtin.is_file():
        raise InputError(
            "unknown suite",
            field="suite",
            value=name_or_path,
            accepted=", ".join(suite_names()) + ", or a path to a .toml file",
        )
    return builtin


def make_entry(kind: str, values: dict, *, where: str, suite: str | None, device: str | None) -> Entry:
    from benchmarks.spec import build_spec

    values = dict(values)
    name = values.pop("name", None)
    if not isinstance(name, str) or not name.strip() or has_control_chars(name):
        raise InputError(
            "every entry needs a name",
            file=where,
            field="name",
            value=name,
            accepted="a non-empty string of printable characters",
        )
    timeout_s = values.pop("timeout_s", DEFAULT_TIMEOUT_S)
    check_number(timeout_s, "timeout_s", lo=1, hi=MAX_TIMEOUT_S, file=where)
    if device is not None:
        values["device"] = device
    spec = build_spec(resolve(SPEC_TYPES[kind]), values, where=f"{where} ({name})")
    return Entry(kind=kind, name=name, spec=spec, timeout_s=float(timeout_s), suite=suite)


def defaults_for(kind: str, defaults: dict, *, where: str) -> dict:
    """The [defaults] an entry of `kind` takes: a suite's defaults may hold fields of any kind's spec (a
    training-only field does not reach an inference entry); a field no kind has is an error."""
    from benchmarks.spec import spec_fields

    fields = {k: set(spec_fields(resolve(ref))[0]) | {"timeout_s"} for k, ref in SPEC_TYPES.items()}
    unknown = sorted(set(defaults) - set().union(*fields.values()))
    if unknown:
        raise InputError(
            "unknown field", file=where, field=unknown[0], accepted=", ".join(sorted(fields[kind]))
        )
    return {k: v for k, v in defaults.items() if k in fields[kind]}


def load_suite(
    name_or_path: str, kind: str, *, only: str | None = None, device: str | None = None
) -> list[Entry]:
    """The entries of one kind in a suite, validated, optionally filtered by a name pattern (glob or substring)."""
    path = suite_path(name_or_path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", file=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", file=str(path)) from None
    except RecursionError:
        raise InputError("not valid TOML (nested too deeply)", file=str(path)) from None
    allowed = {"description", "defaults", *SPEC_TYPES}
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise InputError(
            "unknown table", file=str(path), field=unknown[0], accepted=", ".join(sorted(allowed))
        )
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict) or not isinstance(doc.get(kind, []), list):
        raise InputError(
            "malformed suite", file=str(path), accepted=f"a [defaults] table and [[{kind}]] entries"
        )
    defaults = defaults_for(kind, defaults, where=f"{path} [defaults]")
    entries, seen = [], set()
    for index, values in enumerate(doc.get(kind, []), start=1):
        where = f"{path} [[{kind}]] entry {index}"
        if not isinstance(values, dict):
            raise InputError("entry is not a table", file=where)
        entry = make_entry(kind, {**defaults, **values}, where=where, suite=path.stem, device=device)
        if entry.name in seen:
            raise InputError("duplicate entry name", file=where, field="name", value=entry.name)
        seen.add(entry.name)
        entries.append(entry)
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
