"""`peftplan dashboard`: the Streamlit command it starts, the results folder it passes, its bad-input errors,
and the dashboard's light imports (no torch, no streamlit in the CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.paths import RESULTS_DIR
from dashboards import RESULTS_ENV, cli
from peftplan import cli as root_cli

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def launched(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "launch", lambda args: calls.append((args, dict(os.environ))) or 0)
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    return calls


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_defaults_local_headless_no_usage_stats_over_shipped_results(launched, capsys):
    assert root_cli.main(["dashboard"]) == 0
    ((command, env),) = launched
    assert command[:2] == ["run", str(cli.APP_PATH)] and cli.APP_PATH.is_file()
    assert option(command, "--server.address") == "127.0.0.1"
    assert option(command, "--server.port") == "8501"
    assert option(command, "--server.headless") == "true"
    assert option(command, "--browser.gatherUsageStats") == "false"
    assert env[RESULTS_ENV] == str(RESULTS_DIR)
    assert "http://127.0.0.1:8501" in capsys.readouterr().out


def test_results_host_and_port_are_passed_on(launched, tmp_path):
    assert (
        root_cli.main(["dashboard", "--results", str(tmp_path), "--host", "0.0.0.0", "--port", "9000"]) == 0
    )
    ((command, env),) = launched
    assert option(command, "--server.address") == "0.0.0.0"
    assert option(command, "--server.port") == "9000"
    assert env[RESULTS_ENV] == str(tmp_path.resolve())


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--results", "/no/such/results"], "results path not found"),
        (["--port", "0"], "port out of range"),
        (["--port", "70000"], "port out of range"),
        (["--host", " "], "empty host"),
    ],
)
def test_bad_input_is_one_message_and_exit_2(launched, capsys, argv, message):
    assert root_cli.main(["dashboard", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not launched


def test_cli_does_not_import_streamlit():
    code = "import sys, dashboards.cli; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


def test_no_page_imports_torch(tmp_path):
    """Every page runs without torch (start-up speed, and the dashboard must run where torch is absent)."""
    pages = ["overview", "cost", "capacity", "training", "inference", "regressions", "data"]
    code = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(cli.APP_PATH)!r}, default_timeout=60).run()\n"
        f"for page in {pages!r}:\n"
        "    at.switch_page('views/' + page + '.py').run()\n"
        "    assert not at.exception, (page, [e.value for e in at.exception])\n"
        "print(sorted(m for m in ('torch', 'transformers', 'peft', 'bitsandbytes') if m in sys.modules))\n"
    )
    env = {"PATH": "/usr/bin:/bin", RESULTS_ENV: str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
