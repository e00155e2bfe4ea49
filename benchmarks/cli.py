"""`peftplan bench train|infer` and `peftplan results show`.

This module never imports torch: specs are validated here, and each one runs in its own worker process.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import replace
from pathlib import Path

from benchmarks.provenance import device_name_without_torch
from benchmarks.runner import run_sweep
from benchmarks.store import check_writable
from benchmarks.suites import SPEC_TYPES, load_suite, make_entry, suite_names
from core.errors import InputError
from core.paths import RESULTS_DIR
from core.vocab import DEVICES, METHODS


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text!r}")
    return value


def _add_sweep_args(p: argparse.ArgumentParser, kind: str) -> None:
    p.add_argument("--suite", help=f"a built-in suite ({', '.join(suite_names())}) or a .toml file")
    p.add_argument("--out", type=Path, help="results file to append to (default data/results/SUITE.jsonl)")
    p.add_argument("--only", help="run only entries whose name matches this glob or substring")
    p.add_argument("--device", choices=DEVICES, help="run every entry on this device")
    p.add_argument("--force", action="store_true", help="redo entries that already have an ok row")
    p.add_argument("--timeout-s", type=_positive_int, default=None,
                   help=f"per-spec time limit in seconds (default: each suite entry's own; {SINGLE_TIMEOUT_S} for a single spec)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_bench, kind=kind)


SINGLE_TIMEOUT_S = 600

# Flags of a single training spec (the suite file's fields); None means "the spec's default".
TRAIN_FLAGS = (
    ("--model", str), ("--method", str), ("--rank", int), ("--alpha", int), ("--dropout", float),
    ("--targets", str), ("--micro-batch", int), ("--seq-len", int), ("--grad-accum", int),
    ("--optimizer", str), ("--attn-impl", str), ("--profile", str), ("--warmup-steps", int),
    ("--measure-steps", int), ("--lr", float), ("--seed", int), ("--checkpoint", str),
)  # fmt: skip


def register(sub) -> None:
    bench = sub.add_parser("bench", help="run benchmarks (each spec in its own process)")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True, parser_class=type(bench))
    train = bench_sub.add_parser("train", help="training benchmarks: LoRA, QLoRA, full fine-tuning")
    _add_sweep_args(train, "train")
    for flag, typ in TRAIN_FLAGS:
        train.add_argument(flag, type=typ, default=None, help=argparse.SUPPRESS if flag == "--lr" else None)
    train.add_argument("--grad-checkpointing", action="store_true", default=None)
    infer = bench_sub.add_parser("infer", help="inference benchmarks: merged vs dynamic adapters")
    _add_sweep_args(infer, "infer")
    infer.add_argument("--register-adapters", metavar="PATH|URL", help="record the adapters the runs save or load in "
                       "this adapter registry (rows then carry their registry ids)")  # fmt: skip

    results = sub.add_parser("results", help="read result files")
    results_sub = results.add_subparsers(dest="results_command", required=True, parser_class=type(results))
    show = results_sub.add_parser("show", help="a table of the rows in a file or folder")
    show.add_argument("path", type=Path)
    show.add_argument("--kind", choices=sorted(SPEC_TYPES))
    show.set_defaults(func=cmd_results_show)
    compare = results_sub.add_parser("compare", help="the regression gate: exit 1 if NEW is worse than BASELINE")
    compare.add_argument("baseline", type=Path, help="a results file or folder (e.g. data/results/)")
    compare.add_argument("new", type=Path, help="the fresh run's results file or folder")
    compare.add_argument("--thresholds", type=Path, help="thresholds TOML (default benchmarks/regression-thresholds.toml)")
    compare.set_defaults(func=cmd_results_compare)


def _single_entry(args) -> list:
    values = {f.lstrip("-").replace("-", "_"): getattr(args, f.lstrip("-").replace("-", "_")) for f, _ in TRAIN_FLAGS}
    values["grad_checkpointing"] = args.grad_checkpointing
    values = {k: v for k, v in values.items() if v is not None}
    if "model" not in values or "method" not in values:
        raise InputError("give --suite, or at least --model and --method", field="--model/--method",
                         accepted=f"methods {', '.join(METHODS)}")  # fmt: skip
    if "targets" in values and values["targets"] != "all-linear":
        values["targets"] = tuple(values["targets"].split(","))
    values["name"] = f"{values['model']}-{values['method']}"
    values["timeout_s"] = args.timeout_s or SINGLE_TIMEOUT_S
    return [make_entry("train", values, where="command line", suite=None, device=args.device)]


def cmd_bench(args) -> int:
    if args.suite:
        entries = load_suite(args.suite, args.kind, only=args.only, device=args.device)
        if args.timeout_s:  # the command line's limit wins over the suite's
            entries = [dataclasses.replace(e, timeout_s=args.timeout_s) for e in entries]
        default_out = RESULTS_DIR / f"{Path(args.suite).stem}.jsonl"
    elif args.kind == "train":
        entries, default_out = _single_entry(args), RESULTS_DIR / "adhoc.jsonl"
    else:
        raise InputError("give --suite", field="--suite", accepted=", ".join(suite_names()) + " or a .toml file")
    if getattr(args, "register_adapters", None):
        entries = [replace(e, spec=replace(e.spec, register=args.register_adapters)) for e in entries]
    out = check_writable(args.out or default_out)
    if not entries:
        print(f"peftplan: nothing to run (no {args.kind} entries match)", file=sys.stderr)
        return 0
    devices = {e.spec.device for e in entries}
    device_name = device_name_without_torch(devices.pop()) if len(devices) == 1 else None
    summary = run_sweep(entries, out, device_name=device_name, force=args.force, progress=not args.no_progress)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(summary.counts.items())) or "nothing run"
    print(f"{counts}; {summary.skipped} skipped; rows in {out}", file=sys.stderr)
    return 0 if set(summary.counts) <= {"ok"} else 1


def cmd_results_show(args) -> int:
    from planner.report import render

    print(render(args.path, kind=args.kind))
    return 0



def cmd_results_compare(args) -> int:
    from core.rows import load_rows
    from planner.regress import THRESHOLDS_TOML, compare, load_thresholds

    findings = compare(load_rows(args.baseline), load_rows(args.new), load_thresholds(args.thresholds or THRESHOLDS_TOML))
    if not findings:
        print("no spec measured on the same device in both runs: nothing to compare")
        return 0
    for f in findings:
        change = "" if f.change is None else f"{f.change:+.1%}"
        print(f"{f.verdict:9s} {f.name:40s} {f.metric:22s} {f.baseline!s:>12.10} -> {f.new!s:<12.10} {change}")
    bad = [f for f in findings if f.verdict in ("regressed", "failed")]
    print(f"{len(bad)} regression(s) over {len({(f.spec_hash, f.device_name) for f in findings})} spec(s)")
    return 1 if bad else 0
