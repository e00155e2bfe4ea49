"""Pre-registered predictions: the planner's figures for a suite, written down before the suite is measured.

Leave-one-out accuracy (planner/accuracy.py) tests the model on the rows that shaped it. The honest test is
out of sample: predict configurations that no results file holds, commit the predictions (with the commit
of the code that made them), then measure. `out_of_sample` compares the committed predictions with the rows
measured afterwards; it never predicts again, so a model changed after the measurement cannot improve its
own score.

    python -m planner.preregister benchmarks/suites/h200-oos.toml data/predictions/h200-oos.jsonl --gpu h200

Public:
    predict_suite(suite, gpu, meas=None, catalog=None) -> list[dict]     one prediction row per [[train]] entry
    write_predictions(rows, path) -> None
    load_predictions(path) -> list[dict]
    out_of_sample(predictions, meas) -> (DataFrame, DataFrame)          errors per entry and metric; summary
    committed_out_of_sample(meas, folder=PREDICTIONS_DIR) -> list[(file, DataFrame, DataFrame)]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from core.config import config_from_spec
from core.errors import InputError
from core.paths import DATA_DIR, REPO_ROOT
from core.suite_file import suite_entries, suite_path
from planner.catalog import Catalog, load_catalog, resolve_gpu
from planner.measured import Measurements, load_measurements
from planner.memory import predict_memory
from planner.throughput import predict_tokens_per_s

PREDICTIONS_DIR = DATA_DIR / "predictions"
METRICS = ("tokens_per_s", "peak_allocated_gib", "peak_reserved_gib")


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "core", "planner", "data/catalog"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"


def predict_suite(
    suite: str | Path, gpu: str, meas: Measurements | None = None, catalog: Catalog | None = None
) -> list[dict]:
    """The planner's tokens/s, allocated and reserved peaks for every training entry of a suite (a built-in
    suite's name or a .toml path)."""
    catalog = catalog or load_catalog()
    meas = meas if meas is not None else load_measurements()
    gpu_row = resolve_gpu(gpu, catalog.gpus)
    made = {"commit": _git_commit(), "timestamp": datetime.now(UTC).isoformat(timespec="seconds")}
    rows = []
    for entry in suite_entries(suite_path(suite), "train"):  # read as the benchmark reads it
        name = entry.name
        try:
            config = config_from_spec(entry.values)
        except InputError as exc:
            raise exc.located(file=f"{entry.where} ({name})") from None
        tput = predict_tokens_per_s(config, gpu_row, meas, catalog)
        mem = predict_memory(config, gpu_row, meas, catalog)
        rows.append(
            {
                "name": name,
                "config": config.describe(),
                "gpu": gpu_row.name,
                "predicted": {
                    "tokens_per_s": tput.tokens_per_s,
                    "peak_allocated_gib": mem.peak_allocated_gib,
                    "peak_reserved_gib": mem.reserved_gib,
                },
                "basis": {
                    "tokens_per_s": tput.basis,
                    "peak_allocated_gib": mem.basis,
                    "peak_reserved_gib": mem.reserved_basis,
                },
                "derivation": {
                    "tokens_per_s": tput.model,
                    "peak_allocated_gib": mem.model,
                    "peak_reserved_gib": mem.reserved_derivation,
                },
                "made_by": made,
            }
        )
    return rows


def write_predictions(rows: list[dict], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def load_predictions(path: str | Path) -> list[dict]:
    path = Path(path)
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            config_from_spec(row["config"] | {"targets": _targets(row["config"])})
            float(row["predicted"]["tokens_per_s"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"not a prediction row ({exc})", file=str(path), row=i) from None
        rows.append(row)
    return rows


def _targets(config: dict):
    t = config.get("targets", "all-linear")
    return () if t == "-" else (t if t == "all-linear" else tuple(t.split(",")))


def _first_after(records: list, made_at: str):
    """The first row measured after the prediction was made (what it predicted), else the latest row."""
    after = [r for r in records if r.timestamp >= made_at]
    return after[0] if after else (records[-1] if records else None)


def out_of_sample(predictions: list[dict], meas: Measurements):
    """Committed predictions against the rows measured since: one row per entry and metric (a prediction
    with no measured row is listed with measured None), and a summary per metric (median and worst
    absolute relative error over the entries measured)."""
    import pandas as pd

    from planner.accuracy import summarise

    # Rows of a tuned path changed since count here: they measured the code the predictions were made for.
    by_key: dict = {}
    for r in sorted([*meas.superseded, *meas.gpu_train()], key=lambda r: r.timestamp):
        if r.gpu is not None and not r.is_cpu:
            by_key.setdefault((r.gpu, r.config.key), []).append(r)
    rows = []
    for pred in predictions:
        config = config_from_spec(pred["config"] | {"targets": _targets(pred["config"])})
        rec = _first_after(by_key.get((pred["gpu"], config.key), []), pred["made_by"].get("timestamp", ""))
        for metric in METRICS:
            predicted = pred["predicted"].get(metric)
            # a reserved peak of a path changed since still scores the prediction made for that path
            field = "reserved_as_measured_gib" if metric == "peak_reserved_gib" else metric
            measured = getattr(rec, field, None) if rec is not None else None
            rows.append(
                {
                    "name": pred["name"],
                    **pred["config"],
                    "gpu": pred["gpu"],
                    "metric": metric,
                    "predicted": predicted,
                    "measured": measured,
                    "error_frac": (predicted - measured) / measured
                    if measured and predicted is not None
                    else None,
                    "derivation": pred["derivation"].get(metric, ""),
                    "made_by": pred["made_by"]["commit"],
                }
            )
    frame = pd.DataFrame(rows)
    return frame, summarise(frame, OOS_GOALS)


# Goals of issue 10 for configurations the model never saw: median and worst absolute relative error.
OOS_GOALS = {
    "tokens_per_s": (0.05, 0.10),
    "peak_allocated_gib": (0.01, 0.03),
    "peak_reserved_gib": (0.01, 0.03),
}


def committed_out_of_sample(meas: Measurements, folder: str | Path = PREDICTIONS_DIR) -> list[tuple]:
    """out_of_sample for every predictions file of a folder: (file name, rows, summary) each, the newest
    predictions first (by their made_by timestamp): the set made by the model closest to the current one."""
    folder = Path(folder)
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    loaded = [(f.name, load_predictions(f)) for f in files]
    loaded.sort(key=lambda item: max((p["made_by"].get("timestamp", "") for p in item[1]), default=""))
    return [(name, *out_of_sample(predictions, meas)) for name, predictions in reversed(loaded)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m planner.preregister", description=__doc__.splitlines()[0]
    )
    parser.add_argument("suite", help="a built-in suite's name or a .toml file")
    parser.add_argument("out", type=Path)
    parser.add_argument("--gpu", default="h200")
    args = parser.parse_args(argv)
    try:
        rows = predict_suite(args.suite, args.gpu)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_predictions(rows, args.out)
    for r in rows:
        p = r["predicted"]
        print(
            f"{r['name']:44s} {p['tokens_per_s']:9,.0f} tok/s {p['peak_allocated_gib']:7.2f} GiB "
            f"{p['peak_reserved_gib']:7.2f} GiB reserved"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
