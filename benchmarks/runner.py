"""Runs a sweep: each spec in a process of its own with a time limit, one row appended per spec.

An OOM gives an `oom` row, a crash an `error` row, a time-out a `timeout` row, and the sweep goes on. Rows
already written stay written whatever happens later (benchmarks/store.py). A spec that already has an `ok`
row from the same code version on the same device is skipped unless `force`. How the processes are started
(forked from a server that has done the imports, or fresh interpreters) is benchmarks/launch.py's business.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from benchmarks.distributed import worker_env
from benchmarks.launch import Launcher
from benchmarks.provenance import code_version
from benchmarks.store import append_row, finished_rows
from benchmarks.suites import Entry
from benchmarks.worker import make_row
from core.paths import REPO_ROOT

STDERR_TAIL_CHARS = 1500


@dataclass
class SweepSummary:
    counts: dict[str, int] = field(default_factory=dict)
    skipped: int = 0

    def add(self, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1


def request_of(entry: Entry) -> dict:
    return {"kind": entry.kind, "name": entry.name, "suite": entry.suite, "spec": entry.spec.to_dict(),
            "spec_hash": entry.spec_hash}  # fmt: skip


def _failure_row(entry: Entry, status: str, error: str) -> dict:
    device = {"device_name": None, "driver": None, "cuda": None}
    return make_row(request_of(entry), status, {}, error, device)


def _tail(path: Path) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-STDERR_TAIL_CHARS:].strip()


def run_isolated(entry: Entry, launcher: Launcher | None = None) -> dict:
    """Run one entry in its own process; always returns a row. A sweep passes its `launcher`."""
    if launcher is None:
        with Launcher() as own:
            return run_isolated(entry, own)
    with tempfile.TemporaryDirectory(prefix="peftplan-") as tmp:
        request, result, log = Path(tmp, "request.json"), Path(tmp, "result.json"), Path(tmp, "stderr.log")
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


def _status_line(entry: Entry, row: dict) -> str:
    m = row.get("metrics", {})
    if row["status"] != "ok":
        return f"{row['status']:7s} {entry.name}: {(row.get('error') or '')[:160]}"
    figures = []
    for key, fmt in (("tokens_per_s", "{:,.0f} tok/s"), ("mfu", "MFU {:.1%}"), ("peak_allocated_gib", "{:.1f} GiB"),
                     ("ms_per_token", "{:.2f} ms/tok"), ("prefill_tokens_per_s", "{:,.0f} prefill tok/s")):  # fmt: skip
        if m.get(key) is not None:
            figures.append(fmt.format(m[key]))
    return f"ok      {entry.name}: " + ", ".join(figures)


def run_sweep(entries: list[Entry], out: Path, *, device_name: str, force: bool = False,
              progress: bool = True) -> SweepSummary:  # fmt: skip
    """Run every entry not already finished on this device; append each row to `out` as soon as it exists."""
    done = set() if force else finished_rows(out, code_version(), device_name)
    summary = SweepSummary()
    bar = tqdm(entries, desc="sweep", unit="spec", disable=not progress, file=sys.stderr)
    with Launcher() as launcher:  # a fork server, at the first single-process spec, until the end
        for entry in bar:
            bar.set_postfix_str(entry.name)
            if entry.spec_hash in done:
                summary.skipped += 1
                tqdm.write(f"skip    {entry.name}: an ok row exists (use --force to redo)", file=sys.stderr)
                continue
            row = run_isolated(entry, launcher)
            append_row(out, row)
            summary.add(row["status"])
            tqdm.write(_status_line(entry, row), file=sys.stderr)
    return summary
