"""The scenario builders that turn `peftplan plan` options into planner inputs. Every number is parsed by
core.numbers.parse_number: finite and inside a stated range, or one InputError naming the option, the value
as typed and the range.

Public:
    count(text, flag, hi) -> int             an integer from 1 to hi
    positive(text, flag, hi) -> float        a number above 0, up to hi
    job_config(args, **more) -> TrainConfig
    train_scenario(args) -> TrainScenario
    workload(args) -> Workload
    serve_scenario(args) -> ServeScenario
"""

from __future__ import annotations

from core.errors import InputError
from core.numbers import parse_number
from planner.capacity import MAX_JOBS_PER_MONTH, Workload
from planner.config import TrainConfig, parse_tokens
from planner.job_plan import HOURS_PER_MONTH, TrainScenario
from planner.serve import ServeScenario


def count(text, flag: str, hi: int) -> int:
    """An integer from 1 to `hi` (a rank, a batch, a number of GPUs)."""
    return parse_number(text, flag, lo=1, hi=hi, integer=True)


def positive(text, flag: str, hi: float) -> float:
    """A number above 0, up to `hi` (epochs, a utilisation, hours)."""
    return parse_number(text, flag, lo=0, hi=hi, lo_open=True)


def job_config(args, **more) -> TrainConfig:
    """The training configuration of the job options (--model, --method, --rank, --targets, --batch, --seq,
    --profile, --allocator), with `more` fields (a command's own options)."""
    return TrainConfig(
        model=args.model,
        method=args.method,
        rank=count(args.rank, "--rank", 4096),
        targets=args.targets,
        micro_batch=count(args.batch, "--batch", 1024),
        seq_len=count(args.seq, "--seq", 10**7),
        profile=args.profile,
        allocator=args.allocator,
        **more,
    )


def train_scenario(args) -> TrainScenario:
    ops = (
        None
        if args.ops_usd_per_month is None
        else parse_number(args.ops_usd_per_month, "--ops-usd-per-month", lo=0, hi=1e8)
    )
    return TrainScenario(
        job_config(args),
        parse_tokens(args.tokens, "--tokens"),
        epochs=positive(args.epochs, "--epochs", 1000),
        runs_per_month=positive(args.runs_per_month, "--runs-per-month", 100_000),
        utilisation=positive(args.utilisation, "--utilisation", 1),
        ops_usd_per_month=ops,
        managed_scope=args.managed,
        max_hours_per_run=positive(args.max_hours_per_run, "--max-hours-per-run", HOURS_PER_MONTH),
    )


def workload(args) -> Workload:
    if not args.model or not args.tokens:
        raise InputError("missing argument", field="--model/--tokens", accepted="both, or --matrix")
    return Workload(
        job_config(args),
        parse_tokens(args.tokens, "--tokens"),
        jobs_per_month=positive(args.jobs_per_month, "--jobs-per-month", MAX_JOBS_PER_MONTH),
        epochs=positive(args.epochs, "--epochs", 1000),
        deadline_hours=positive(args.deadline_hours, "--deadline-hours", HOURS_PER_MONTH),
        utilisation=positive(args.utilisation, "--utilisation", 1),
    )


def serve_scenario(args) -> ServeScenario:
    return ServeScenario(
        model=args.model,
        n_adapters=count(args.adapters, "--adapters", 100_000),
        requests_per_day=positive(args.requests_per_day, "--requests-per-day", 1e10),
        prompt_tokens=count(args.prompt_tokens, "--prompt-tokens", 10**7),
        output_tokens=count(args.output_tokens, "--output-tokens", 10**7),
        base=args.base,
        batch=count(args.batch, "--batch", 4096),
        rank=count(args.rank, "--rank", 4096),
        peak_to_mean=parse_number(args.peak_to_mean, "--peak-to-mean", lo=1, hi=100),
    )
