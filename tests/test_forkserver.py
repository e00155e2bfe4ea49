"""Single-process specs are forked from a server that has done the heavy imports (benchmarks/launch.py): each
still runs in a process of its own, in a session of its own, with the sweep's environment at the time of its
spec, and dies with the sweep. The sweep's own process never imports torch, the server's imports leave CUDA
alone, and a server that cannot be used leaves every spec to a fresh interpreter."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from benchmarks import launch
from benchmarks.launch import Launcher, _imported_alike
from benchmarks.runner import request_of, run_isolated, run_sweep
from core.paths import REPO_ROOT
from tests.helpers import read_jsonl, tiny_entry

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; Linux fork server")
FALLBACK = "each spec imports torch in its own process"


def _start(launcher: Launcher, entry, tmp_path: Path):
    """Start `entry` as the runner does; returns (worker, result path)."""
    request, result = tmp_path / f"{entry.name}.request.json", tmp_path / f"{entry.name}.result.json"
    request.write_text(json.dumps(request_of(entry)))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    return launcher.start(entry, request, result, tmp_path / f"{entry.name}.log", env), result


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _gone(pids, timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not [p for p in pids if Path(f"/proc/{p}").exists() and "Z" not in _state(p)]:
            return True
        time.sleep(0.1)
    return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_a_forked_worker_has_its_own_session_under_the_server(tmp_path, monkeypatch):
    monkeypatch.setenv("PEFTPLAN_INJECT_FAULT", "held=hang")
    with Launcher() as launcher:
        worker, _ = _start(launcher, tiny_entry("held"), tmp_path)
        assert worker.forked and launcher.fallback_reason is None
        server = _ppid(worker.pid)
        assert server != os.getpid() and b"forkserver" in Path(f"/proc/{server}/cmdline").read_bytes()
        assert worker.wait(1) is None  # held in the injected hang, set up by now
        assert os.getsid(worker.pid) == worker.pid  # a time-out's killpg reaches what it started
        worker.kill()
        assert worker.wait(5) == -signal.SIGKILL
    assert _gone([worker.pid, server])  # the server stops with the sweep


def test_the_worker_sees_the_sweeps_environment_at_its_spec(tmp_path, monkeypatch):
    monkeypatch.delenv("PEFTPLAN_INJECT_FAULT", raising=False)
    with Launcher() as launcher:
        started = []
        real_start = launcher.start
        monkeypatch.setattr(launcher, "start", lambda *a: started.append(real_start(*a)) or started[-1])
        assert run_isolated(tiny_entry("before"), launcher)["status"] == "ok"  # the server starts here
        monkeypatch.setenv("PEFTPLAN_INJECT_FAULT", "after=crash")  # set after the server started
        row = run_isolated(tiny_entry("after"), launcher)
        assert row["status"] == "error" and "SIGABRT" in row["error"]
        monkeypatch.setenv("OMP_NUM_THREADS", "1")  # read as torch is imported: the server's would be wrong
        assert run_isolated(tiny_entry("threads"), launcher)["status"] == "ok"
    assert [w.forked for w in started] == [True, True, False]


def test_variables_read_at_import_must_match_the_servers():
    server = {"PATH": "/bin", "OMP_NUM_THREADS": "2"}
    late = {
        "PEFTPLAN_INJECT_FAULT": "x=hang",
        "PYTHONPATH": "/repo",
        "CUDA_VISIBLE_DEVICES": "1",
        "PYTHONUNBUFFERED": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    assert _imported_alike({**server, **late}, server)
    assert not _imported_alike({**server, "OMP_NUM_THREADS": "1"}, server)
    assert not _imported_alike({**server, "TORCH_LOGS": "+dynamo"}, server)
    assert not _imported_alike({"PATH": "/bin"}, server)


PRELOADED_CODE = {  # case: the code of a module the server imports after benchmarks/preload.py
    "import-fails": "import no_such_module_anywhere\n",
    "server-dies": "raise RuntimeError('not an ImportError')\n",
    "cuda-touched": "import torch\ntorch.cuda._is_in_bad_fork = lambda: True  # as if it had used CUDA\n",
}


@pytest.mark.parametrize(
    "case, reason",
    [
        ("import-fails", "an import failed in the fork server"),
        ("server-dies", "the fork server did not start"),
        ("cuda-touched", "touched CUDA"),
    ],
)
def test_an_unusable_server_leaves_specs_to_fresh_interpreters(tmp_path, monkeypatch, capsys, case, reason):
    name = f"preload_{uuid.uuid4().hex}"  # found by the server through the worker's PYTHONPATH
    (tmp_path / f"{name}.py").write_text(PRELOADED_CODE[case])
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(launch, "PRELOAD", ["benchmarks.preload", name])
    monkeypatch.setenv("PEFTPLAN_INJECT_FAULT", "held=hang")
    with Launcher() as launcher:
        worker, _ = _start(launcher, tiny_entry("held"), tmp_path)
        worker.kill()
    assert not worker.forked and reason in launcher.fallback_reason
    assert f"{FALLBACK}: {launcher.fallback_reason}" in capsys.readouterr().err


def test_a_sweep_goes_on_when_the_server_cannot_start(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(launch, "PRELOAD", ["no_such_module_anywhere"])
    out = tmp_path / "rows.jsonl"
    summary = run_sweep(
        [tiny_entry("one"), tiny_entry("two", rank=4)], out, device_name="cpu", progress=False
    )
    assert summary.counts == {"ok": 2} and [r["name"] for r in read_jsonl(out)] == ["one", "two"]
    assert FALLBACK in capsys.readouterr().err


RECORD_CUDA_CALLS = """
import json, sys
import torch

torch.backends.cuda.is_built = lambda: True  # import as on a CUDA build of torch
calls = []
for name in ("is_available", "device_count", "init", "_lazy_init", "current_device", "get_device_name",
             "get_device_capability", "get_device_properties", "mem_get_info", "is_bf16_supported",
             "synchronize"):
    real = getattr(torch.cuda, name)
    setattr(torch.cuda, name, lambda *a, _n=name, _f=real, **k: calls.append(_n) or _f(*a, **k))
import benchmarks.preload
seen = list(calls)
torch.cuda.is_available()  # the recorder records
print(json.dumps({"calls": seen, "after": calls[len(seen):], "peft": "peft" in sys.modules}))
"""


def test_the_servers_imports_leave_cuda_alone():
    """On a CUDA build a server that queried the GPUs would hand its forks a CUDA they cannot use."""
    done = subprocess.run(
        [sys.executable, "-c", RECORD_CUDA_CALLS], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found == {"calls": [], "after": ["is_available"], "peft": False}  # peft imports bitsandbytes


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
"""

SWEEP_IN_THIS_PROCESS = """
import json, sys
from peftplan.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "torch": "torch" in sys.modules}))
"""


def test_the_sweeps_process_never_imports_torch(tmp_path):
    suite, out = tmp_path / "two.toml", tmp_path / "rows.jsonl"
    suite.write_text(SUITE)
    args = ["bench", "train", "--suite", str(suite), "--out", str(out), "--no-progress"]
    done = subprocess.run(
        [sys.executable, "-c", SWEEP_IN_THIS_PROCESS, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == {"code": 0, "torch": False}, done.stderr
    assert FALLBACK not in done.stderr  # the specs were forked from the server
    assert [r["status"] for r in read_jsonl(out)] == ["ok", "ok"]


def _marked(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/environ").read_bytes() and int(pid) != os.getpid():
                found.append(int(pid))
        except OSError:  # gone, or not ours
            continue
    return found


def _leads_a_session(pid: int) -> bool:
    try:
        return os.getsid(pid) == pid
    except ProcessLookupError:
        return False


@pytest.mark.parametrize("fork_server", ["1", "0"])
def test_killing_the_sweep_alone_kills_its_worker(tmp_path, fork_server):
    suite = tmp_path / "two.toml"
    suite.write_text(SUITE)
    marker = uuid.uuid4().hex
    env = {
        **os.environ,
        "PEFTPLAN_TEST_MARK": marker,
        "PEFTPLAN_INJECT_FAULT": "first=hang",
        "PEFTPLAN_FORK_SERVER": fork_server,
    }
    args = ["bench", "train", "--suite", str(suite), "--out", str(tmp_path / "rows.jsonl"), "--no-progress"]
    sweep = subprocess.Popen(
        [sys.executable, "-m", "peftplan.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        workers = []  # the worker leads a session of its own; the sweep's other processes share its session
        while not workers and time.monotonic() < deadline and sweep.poll() is None:
            workers = [p for p in _marked(marker) if p != sweep.pid and _leads_a_session(p)]
            time.sleep(0.1)
        assert workers, "the worker never started"
        assert (_ppid(workers[0]) == sweep.pid) == (fork_server == "0")
        sweep.kill()  # the sweep's process only, not its group: nothing else is signalled
        sweep.wait()
        assert _gone(_marked(marker)), "a process of the sweep outlived it"
    finally:
        for pid in _marked(marker):  # leave nothing behind even when the test fails
            os.kill(pid, signal.SIGKILL)


def test_the_fresh_start_refuses_a_parent_that_is_gone():
    command = [sys.executable, "-c", "print('ran')"]
    ours = subprocess.run(
        [sys.executable, "-m", "benchmarks.launch", str(os.getpid()), *command],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ours.returncode == 0 and ours.stdout == "ran\n"
    gone = subprocess.run(
        [sys.executable, "-m", "benchmarks.launch", "1", *command],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert gone.returncode == 1 and gone.stdout == ""


def test_a_launcher_with_the_server_switched_off_says_it_does_not_fork(monkeypatch):
    monkeypatch.setenv("PEFTPLAN_FORK_SERVER", "0")
    with Launcher() as launcher:
        assert not launcher.forking and launcher.fallback_reason is None
