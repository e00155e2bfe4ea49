"""The `peftplan plan` commands: each takes the parsed arguments, prints a table or JSON, returns 0.

Arguments arrive as text and are parsed here (planner.plan_args: finite numbers in stated ranges), so that
every bad value raises one InputError naming the option. planner/plan_cli.py declares the options.

Public: cmd_memory, cmd_train, cmd_serve, cmd_breakeven, cmd_capacity, cmd_accuracy (args -> exit code)
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict

from core.vocab import ALLOCATORS, METHODS
from planner import plan_args
from planner.breakeven import break_even_table, payback, sensitivity
from planner.capacity import fits_matrix, gpus_needed
from planner.catalog import load_catalog, resolve_gpu
from planner.config import TrainConfig
from planner.cost import compare_training
from planner.gpu_fit import gpu_fit
from planner.measured import NO_ROWS_HINT, load_measurements
from planner.memory import predict_memory
from planner.plan_tables import print_capacity, print_serving, print_training, table
from planner.serve import compare_serving
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


_table = table


def _notes(notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def _load(args):
    catalog = load_catalog(args.catalog)
    meas = load_measurements(args.results, args.catalog)
    return catalog, meas


def _config(args) -> TrainConfig:
    n = plan_args.count(args.num_gpus, "--num-gpus", 1024)
    return plan_args.job_config(
        args,
        grad_checkpointing=args.grad_checkpointing,
        optimizer=args.optimizer,
        attn_impl=args.attn_impl,
        num_gpus=n,
        sharding="full_shard" if n > 1 else None,
    )


def cmd_memory(args) -> int:
    catalog, meas = _load(args)
    cfg = _config(args)
    gpu = resolve_gpu(args.gpu, catalog.gpus, field="--gpu")
    mem = predict_memory(cfg, gpu, meas, catalog)
    fit = gpu_fit(mem, gpu, meas, cfg)
    tput = predict_tokens_per_s(cfg, gpu, meas, catalog)
    both = "measured" if mem.basis == tput.basis == "measured" else "projected"
    out = {
        "config": cfg.describe(),
        "gpu": gpu.name,
        "memory_gib": gpu.memory_gib,
        "peak_allocated_gib": mem.peak_allocated_gib,
        "reserved_gib": mem.reserved_gib,
        "need_gib": fit.need_gib,  # reserved plus the CUDA context
        "state": fit.state,
        "fits": fit.ok,
        "fit_basis": fit.basis,
        "fit_derivation": fit.derivation,
        "headroom_gib": fit.headroom_gib,
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
    out["other_allocator"] = _other_allocator(cfg, gpu, meas, catalog, fit)
    if args.json:
        _print_json(out)
        return 0
    print(
        f"{cfg.model} {cfg.method} on {gpu.name} ({gpu.memory_gib:g} GiB): "
        f"peak {mem.peak_allocated_gib:.2f} GiB allocated [{mem.basis}], {fit.need_gib:.2f} GiB with the "
        f"allocator's reserve and the CUDA context: {fit.state} (headroom {fit.headroom_gib:+.2f} GiB)"
    )
    if fit.basis == "measured":
        print(f"  fit measured: {fit.derivation}")
    for term, gib in mem.breakdown.items():
        print(f"  {term:<18} {gib:9.2f}")
    print(f"  memory: {mem.model}")
    other = out["other_allocator"]
    print(
        f"  with allocator={other['allocator']}: {other['need_gib']:.2f} GiB ({other['need_gib'] - fit.need_gib:+.2f}),"
        f" {other['state']} [{other['basis']}]"
    )
    print(f"tokens/s {tput.tokens_per_s:,.0f} [{tput.basis}]: {tput.model}")
    _notes(out["notes"])
    return 0


def _other_allocator(cfg: TrainConfig, gpu, meas, catalog, fit) -> dict:
    """The same configuration under the CUDA allocator's other mode: what it would reserve and whether it
    would fit (expandable segments cost no speed on the H200 rows and reserve less: a setting, not a purchase)."""
    other = cfg.with_(allocator=next(a for a in ALLOCATORS if a != cfg.allocator))
    mem = predict_memory(other, gpu, meas, catalog)
    other_fit = gpu_fit(mem, gpu, meas, other)
    return {
        "allocator": other.allocator,
        "reserved_gib": mem.reserved_gib,
        "need_gib": other_fit.need_gib,
        "state": other_fit.state,
        "basis": mem.reserved_basis,
        "derivation": mem.reserved_derivation,
    }


def cmd_train(args) -> int:
    catalog, meas = _load(args)
    comparison = compare_training(plan_args.train_scenario(args), catalog, meas)
    top = plan_args.count(args.top, "--top", 10_000)
    if args.json:
        _print_json(
            {
                "scenario": asdict(comparison.scenario),
                "ranked": [asdict(o) for o in comparison.options],
                "other_models": [asdict(o) for o in comparison.others],
                "set_aside": [asdict(o) for o in comparison.set_aside],
                "skipped": [{"option": o, "why": why} for o, why in comparison.skipped],
                "notes": comparison.notes,
            }
        )
    else:
        print_training(comparison, top, args.all)
    _notes(comparison.notes)
    return 0


def cmd_serve(args) -> int:
    catalog, meas = _load(args)
    comparison = compare_serving(plan_args.serve_scenario(args), catalog, meas)
    if args.json:
        _print_json(
            {
                "ranked": [asdict(o) for o in comparison.options],
                "skipped": [{"option": o, "why": why} for o, why in comparison.skipped],
                "notes": comparison.notes,
            }
        )
    else:
        print_serving(comparison, plan_args.count(args.top, "--top", 10_000))
    _notes(comparison.notes)
    return 0


def cmd_breakeven(args) -> int:
    catalog, meas = _load(args)
    scn = plan_args.train_scenario(args)
    comparison = compare_training(scn, catalog, meas)
    max_runs = plan_args.positive(args.max_runs, "--max-runs", 1e6)
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
    _table(
        table,
        ["self_option", "managed_option", "group", "break_even_runs_per_month", "verdict", "flags"],
        "Break-even (self-hosting includes its engineering and people costs: data/catalog/defaults.csv, onprem.csv)",
    )
    print()
    for p in paybacks:
        vs_cloud = f"{p['months_vs_cloud']:.1f} months" if p["months_vs_cloud"] else "never"
        vs_managed = f"{p['months_vs_managed']:.1f} months" if p["months_vs_managed"] else "never"
        print(
            f"Payback of {p['units']} × {p['unit']} ({p['n_gpus']} × {p['gpu']}, ${p['capex_usd']:,.0f} with set-up) "
            f"running {p['runs_per_month']:.1f} runs/month: "
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
        seqs = tuple(plan_args.count(s, "--seq", 10**7) for s in (_split(str(args.seq)) or ["2048"]))
        methods = tuple(_split(args.methods) or METHODS)
        batch = plan_args.count(args.batch, "--batch", 1024)
        job = {
            "rank": plan_args.count(args.rank, "--rank", 4096),
            "targets": args.targets,
            "profile": args.profile,
        }
        frame = fits_matrix(
            _split(args.models), methods, seqs, _split(args.gpus), batch, catalog, meas, **job
        )
        if args.json:
            _print_json(_records(frame))
        else:
            _table(
                frame,
                [
                    "gpu",
                    "model",
                    "method",
                    "seq_len",
                    "peak_allocated_gib",
                    "need_gib",
                    "headroom_gib",
                    "state",
                    "config",
                    "basis",
                ],
            )
    else:
        work = plan_args.workload(args)
        frame = gpus_needed(work, catalog, meas)
        if args.json:
            _print_json(_records(frame))
        else:
            print_capacity(work, frame)
    if not meas.gpu_train():
        _notes([NO_ROWS_HINT])
    return 0


def _preregistered_heading(name: str, rows) -> str:
    """What a pre-registered set's scores are: the committed predictions of the code that made them, against
    the rows measured afterwards, which now calibrate the current model (for it they are in sample)."""
    made = sorted(set(rows["made_by"])) if not rows.empty else []
    measured = rows.loc[rows["measured"].notna(), "name"].nunique() if not rows.empty else 0
    head = (
        f"out of sample: predictions committed in data/predictions/{name} (made by {', '.join(m[:10] for m in made) or '?'}) "
        f"before their rows were measured; {measured} of {rows['name'].nunique() if not rows.empty else 0} "
        "entries measured"
    )
    if measured:
        head += "; those rows now also calibrate the current model: for it they are in sample (leave-one-out)"
    return head


def cmd_accuracy(args) -> int:
    from planner.accuracy import leave_one_out
    from planner.preregister import committed_out_of_sample

    catalog, meas = _load(args)
    report = leave_one_out(meas, catalog)
    oos = committed_out_of_sample(meas)
    if args.json:
        _print_json(
            {
                "message": report.message,
                "summary": _records(report.summary),
                "rows": _records(report.rows),
                "out_of_sample": [
                    {"predictions": name, "summary": _records(summary), "rows": _records(rows)}
                    for name, rows, summary in oos
                ],
            }
        )
        return 0
    for name, rows, summary in oos:
        print(_preregistered_heading(name, rows))
        _table(
            summary,
            ["metric", "n", "median_abs_error", "worst_abs_error", "goal_median", "goal_worst", "met"],
        )
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
