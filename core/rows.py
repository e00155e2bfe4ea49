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

Rows are parsed and validated here, never executed or unpickled. Every figure must be finite and plausible
(METRIC_RANGES); text holds no control characters; the timestamp is a real date. Readers skip a bad line
(torn by a crash, or edited by hand), say which (file, line, why) and go on with the others.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from core.errors import InputError
from core.numbers import has_control_chars

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


# Plausible ranges of figures in rows, by the unit in the metric's name (first match wins): a row outside
# them is refused with the reason (1e300 tokens/s or a negative peak is a broken row, not a measurement).
METRIC_RANGES = (
    ("mfu", 0.0, 1.5),
    ("tokens_per_s", 0.0, 1e9),
    ("samples_per_s", 0.0, 1e9),
    ("_gib", 0.0, 1e6),
    ("_mib", 0.0, 1e9),
    ("", 0.0, 1e18),  # counts (parameters, FLOPs per token, bytes) and everything else
)
SIGNED_METRICS = ("loss_first", "loss_last")  # may be any finite number
SPEC_INTS = (
    "rank",
    "alpha",
    "micro_batch",
    "seq_len",
    "grad_accum",
    "warmup_steps",
    "measure_steps",
    "num_gpus",
    "batch",
    "prompt_len",
    "new_tokens",
    "n_adapters",
    "warmup",
    "repeats",
)
MAX_SPEC_INT = 10**9
TEXT_PROVENANCE = (
    "git_commit",
    "torch",
    "transformers",
    "peft",
    "bitsandbytes",
    "device_name",
    "driver",
    "cuda",
)


@lru_cache(maxsize=1024)  # a handful of metric names, asked for once per row
def _metric_range(key: str) -> tuple[float, float]:
    if key in SIGNED_METRICS:
        return -1e18, 1e18
    return next((lo, hi) for part, lo, hi in METRIC_RANGES if part in key)


def _check_text(value: object, field: str, fail, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise fail("must be a string" + (" or null" if optional else ""), field, value)
    if has_control_chars(value):
        raise fail("holds a control character (such as NUL)", field, value, "printable text")


def _check_metrics(metrics: dict, fail) -> None:
    for key, value in metrics.items():
        if value is not None and not isinstance(value, (int, float, str, bool, list, dict)):
            raise fail("metric of an unsupported type", f"metrics.{key}", value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lo, hi = _metric_range(key)
            if value != value:
                raise fail("metric is NaN (write null for 'not measured')", f"metrics.{key}", value)
            if not (lo <= value <= hi):
                raise fail(
                    "implausible figure", f"metrics.{key}", value, f"a finite number from {lo:g} to {hi:g}"
                )


def _check_spec(spec: dict, fail) -> None:
    if not isinstance(spec.get("model"), str) or not spec["model"]:
        raise fail("missing model name", "spec.model", spec.get("model"), "a model name")
    for key in SPEC_INTS:
        value = spec.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SPEC_INT
        ):
            raise fail("must be an integer", f"spec.{key}", value, f"an integer from 0 to {MAX_SPEC_INT}")
    for key, value in spec.items():
        if isinstance(value, float) and not (math.isfinite(value) and abs(value) <= 1e9):
            raise fail("not a finite number", f"spec.{key}", value, "a finite number")


def _check_provenance(prov: dict, fail) -> None:
    for field in PROVENANCE_REQUIRED:
        if field not in prov:
            raise fail(
                "missing provenance field", f"provenance.{field}", accepted=", ".join(PROVENANCE_REQUIRED)
            )
    for field in TEXT_PROVENANCE:
        _check_text(prov.get(field), f"provenance.{field}", fail)
    if prov["git_dirty"] is not None and not isinstance(prov["git_dirty"], bool):
        raise fail("must be true, false or null", "provenance.git_dirty", prov["git_dirty"])
    stamp = prov["timestamp"]
    accepted = "an ISO 8601 date and time, such as 2026-11-29T15:00:00+00:00"
    if not isinstance(stamp, str):
        raise fail("must be a string", "provenance.timestamp", stamp, accepted)
    try:
        datetime.fromisoformat(stamp)
    except ValueError:
        raise fail("not a valid date and time", "provenance.timestamp", stamp, accepted) from None


def validate_row(row: object, *, file: str = "<row>", line: int | None = None) -> dict:
    """Check one parsed row against the contract; return it or raise InputError naming file, line, field."""

    def fail(what: str, field: str | None = None, value: object = None, accepted: str | None = None):
        return InputError(what, file=file, row=line, field=field, value=value, accepted=accepted)

    if not isinstance(row, dict):
        raise fail("a result row must be a JSON object", value=type(row).__name__)
    for field in REQUIRED:
        if field not in row:
            raise fail("missing field", field=field, accepted=", ".join(REQUIRED))
    version = row["schema_version"]
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise fail("unsupported schema version", "schema_version", version, str(SCHEMA_VERSION))
    if row["kind"] not in KINDS:
        raise fail("unknown kind", "kind", row["kind"], ", ".join(KINDS))
    if row["status"] not in STATUSES:
        raise fail("unknown status", "status", row["status"], ", ".join(STATUSES))
    for field in ("spec", "metrics", "provenance"):
        if not isinstance(row[field], dict):
            raise fail("must be a JSON object", field, type(row[field]).__name__)
    if not isinstance(row["spec_hash"], str) or not row["spec_hash"] or has_control_chars(row["spec_hash"]):
        raise fail("must be a non-empty string", "spec_hash", row["spec_hash"])
    for field in ("error", "name", "suite", "code_version"):
        _check_text(row.get(field), field, fail)
    _check_spec(row["spec"], fail)
    _check_metrics(row["metrics"], fail)
    _check_provenance(row["provenance"], fail)
    return row


@dataclass(frozen=True)
class BadLine:
    """A line a reader skipped: where it is and why."""

    file: str
    line: int
    why: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.why}"


class Rows(list):
    """A list of rows, with the lines that were skipped (`problems`, BadLine each)."""

    def __init__(self, rows=(), problems=()):
        super().__init__(rows)
        self.problems: list[BadLine] = list(problems)


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON (write null for 'not measured')")


def parse_line(raw: bytes | str, *, file: str, line: int) -> dict | None:
    """One validated row, None for a blank line; InputError (naming file and line) otherwise."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start + 1})", file=file, row=line) from None
    text = text.strip()
    if not text:
        return None
    try:
        row = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno})", file=file, row=line) from None
    except ValueError as exc:
        raise InputError(f"not valid JSON ({exc})", file=file, row=line) from None
    except RecursionError:
        raise InputError("not valid JSON (nested too deeply)", file=file, row=line) from None
    return validate_row(row, file=file, line=line)


def parse_lines(lines: Iterable[str | bytes], *, file: str) -> Iterator[dict]:
    """Parse and validate JSONL text; blank lines are skipped. Raises InputError on the first bad line."""
    for lineno, raw in enumerate(lines, start=1):
        row = parse_line(raw, file=file, line=lineno)
        if row is not None:
            yield row


def scan_lines(
    lines: Iterable[str | bytes], *, file: str
) -> Iterator[tuple[int, dict | None, BadLine | None]]:
    """(line number, row or None, BadLine or None) for each non-blank line: a bad line is reported, not raised."""
    for lineno, raw in enumerate(lines, start=1):
        try:
            row = parse_line(raw, file=file, line=lineno)
        except InputError as exc:
            yield (
                lineno,
                None,
                BadLine(file, lineno, exc.what if exc.field is None else f"{exc.field}: {exc}"),
            )
            continue
        if row is not None:
            yield lineno, row, None


def _regular(path: str | Path, what: str) -> Path:
    if not str(path).strip():
        raise InputError(f"empty {what} path", accepted="a .jsonl file or a folder of them")
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} not found", file=str(path), accepted="a .jsonl file or a folder of them")
    if not (path.is_file() or path.is_dir()):
        raise InputError("not a regular file", file=str(path), accepted="a .jsonl file or a folder of them")
    return path


def read_rows(path: str | Path) -> Rows:
    """The valid rows of one JSONL file; bad lines are skipped and listed in `.problems`."""
    path = Path(path)
    if not path.is_file():
        _regular(path, "results file")
        raise InputError(
            "results file not found", file=str(path), accepted="a .jsonl file written by peftplan bench"
        )
    rows, problems = Rows(), []
    with path.open("rb") as fh:
        for _, row, bad in scan_lines(fh, file=str(path)):
            if bad is not None:
                problems.append(bad)
            else:
                rows.append(row)
    rows.problems = problems
    return rows


def result_files(path: str | Path) -> list[Path]:
    """A results file, or every regular *.jsonl file under a results folder (sorted)."""
    path = _regular(path, "results path")
    if path.is_dir():
        return sorted(p for p in path.rglob("*.jsonl") if p.is_file())
    return [path]


def load_rows(path: str | Path, kind: str | None = None, *, report=None) -> Rows:
    """Rows of a file or folder, each tagged with the file it came from (`_file`), optionally of one kind.
    Bad lines are skipped: listed in `.problems` and passed to `report` (default: one line each on stderr)."""
    rows = Rows()
    for file in result_files(path):
        got = read_rows(file)
        rows.problems.extend(got.problems)
        rows.extend({**row, "_file": str(file)} for row in got if kind is None or row["kind"] == kind)
    (report or report_problems)(rows.problems)
    return rows


def report_problems(problems: list[BadLine], limit: int = 10) -> None:
    """Say on stderr which lines were skipped (`peftplan results check FILE` lists them all)."""
    for bad in problems[:limit]:
        print(f"peftplan: warning: skipped bad line: {bad}", file=sys.stderr)
    if len(problems) > limit:
        print(f"peftplan: warning: skipped {len(problems) - limit} more bad line(s)", file=sys.stderr)


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
