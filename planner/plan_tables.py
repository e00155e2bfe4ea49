"""Plain-text tables of the `peftplan plan` verdicts: training (like for like, other models, set aside, not
priced), serving, and capacity with the schedule behind each count.

Public: table(frame, columns, title=None), print_training(comparison, top, show_all),
print_serving(comparison, top), print_capacity(workload, frame)
"""

from __future__ import annotations

import pandas as pd

TRAIN_COLUMNS = [
    "rank",
    "provider",
    "kind",
    "option",
    "n_gpus",
    "setup",
    "job_hours",
    "usd_per_run",
    "usd_total",
    "flags",
    "basis",
    "as_of",
]


COUNT_COLUMNS = ("gpus_needed", "rounds", "micro_batch", "n_gpus", "units", "groups_count")


def _counts_as_integers(frame):
    """Counts print as 24, not 24.00, also where a missing value made the column float."""
    frame = frame.copy()
    for col in COUNT_COLUMNS:
        if col not in frame.columns or frame[col].dtype.kind not in "fiO":
            continue
        values = frame[col].dropna()
        if all(isinstance(v, int | float) and float(v).is_integer() for v in values.tolist()):
            frame[col] = ["n/a" if pd.isna(v) else f"{int(v)}" for v in frame[col]]
    return frame


def table(frame, columns: list[str], title: str | None = None) -> None:
    if title:
        print(title)
    if frame.empty:
        print("  (none)")
        return
    cols = [c for c in columns if c in frame.columns]
    shown = _counts_as_integers(frame[cols])
    print(shown.to_string(index=False, float_format=lambda x: f"{x:,.2f}", na_rep="n/a"))


def _setup(frame):
    """The configuration used, short: micro-batch, checkpointing, GPUs, memory state."""

    def one(row) -> str:
        if row.get("micro_batch") is None or row["micro_batch"] != row["micro_batch"]:
            return ""
        text = f"b{int(row['micro_batch'])}" + (" ckpt" if row["grad_checkpointing"] else "")
        return text + (" TIGHT" if row.get("memory_state") == "tight" else "")

    return frame.assign(setup=[one(r) for r in frame.to_dict("records")]) if not frame.empty else frame


def _print_not_priced(skipped) -> None:
    if skipped:
        print("\nNot priced:")
        for option, why in skipped:
            print(f"  {option}: {why}")


def print_training(comparison, top: int, show_all: bool) -> None:
    scn = comparison.scenario
    print(
        f"Training {scn.model} {scn.method}: {scn.billed_tokens / 1e6:,.0f}M billed tokens a run, "
        f"{scn.runs_per_month:g} run(s) a month; usd_total is the month's cost with engineering and people; "
        "job_hours is one run's wall clock"
    )
    frame = _setup(comparison.frame("all"))
    if show_all:
        if not frame.empty:
            frame = frame.sort_values("usd_total", ignore_index=True).assign(
                rank=lambda f: range(1, len(f) + 1)
            )
        table(
            frame.head(top),
            TRAIN_COLUMNS[:-2] + ["group", "flags", "set_aside"],
            "Every priced option (--all)",
        )
    else:
        for group, title in (
            ("like-for-like", f"Like for like: {scn.model}, self-hosted or managed"),
            ("other model", "Other models (a different model: not like for like)"),
            ("set aside", "Set aside (priced, not ranked)"),
        ):
            part = frame[frame["group"] == group] if not frame.empty else frame
            columns = TRAIN_COLUMNS + (["set_aside"] if group == "set aside" else [])
            print()
            table(part.head(top), columns, title)
    _print_not_priced(comparison.skipped)


def print_serving(comparison, top: int) -> None:
    scn = comparison.scenario
    table(
        comparison.frame().head(top),
        [
            "rank",
            "provider",
            "strategy",
            "option",
            "n_gpus",
            "ms_per_step",
            "usd_per_month",
            "usd_per_1m_tokens",
            "flags",
            "basis",
            "as_of",
        ],
        f"Serving {scn.n_adapters} adapters of {scn.model} ({scn.base}), {scn.requests_per_day:,.0f} requests/day",
    )
    _print_not_priced(comparison.skipped)


def print_capacity(work, frame) -> None:
    print(
        f"{work.n_jobs} whole job(s) of {work.job.model} {work.job.method}, "
        f"{work.tokens_per_job * work.epochs / 1e6:,.0f}M billed tokens each, all done within {work.deadline_hours:g} h"
    )
    table(
        frame,
        [
            "gpu",
            "gpus_needed",
            "groups",
            "rounds",
            "job_hours",
            "finish_hours",
            "micro_batch",
            "grad_checkpointing",
            "memory_state",
            "basis",
            "note",
        ],
    )
    if "rounds_detail" not in frame:
        return
    print(
        "\nSchedules (each group runs its jobs back to back; a round is the jobs that run at the same time):"
    )
    for row in frame.dropna(subset=["gpus_needed"]).to_dict("records"):
        rounds = "; ".join(
            f"round {r['round']}: jobs {_span(r['jobs'])}, {r['start_h']:.1f}-{r['end_h']:.1f} h"
            for r in row["rounds_detail"]
        )
        print(f"  {row['gpu']}: {int(row['gpus_needed'])} GPUs = {row['groups']}; {rounds}")


def _span(jobs: list[int]) -> str:
    if len(jobs) > 2 and jobs == list(range(jobs[0], jobs[-1] + 1)):
        return f"{jobs[0]}-{jobs[-1]}"
    return ", ".join(str(j) for j in jobs)
