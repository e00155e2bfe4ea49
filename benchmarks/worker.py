"""One spec, one process: `python -m benchmarks.worker REQUEST.json RESULT.json`, or main() in a process
forked from the sweep's fork server (benchmarks/launch.py).

Reads {"kind", "name", "suite", "spec"} from REQUEST, runs the benchmark, writes one result row to RESULT
(temp file + rename, so the parent never reads half a row). An out-of-memory error becomes an `oom` row and
any other exception an `error` row; if the process dies outright the parent writes the row instead.

PEFTPLAN_INJECT_FAULT="name=oom|crash|hang|kill,..." makes the named entries fail on purpose after the model
would be built (used by the tests of the runner's isolation: a real CUDA OOM is not available on every machine).
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from benchmarks.provenance import code_version, host_provenance
from benchmarks.suites import RUNNERS, SPEC_TYPES, resolve
from core.rows import SCHEMA_VERSION


def _finite(value):
    """NaN and infinities are not JSON: a non-finite figure is written as null (not measured)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def make_row(request: dict, status: str, metrics: dict, error: str | None, device: dict) -> dict:
    metrics = {k: _finite(v) for k, v in metrics.items()}
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": request["kind"],
        "name": request.get("name"),
        "suite": request.get("suite"),
        "status": status,
        "error": error,
        "spec": request["spec"],
        "spec_hash": request["spec_hash"],
        "code_version": code_version(),
        "metrics": metrics,
        "provenance": {**host_provenance(), **device},
    }


def _inject_fault(name: str) -> None:
    faults = dict(f.split("=", 1) for f in os.environ.get("PEFTPLAN_INJECT_FAULT", "").split(",") if "=" in f)
    fault = faults.get(name)
    if fault == "oom":
        import torch

        raise torch.OutOfMemoryError("injected: CUDA out of memory. Tried to allocate 80.00 GiB")
    if fault == "crash":
        os.abort()
    if fault == "hang":
        time.sleep(10**6)
    if fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)


def run_request(request: dict) -> dict:
    from benchmarks.measure import device_provenance, is_oom
    from benchmarks.memory_cap import allocator_figures, apply_allocator, apply_memory_cap
    from benchmarks.spec import build_spec

    spec = build_spec(
        resolve(SPEC_TYPES[request["kind"]]), request["spec"], where=request.get("name") or "request"
    )
    apply_allocator(spec)  # before anything is allocated
    capped = apply_memory_cap(spec)
    device = device_provenance(spec.device)
    try:
        _inject_fault(request.get("name") or "")
        metrics = capped | resolve(RUNNERS[request["kind"]])(spec)
        metrics |= allocator_figures(spec)
        return make_row(request, "ok", metrics, None, device)
    except Exception as exc:  # every failure becomes a row; the sweep goes on
        traceback.print_exc(file=sys.stderr)
        status = "oom" if is_oom(exc) else "error"
        return make_row(request, status, {}, f"{type(exc).__name__}: {exc}"[:2000], device)


def main(argv: list[str]) -> int:
    request_path, result_path = Path(argv[0]), Path(argv[1])
    row = run_request(json.loads(request_path.read_text()))
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(row, allow_nan=False))
    os.replace(tmp, result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
