"""Result rows: the contract between the benchmarks that write them and everything that reads them.

A results file is JSON Lines, one row per measured spec, append-only. Every row carries:

    schema_version  int (SCHEMA_VERSION)
    kind            "train" | "infer"
    status          "ok" | "oom" | "error" | "timeout"
    error           null, or the message of what failed
    spec            object: the full spec (at least "model" and, for training, "method"; inference: "mode")
    spec_hash       hex digest of the canonical JSON of spec
    code_version    digest of the benchmark code that produced the row (resume skips only same-code rows)
    suite           name of the suite the spec came from, or null
    metrics         object: figures with their unit in the name (tokens_per_s, peak_allocated_gib, ...)
    provenance      object: git_commit, git_dirty, torch, transformers, peft, bitsandbytes, device_name,
                    timestamp, ... (where and with what the row was measured)

Rows are parsed and validated here, never executed or unpickled.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.errors import InputError

SCHEMA_VERSION = 1
KINDS = ("train", "infer")
STATUSES = ("ok", "oom", "error", "timeout")
REQUIRED = ("schema_version", "kind", "status", "error", "spec", "spec_hash", "metrics", "provenance")
PROVENANCE_REQUIRED = (
    "git_commit",
    "git_dirty",
    "torch",
    "transformers",
    "peft",
    "bitsandbytes",
    "device_name",
    "timestamp",
)


def validate_row(row: object, *, file: str = "<row>", line: int | None = None) -> dict:
    """Check one parsed row against the contract; return it or raise InputError naming file, line, field."""

    def fail(what: str, field: str | None = None, value: object = None, accepted: str | None = None):
        return InputError(what, file=file, row=line, field=field, value=value, accepted=accepted)

    if not isinstance(row, dict):
        raise fail("a result row must be a JSON object", value=type(row).__name__)
    for field in REQUIRED:
        if field not in row:
            raise fail("missing field", field=field, accepted=", ".join(REQUIRED))
    if row["schema_version"] != SCHEMA_VERSION:
        raise fail("unsupported schema version", "schema_version", row["schema_version"], str(SCHEMA_VERSION))
    if row["kind"] not in KINDS:
        raise fail("unknown kind", "kind", row["kind"], ", ".join(KINDS))
    if row["status"] not in STATUSES:
        raise fail("unknown status", "status", row["status"], ", ".join(STATUSES))
    for field in ("spec", "metrics", "provenance"):
        if not isinstance(row[field], dict):
            raise fail("must be a JSON object", field, type(row[field]).__name__)
    if not isinstance(row["spec"].get("model"), str):
        raise fail("missing model name", "spec.model", row["spec"].get("model"), "a model name")
    if not isinstance(row["spec_hash"], str) or not row["spec_hash"]:
        raise fail("must be a non-empty string", "spec_hash", row["spec_hash"])
    for key, value in row["metrics"].items():
        if value is not None and not isinstance(value, (int, float, str, bool, list, dict)):
            raise fail("metric of an unsupported type", f"metrics.{key}", value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isnan(value):
            raise fail("metric is NaN (write null for 'not measured')", f"metrics.{key}", value)
    for field in PROVENANCE_REQUIRED:
        if field not in row["provenance"]:
            raise fail("missing provenance field", f"provenance.{field}", accepted=", ".join(PROVENANCE_REQUIRED))
    return row


def parse_lines(lines: Iterable[str], *, file: str) -> Iterator[dict]:
    """Parse and validate JSONL text; blank lines are skipped. Raises InputError on the first bad line."""
    for lineno, text in enumerate(lines, start=1):
        text = text.strip()
        if not text:
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno})", file=file, row=lineno) from None
        yield validate_row(row, file=file, line=lineno)


def read_rows(path: str | Path) -> list[dict]:
    """All rows of one JSONL file, validated."""
    path = Path(path)
    if not path.is_file():
        raise InputError("results file not found", file=str(path), accepted="a .jsonl file written by peftplan bench")
    with path.open(encoding="utf-8") as fh:
        return list(parse_lines(fh, file=str(path)))


def result_files(path: str | Path) -> list[Path]:
    """A results file, or every *.jsonl under a results folder (sorted)."""
    path = Path(path)
    if path.is_dir():
        return sorted(path.rglob("*.jsonl"))
    if path.is_file():
        return [path]
    raise InputError("results path not found", file=str(path), accepted="a .jsonl file or a folder of them")


def load_rows(path: str | Path, kind: str | None = None) -> list[dict]:
    """Rows of a file or folder, each tagged with the file it came from (`_file`), optionally of one kind."""
    rows = []
    for file in result_files(path):
        for row in read_rows(file):
            if kind is None or row["kind"] == kind:
                rows.append({**row, "_file": str(file)})
    return rows


def flatten(row: dict) -> dict:
    """One flat record: spec.*, metrics.*, provenance.* keys beside the top-level fields."""
    flat = {k: v for k, v in row.items() if k not in ("spec", "metrics", "provenance")}
    for section in ("spec", "metrics", "provenance"):
        for key, value in row.get(section, {}).items():
            flat[f"{section}.{key}"] = value
    return flat


def rows_frame(rows: list[dict]):
    """Rows as a pandas DataFrame with flattened columns (pandas imported lazily)."""
    import pandas as pd

    return pd.DataFrame([flatten(r) for r in rows])
