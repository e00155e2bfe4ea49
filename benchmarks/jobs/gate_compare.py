"""The regression gate's proof, read back (no GPU, no torch): `peftplan results compare` for every ordered pair of
the unchanged runs, for each unchanged run against the slowed one, and for each run against the committed
baseline; then each spec's gated figures over the unchanged runs and their spread.

    python -m benchmarks.jobs.gate_compare ROWS_DIR FULL_LOG [BASELINE]

ROWS_DIR holds NAME-runN.jsonl (unchanged code) and NAME-slowdown10.jsonl (PEFTPLAN_TEST_SLOWDOWN=0.10). The
compact report goes to stdout (exit codes, the verdicts that are not `ok`, the spread table); each comparison's
whole report, as the command prints it, goes to FULL_LOG. BASELINE defaults to data/regression/baselines.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import statistics
import sys
from pathlib import Path

from core.rows import read_rows
from peftplan.cli import main as peftplan
from planner.regress import BASELINES_DIR, load_thresholds, sample

RUN_FILE = re.compile(r"-run(\d+)\.jsonl$")
SLOWED = "slowdown10"
NOT_OK = ("regressed", "improved", "noisy", "failed", "missing_spec", "missing_metric")


def run_files(rows_dir: Path) -> tuple[list[Path], Path | None]:
    """(the unchanged runs in order, the slowed run or None)."""
    runs = sorted(
        (p for p in rows_dir.glob("*-run*.jsonl") if RUN_FILE.search(p.name)),
        key=lambda p: int(RUN_FILE.search(p.name).group(1)),
    )
    slowed = next(iter(rows_dir.glob(f"*-{SLOWED}.jsonl")), None)
    return runs, slowed


def label(path: Path) -> str:
    return path.name.removesuffix(".jsonl").rsplit("-", 1)[-1]


def compare(baseline: Path, new: Path, full_log) -> tuple[int, list[str]]:
    """Exit code of `peftplan results compare BASELINE NEW` and its lines whose verdict is not `ok`."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = peftplan(["results", "compare", str(baseline), str(new)])
    text = out.getvalue()
    full_log.write(f"\n=== results compare {baseline} {new}: exit {code}\n{text}")
    keep = []
    for line in text.splitlines():
        first = line.split(" ", 1)[0]
        problem = first.endswith(":") and first not in ("regressed:", "spec_missing:", "note:")
        if first in NOT_OK or problem or line.startswith("FAILED"):  # findings, other problems, the verdict
            keep.append(line)
    return code, keep


def _report(title: str, pairs: list[tuple[Path, Path]], full_log) -> list[str]:
    lines, codes = [f"## {title}"], []
    for base, new in pairs:
        code, notable = compare(base, new, full_log)
        codes.append(code)
        lines.append(f"{label(base)} -> {label(new)}: exit {code}")
        lines += [f"    {' '.join(line.split())}" for line in notable]
    counts = ", ".join(f"exit {c}: {codes.count(c)}" for c in sorted(set(codes)))
    lines.append(f"{len(codes)} comparison(s): {counts or 'none'}")
    return lines


def spread_table(runs: list[Path]) -> list[str]:
    """Each spec's gated figures (window medians) over the unchanged runs, and their between-run spread."""
    figures: dict[tuple[str, str], list[float]] = {}
    metrics = [t.metric for t in load_thresholds()]
    for path in runs:
        for row in read_rows(path):
            for metric in metrics:
                s = sample(row.get("metrics") or {}, metric) if row.get("status") == "ok" else None
                if s is not None:
                    figures.setdefault((row["name"], metric), []).append(s.value)
    lines = [f"## Each spec over {len(runs)} unchanged run(s): window medians, (max - min) / median"]
    for (name, metric), values in figures.items():
        mid = statistics.median(values)
        spread = (max(values) - min(values)) / mid if mid else float("nan")
        shown = " · ".join(f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}" for v in values)
        lines.append(f"{name:36s} {metric:22s} {spread:6.1%}  {shown}")
    return lines


def main(argv: list[str]) -> int:
    rows_dir, full_path = Path(argv[0]), Path(argv[1])
    baseline = Path(argv[2]) if len(argv) > 2 else BASELINES_DIR
    runs, slowed = run_files(rows_dir)
    lines = []
    with open(full_path, "a", encoding="utf-8") as full_log:
        lines += _report(
            "Unchanged runs, every ordered pair", list(itertools.permutations(runs, 2)), full_log
        )
        if slowed is not None:
            lines += _report(
                "Each unchanged run against the 10% slowdown", [(r, slowed) for r in runs], full_log
            )
        lines += _report(
            f"Against the committed baseline ({baseline})",
            [(baseline, r) for r in runs + ([slowed] if slowed else [])],
            full_log,
        )
    lines += spread_table(runs)
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
