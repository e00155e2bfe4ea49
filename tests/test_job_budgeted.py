"""GPU jobs in one call: every entry a job names is in its suite and the reverse, the CPU switch keeps each
entry's code path on a tiny model, and a budget that fits nothing skips everything with a line each."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.jobs.budgeted import DEVICE_SWITCH, on_cpu, plan
from benchmarks.suites import load_suite
from core.paths import REPO_ROOT

JOB = REPO_ROOT / "benchmarks" / "jobs" / "h200-oos2.sh"


def _job_entries(script: Path) -> list[tuple[str, float]]:
    return [(n, float(s)) for n, s in re.findall(r"^\s+([\w.-]+)=(\d+) \\$", script.read_text(), re.M)]


def test_the_oos2_job_names_every_suite_entry_once_within_its_budget():
    names = [n for n, _ in _job_entries(JOB)]
    suite = [e.name for e in load_suite("h200-oos2", "train")]
    assert sorted(names) == sorted(suite) and len(set(names)) == len(names) >= 12
    assert "BUDGET_S:-290" in JOB.read_text()
    assert [e.name for e, _ in plan("h200-oos2", _job_entries(JOB))] == names
    assert names[-1].endswith("-tuned")  # the compiling entry comes last


def test_on_cpu_keeps_the_code_path_on_a_tiny_model():
    for entry in load_suite("h200-oos2", "train"):
        tiny = on_cpu(entry).spec
        big = entry.spec
        assert tiny.device == "cpu" and tiny.model.startswith("tiny-") and tiny.seq_len <= 64
        same = ("method", "targets", "grad_checkpointing", "profile", "optimizer")
        assert all(getattr(tiny, f) == getattr(big, f) for f in same)
    assert on_cpu(load_suite("h200-oos2", "train")[1]).spec.model == "tiny-qwen2"


def test_a_budget_that_fits_nothing_skips_every_entry_and_keeps_the_log(tmp_path):
    env = os.environ | {
        "OUT": str(tmp_path),
        "BUDGET_S": "1",
        DEVICE_SWITCH: "cpu",
        "PYTHONPATH": str(REPO_ROOT),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    subprocess.run(["bash", str(JOB)], env=env, cwd=REPO_ROOT, check=True, timeout=120)
    log = (tmp_path / "job.log").read_text()
    assert log.count("skipped oos2-") == len(_job_entries(JOB)) and re.search(r"exit 0 after \d+ s", log)
    assert not (tmp_path / "h200-oos2-train.jsonl").exists()


def test_on_cpu_refuses_what_it_cannot_shrink():
    entry = load_suite("h200-perf", "infer")[0]
    with pytest.raises(SystemExit, match="training entries only"):
        on_cpu(entry)
