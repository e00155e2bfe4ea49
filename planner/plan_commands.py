"""The `peftplan plan` commands: each takes the parsed arguments, prints a table or JSON, returns 0.

Arguments arrive as text and are parsed here (planner.config parsers), so that every bad value raises one
InputError naming the option. planner/plan_cli.py declares the options.

Public: cmd_memory, cmd_train, cmd_serve, cmd_breakeven, cmd_capacity, cmd_accuracy (args -> exit code)
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict

from core.errors import InputError
from planner.breakeven import break_even_table, payback, sensitivity
from planner.capacity import Workload, fits_matrix, gpus_needed
from planner.catalog import load_catalog, resolve_gpu
from planner.config import TrainConfig, parse_positive, parse_tokens
from planner.cost import TrainScenario, compare_training
from planner.measured import NO_ROWS_HINT, load_measurements
from planner.memory import predict_memory
from planner.serve import ServeScenario, compare_serving
from planner.throughput import predict_tokens_per_s


def _clean(obj):
    """JSON-safe: inf and NaN become null, tuples lists, numpy scalars plain numbers."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _print_json(obj) -> None:
    print(json.dumps(_clean(obj), indent=2))


def _records(frame) -> list[dict]:
    return [] if frame.empty else frame.astype(object).where(frame.notna(), None).to_dict("records")


def _table(frame, columns: list[str], title: str | None = None) -> None:
    if title:
        print(title)
    if frame.empty:
        print("  (none)")
        return
    cols = [c for c in columns if c in frame.columns]
    print(frame[cols].to_string(index=False, float_format=lambda x: f"{x:,.2f}"))


def _notes(notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def _load(args):
    catalog = load_catalog(args.catalog)
    meas = load_measurements(args.results, args.catalog)
    return catalog, meas


def _int(value, flag: str) -> int:
    return parse_positive(value, flag, integer=True)


def _config(args) -> TrainConfig:
    n = _int(args.num_gpus, "--num-gpus")
    return TrainConfig(
        model=args.model,
        method=args.method,
        rank=_int(args.rank, "--rank"),
        targets=args.targets,
        micro_batch=_int(args.batch, "--batch"),
        seq_len=_int(args.seq, "--seq"),
        grad_checkpointing=args.grad_checkpointing,
        optimizer=args.optimizer,
        attn_impl=args.attn_impl,
        profile=args.profile,
        num_gpus=n,
        sharding="full_shard" if n > 1 else None,
    )


def cmd_memory(args) -> int:
    catalog, meas = _load(args)
    cfg = _config(args)
    gpu = resolve_gpu(args.gpu, catalog.gpus, field="--gpu")
    mem = predict_memory(cfg, gpu, meas, catalog)
    tput = predict_tokens_per_s(cfg, gpu, meas, catalog)
    both = "measured" if mem.basis == tput.basis == "measured" else "projected"
    out = {
        "config": cfg.describe(),
        "gpu": gpu.name,
        "memory_gib": gpu.memory_gib,
        "peak_allocated_gib": mem.peak_allocated_gib,
        "fits": mem.fits,
        "headroom_gib": mem.headroom_gib,
        "tokens_per_s": tput.tokens_per_s,
        "basis": both,
        "memory_basis": mem.basis,
        "memory_model": mem.model,
        "tokens_per_s_basis": tput.basis,
        "tokens_per_s_model": tput.model,
        "efficiency": tput.efficiency,
        "flops_per_token": tput.flops_per_token,
        "energy_j_per_token": tput.energy_j_per_token,
        "energy_basis": tput.energy_basis,
        "breakdown": mem.breakdown,
        "notes": [] if meas.gpu_train() else [NO_ROWS_HINT],
    }
    if args.json:
        _print_json(out)
        return 0
    print(
        f"{cfg.model} {cfg.method} on {gpu.name} ({gpu.memory_gib:g} GiB): "
        f"peak {mem.peak_allocated_gib:.2f} GiB [{mem.basis}], {'fits' if mem.fits else 'does NOT fit'} "
        f"(headroom {mem.headroom_gib:+.2f} GiB)"
    )
    for term, gib in mem.breakdown.items():
        print(f"  {term:<18} {gib:9.2f}")
    print(f"  memory: {mem.model}")
    print(f"tokens/s {tput.tokens_per_s:,.0f} [{tput.basis}]: {tput.model}")
    _notes(out["notes"])
    return 0


def _scenario(args) -> TrainScenario:
    return TrainScenario(
        model=args.model,
        tokens=parse_tokens(args.tokens, "--tokens"),
        method=args.method,
        epochs=parse_positive(args.epochs, "--epochs"),
        runs_per_month=parse_positive(args.runs_per_month, "--runs-per-month"),
        rank=_int(args.rank, "--rank"),
        targets=args.targets,
        micro_batch=_int(args.batch, "--batch"),
        seq_len=_int(args.seq, "--seq"),
        profile=args.profile,
        utilisation=_fraction(args.utilisation, "--utilisation"),
        managed_scope=args.managed,
    )


def _fraction(value, flag: str) -> float:
    x = parse_positive(value, flag)
    if x > 1:
        raise InputError("bad value", field=flag, value=value, accepted="a fraction in (0, 1]")
    return x


def cmd_train(args) -> int:
    catalog, meas = _load(args)
    comparison = compare_training(_scenario(args), catalog, meas)
    if args.json:
        _print_json([asdict(o) for o in comparison.options])
        _notes(comparison.notes)
        return 0
    frame = comparison.frame().head(args.top)
    _table(
        frame,
        [
            "rank",
            "provider",
            "kind",
            "option",
            "n_gpus",
            "tokens_per_s",
            "job_hours",
            "usd_per_run",
            "usd_total",
            "basis",
            "as_of",
        ],
        f"Training {args.model} {args.method}: {comparison.scenario.billed_tokens / 1e6:,.0f}M billed tokens a run, "
        f"{comparison.scenario.runs_per_month:g} run(s) a month; usd_total is the month's cost",
    )
    managed = [o for o in comparison.options if o.kind == "managed"]
    for o in managed:
        print(
            f"  managed: {o.provider} {o.option} -> {o.match}" + (" [legacy]" if o.status == "legacy" else "")
        )
    _notes(comparison.notes)
    return 0


def cmd_serve(args) -> int:
    catalog, meas = _load(args)
    scn = ServeScenario(
        model=args.model,
        n_adapters=_int(args.adapters, "--adapters"),
        requests_per_day=parse_positive(args.requests_per_day, "--requests-per-day"),
        prompt_tokens=_int(args.prompt_tokens, "--prompt-tokens"),
        output_tokens=_int(args.output_tokens, "--output-tokens"),
        base=args.base,
        batch=_int(args.batch, "--batch"),
        rank=_int(args.rank, "--rank"),
        peak_to_mean=parse_positive(args.peak_to_mean, "--peak-to-mean"),
    )
    comparison = compare_serving(scn, catalog, meas)
    if args.json:
        _print_json([asdict(o) for o in comparison.options])
        _notes(comparison.notes)
        return 0
    _table(
        comparison.frame().head(args.top),
        [
            "rank",
            "provider",
            "strategy",
            "option",
            "n_gpus",
            "usd_per_month",
            "usd_per_1m_tokens",
            "basis",
            "as_of",
        ],
        f"Serving {scn.n_adapters} adapters of {scn.model} ({scn.base}), {scn.requests_per_day:,.0f} requests/day",
    )
    _notes(comparison.notes)
    return 0


def cmd_breakeven(args) -> int:
    catalog, meas = _load(args)
    scn = _scenario(args)
    comparison = compare_training(scn, catalog, meas)
    max_runs = parse_positive(args.max_runs, "--max-runs")
    table = break_even_table(comparison, max_runs)
    paybacks = [asdict(p) for p in payback(scn, catalog, meas)]
    tornado = sensitivity(scn, catalog, meas)
    if args.json:
        _print_json(
            {
                "break_even": _records(table),
                "payback": paybacks,
                "sensitivity": _records(tornado),
                "notes": comparison.notes,
            }
        )
        return 0
    _table(table, ["self_option", "managed_option", "break_even_runs_per_month", "verdict"], "Break-even")
    print()
    for p in paybacks:
        vs_cloud = f"{p['months_vs_cloud']:.1f} months" if p["months_vs_cloud"] else "never"
        vs_managed = f"{p['months_vs_managed']:.1f} months" if p["months_vs_managed"] else "never"
        print(
            f"Payback of {p['n_gpus']} × {p['gpu']} (${p['capex_usd']:,.0f}) running {p['runs_per_month']:.1f} runs/month: "
            f"{vs_cloud} against {p['cloud_option']}, {vs_managed} against {p['managed_option']}"
        )
    print()
    _table(
        tornado,
        [
            "input",
            "low_value",
            "high_value",
            "saving_low_usd",
            "saving_high_usd",
            "verdict_low",
            "verdict_high",
        ],
        "Sensitivity (±25 %): monthly saving of self-hosting over the cheapest managed offer",
    )
    _notes(comparison.notes)
    return 0


def _split(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def cmd_capacity(args) -> int:
    catalog, meas = _load(args)
    if args.matrix:
        seqs = tuple(_int(s, "--seq") for s in (_split(str(args.seq)) or ["2048"]))
        methods = tuple(_split(args.methods) or ("lora", "qlora", "full"))
        frame = fits_matrix(
            _split(args.models), methods, seqs, _split(args.gpus), _int(args.batch, "--batch"), catalog, meas
        )
        columns = [
            "gpu",
            "model",
            "method",
            "seq_len",
            "peak_allocated_gib",
            "headroom_gib",
            "fits",
            "config",
            "basis",
        ]
    else:
        if not args.model or not args.tokens:
            raise InputError("missing argument", field="--model/--tokens", accepted="both, or --matrix")
        work = Workload(
            args.model,
            parse_tokens(args.tokens, "--tokens"),
            parse_positive(args.jobs_per_month, "--jobs-per-month"),
            args.method,
            parse_positive(args.epochs, "--epochs"),
            parse_positive(args.deadline_hours, "--deadline-hours"),
            _int(args.rank, "--rank"),
            args.targets,
            _int(args.batch, "--batch"),
            _int(args.seq, "--seq"),
            args.profile,
        )
        frame = gpus_needed(work, catalog, meas)
        columns = ["gpu", "gpus_per_job", "concurrent_jobs", "gpus_needed", "job_hours", "basis", "note"]
    if args.json:
        _print_json(_records(frame))
    else:
        _table(frame, columns)
    if not meas.gpu_train():
        _notes([NO_ROWS_HINT])
    return 0


def cmd_accuracy(args) -> int:
    from planner.accuracy import leave_one_out
    from planner.preregister import committed_out_of_sample

    catalog, meas = _load(args)
    report = leave_one_out(meas, catalog)
    oos = committed_out_of_sample(meas)
    if args.json:
        _print_json(
            {"message": report.message, "summary": _records(report.summary), "rows": _records(report.rows),
             "out_of_sample": [{"predictions": name, "summary": _records(summary), "rows": _records(rows)}
                               for name, rows, summary in oos]}
        )  # fmt: skip
        return 0
    for name, rows, summary in oos:
        print(f"out of sample: predictions committed in data/predictions/{name} before their rows were measured")
        _table(summary, ["metric", "n", "median_abs_error", "worst_abs_error", "goal_median", "goal_worst", "met"])
        _table(rows, ["name", "metric", "predicted", "measured", "error_frac"])
        print()
    print("leave one out: " + report.message)
    if not report.empty:
        _table(
            report.summary,
            ["metric", "n", "median_abs_error", "worst_abs_error", "goal_median", "goal_worst", "met"],
        )
        print()
        _table(
            report.rows,
            [
                "model",
                "method",
                "micro_batch",
                "seq_len",
                "gpu",
                "metric",
                "measured",
                "predicted",
                "error_frac",
            ],
        )
    return 0
