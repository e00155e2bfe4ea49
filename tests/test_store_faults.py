"""Faults of the result store and the sweep: zero rows lost or torn.

- a short write (the disk fills mid-row) is rolled back, and the next row is whole;
- a full disk (a 4 KiB tmpfs where this runs as root, else a write that fails with ENOSPC) stops the sweep
  cleanly with the rows it has, and keeps the unstored result for the next run;
- a fragment left by an older writer never glues onto the next row;
- concurrent appends from several processes interleave whole rows only;
- a sweep killed (SIGKILL) between a spec's result and its append: the resumed sweep appends that result
  once and does not run the spec again;
- a second sweep on the same device or output refuses (or waits, or measures beside it and says so).
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import benchmarks.runner as runner
import benchmarks.store as store
from benchmarks.suites import make_entry
from core.rows import read_rows
from peftplan.cli import main

REPO = Path(__file__).resolve().parent.parent
GOOD = json.loads((REPO / "data/results/h200-standard-train.jsonl").read_text().splitlines()[0])


def a_row(name: str = "r") -> dict:
    return {**json.loads(json.dumps(GOOD)), "name": name}


def lines_of(path: Path) -> list[dict]:
    """Every non-blank line parsed; a torn line fails the test here."""
    return [json.loads(x) for x in path.read_bytes().split(b"\n") if x.strip()]


def test_short_write_is_rolled_back_and_the_next_row_is_whole(tmp_path, monkeypatch):
    out, real, calls = tmp_path / "r.jsonl", os.write, []
    store.append_row(out, a_row("first"))

    def half_then_full(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real(fd, bytes(data[: len(data) // 2]))
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(store.os, "write", half_then_full)
    with pytest.raises(store.StoreError, match="No space left"):
        store.append_row(out, a_row("lost"))
    store.append_row(out, a_row("third"))
    assert [r["name"] for r in lines_of(out)] == ["first", "third"]


def test_a_fragment_is_never_glued_onto_the_next_row(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    out.write_bytes(json.dumps(a_row("first")).encode() + b"\n" + json.dumps(a_row("torn")).encode()[:100])
    store.append_row(out, a_row("next"))
    rows = read_rows(out)
    assert [r["name"] for r in rows] == ["first", "next"]
    assert [p.line for p in rows.problems] == [2]


def _tiny_tmpfs(path: Path) -> bool:
    path.mkdir()
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


def _entries(n: int) -> list:
    values = {"model": "tiny-llama", "method": "lora", "seq_len": 32}
    return [
        make_entry("train", {**values, "name": f"e{i}", "seed": i}, where="t", suite=None, device="cpu")
        for i in range(n)
    ]


def _fake_ok(entry, launcher=None, workdir=None) -> dict:
    """A row as the worker would write it (test data: the runner's storing is under test, not the figures)."""
    row = a_row(entry.name)
    row.update(spec=entry.spec.to_dict(), spec_hash=entry.spec_hash, code_version=runner.code_version())
    row["provenance"] = {
        **row["provenance"],
        "device_name": "cpu",
        "timestamp": f"2026-11-29T00:00:0{entry.spec.seed}",
    }
    if workdir is not None:
        (workdir / "result.json").write_text(json.dumps(row))
    return row


def test_full_disk_stops_the_sweep_with_the_rows_it_has(tmp_path, monkeypatch, capsys):
    mount = tmp_path / "tiny"
    mounted = _tiny_tmpfs(mount)
    out = mount / "r.jsonl"
    real_write = os.write
    if not mounted:  # no tmpfs here: the disk "fills" after two rows

        def filling(fd, data):
            if os.fstat(fd).st_size > 2 * len(json.dumps(GOOD)):
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_write(fd, data)

        monkeypatch.setattr(store.os, "write", filling)
    monkeypatch.setattr(runner, "run_isolated", _fake_ok)
    monkeypatch.setattr(runner, "WORKDIR_PREFIX", f"peftplan-test-{os.getpid()}-")
    try:
        summary = runner.run_sweep(_entries(6), out, device_name="cpu", progress=False)
        written = lines_of(out)
        assert summary.stopped and 0 < len(written) < 6 and sum(summary.counts.values()) == len(written)
        kept = list(Path(runner.tempfile.gettempdir()).glob(f"{runner.WORKDIR_PREFIX}*"))
        assert len(kept) == 1 and (kept[0] / "result.json").exists()  # the unstored result, for the next run
        assert "cannot append" in capsys.readouterr().err
    finally:
        for folder in Path(runner.tempfile.gettempdir()).glob(f"{runner.WORKDIR_PREFIX}*"):
            subprocess.run(["rm", "-rf", str(folder)])
        if mounted:
            subprocess.run(["umount", str(mount)])


def _appender(out: str, start: int, n: int) -> None:
    for i in range(start, start + n):
        store.append_row(out, a_row(f"row-{i}"))


def test_concurrent_appends_keep_every_row_whole(tmp_path):
    out, n, procs = tmp_path / "r.jsonl", 150, []
    for k in range(3):
        p = multiprocessing.get_context("fork").Process(target=_appender, args=(str(out), k * n, n))
        p.start()
        procs.append(p)
    for p in procs:
        p.join()
    assert sorted(r["name"] for r in lines_of(out)) == sorted(f"row-{i}" for i in range(3 * n))


KILLED_SWEEP = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    import benchmarks.runner as runner
    from test_store_faults import _entries, _fake_ok
    runner.run_isolated = _fake_ok
    runner.append_row = lambda out, row: os.kill(os.getpid(), signal.SIGKILL)  # dies before the append
    runner.run_sweep(_entries(1), runner.Path({out!r}), device_name="cpu", progress=False)
    """
)


def test_sigkill_between_result_and_append_loses_no_row(tmp_path, monkeypatch):
    out = tmp_path / "r.jsonl"
    script = KILLED_SWEEP.format(tests=str(Path(__file__).parent), out=str(out))
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == -9, done.stderr
    assert not out.exists()
    ran = []
    monkeypatch.setattr(runner, "run_isolated", lambda *a, **k: ran.append(a[0].name) or _fake_ok(a[0]))
    summary = runner.run_sweep(_entries(1), out, device_name="cpu", progress=False)
    assert summary.collected == 1 and summary.skipped == 1 and not ran  # collected, not run again
    assert len(lines_of(out)) == 1
    summary = runner.run_sweep(_entries(1), out, device_name="cpu", progress=False)  # nothing left to collect
    assert summary.collected == 0 and len(lines_of(out)) == 1


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from benchmarks.sweep_locks import sweep_locks
    with sweep_locks(Path(sys.argv[1]), "cpu"):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def _hold(out: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out), str(seconds)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_sweep_on_a_held_device_refuses_or_waits(tmp_path, monkeypatch, capsys):
    held_out, out = tmp_path / "other.jsonl", tmp_path / "r.jsonl"
    argv = [
        "bench",
        "train",
        "--device",
        "cpu",
        "--model",
        "tiny-llama",
        "--method",
        "lora",
        "--seq-len",
        "32",
        "--out",
        str(out),
        "--no-progress",
    ]
    monkeypatch.setattr(runner, "run_isolated", _fake_ok)
    holder = _hold(held_out, 30)
    try:
        assert main(argv) == 2
        assert "device cpu is in use by sweep pid" in capsys.readouterr().err and not out.exists()
        assert main(argv + ["--share-device"]) == 0  # measured beside it: the row says so
        assert [r["provenance"]["device_shared"] for r in lines_of(out)] == [True]
    finally:
        holder.kill()
        holder.wait()
    holder = _hold(held_out, 1)
    assert main(argv + ["--wait", "--force"]) == 0
    holder.wait()
    assert "waiting for sweep pid" in capsys.readouterr().err
    assert [r["provenance"]["device_shared"] for r in lines_of(out)] == [True, False]


def test_results_check_and_repair(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    good = json.dumps(a_row("a")).encode()
    original = good + b"\n" + good[:50] + b"\n\xff\xfe\n" + good + b"\n"
    out.write_bytes(original)
    assert main(["results", "check", str(out)]) == 1
    listed = capsys.readouterr().out
    assert f"{out}, line 2" in listed and f"{out}, line 3" in listed and "not UTF-8" in listed
    assert main(["results", "repair", str(out)]) == 0
    assert out.read_bytes() == good + b"\n" + good + b"\n"
    assert (tmp_path / "r.jsonl.bak").read_bytes() == original
    assert (tmp_path / "r.jsonl.bad-lines.txt").read_bytes() == good[:50] + b"\n\xff\xfe\n"
    assert main(["results", "check", str(out)]) == 0


@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_devices_are_not_results_files(device, capsys):
    base = [
        "bench",
        "train",
        "--device",
        "cpu",
        "--model",
        "tiny-llama",
        "--method",
        "lora",
        "--seq-len",
        "32",
        "--out",
        device,
    ]
    assert main(base) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert main(["results", "show", device]) == 2
    with pytest.raises(store.StoreError):
        store.append_row(device, a_row())


def test_an_implausible_result_is_stored_as_an_error_row(tmp_path, monkeypatch):
    def implausible(entry, launcher=None, workdir=None):
        row = _fake_ok(entry)
        row["metrics"]["tokens_per_s"] = 1e300
        return row

    monkeypatch.setattr(runner, "run_isolated", implausible)
    out = tmp_path / "r.jsonl"
    summary = runner.run_sweep(_entries(1), out, device_name="cpu", progress=False)
    (row,) = lines_of(out)
    assert summary.counts == {"error": 1} and row["status"] == "error"
    assert "metrics.tokens_per_s" in row["error"] and "implausible" in row["error"]


def test_folders_of_dead_sweeps_that_hold_nothing_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "WORKDIR_PREFIX", f"peftplan-test-{os.getpid()}-")
    dead = subprocess.Popen(["true"])
    dead.wait()
    empty = runner.new_workdir(tmp_path / "gone" / "r.jsonl")  # killed while running: no result
    finished = runner.new_workdir(tmp_path / "r.jsonl")  # killed after its result: kept for its own output
    alive = runner.new_workdir(tmp_path / "other.jsonl")  # a live sweep's
    for folder in (empty, finished):
        info = json.loads((folder / runner.SWEEP_JSON).read_text())
        (folder / runner.SWEEP_JSON).write_text(json.dumps({**info, "pid": dead.pid}))
    _fake_ok(_entries(1)[0], workdir=finished)
    runner.collect_leftovers(tmp_path / "unrelated.jsonl")
    assert not empty.exists() and finished.exists() and alive.exists()
    assert runner.collect_leftovers(tmp_path / "r.jsonl") == 1 and not finished.exists()
    subprocess.run(["rm", "-rf", str(alive)])
