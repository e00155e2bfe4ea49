"""Run chosen entries of a suite in a given order within a wall-clock budget (one GPU call of fixed length).

`python -m benchmarks.jobs.budgeted SUITE OUT_DIR BUDGET_S NAME=EST_S ...`: each entry, in the order given, runs
in its own process (benchmarks/runner.py, one fork server for all) if its estimated seconds still fit in what
is left of the budget, and is skipped with a line saying so otherwise. An entry that runs over its estimate is
stopped when the budget is spent (its time limit is what is left, if that is less than its own): it gives a
`timeout` row and the call ends on time. Each row is appended to OUT_DIR/SUITE-KIND.jsonl as soon as it exists,
so a call cut short keeps every finished row.

PEFTPLAN_JOB_DEVICE=cpu runs the same job on the CPU, to try it end to end before a GPU call: each training
entry keeps its method, targets, checkpointing and profile but takes the tiny test model of its family, at most
2 × 64 tokens, rank at most 8, one warm-up and one measured step, and the CPU's allocator. Its rows are no measurement of the suite.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

from benchmarks.launch import Launcher
from benchmarks.runner import run_isolated
from benchmarks.store import append_row
from benchmarks.suites import SPEC_TYPES, load_suite
from core.vocab import DEFAULT_ALLOCATOR

DEVICE_SWITCH = "PEFTPLAN_JOB_DEVICE"  # "cpu": tiny shapes on the CPU (module docstring)
TINY = {"llama": "tiny-llama", "qwen2": "tiny-qwen2", "mistral": "tiny-mistral"}


def on_cpu(entry):
    """The entry shrunk to a tiny model of its family on the CPU: the same code paths in seconds."""
    if entry.kind != "train":
        raise SystemExit(f"{entry.name}: {DEVICE_SWITCH}=cpu shrinks training entries only")
    from core.shapes import get_shape

    spec = entry.spec
    tiny = spec.with_(
        model=TINY.get(get_shape(spec.model).family, "tiny-llama"),
        device="cpu",
        micro_batch=min(spec.micro_batch, 2),
        seq_len=min(spec.seq_len, 64),
        rank=min(spec.rank, 8),
        warmup_steps=1,
        measure_steps=1,
        allocator=DEFAULT_ALLOCATOR,  # the CUDA allocator's modes do not exist on the CPU
    )
    return dataclasses.replace(entry, spec=tiny)


def plan(suite: str, wanted: list[tuple[str, float]]):
    entries = {e.name: e for kind in SPEC_TYPES for e in load_suite(suite, kind)}
    if os.environ.get(DEVICE_SWITCH) == "cpu":
        entries = {name: on_cpu(e) for name, e in entries.items()}
    unknown = [name for name, _ in wanted if name not in entries]
    if unknown:
        raise SystemExit(f"{suite}: no entries named {unknown}")
    return [(entries[name], est_s) for name, est_s in wanted]


def main(argv: list[str]) -> int:
    suite, out_dir, budget_s = argv[0], Path(argv[1]), float(argv[2])
    wanted = [(item.split("=")[0], float(item.split("=")[1])) for item in argv[3:]]
    start = time.monotonic()
    with Launcher() as launcher:
        for entry, est_s in plan(suite, wanted):
            left_s = budget_s - (time.monotonic() - start)
            if est_s > left_s:
                print(f"skipped {entry.name}: needs about {est_s:.0f} s, {left_s:.0f} s left", flush=True)
                continue
            began = time.monotonic()
            limit_s = max(min(entry.timeout_s, left_s), 1.0)
            row = run_isolated(dataclasses.replace(entry, timeout_s=limit_s), launcher)
            append_row(out_dir / f"{Path(suite).stem}-{entry.kind}.jsonl", row)
            m = row.get("metrics", {})
            figures = {
                k: m[k]
                for k in (
                    "ms_per_token",
                    "prefill_tokens_per_s",
                    "tokens_per_s",
                    "mfu",
                    "peak_reserved_gib",
                    "compile_s",
                )
                if m.get(k) is not None
            }
            print(
                f"{row['status']:7s} {entry.name} in {time.monotonic() - began:.0f} s "
                f"(forked: {launcher.forking}): {figures or row.get('error')}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
