"""Fuzzing (hypothesis) of everything a user hands in: command-line arguments, suite TOML, result rows and
catalog rows. Every generated input either works or gives one message and exit 2; never a traceback, never a
silent no-op. Calls are in-process main(argv); a sweep that an input would start is stopped before any
benchmark runs (starting it is "works": the spec was valid). Examples are bounded to keep this under a
minute on two cores.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import benchmarks.cli as bench_cli
from core.paths import CATALOG_DIR
from core.rows import METRIC_RANGES, load_rows
from peftplan.cli import main

REPO = Path(__file__).resolve().parent.parent
GOOD = json.loads((REPO / "data/results/h200-standard-train.jsonl").read_text().splitlines()[0])
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class SweepStarted(Exception):
    pass


def _stub(entries, *args, **kwargs):
    """The sweep an input starts: every number in its specs must be finite and its time limit bounded."""
    for entry in entries:
        numbers = [v for v in entry.spec.to_dict().values() if isinstance(v, (int, float))] + [
            entry.timeout_s
        ]
        assert all(math.isfinite(v) and abs(v) < 2**31 for v in numbers), (
            entry.name,
            entry.spec,
            entry.timeout_s,
        )
    raise SweepStarted


def outcome(argv: list[str], monkeypatch) -> tuple[str, str, str]:
    """('started' | 'exit N', stdout, stderr) of main(argv); any other exception fails the test."""
    monkeypatch.setattr(bench_cli, "run_sweep", _stub)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own errors
            code = exc.code
        except SweepStarted:
            return "started", out.getvalue(), err.getvalue()
    return f"exit {code}", out.getvalue(), err.getvalue()


def assert_works_or_one_message(result: tuple[str, str, str], echoed_text: str = "") -> None:
    """echoed_text: a text cell the input put in, which the output may show as a name (a provider called
    "inf" is text, not an overflow)."""
    what, out, err = result
    if what == "started":
        return
    assert what in ("exit 0", "exit 1", "exit 2"), (what, err)
    if what == "exit 2":
        assert "error:" in err and "Traceback" not in err, err
        assert err.count("peftplan: error:") == 1, err
    else:
        assert out.strip() or err.strip(), "a silent no-op"
        if not re.search(r"\binf\b", echoed_text):
            assert not re.search(r"\binf\b", out), (
                out
            )  # an overflow shown as a figure (NaN: "not applicable")


NUMBERS = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "1e300", "1e-300", "-5", "0", "", " ", "1_000", "0x10"]),
)
TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["tiny-llama", "lora", "qlora", "all-linear", "\x00"]))
BENCH_FLAGS = {
    "--model": TEXT,
    "--method": TEXT,
    "--rank": NUMBERS,
    "--alpha": NUMBERS,
    "--dropout": NUMBERS,
    "--targets": TEXT,
    "--micro-batch": NUMBERS,
    "--seq-len": NUMBERS,
    "--lr": NUMBERS,
    "--seed": NUMBERS,
    "--timeout-s": NUMBERS,
    "--warmup-steps": NUMBERS,
    "--only": TEXT,
    "--out": TEXT,
}
PLAN_FLAGS = {
    "--tokens": NUMBERS,
    "--epochs": NUMBERS,
    "--batch": NUMBERS,
    "--seq": NUMBERS,
    "--rank": NUMBERS,
    "--runs-per-month": NUMBERS,
    "--utilisation": NUMBERS,
    "--top": NUMBERS,
    "--results": TEXT,
}


def _flags(pool: dict) -> st.SearchStrategy[list[str]]:
    return (
        st.dictionaries(st.sampled_from(sorted(pool)), st.just(None), max_size=4)
        .flatmap(lambda chosen: st.tuples(*[st.tuples(st.just(k), pool[k]) for k in chosen]))
        .map(lambda pairs: [x for pair in pairs for x in pair])
    )


@FUZZ
@given(flags=_flags(BENCH_FLAGS), suite=st.booleans())
def test_bench_arguments(flags, suite, monkeypatch, tmp_path):
    spec = [
        "--model",
        "tiny-llama",
        "--method",
        "lora",
        "--seq-len",
        "32",
    ]  # valid, unless a flag below differs
    base = ["bench", "train", "--device", "cpu"] + (["--suite", "cpu-smoke"] if suite else spec)
    if "--out" not in flags:
        base += ["--out", str(tmp_path / "r.jsonl")]
    assert_works_or_one_message(outcome(base + flags, monkeypatch))


@FUZZ
@given(command=st.sampled_from(["train", "memory", "capacity", "breakeven"]), flags=_flags(PLAN_FLAGS))
def test_plan_arguments(command, flags, monkeypatch):
    argv = ["plan", command, "--model", "llama-3.1-8b"]
    if command in ("train", "breakeven", "capacity") and "--tokens" not in flags:
        argv += ["--tokens", "100M"]
    if command == "memory":
        flags = [f for i, f in enumerate(flags) if not _is_job_flag(flags, i)]
    if command == "breakeven":
        argv += ["--max-runs", "50"]
    assert_works_or_one_message(outcome(argv + flags, monkeypatch))


def _is_job_flag(flags: list[str], i: int) -> bool:
    job = {"--tokens", "--epochs", "--runs-per-month", "--utilisation", "--top"}
    return flags[i] in job or (i > 0 and flags[i - 1] in job)


# ---- suite TOML --------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=10),
    st.sampled_from(["tiny-llama", "lora", "qlora", "full", "cpu", "q_proj", "all-linear", "adamw_fused"]),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3))
FIELDS = [
    "model",
    "method",
    "rank",
    "alpha",
    "dropout",
    "targets",
    "micro_batch",
    "seq_len",
    "lr",
    "seed",
    "timeout_s",
    "warmup_steps",
    "measure_steps",
    "grad_checkpointing",
    "profile",
    "device",
    "name",
    "x",
]


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)  # a TOML basic string (an escaped lone surrogate is refused as bad TOML)


@FUZZ
@given(entry=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6))
def test_suite_files(entry, monkeypatch, tmp_path):
    base = {"name": "a", "model": "tiny-llama", "method": "lora", "seq_len": 32, "device": "cpu"}
    lines = ["[[train]]"] + [f"{k} = {toml_value(v)}" for k, v in {**base, **entry}.items()]
    suite = tmp_path / "fuzz.toml"
    suite.write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = ["bench", "train", "--suite", str(suite), "--out", str(tmp_path / "r.jsonl")]
    assert_works_or_one_message(outcome(argv, monkeypatch))


# ---- result rows -------------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
PATHS = [
    ("metrics", "tokens_per_s"),
    ("metrics", "peak_allocated_gib"),
    ("metrics", "mfu"),
    ("provenance", "device_name"),
    ("provenance", "timestamp"),
    ("spec", "micro_batch"),
    ("spec", "model"),
    ("spec", "rank"),
    ("spec_hash",),
    ("status",),
    ("kind",),
    ("schema_version",),
    ("metrics",),
    ("spec",),
    ("error",),
]


def _metric_ok(key: str, value) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return True
    lo, hi = next((lo, hi) for part, lo, hi in METRIC_RANGES if part in key)
    return key.startswith("loss") or (math.isfinite(value) and lo <= value <= hi)


@FUZZ
@given(path=st.sampled_from(PATHS), value=JSON, raw=st.binary(max_size=40))
def test_result_rows(path, value, raw, monkeypatch, tmp_path):
    row = json.loads(json.dumps(GOOD))
    target = row
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    results = tmp_path / "results"
    results.mkdir(exist_ok=True)
    (results / "r.jsonl").write_bytes(
        json.dumps(row).encode() + b"\n" + raw + b"\n" + json.dumps(GOOD).encode()
    )
    rows = load_rows(results, report=lambda problems: None)
    assert len(rows) + len(rows.problems) >= 2  # every line is a row or a reported bad line
    for r in rows:
        assert all(_metric_ok(k, v) for k, v in r["metrics"].items())
    for argv in (["results", "show", str(results)], ["plan", "accuracy", "--results", str(results)]):
        what, out, err = outcome(argv, monkeypatch)
        assert what == "exit 0" and out.strip(), (what, err)


# ---- catalog rows ------------------------------------------------------------------------------

CELLS = st.one_of(
    NUMBERS, st.text(max_size=8), st.sampled_from(["2026-02-31", "2026-13", "\ufeff", "a,b", '"'])
)
CATALOG_CELLS = {
    "gpus.csv": (1, 9),
    "gpu_prices.csv": (1, 11),
    "models.csv": (1, 12),
}  # data rows start at line 1; columns


@FUZZ
@given(file=st.sampled_from(sorted(CATALOG_CELLS)), column=st.integers(0, 10), cell=CELLS)
def test_catalog_rows(file, column, cell, monkeypatch, tmp_path):
    import csv

    folder = tmp_path / "catalog"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(CATALOG_DIR, folder)
    rows = list(csv.reader(io.StringIO((folder / file).read_text(encoding="utf-8"))))
    rows[1][column % len(rows[0])] = cell
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    (folder / file).write_text(buf.getvalue(), encoding="utf-8")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    argv = [
        "plan",
        "train",
        "--model",
        "llama-3.1-8b",
        "--tokens",
        "100M",
        "--catalog",
        str(folder),
        "--results",
        str(empty),
    ]
    assert_works_or_one_message(outcome(argv, monkeypatch), echoed_text=cell)


@pytest.mark.parametrize("text", ["\ufeff", ""])
def test_catalog_byte_order_mark_is_not_a_column_name(text, monkeypatch, tmp_path):
    folder = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, folder)
    for path in folder.glob("*.csv"):
        path.write_text(text + path.read_text(encoding="utf-8"), encoding="utf-8")
    what, _, err = outcome(
        ["plan", "memory", "--model", "llama-3.1-8b", "--catalog", str(folder)], monkeypatch
    )
    assert what == "exit 0", err
