"""How the readers and `plan accuracy` scale with the number of result rows.

    .venv/bin/python -m benchmarks.scale_readers [--rows 100000] [--specs 200]

Writes a temporary results folder of ROWS training rows made from the committed rows of
data/results/h200-standard-train.jsonl: SPECS distinct specs (the committed ones, then variants of their
micro-batch), each repeated with its figures scaled by a seeded random factor in [0.95, 1.05]. These rows are
timing input only: they are written under the temp folder, marked `provenance.host = "scale-test"`, and
removed at the end; nothing is added to data/results/. Prints one JSON object: seconds to read and validate
the rows (core.rows.load_rows), to turn them into measurements (planner.measured), and for leave-one-out
(planner.accuracy), with the machine's CPU count.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

from benchmarks.spec import spec_hash
from core.paths import RESULTS_DIR

SOURCE = RESULTS_DIR / "h200-standard-train.jsonl"
SCALED = (
    "tokens_per_s",
    "samples_per_s",
    "peak_allocated_gib",
    "peak_reserved_gib",
    "mfu",
    "energy_j_per_token",
)


def _spec_variants(rows: list[dict], specs: int) -> list[dict]:
    ok = [r for r in rows if r["status"] == "ok" and r["kind"] == "train"]
    variants, batch = [], 1
    while len(variants) < specs:
        for row in ok:
            spec = {**row["spec"], "micro_batch": row["spec"]["micro_batch"] * batch}
            variants.append({**row, "spec": spec, "spec_hash": spec_hash(spec)})
        batch += 1
    return variants[:specs]


def write_rows(folder: Path, n_rows: int, specs: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    base = _spec_variants([json.loads(x) for x in SOURCE.read_text().splitlines() if x.strip()], specs)
    path = folder / "scale.jsonl"
    with path.open("w") as fh:
        for i in range(n_rows):
            row = json.loads(json.dumps(base[i % len(base)]))
            factor = rng.uniform(0.95, 1.05)
            for key in SCALED:
                if isinstance(row["metrics"].get(key), (int, float)):
                    row["metrics"][key] *= factor
            row["provenance"].update(host="scale-test", timestamp=f"2026-11-29T00:00:00.{i:06d}+00:00")
            fh.write(json.dumps(row) + "\n")
    return path


def timed(func, *args):
    start = time.perf_counter()
    result = func(*args)
    return result, round(time.perf_counter() - start, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--specs", type=int, default=200)
    args = parser.parse_args()
    from core.rows import load_rows
    from planner.accuracy import leave_one_out
    from planner.catalog import load_catalog
    from planner.measured import measurements_from_rows

    with tempfile.TemporaryDirectory(prefix="scale-rows-") as tmp:
        path = write_rows(Path(tmp), args.rows, args.specs)
        catalog = load_catalog()
        rows, read_s = timed(load_rows, path)
        meas, measure_s = timed(measurements_from_rows, rows, catalog.gpus)
        report, accuracy_s = timed(leave_one_out, meas, catalog)
    print(
        json.dumps(
            {
                "rows": len(rows),
                "specs": args.specs,
                "bad_lines": len(rows.problems),
                "read_and_validate_s": read_s,
                "measurements_s": measure_s,
                "leave_one_out_s": accuracy_s,
                "predictions": len(report.rows),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
