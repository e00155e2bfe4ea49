"""Tries bad inputs and store faults as a hostile user would, and counts what happens.

    .venv/bin/python tests/hostile_inputs.py [--verbose]

Every bad command line, suite file, results file and catalog runs through `peftplan`'s main(argv) in this
process; a sweep that a bad input would have started is stopped before any benchmark runs (its start counts
as a silent acceptance). Outcomes per input: clean (exit 2 with a message, or a reader that skipped the bad
line and said which), traceback (an exception escaped main), silent (exit 0 and nothing said). The faults
(short write, full disk on a 4 KiB tmpfs when this runs as root, concurrent appends, SIGKILL between a
spec's result and its append) count rows lost or torn. Prints one JSON object last.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import benchmarks.cli as bench_cli  # noqa: E402
from core.paths import CATALOG_DIR  # noqa: E402
from peftplan.cli import main  # noqa: E402

GOOD_ROW = json.loads((REPO / "data/results/h200-standard-train.jsonl").read_text().splitlines()[0])
SPEC = ["bench", "train", "--device", "cpu", "--model", "tiny-llama", "--method", "lora", "--seq-len", "32"]
SUITE_OK = '[[train]]\nname = "a"\nmodel = "tiny-llama"\nmethod = "lora"\ndevice = "cpu"\nseq_len = 32\n'


class _SweepStarted(Exception):
    pass


def _stub_sweep(*args, **kwargs):
    raise _SweepStarted


def run(argv: list[str], must_work: bool = False) -> tuple[str, str]:
    """(outcome, stderr) of main(argv): clean | traceback | silent. An input that `must_work` (odd but
    valid) is clean when it exits 0."""
    out, err = io.StringIO(), io.StringIO()
    real = bench_cli.run_sweep
    bench_cli.run_sweep = _stub_sweep
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    except _SweepStarted:
        return "silent", "a sweep started"
    except BaseException as exc:  # noqa: BLE001 — what we count
        return "traceback", f"{type(exc).__name__}: {exc}"[:300]
    finally:
        bench_cli.run_sweep = real
    text = err.getvalue().strip()
    if must_work:
        return ("clean" if code == 0 else "silent"), text[-300:]
    if code != 0 and text:
        return "clean", text[-300:]
    if code != 0:
        return "silent", f"exit {code} and no message"
    if "skipped" in text and "line" in text:  # a reader that went on without the bad line, and said so
        return "clean", text[-300:]
    return "silent", (text or out.getvalue())[-200:]


def row(**changes) -> dict:
    r = json.loads(json.dumps(GOOD_ROW))
    for path, value in changes.items():
        target = r
        keys = path.split("__")
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value
    return r


def cli_cases(tmp: Path) -> dict[str, list[str]]:
    suite = tmp / "ok.toml"
    suite.write_text(SUITE_OK)
    return {
        "bench --lr nan": SPEC + ["--lr", "nan"],
        "bench --lr inf": SPEC + ["--lr", "inf"],
        "bench --dropout nan": SPEC + ["--dropout", "nan"],
        "bench --timeout-s huge": SPEC + ["--timeout-s", "10" * 20],
        "bench --rank huge": SPEC + ["--rank", "10" * 20],
        "bench --micro-batch huge": SPEC + ["--micro-batch", "10" * 10],
        "bench --out /dev/full": SPEC + ["--out", "/dev/full"],
        "bench --out /dev/null": SPEC + ["--out", "/dev/null"],
        "bench --out ''": SPEC + ["--out", ""],
        "bench --suite with --model": ["bench", "train", "--suite", str(suite), "--model", "tiny-qwen2"],
        "bench --suite with --rank": ["bench", "train", "--suite", str(suite), "--rank", "4"],
        "bench --only matching nothing": ["bench", "train", "--suite", str(suite), "--only", "zzz"],
        "bench --model with NUL": SPEC[:-4] + ["--model", "tiny\x00llama", "--method", "lora"],
        "results show ''": ["results", "show", ""],
        "results show /nonexistent": ["results", "show", "/nonexistent/x.jsonl"],
        "plan train --tokens 1e400": ["plan", "train", "--model", "llama-3.1-8b", "--tokens", "1e400"],
        "plan train --tokens nan": ["plan", "train", "--model", "llama-3.1-8b", "--tokens", "nan"],
        "plan memory --batch 1e300": ["plan", "memory", "--model", "llama-3.1-8b", "--batch", "1e300"],
        "plan memory --seq 1e300": ["plan", "memory", "--model", "llama-3.1-8b", "--seq", "1e300"],
        "plan capacity --jobs-per-month 1e300": [
            "plan",
            "capacity",
            "--model",
            "llama-3.1-8b",
            "--tokens",
            "100M",
            "--jobs-per-month",
            "1e300",
        ],
        "plan train --top -5": [
            "plan",
            "train",
            "--model",
            "llama-3.1-8b",
            "--tokens",
            "100M",
            "--top",
            "-5",
        ],
        "plan serve --top -5": ["plan", "serve", "--model", "llama-3.1-8b", "--top", "-5"],
        "plan accuracy --results /nonexistent": ["plan", "accuracy", "--results", "/nonexistent"],
        "plan train --results /nonexistent": [
            "plan",
            "train",
            "--model",
            "llama-3.1-8b",
            "--tokens",
            "100M",
            "--results",
            "/nonexistent",
        ],
        "plan memory --results /dev/full": [
            "plan",
            "memory",
            "--model",
            "llama-3.1-8b",
            "--results",
            "/dev/full",
        ],
    }


SUITES = {
    "timeout_s nan": SUITE_OK + "timeout_s = nan\n",
    "timeout_s inf": SUITE_OK + "timeout_s = inf\n",
    "timeout_s 1e300": SUITE_OK + "timeout_s = 1e300\n",
    "lr nan": SUITE_OK + "lr = nan\n",
    "lr inf": SUITE_OK + "lr = inf\n",
    "dropout nan": SUITE_OK + "dropout = nan\n",
    "rank huge": SUITE_OK + "rank = 9223372036854775807\n",
    "name with NUL": SUITE_OK.replace('"a"', '"a\\u0000b"'),
    "invalid UTF-8": None,
    "deep nesting": SUITE_OK + "x = " + "[" * 5000 + "]" * 5000 + "\n",
    "defaults is a list": "defaults = [1]\n" + SUITE_OK,
    "train is a table": '[train]\nname = "a"\n',
    "model is a list": SUITE_OK.replace('model = "tiny-llama"', 'model = ["tiny-llama"]'),
    "targets empty list": SUITE_OK + "targets = []\n",
}

RESULT_LINES = {
    "torn line": json.dumps(GOOD_ROW)[:200],
    "invalid UTF-8": b"\xff\xfe{}",
    "deep nesting": "[" * 100000 + "]" * 100000,
    "integer timestamp": row(provenance__timestamp=1700000000),
    "list device_name": row(provenance__device_name=["NVIDIA H200"]),
    "dict device_name": row(provenance__device_name={"a": 1}),
    "Infinity metric": json.dumps(GOOD_ROW).replace(
        '"tokens_per_s": 9116.333102170729', '"tokens_per_s": Infinity'
    ),
    "NaN metric": json.dumps(GOOD_ROW).replace('"tokens_per_s": 9116.333102170729', '"tokens_per_s": NaN'),
    "1e400 metric": json.dumps(GOOD_ROW).replace(
        '"tokens_per_s": 9116.333102170729', '"tokens_per_s": 1e400'
    ),
    "1e300 tokens/s": row(metrics__tokens_per_s=1e300),
    "negative tokens/s": row(metrics__tokens_per_s=-5.0),
    "negative peak memory": row(metrics__peak_allocated_gib=-1.0),
    "impossible date": row(provenance__timestamp="2026-02-31T00:00:00+00:00"),
    "spec rank a string": row(spec__rank="16"),
    "spec micro_batch 1e300": row(spec__micro_batch=1e300),
    "spec_hash a number": row(spec_hash=5),
    "NUL in device name": row(provenance__device_name="NVIDIA\x00H200"),
}


def catalog_cases() -> dict[str, tuple[str, object]]:
    """name -> (catalog file, function of its text that spoils it)."""
    price_line = "lambda,H200,us,on-demand,,1e-300,1,0,gpu_1x_h200,https://example.com,2026-11"
    return {
        "BOM in gpus.csv (must work)": ("gpus.csv", lambda t: "\ufeff" + t),
        "invalid UTF-8 in gpus.csv": ("gpus.csv", lambda t: t.encode() + b"\xff\xfe\n"),
        "impossible date": ("gpus.csv", lambda t: _spoil_cell(t, "as_of", "2026-02-31")),
        "NUL in a GPU name": ("gpus.csv", lambda t: t.replace("H200", "H2\x0000", 1)),
        "1e-300 $/h price": ("gpu_prices.csv", lambda t: t.rstrip("\n") + "\n" + price_line + "\n"),
        "header-only price file": ("gpu_prices.csv", lambda t: t.splitlines()[0] + "\n"),
        "rope_theta nan": ("models.csv", lambda t: t.replace(",10000,test", ",nan,test", 1)),
        "hidden_size 1e300": (
            "models.csv",
            lambda t: t.replace("tiny-llama,llama,64", "tiny-llama,llama,1e300", 1),
        ),
        "memory_gib inf": ("gpus.csv", lambda t: _spoil_cell(t, "memory_gib", "inf")),
        "bf16_tflops 1e300": ("gpus.csv", lambda t: _spoil_cell(t, "bf16_tflops", "1e300")),
    }


def _spoil_cell(text: str, column: str, value: str) -> str:
    import csv

    rows = list(csv.reader(io.StringIO(text)))
    rows[1][rows[0].index(column)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def input_outcomes(tmp: Path) -> dict[str, tuple[str, str]]:
    results: dict[str, tuple[str, str]] = {}
    for name, argv in cli_cases(tmp).items():
        results[f"cli: {name}"] = run(argv)
    for name, text in SUITES.items():
        path = tmp / f"suite-{len(results)}.toml"
        path.write_bytes(SUITE_OK.encode() + b"x = '\xff'\n" if text is None else text.encode())
        results[f"suite: {name}"] = run(
            ["bench", "train", "--suite", str(path), "--out", str(tmp / "o.jsonl")]
        )
    for name, line in RESULT_LINES.items():
        folder = tmp / f"results-{len(results)}"
        folder.mkdir()
        data = (
            line
            if isinstance(line, bytes)
            else (line if isinstance(line, str) else json.dumps(line)).encode()
        )
        (folder / "r.jsonl").write_bytes(json.dumps(GOOD_ROW).encode() + b"\n" + data + b"\n")
        results[f"results show: {name}"] = run(["results", "show", str(folder)])
        results[f"plan accuracy: {name}"] = run(["plan", "accuracy", "--results", str(folder)])
    empty = tmp / "empty.jsonl"
    empty.write_text("")
    for name, (file, spoil) in catalog_cases().items():
        folder = tmp / f"catalog-{len(results)}"
        shutil.copytree(CATALOG_DIR, folder)
        text = (folder / file).read_text(encoding="utf-8")
        spoiled = spoil(text)
        (folder / file).write_bytes(spoiled if isinstance(spoiled, bytes) else spoiled.encode())
        argv = ["plan", "train", "--model", "llama-3.1-8b", "--tokens", "100M", "--catalog", str(folder)]
        results[f"catalog: {name}"] = run(argv + ["--results", str(empty)], must_work="must work" in name)
    return results


# ---- faults: rows lost or torn -----------------------------------------------------------------


def _count(path: Path, expected: int) -> tuple[int, int]:
    """(lost, torn) among `expected` rows that were reported written to `path`."""
    good = torn = 0
    if path.exists():
        for line in path.read_bytes().split(b"\n"):
            if not line.strip():
                continue
            try:
                json.loads(line)
                good += 1
            except ValueError:
                torn += 1
    return max(expected - good, 0), torn


def fault_short_write(tmp: Path) -> tuple[int, int]:
    """The first append's write() writes half the line; a later (--force) append must not glue onto it."""
    import benchmarks.store as store

    out, real, calls = tmp / "short.jsonl", os.write, []

    def half(fd, data):
        calls.append(1)
        if len(calls) == 1:
            return real(fd, data[: len(data) // 2])
        return real(fd, data)

    store.os.write = half
    reported = 0
    try:
        for _ in range(3):
            try:
                store.append_row(out, row())
                reported += 1
            except Exception:  # noqa: BLE001 — the failed append is reported, not counted as written
                pass
    finally:
        store.os.write = real
    return _count(out, reported)


def fault_full_disk(tmp: Path) -> tuple[int, int] | None:
    """Append to a 4 KiB tmpfs until the disk is full; then once more (a rerun). Root only."""
    import benchmarks.store as store

    mount = tmp / "tiny"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(mount)]).returncode
    ):
        return None
    try:
        out, reported = mount / "r.jsonl", 0
        for _ in range(8):
            try:
                store.append_row(out, row())
                reported += 1
            except Exception:  # noqa: BLE001
                pass
        return _count(out, reported)
    finally:
        subprocess.run(["umount", str(mount)])


def _appender(out: str, n: int) -> None:
    import benchmarks.store as store

    for i in range(n):
        store.append_row(out, row(name=f"p{os.getpid()}-{i}"))


def fault_concurrent(tmp: Path) -> tuple[int, int]:
    out, n, procs = tmp / "conc.jsonl", 200, []
    for _ in range(3):
        p = multiprocessing.get_context("fork").Process(target=_appender, args=(str(out), n))
        p.start()
        procs.append(p)
    for p in procs:
        p.join()
    return _count(out, 3 * n)


def fault_killed_before_append(tmp: Path) -> tuple[int, int]:
    """A sweep killed (SIGKILL) after its worker wrote result.json and before the row was appended leaves the
    spec's folder under the temp dir; a resumed sweep must append that row (and not run the spec again)."""
    import benchmarks.runner as runner
    from benchmarks.suites import make_entry

    out = tmp / "killed.jsonl"
    values = {"name": "a", "model": "tiny-llama", "method": "lora", "seq_len": 32}
    entry = make_entry("train", values, where="hostile", suite=None, device="cpu")
    result = row(spec=entry.spec.to_dict(), spec_hash=entry.spec_hash, code_version=runner.code_version())
    result["provenance"]["device_name"] = "cpu"
    leftover = Path(tempfile.mkdtemp(prefix="peftplan-"))
    (leftover / "request.json").write_text(json.dumps(runner.request_of(entry)))
    (leftover / "result.json").write_text(json.dumps(result))
    dead = subprocess.Popen(["true"])
    dead.wait()
    (leftover / "sweep.json").write_text(json.dumps({"out": str(out.resolve()), "pid": dead.pid}))
    ran = []

    def fake_run(entry, launcher=None):  # the spec ran already: running it again is not collecting it
        ran.append(entry.name)
        return runner._failure_row(entry, "error", "ran again instead of collecting the finished result")

    real = runner.run_isolated
    runner.run_isolated = fake_run
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            runner.run_sweep([entry], out, device_name="cpu", progress=False)
    finally:
        runner.run_isolated = real
        shutil.rmtree(leftover, ignore_errors=True)
    lost, torn = _count(out, 1)
    ok_rows = [json.loads(x) for x in out.read_text().splitlines() if x.strip()] if out.exists() else []
    collected = any(r.get("status") == "ok" for r in ok_rows)
    return (0 if collected else 1), torn


HOLD_DEVICE = """
import sys, time
from pathlib import Path
from benchmarks.sweep_locks import sweep_locks
with sweep_locks(Path(sys.argv[1]), "cpu"):
    print("locked", flush=True)
    time.sleep(60)
"""


def second_sweep_on_a_busy_device(tmp: Path) -> tuple[str, str]:
    """Another sweep holds the CPU: a second one must refuse (or wait), not measure beside it unsaid."""
    if not (REPO / "benchmarks" / "sweep_locks.py").exists():
        return "silent", "no device lock: both sweeps measure at once"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_DEVICE, str(tmp / "held.jsonl")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        holder.stdout.readline()
        return run(SPEC + ["--out", str(tmp / "second.jsonl")])
    finally:
        holder.kill()
        holder.wait()


def main_script(verbose: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        outcomes = input_outcomes(tmp)
        outcomes["cli: a second sweep on a busy device"] = second_sweep_on_a_busy_device(tmp)
        faults = {
            "short write": fault_short_write(tmp),
            "full disk (4 KiB tmpfs)": fault_full_disk(tmp),
            "concurrent appends": fault_concurrent(tmp),
            "SIGKILL between result and append": fault_killed_before_append(tmp),
        }
    if verbose:
        for name, (outcome, detail) in outcomes.items():
            print(f"{outcome:9s} {name}: {detail.splitlines()[-1] if detail else ''}"[:220])
        for name, counts in faults.items():
            print(f"fault     {name}: lost, torn = {counts}")
    counts = {k: sum(1 for o, _ in outcomes.values() if o == k) for k in ("clean", "traceback", "silent")}
    measured = [c for c in faults.values() if c is not None]
    return {
        "bad_inputs": len(outcomes),
        "clean_exits": counts["clean"],
        "tracebacks": counts["traceback"],
        "silent_acceptances": counts["silent"],
        "fault_scenarios": len(measured),
        "rows_lost": sum(c[0] for c in measured),
        "rows_torn": sum(c[1] for c in measured),
        "seconds": round(time.perf_counter() - started, 1),
    }


if __name__ == "__main__":
    print(json.dumps(main_script("--verbose" in sys.argv)))
