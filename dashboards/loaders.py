"""Cached loaders for the dashboard: result rows, catalog files, and the planner's catalog and measurements.

Result rows are read through core.rows (validated); the cache key includes each file's size and
modification time, so rows appended by a running sweep appear on the next rerun. Errors are InputError,
which the pages show as a message.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from core import rows as result_rows
from core.errors import InputError
from core.paths import CATALOG_DIR, REPO_ROOT, RESULTS_DIR
from dashboards import RESULTS_ENV

THRESHOLDS_TOML = REPO_ROOT / "benchmarks" / "regression-thresholds.toml"  # the regression gate's


def results_path() -> Path:
    """The results folder (or file) the app reads: $PEFTPLAN_RESULTS_DIR, else data/results/."""
    value = os.environ.get(RESULTS_ENV, "").strip()
    return Path(value) if value else RESULTS_DIR


def fingerprint(path: Path) -> tuple[tuple[str, int, int], ...]:
    """(file, modification time, size) of each results file: the cache key of everything read from them."""
    if not path.exists():
        return ()
    files = result_rows.result_files(path)
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)


@st.cache_data(show_spinner=False, max_entries=16)
def _rows(path: str, stamp: tuple) -> list[dict]:
    return result_rows.load_rows(path) if stamp else []


def load_rows(kind: str | None = None) -> list[dict]:
    """Validated rows of the results path, each with `_file`; [] when the folder is missing or empty."""
    path = results_path()
    rows = _rows(str(path), fingerprint(path))
    return [r for r in rows if kind is None or r["kind"] == kind]


@st.cache_data(show_spinner=False, max_entries=16)
def _frame(path: str, stamp: tuple, kind: str | None) -> pd.DataFrame:
    rows = [r for r in _rows(path, stamp) if kind is None or r["kind"] == kind]
    return frame_of(rows)


def frame_of(rows: list[dict]) -> pd.DataFrame:
    """Rows as a flat frame (spec.*, metrics.*, provenance.* columns), timestamps parsed, sorted by time."""
    frame = result_rows.rows_frame(rows)
    if frame.empty:
        return frame
    if "provenance.timestamp" in frame:
        frame["time"] = pd.to_datetime(
            frame["provenance.timestamp"], utc=True, errors="coerce", format="ISO8601"
        )
        frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
    return frame


def load_frame(kind: str | None = None) -> pd.DataFrame:
    """Flat frame of all rows of one kind (every status); empty when there are none."""
    path = results_path()
    return _frame(str(path), fingerprint(path), kind).copy()


def result_file_list() -> list[Path]:
    path = results_path()
    return result_rows.result_files(path) if path.exists() else []


@st.cache_data(show_spinner=False)
def _csv(path: str, mtime_ns: int) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV ({exc})", file=path) from None


def catalog_files() -> list[Path]:
    """The catalog CSV files shipped in data/catalog/."""
    return sorted(CATALOG_DIR.glob("*.csv")) if CATALOG_DIR.is_dir() else []


def catalog_table(path: Path) -> pd.DataFrame:
    """One catalog file as it is stored (the planner validates it where it is used)."""
    return _csv(str(path), path.stat().st_mtime_ns).copy()


@st.cache_data(show_spinner=False, max_entries=64)
def _file_rows(path: str, mtime_ns: int, size: int) -> list[dict]:
    return result_rows.read_rows(path)


def load_file(path: Path) -> result_rows.Rows:
    """The validated rows of one results file, each tagged with `_file`; `.problems`: the skipped lines."""
    stat = path.stat()
    rows = _file_rows(str(path), stat.st_mtime_ns, stat.st_size)
    return result_rows.Rows(({**r, "_file": str(path)} for r in rows), rows.problems)


def parse_upload(name: str, data: bytes) -> list[dict]:
    """Rows of an uploaded results file, validated in memory (an upload is never written to disk)."""
    accepted = "a JSON Lines results file written by peftplan bench"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=name, accepted=accepted) from None
    rows = [{**r, "_file": name} for r in result_rows.parse_lines(text.splitlines(), file=name)]
    if not rows:
        raise InputError("the file holds no result rows", file=name, accepted=accepted)
    return rows


def measurements():
    """planner.measured.Measurements over the results path (the planner caches it on the files' stamps;
    it is not copied through st.cache_data)."""
    from planner.measured import empty_measurements, load_measurements

    path = results_path()
    return load_measurements(path) if path.exists() else empty_measurements()  # not measured yet


def catalog():
    """planner.catalog.Catalog of data/catalog/ (validated; cached by the planner on the files' stamps)."""
    from planner.catalog import load_catalog

    return load_catalog()
