"""Numbers from `peftplan plan` options: parsed, finite, and inside a stated range, or one InputError naming
the option, the value and the range. Also the scenario builders that turn parsed options into planner inputs.

Public:
    number(text, flag, lo, hi, integer=False, lo_open=True) -> float | int
    tokens(text, flag="--tokens") -> int
    train_scenario(args) -> TrainScenario
    workload(args) -> Workload
    serve_scenario(args) -> ServeScenario
"""

from __future__ import annotations

import math

from core.errors import InputError
from planner.capacity import MAX_JOBS_PER_MONTH, Workload
from planner.config import MAX_TOKENS, TrainConfig, parse_tokens
from planner.job_plan import HOURS_PER_MONTH, TrainScenario
from planner.serve import ServeScenario


def number(text, flag: str, lo: float, hi: float, integer: bool = False, lo_open: bool = True) -> float | int:
    """A finite number in (lo, hi] (or [lo, hi] with lo_open=False), an integer when asked."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    low_ok = value > lo if lo_open else value >= lo
    ok = math.isfinite(value) and low_ok and value <= hi and (not integer or value == int(value))
    if not ok:
        kind = "an integer" if integer else "a number"
        bracket = "(" if lo_open else "["
        raise InputError("bad value", field=flag, value=text, accepted=f"{kind} in {bracket}{lo:g}, {hi:g}]")
    return int(value) if integer else value


def tokens(text, flag: str = "--tokens") -> int:
    """A token count with a suffix (100M, 1.5B), between 1 and MAX_TOKENS."""
    accepted = f"a count from 1 to {MAX_TOKENS:.0e}, optionally with a suffix k, M, B or T (100M, 1.5B)"
    try:
        value = parse_tokens(text, flag)
    except (OverflowError, ValueError):
        raise InputError("bad value", field=flag, value=text, accepted=accepted) from None
    return value


def _job(args) -> TrainConfig:
    return TrainConfig(
        model=args.model,
        method=args.method,
        rank=number(args.rank, "--rank", 1, 4096, integer=True, lo_open=False),
        targets=args.targets,
        micro_batch=number(args.batch, "--batch", 1, 1024, integer=True, lo_open=False),
        seq_len=number(args.seq, "--seq", 1, 10**7, integer=True, lo_open=False),
        profile=args.profile,
    )


def train_scenario(args) -> TrainScenario:
    ops = (
        None
        if args.ops_usd_per_month is None
        else number(args.ops_usd_per_month, "--ops-usd-per-month", 0, 1e8, lo_open=False)
    )
    return TrainScenario(
        _job(args),
        tokens(args.tokens),
        epochs=number(args.epochs, "--epochs", 0, 1000),
        runs_per_month=number(args.runs_per_month, "--runs-per-month", 0, 100_000),
        utilisation=number(args.utilisation, "--utilisation", 0, 1),
        ops_usd_per_month=ops,
        managed_scope=args.managed,
        max_hours_per_run=number(args.max_hours_per_run, "--max-hours-per-run", 0, HOURS_PER_MONTH),
    )


def workload(args) -> Workload:
    if not args.model or not args.tokens:
        raise InputError("missing argument", field="--model/--tokens", accepted="both, or --matrix")
    return Workload(
        _job(args),
        tokens(args.tokens),
        jobs_per_month=number(args.jobs_per_month, "--jobs-per-month", 0, MAX_JOBS_PER_MONTH),
        epochs=number(args.epochs, "--epochs", 0, 1000),
        deadline_hours=number(args.deadline_hours, "--deadline-hours", 0, HOURS_PER_MONTH),
        utilisation=number(args.utilisation, "--utilisation", 0, 1),
    )


def serve_scenario(args) -> ServeScenario:
    return ServeScenario(
        model=args.model,
        n_adapters=number(args.adapters, "--adapters", 1, 100_000, integer=True, lo_open=False),
        requests_per_day=number(args.requests_per_day, "--requests-per-day", 0, 1e10),
        prompt_tokens=number(args.prompt_tokens, "--prompt-tokens", 1, 10**7, integer=True, lo_open=False),
        output_tokens=number(args.output_tokens, "--output-tokens", 1, 10**7, integer=True, lo_open=False),
        base=args.base,
        batch=number(args.batch, "--batch", 1, 4096, integer=True, lo_open=False),
        rank=number(args.rank, "--rank", 1, 4096, integer=True, lo_open=False),
        peak_to_mean=number(args.peak_to_mean, "--peak-to-mean", 1, 100, lo_open=False),
    )
