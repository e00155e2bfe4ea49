"""How the runner starts the process of one spec: forked from a server that has done the heavy imports, or
as a fresh interpreter.

Every spec runs in a process of its own: memory figures are clean, and an OOM, a crash or a hang ends that
process only. But a fresh interpreter pays seconds of imports (torch, transformers, peft) before it does
anything, which is most of the time of a short spec. So a single-process spec is forked from a server
(multiprocessing's "forkserver") that imported them once, at the sweep's first spec (benchmarks/preload.py),
and shut down at the sweep's end; the fork is a new process all the same. A spec over several processes
(torchrun, benchmarks/distributed.py) starts a fresh interpreter. CUDA memory figures do not depend on how
the process started; the CPU's (the process's peak resident set) leave out the library code pages that only
the server's imports touched (tens of MB with torch and transformers), which a fresh interpreter counts.

CUDA is initialised in the worker only: a process forked from one that has touched CUDA cannot use it. The
server's imports leave CUDA alone (benchmarks/preload.py), and before any worker is forked from it a probe
forked the same way checks that they did: torch did not mark forks as bad, the preloaded modules are there and
work, and on a CUDA build the probe itself runs a kernel on the GPU (a fork of a server that initialised the
driver cannot), so that a library merely mapped by an import does not send every spec to a fresh interpreter.
`peftplan bench` has torch count GPUs through NVML rather than the driver (PYTORCH_NVML_BASED_CUDA_CHECK=1
unless set otherwise), as every H200 sweep that forked its workers did. If the probe fails, or the server does not start,
every spec of the sweep starts a fresh interpreter, as it would without a server.

Each worker is put in a session of its own (a time-out kills it and whatever it started, os.killpg) and dies
with the sweep (PR_SET_PDEATHSIG: the kernel kills it when its parent dies). A forked worker's parent is the
server, which exits when the sweep does; a fresh interpreter's parent is the sweep, through
`python -m benchmarks.launch SWEEP_PID COMMAND...`, which sets that up and then execs COMMAND (torchrun too).

The sweep's own process never imports torch: the server is a process of its own. PEFTPLAN_FORK_SERVER=0
turns the server off (every spec then starts a fresh interpreter, as torchrun specs always do).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import types
from contextlib import contextmanager
from multiprocessing import forkserver
from pathlib import Path
from typing import Protocol

from benchmarks.distributed import die_with_parent, num_processes, worker_command
from core.paths import REPO_ROOT

PRELOAD = ["benchmarks.preload"]
FORK_SERVER_SWITCH = "PEFTPLAN_FORK_SERVER"  # "0": every spec starts a fresh interpreter
SERVER_START_TIMEOUT_S = 300  # the server's imports, with cold disk caches on a busy host
PROBE_TIMEOUT_S = 60
# The environment a forked worker sees is the sweep's at the time of its spec (applied in the fork). The
# variables below are read after the imports and may differ from the server's; the others may be read by a
# library as it is imported (OMP_NUM_THREADS, TORCH_*, HF_*, ...): a spec whose environment differs from the
# server's in one of those starts a fresh interpreter instead.
READ_LATE = {"PYTHONPATH", "PYTHONUNBUFFERED", "TOKENIZERS_PARALLELISM", "CUDA_VISIBLE_DEVICES"}
READ_LATE_PREFIXES = ("PEFTPLAN_",)
PROBE_NOT_PRELOADED, PROBE_CUDA_TOUCHED = 3, 4
PROBE_FAILURES = {
    PROBE_NOT_PRELOADED: "an import failed in the fork server (benchmarks/preload.py)",
    PROBE_CUDA_TOUCHED: "the fork server's imports touched CUDA, which a forked worker could not then use",
}


class Worker(Protocol):
    """A started worker process."""

    pid: int | None
    forked: bool  # from the fork server (else a fresh interpreter)

    def wait(self, timeout_s: float | None) -> int | None:
        """Its exit status as subprocess gives it (-N: killed by signal N), or None if still running."""

    def kill(self) -> None:
        """Kill it and every process in its group, and wait for it."""


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:  # not yet the leader of its own group (or already gone)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class _Fresh:
    forked = False

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.pid = proc, proc.pid

    def wait(self, timeout_s: float | None) -> int | None:
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        _kill_group(self.proc.pid)
        self.proc.wait()


class _Forked:
    forked = True

    def __init__(self, process):
        self.process, self.pid = process, process.pid

    def wait(self, timeout_s: float | None) -> int | None:
        self.process.join(timeout_s)
        return self.process.exitcode  # the server waits for it and passes its status on

    def kill(self) -> None:
        _kill_group(self.process.pid)
        self.process.join()


def start_fresh(command: list[str], log: Path, env: dict[str, str]) -> Worker:
    """`command` in a new session, dying with this process, stdout and stderr to `log`."""
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.launch", str(os.getpid()), *command],
            stdout=err,
            stderr=err,
            env=env,
            cwd=REPO_ROOT,
            start_new_session=True,
        )
    return _Fresh(proc)


class Launcher:
    """Starts the workers of one sweep. Use as a context manager: the fork server stops at the end."""

    def __init__(self, fork_server: bool = True):
        self._wanted = fork_server and os.environ.get(FORK_SERVER_SWITCH) != "0"
        self._context = None  # multiprocessing's forkserver context, once the probe has passed
        self._server_env: dict[str, str] = {}
        self._server_pid: int | None = None
        self.fallback_reason: str | None = None  # why single-process specs start fresh interpreters

    def __enter__(self) -> Launcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self, entry, request: Path, result: Path, log: Path, env: dict[str, str]) -> Worker:
        """Start the worker of `entry` in `env`: it reads `request`, writes `result`, logs to `log`."""
        if num_processes(entry) == 1 and self._server_ready(env) and _imported_alike(env, self._server_env):
            try:
                return self._fork(entry, request, result, log, env)
            except Exception as exc:  # noqa: BLE001 — the server went away: the sweep goes on without it
                self._give_up(f"the fork server failed ({type(exc).__name__}: {exc})")
        return start_fresh(worker_command(entry, request, result), log, env)

    @property
    def forking(self) -> bool:
        """Whether single-process specs are forked from the server now (False when it is off or gave up)."""
        return self._context is not None

    def close(self) -> None:
        if self._context is not None:
            self._context = None
            _stop_server()

    def _server_ready(self, env: dict[str, str]) -> bool:
        if self._wanted:
            self._wanted = False  # one try per sweep
            reason = _unavailable()
            if reason is None:
                self._server_env = dict(env)  # the server imports in the first worker's environment
                try:
                    self._context, reason = _start_server(env)
                except Exception as exc:  # noqa: BLE001 — never lose the sweep to the server
                    _stop_server()
                    reason = f"the fork server did not start ({type(exc).__name__}: {exc})"
                except BaseException:  # interrupted while the server imports: stop it
                    _stop_server()
                    raise
                self._server_pid = forkserver._forkserver._forkserver_pid if self._context else None
            if reason:
                self._give_up(reason)
        return self._context is not None

    def _give_up(self, reason: str) -> None:
        self.close()
        self.fallback_reason = reason
        print(f"peftplan: each spec imports torch in its own process: {reason}", file=sys.stderr)

    def _fork(self, entry, request: Path, result: Path, log: Path, env: dict[str, str]) -> Worker:
        forkserver.ensure_running()  # starts a new server if the probed one died: not one to fork from
        if forkserver._forkserver._forkserver_pid != self._server_pid:
            raise RuntimeError("the server exited")
        process = self._context.Process(
            target=_forked_worker,
            name=f"worker {entry.name}",
            args=([str(request), str(result)], str(log), env, str(REPO_ROOT), self._server_pid),
        )
        with _main_left_out():
            process.start()
        return _Forked(process)


@contextmanager
def _environment(env: dict[str, str]):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _main_left_out():
    """multiprocessing re-runs the parent's main script in each child it starts, in case the target was
    defined there (a script without an `if __name__ == "__main__"` guard would run the sweep again). The
    workers' code is all in modules: show it a main module with no script while it prepares a child."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _imported_alike(env: dict[str, str], server_env: dict[str, str]) -> bool:
    """Whether a worker forked from a server that imported with `server_env` sees what it would with `env`."""
    keys = (env.keys() | server_env.keys()) - READ_LATE
    return all(env.get(k) == server_env.get(k) for k in keys if not k.startswith(READ_LATE_PREFIXES))


def _unavailable() -> str | None:
    """Why no fork server can be started here, or None."""
    if not sys.platform.startswith("linux"):
        return "no fork server off Linux"
    server = getattr(forkserver, "_forkserver", None)
    if not all(hasattr(server, a) for a in ("_forkserver_pid", "_forkserver_alive_fd", "_stop")):
        return "this Python's multiprocessing fork server is not the one this code knows"
    if server._forkserver_pid is not None:
        return "this process runs a fork server of its own already"
    return None


def _start_server(env: dict[str, str]):
    """(multiprocessing context, None) once a probe forked from the server passed; else (None, why not)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    with _environment(env):  # the server is a fresh interpreter that inherits this process's environment
        forkserver.ensure_running()
    probe = context.Process(target=_probe, args=(list(PRELOAD),), name="fork server probe")
    failure: list[BaseException] = []

    def start() -> None:  # returns once the server has done its imports and forked the probe
        try:
            with _main_left_out():
                probe.start()
        except BaseException as exc:  # noqa: BLE001 — reported below
            failure.append(exc)

    starter = threading.Thread(target=start, daemon=True)
    starter.start()
    starter.join(SERVER_START_TIMEOUT_S)
    if starter.is_alive() or failure or probe.pid is None:
        _stop_server()  # a hung server: killing it ends the wait above
        starter.join(5)
        why = f"{type(failure[0]).__name__}: {failure[0]}" if failure else f"{SERVER_START_TIMEOUT_S} s"
        return None, f"the fork server did not start ({why})"
    probe.join(PROBE_TIMEOUT_S)
    if probe.exitcode != 0:
        if probe.exitcode is None:
            _kill_group(probe.pid)
        _stop_server()
        why = PROBE_FAILURES.get(probe.exitcode, f"its probe exited with status {probe.exitcode}")
        return None, why if probe.exitcode is not None else f"its probe hung ({PROBE_TIMEOUT_S} s)"
    return context, None


def _stop_server() -> None:
    server = forkserver._forkserver
    if server._forkserver_pid is None:
        return
    try:  # now, whatever it is doing (importing, or the parent of a worker that must not outlive the sweep)
        os.kill(server._forkserver_pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        server._stop()  # reaps it and removes its socket
    except OSError:  # the socket file is gone already: nothing left to clean
        pass


def _leave_server() -> None:
    """Close this fork's copy of the server's "alive" pipe. The server exits once every holder has closed
    it: the sweep (when it ends, however it ends) and every fork until it lets go here."""
    server = forkserver._forkserver
    if server._forkserver_alive_fd is not None:
        os.close(server._forkserver_alive_fd)
        server._forkserver_alive_fd = None


def _cuda_driver_loaded() -> bool:
    """libcuda is loaded at the first CUDA call (torch loads it lazily); a fork inherits its mappings."""
    try:
        return "libcuda.so" in Path("/proc/self/maps").read_text()
    except OSError:
        return False


def _cuda_usable_in_fork(torch) -> bool:
    """Whether this fork of the server can run CUDA work, tried rather than inferred: the driver library being
    mapped (an import that looked the library up, or NVML) does not by itself make a fork unusable; a driver
    the server initialised does, and then the kernel below fails. A fork with no GPU to find has nothing to use."""
    expected = _cuda_driver_loaded() or getattr(torch.cuda, "_device_count_nvml", lambda: 0)() > 0
    try:
        if not torch.cuda.is_available():
            return not expected
        return torch.ones(4, device="cuda").add_(1).sum().item() == 8.0
    except RuntimeError:  # the driver's initialisation failed, or torch refused to re-initialise CUDA
        return False


def _probe(preloaded: list[str]) -> None:
    """Runs in a fork of the server before any worker does: exits 0 if a worker forked from it can run."""
    _leave_server()
    if not all(name in sys.modules for name in preloaded):  # the server ignores ImportErrors of these
        sys.exit(PROBE_NOT_PRELOADED)
    import torch

    if torch.cuda._is_in_bad_fork():
        sys.exit(PROBE_CUDA_TOUCHED)
    if torch.backends.cuda.is_built() and not _cuda_usable_in_fork(torch):
        sys.exit(PROBE_CUDA_TOUCHED)
    # Big enough for several threads: threads a server's imports had started would not exist in the fork
    # (GNU OpenMP is not fork-safe), and a hang here is caught by the probe's time limit.
    torch.ones(1 << 20).add_(1).sum()
    sys.exit(0)


def _redirect_output(log: str) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)  # file descriptors, not sys.stderr: logging handlers made at import hold the old objects
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout.reconfigure(line_buffering=True)  # as PYTHONUNBUFFERED: lines reach the log before a crash


def _forked_worker(argv: list[str], log: str, env: dict[str, str], cwd: str, server_pid: int) -> None:
    """A worker forked from the server: set up as a fresh `python -m benchmarks.worker` would be, then run."""
    die_with_parent(server_pid)  # the server dies with the sweep, so this worker does too
    os.setsid()
    _leave_server()
    _redirect_output(log)
    sys.stderr.write(getattr(sys.modules.get("benchmarks.preload"), "IMPORT_OUTPUT", ""))
    os.environ.clear()
    os.environ.update(env)  # the sweep's environment for this spec, not the server's
    os.chdir(cwd)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p not in sys.path]
    sys.path[:0] = paths
    sys.argv = [str(Path(cwd, "benchmarks", "worker.py")), *argv]
    from benchmarks.worker import main

    sys.exit(main(argv))


def exec_main(argv: list[str]) -> None:
    """`python -m benchmarks.launch PARENT_PID COMMAND...`: die with PARENT_PID, then become COMMAND."""
    die_with_parent(int(argv[0]))  # kept across exec
    os.execv(argv[1], argv[1:])


if __name__ == "__main__":
    exec_main(sys.argv[1:])
