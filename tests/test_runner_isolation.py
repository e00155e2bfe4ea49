"""Isolation: an OOM, a crash, a hang and a SIGKILL of one spec become rows and the sweep goes on; a sweep
killed outright loses no row already written, and a rerun resumes where it stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.runner import run_sweep
from core.paths import REPO_ROOT
from core.rows import validate_row
from tests.helpers import read_jsonl, tiny_entry


def test_failures_become_rows_and_the_sweep_goes_on(tmp_path, monkeypatch):
    monkeypatch.setenv("PEFTPLAN_INJECT_FAULT", "f-oom=oom,f-crash=crash,f-hang=hang,f-kill=kill")
    entries = [
        tiny_entry("f-oom"),
        tiny_entry("f-crash"),
        tiny_entry("f-hang", timeout_s=4),
        tiny_entry("f-kill"),
        tiny_entry("after-failures"),
    ]
    out = tmp_path / "rows.jsonl"
    summary = run_sweep(entries, out, device_name="cpu", progress=False)
    rows = {r["name"]: validate_row(r) for r in read_jsonl(out)}
    assert summary.counts == {"oom": 1, "error": 2, "timeout": 1, "ok": 1}
    assert rows["f-oom"]["status"] == "oom" and "out of memory" in rows["f-oom"]["error"]
    assert rows["f-crash"]["status"] == "error" and "SIGABRT" in rows["f-crash"]["error"]
    assert rows["f-hang"]["status"] == "timeout" and "4 s" in rows["f-hang"]["error"]
    assert rows["f-kill"]["status"] == "error" and "SIGKILL" in rows["f-kill"]["error"]
    assert rows["after-failures"]["status"] == "ok"


SUITE = """
[defaults]
device = "cpu"
model = "tiny-llama"
method = "lora"
micro_batch = 2
seq_len = 32
warmup_steps = 1
measure_steps = 2
[[train]]
name = "first"
[[train]]
name = "second"
rank = 4
[[train]]
name = "third"
rank = 8
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "peftplan.cli", *args]


def test_a_killed_sweep_loses_nothing_and_resumes(tmp_path):
    suite, out = tmp_path / "three.toml", tmp_path / "rows.jsonl"
    suite.write_text(SUITE)
    env = {**os.environ, "PEFTPLAN_INJECT_FAULT": "second=hang"}  # holds the sweep inside the second spec
    proc = subprocess.Popen(
        _cli("bench", "train", "--suite", str(suite), "--out", str(out), "--no-progress"),
        cwd=REPO_ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (out.exists() and out.read_text().count("\n") >= 1):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker, mid-spec
    proc.wait()
    rows = read_jsonl(out)
    assert [r["name"] for r in rows] == ["first"] and rows[0]["status"] == "ok"
    assert Path(out).read_text().endswith("\n")  # no half-written row

    done = subprocess.run(
        _cli("bench", "train", "--suite", str(suite), "--out", str(out), "--no-progress"),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "skip    first" in done.stderr
    assert [r["name"] for r in read_jsonl(out)] == ["first", "second", "third"]
