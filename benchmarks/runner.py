"""Runs a sweep: each spec in a process of its own with a time limit, one row appended per spec.

An OOM gives an `oom` row, a crash an `error` row, a time-out a `timeout` row, and the sweep goes on. Rows
already written stay written whatever happens later (benchmarks/store.py). A spec that already has an `ok`
row from the same code version on the same device is skipped unless `force`. How the processes are started
(forked from a server that has done the imports, or fresh interpreters) is benchmarks/launch.py's business.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from benchmarks.distributed import worker_env
from benchmarks.launch import Launcher
from benchmarks.provenance import code_version
from benchmarks.store import StoreError, append_row, finished_rows, row_key, stored_rows
from benchmarks.suites import Entry
from benchmarks.worker import make_row
from core.errors import InputError
from core.paths import REPO_ROOT
from core.rows import validate_row

STDERR_TAIL_CHARS = 1500


@dataclass
class SweepSummary:
    counts: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    collected: int = 0  # finished results of a killed sweep, appended now
    stopped: str | None = None  # why the sweep stopped early (the rows so far are written)

    def add(self, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1


def request_of(entry: Entry) -> dict:
    return {
        "kind": entry.kind,
        "name": entry.name,
        "suite": entry.suite,
        "spec": entry.spec.to_dict(),
        "spec_hash": entry.spec_hash,
    }


def _failure_row(entry: Entry, status: str, error: str) -> dict:
    device = {"device_name": None, "driver": None, "cuda": None}
    return make_row(request_of(entry), status, {}, error, device)


def _tail(path: Path) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-STDERR_TAIL_CHARS:].strip()


WORKDIR_PREFIX = "peftplan-"
SWEEP_JSON = "sweep.json"  # in each spec's folder: the sweep's pid and output file, for collect_leftovers


def new_workdir(out: Path | None = None) -> Path:
    """A folder for one spec's request, result and log; it names the sweep's output file so that a result
    left by a killed sweep can be collected when the sweep is resumed."""
    tmp = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
    if out is not None:
        (tmp / SWEEP_JSON).write_text(json.dumps({"out": str(Path(out).resolve()), "pid": os.getpid()}))
    return tmp


def run_isolated(entry: Entry, launcher: Launcher | None = None, workdir: Path | None = None) -> dict:
    """Run one entry in its own process; always returns a row. A sweep passes its `launcher` and a
    `workdir` it removes once the row is stored; without one, a temporary folder is used and removed."""
    if launcher is None:
        with Launcher() as own:
            return run_isolated(entry, own, workdir)
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix=WORKDIR_PREFIX) as tmp:
            return run_isolated(entry, launcher, Path(tmp))
    request, result, log = workdir / "request.json", workdir / "result.json", workdir / "stderr.log"
    request.write_text(json.dumps(request_of(entry)))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env = worker_env(entry, env)  # several GPUs: NVLink multicast off
    worker = launcher.start(entry, request, result, log, env)  # torchrun when num_gpus > 1
    try:
        code = worker.wait(entry.timeout_s)
    except BaseException:  # interrupted: leave no worker behind
        worker.kill()
        raise
    if code is None:
        worker.kill()  # the worker and anything it started
        return _failure_row(entry, "timeout", f"no result within the {entry.timeout_s:g} s limit")
    if result.exists():
        return json.loads(result.read_text())
    if code < 0:
        name = signal.Signals(-code).name
        what = f"worker killed by {name}" + (" (out of host memory?)" if name == "SIGKILL" else "")
    else:
        what = f"worker exited with code {code} and no result"
    return _failure_row(entry, "error", f"{what}; stderr tail: {_tail(log)}")


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leftover(folder: Path, out: Path) -> tuple[str, dict | None]:
    """What to do with a spec's folder: ("collect", row or None) when a dead sweep left it for `out`,
    ("remove", None) when a dead sweep left it and nobody can use it (no result, or its output folder is
    gone), ("keep", None) otherwise (a live sweep's, another output's, or an older runner's)."""
    try:
        info = json.loads((folder / SWEEP_JSON).read_text()[:10_000])
        if not isinstance(info, dict) or _alive(info.get("pid")):
            return "keep", None
    except (OSError, ValueError, RecursionError):
        return "keep", None
    try:
        row = validate_row(json.loads((folder / "result.json").read_text()), file=str(folder))
    except (OSError, ValueError, RecursionError):  # no result (killed while running), or a broken one
        row = None
    if info.get("out") == str(out.resolve()):
        return "collect", row
    return (
        ("remove", None) if row is None or not Path(str(info.get("out"))).parent.is_dir() else ("keep", None)
    )


def collect_leftovers(out: Path) -> int:
    """Append the finished results that killed sweeps left for `out` (once each) and remove their folders;
    remove the folders of dead sweeps that hold nothing anyone can collect."""
    found = []
    for folder in sorted(Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*")):
        action, row = _leftover(folder, out) if folder.is_dir() else ("keep", None)
        if action == "remove":
            shutil.rmtree(folder, ignore_errors=True)
        elif action == "collect":
            found.append((folder, row))
    if not found:
        return 0
    have = {row_key(r) for r in stored_rows(out)}
    appended = 0
    for folder, row in found:
        if row is not None and row_key(row) not in have:
            append_row(out, row)
            have.add(row_key(row))
            appended += 1
        shutil.rmtree(folder, ignore_errors=True)
    return appended


def _status_line(entry: Entry, row: dict) -> str:
    m = row.get("metrics", {})
    if row["status"] != "ok":
        return f"{row['status']:7s} {entry.name}: {(row.get('error') or '')[:160]}"
    figures = []
    for key, fmt in (
        ("tokens_per_s", "{:,.0f} tok/s"),
        ("mfu", "MFU {:.1%}"),
        ("peak_allocated_gib", "{:.1f} GiB"),
        ("ms_per_token", "{:.2f} ms/tok"),
        ("prefill_tokens_per_s", "{:,.0f} prefill tok/s"),
    ):
        if m.get(key) is not None:
            figures.append(fmt.format(m[key]))
    return f"ok      {entry.name}: " + ", ".join(figures)


def run_sweep(
    entries: list[Entry],
    out: Path,
    *,
    device_name: str,
    force: bool = False,
    progress: bool = True,
    device_shared: Callable[[], bool] = lambda: False,
) -> SweepSummary:
    """Run every entry not already finished on this device; append each row to `out` as soon as it exists.
    A row that cannot be stored (a full disk) stops the sweep: the rows so far stay, and the unstored
    result stays in its folder, which the next run of the sweep collects."""
    summary = SweepSummary(collected=collect_leftovers(out))
    done = set() if force else finished_rows(out, code_version(), device_name)
    bar = tqdm(entries, desc="sweep", unit="spec", disable=not progress, file=sys.stderr)
    with Launcher() as launcher:  # a fork server, at the first single-process spec, until the end
        for entry in bar:
            bar.set_postfix_str(entry.name)
            if entry.spec_hash in done:
                summary.skipped += 1
                tqdm.write(f"skip    {entry.name}: an ok row exists (use --force to redo)", file=sys.stderr)
                continue
            shared = device_shared()
            row = _run_and_store(entry, launcher, out, shared)
            if row is None:
                summary.stopped = f"cannot store the row of {entry.name} in {out}"
                break
            summary.add(row["status"])
            tqdm.write(_status_line(entry, row), file=sys.stderr)
    return summary


def _checked(entry: Entry, row: object) -> dict:
    """The worker's row if it keeps the row contract (finite, plausible figures); else an `error` row that
    says why, so that no reader ever has to skip it."""
    try:
        return validate_row(row, file=f"result of {entry.name}")
    except InputError as exc:
        return _failure_row(entry, "error", f"the worker's row was refused: {exc}"[:2000])


def _run_and_store(entry: Entry, launcher: Launcher, out: Path, shared: bool) -> dict | None:
    """Run one entry and append its row; None if the row could not be stored (its folder is then kept)."""
    workdir = new_workdir(out)
    keep = False
    try:
        row = _checked(entry, run_isolated(entry, launcher, workdir))
        row["provenance"]["device_shared"] = shared
        try:
            append_row(out, row)
        except StoreError as exc:
            keep = True
            (workdir / "result.json").write_text(json.dumps(row, allow_nan=False))
            tqdm.write(
                f"peftplan: error: {exc}; the result is kept in {workdir} for the next run", file=sys.stderr
            )
            return None
        return row
    except BaseException:
        keep = (workdir / "result.json").exists()  # a finished result: the next run collects it
        raise
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
