"""Suite files as data: TOML files listing benchmark entries (benchmarks/suites/NAME.toml, or any path).

    description = "..."
    [defaults]               # applied to every entry below whose kind has the field (an entry's own keys win)
    device = "cuda"
    timeout_s = 300          # per-spec time limit (not part of the spec)
    [[train]]                # one training entry plus a unique `name`
    name = "llama8b-lora-r16"
    model = "llama-3.1-8b"
    method = "lora"
    [[infer]]                # one inference entry

The file is read here, once, for both of its readers: the benchmarks (benchmarks/suites.py builds a spec from
each entry) and the planner (planner/preregister.py predicts each training entry). Parsed with tomllib, never
executed; pure Python, so the planner reads a suite without importing the benchmarks. Bad input is one
InputError naming the file, the table or entry, the field and what is accepted.

Public:
    KINDS                                       the entry tables: train, infer
    suite_names() -> list[str]                  the built-in suites
    suite_path(name_or_path) -> Path            a built-in suite's name or a .toml path, checked
    check_name(name, where) -> str              an entry's name: non-empty printable text
    suite_entries(path, kind, fields=None) -> list[SuiteEntry]
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError
from core.numbers import has_control_chars
from core.paths import SUITES_DIR

KINDS = ("train", "infer")


@dataclass(frozen=True)
class SuiteEntry:
    """One [[kind]] entry: where it stands (file, table, index), its name, its values with the defaults."""

    where: str
    name: str
    values: dict


def suite_names() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def suite_path(name_or_path: str | Path) -> Path:
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
            value=str(name_or_path),
            accepted=", ".join(suite_names()) + ", or a path to a .toml file",
        )
    return builtin


def check_name(name: object, where: str) -> str:
    if not isinstance(name, str) or not name.strip() or has_control_chars(name):
        raise InputError(
            "every entry needs a name",
            file=where,
            field="name",
            value=name,
            accepted="a non-empty string of printable characters",
        )
    return name


def _read(path: Path) -> dict:
    """The decoded TOML, with only the tables a suite has."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", file=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", file=str(path)) from None
    except RecursionError:
        raise InputError("not valid TOML (nested too deeply)", file=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", file=str(path)) from None
    allowed = {"description", "defaults", *KINDS}
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise InputError(
            "unknown table", file=str(path), field=unknown[0], accepted=", ".join(sorted(allowed))
        )
    return doc


def _defaults_for(
    kind: str, defaults: dict, fields: Mapping[str, Collection[str]] | None, *, where: str
) -> dict:
    """The [defaults] an entry of `kind` takes: a suite's defaults may hold fields of any kind's entries (a
    training-only field does not reach an inference entry); a field no kind has is an error. Without
    `fields` (each kind's field names), every default reaches every entry."""
    if fields is None:
        return dict(defaults)
    unknown = sorted(set(defaults) - set().union(*fields.values()))
    if unknown:
        raise InputError(
            "unknown field", file=where, field=unknown[0], accepted=", ".join(sorted(fields[kind]))
        )
    return {k: v for k, v in defaults.items() if k in fields[kind]}


def suite_entries(
    path: str | Path, kind: str, fields: Mapping[str, Collection[str]] | None = None
) -> list[SuiteEntry]:
    """The [[kind]] entries of a suite file, each named (uniquely) and with the [defaults] it takes
    (filtered by `fields`, each kind's field names, when given)."""
    path = Path(path)
    doc = _read(path)
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict) or not isinstance(doc.get(kind, []), list):
        raise InputError(
            "malformed suite", file=str(path), accepted=f"a [defaults] table and [[{kind}]] entries"
        )
    defaults = _defaults_for(kind, defaults, fields, where=f"{path} [defaults]")
    entries: list[SuiteEntry] = []
    seen: set[str] = set()
    for index, values in enumerate(doc.get(kind, []), start=1):
        where = f"{path} [[{kind}]] entry {index}"
        if not isinstance(values, dict):
            raise InputError("entry is not a table", file=where)
        merged = {**defaults, **values}
        name = check_name(merged.get("name"), where)
        if name in seen:
            raise InputError("duplicate entry name", file=where, field="name", value=name)
        seen.add(name)
        entries.append(SuiteEntry(where, name, merged))
    return entries
