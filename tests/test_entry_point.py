"""The `peftplan` entry point loads only the layer of the command that runs: the planner's commands work in
an interpreter where the benchmark's and the dashboard's dependencies cannot be imported at all."""

from __future__ import annotations

import subprocess
import sys

import pytest

BLOCKED = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "streamlit", "plotly")

# Installed before anything else runs: importing a blocked module (or a submodule) fails as if absent.
BLOCKER = f"""
import sys
class _Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _Absent())
"""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + code], capture_output=True, text=True, timeout=120)


def test_blocker_really_blocks():
    proc = _run("import plotly")
    assert proc.returncode != 0 and "No module named 'plotly'" in proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--help"],
        ["plan", "memory", "--help"],
        ["--help"],
        ["plan", "memory", "--model", "llama-3.2-1b", "--method", "qlora", "--json"],
    ],
)
def test_plan_runs_without_benchmark_or_dashboard_dependencies(argv):
    proc = _run(f"import sys; from peftplan.cli import main; sys.exit(main({argv!r}))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    if argv == ["--help"]:
        assert all(name in proc.stdout for name in ("bench", "results", "plan", "dashboard"))


def test_python_dash_m_peftplan():
    proc = subprocess.run(
        [sys.executable, "-m", "peftplan", "plan", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "memory" in proc.stdout, proc.stderr


def test_bench_command_imports_its_layer_only_when_run():
    proc = _run("from peftplan.cli import main; main(['results', 'show', '--help'])")
    assert proc.returncode == 0 and "path" in proc.stdout, proc.stderr
