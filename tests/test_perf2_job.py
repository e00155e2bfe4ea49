"""The budgeted one-call job (benchmarks/jobs/): an entry that runs over its estimate is stopped when the
budget is spent and leaves a `timeout` row; the h200-perf2 script skips what does not fit and says so."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.jobs import budgeted
from benchmarks.suites import load_suite
from core.paths import REPO_ROOT
from tests.helpers import read_jsonl

SUITE = """
[[infer]]
name = "tiny-decode"
model = "tiny-llama"
device = "cpu"
mode = "base"
task = "decode"
prompt_len = 16
new_tokens = 8
timeout_s = 600
"""


def test_an_entry_over_its_estimate_is_stopped_when_the_budget_is_spent(tmp_path, capsys):
    suite = tmp_path / "job.toml"
    suite.write_text(SUITE)
    began = time.monotonic()
    assert budgeted.main([str(suite), str(tmp_path), "2", "tiny-decode=1", "tiny-decode=5"]) == 0
    assert time.monotonic() - began < 60  # the worker's own limit was 600 s
    (row,) = read_jsonl(tmp_path / "job-infer.jsonl")
    assert row["status"] == "timeout"
    limit_s = float(re.search(r"within the ([0-9.]+) s limit", row["error"]).group(1))
    assert 1 <= limit_s <= 2  # what was left of the 2 s
    assert "skipped tiny-decode: needs about 5 s" in capsys.readouterr().out


def test_the_perf2_job_runs_the_same_entries_on_the_cpu_and_ends_within_its_budget(tmp_path):
    names = [e.name for kind in ("infer", "train") for e in load_suite("h200-perf2", kind)]
    assert names == [e.name for kind in ("infer", "train") for e in load_suite("cpu-perf2", kind)]
    env = {**os.environ, "OUT": str(tmp_path), "SUITE": "cpu-perf2", "BUDGET_S": "40"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    began = time.monotonic()
    subprocess.run(["bash", "benchmarks/jobs/h200-perf2.sh"], cwd=REPO_ROOT, env=env, check=True)
    assert time.monotonic() - began < 40
    log = (tmp_path / "job.log").read_text()
    for name in names:  # 40 s leave room for none of them (estimates of 50-85 s)
        assert f"skipped {name}: needs about" in log
    assert "gpu tests exit 0" in log  # skipped on the CPU, run on a GPU


def test_a_profile_summary_is_appended_where_asked(tmp_path, monkeypatch):
    import torch

    from benchmarks.measure import PROFILE_ENV, write_profile

    path = tmp_path / "profiles.txt"
    write_profile("nothing asked", "one step", lambda prof: torch.ones(4).sum(), "cpu")
    assert not path.exists()
    monkeypatch.setenv(PROFILE_ENV, str(path))
    write_profile("a step", "one step", lambda prof: torch.ones(4).sum(), "cpu")
    write_profile("a failing step", "one step", lambda prof: 1 / 0, "cpu")
    text = path.read_text()
    assert "=== a step ===\none step: 0 GPU kernels" in text and "aten::" in text
    assert "=== a failing step ===\none step: profiling failed: ZeroDivisionError" in text
