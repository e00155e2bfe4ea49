"""`peftplan bench train|infer|all` and `peftplan results show`.

This module never imports torch: specs are validated here, and each one runs in its own worker process.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from benchmarks.provenance import device_name_without_torch, slowdown_fraction
from benchmarks.runner import run_sweep
from benchmarks.store import check_writable
from benchmarks.suites import MAX_TIMEOUT_S, SPEC_TYPES, load_suite, load_suite_all, make_entry
from benchmarks.sweep_locks import sweep_locks
from core.errors import InputError
from core.numbers import number_arg
from core.paths import RESULTS_DIR
from core.suite_file import suite_names
from core.vocab import DEVICES, METHODS

_INT = number_arg(0, 2**31 - 1, integer=True)  # the spec checks each field's own range


NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def _path_arg(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path (write . for the current folder)")
    return Path(text)


def _add_sweep_args(p: argparse.ArgumentParser, kind: str) -> None:
    p.add_argument("--suite", help=f"a built-in suite ({', '.join(suite_names())}) or a .toml file")
    p.add_argument(
        "--out", type=_path_arg, help="results file to append to (default data/results/SUITE.jsonl)"
    )
    p.add_argument("--only", help="run only entries whose name matches this glob or substring")
    p.add_argument("--device", choices=DEVICES, help="run every entry on this device")
    p.add_argument("--force", action="store_true", help="redo entries that already have an ok row")
    p.add_argument(
        "--timeout-s",
        type=number_arg(1, MAX_TIMEOUT_S, integer=True),
        default=None,
        help="per-spec limit for a single spec (default 600)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--wait", action="store_true", help="if another sweep holds the device or output, wait for it"
    )
    p.add_argument(
        "--share-device",
        action="store_true",
        help="measure even if another sweep holds the device (rows record device_shared)",
    )
    p.set_defaults(func=cmd_bench, kind=kind)


# Flags of a single training spec (the suite file's fields); None means "the spec's default".
TRAIN_FLAGS = (
    ("--model", str),
    ("--method", str),
    ("--rank", _INT),
    ("--alpha", _INT),
    ("--dropout", number_arg(0, 1)),
    ("--targets", str),
    ("--micro-batch", _INT),
    ("--seq-len", _INT),
    ("--grad-accum", _INT),
    ("--optimizer", str),
    ("--attn-impl", str),
    ("--profile", str),
    ("--warmup-steps", _INT),
    ("--measure-steps", _INT),
    ("--lr", number_arg(1e-12, 10)),
    ("--seed", _INT),
    ("--checkpoint", str),
)


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
    every = bench_sub.add_parser(
        "all", help="a suite's training and inference entries in one sweep (one fork server for both)"
    )
    _add_sweep_args(every, "all")
    infer.add_argument(
        "--register-adapters",
        metavar="PATH|URL",
        help="record the adapters the runs save or load in "
        "this adapter registry (rows then carry their registry ids)",
    )

    results = sub.add_parser("results", help="read result files")
    results_sub = results.add_subparsers(dest="results_command", required=True, parser_class=type(results))
    show = results_sub.add_parser("show", help="a table of the rows in a file or folder")
    show.add_argument("path", type=_path_arg)
    show.add_argument("--kind", choices=sorted(SPEC_TYPES))
    show.set_defaults(func=cmd_results_show)
    check = results_sub.add_parser("check", help="list the bad lines of a results file (exit 1 if any)")
    check.add_argument("file", type=_path_arg)
    check.set_defaults(func=cmd_results_check)
    repair = results_sub.add_parser(
        "repair", help="move the bad lines of a results file aside (keeps a copy)"
    )
    repair.add_argument("file", type=_path_arg)
    repair.set_defaults(func=cmd_results_repair)
    compare = results_sub.add_parser(
        "compare",
        help="the regression gate: a non-zero exit when NEW is worse than "
        "BASELINE, or when there is nothing to compare (README, Regression gate)",
    )
    compare.add_argument(
        "baseline", type=Path, help="baseline rows: a file or folder (data/regression/baselines/)"
    )
    compare.add_argument("new", type=Path, help="the fresh run's results file or folder")
    compare.add_argument(
        "--thresholds", type=Path, help="thresholds TOML (default data/regression/thresholds.toml)"
    )
    compare.add_argument(
        "--accept-first-run",
        action="store_true",
        help="pass when no baseline exists for the run's device class (its first run)",
    )
    compare.add_argument(
        "--summary", type=Path, help="also write the report as Markdown here (a CI job summary)"
    )
    compare.set_defaults(func=cmd_results_compare)


def _spec_flags(args) -> dict:
    """The single-spec flags given on the command line (name -> value)."""
    values = {
        f.lstrip("-").replace("-", "_"): getattr(args, f.lstrip("-").replace("-", "_"), None)
        for f, _ in TRAIN_FLAGS
    }
    values["grad_checkpointing"] = getattr(args, "grad_checkpointing", None)
    return {k: v for k, v in values.items() if v is not None}


def _single_entry(args) -> list:
    values = _spec_flags(args)
    if "model" not in values or "method" not in values:
        raise InputError(
            "give --suite, or at least --model and --method",
            field="--model/--method",
            accepted=f"methods {', '.join(METHODS)}",
        )
    if "targets" in values and values["targets"] != "all-linear":
        values["targets"] = tuple(values["targets"].split(","))
    values["name"] = f"{values['model']}-{values['method']}"
    values["timeout_s"] = args.timeout_s or 600
    return [make_entry("train", values, where="command line", suite=None, device=args.device)]


def _suite_entries(args) -> list:
    given = [f"--{k.replace('_', '-')}" for k in _spec_flags(args)] + (
        ["--timeout-s"] if args.timeout_s else []
    )
    if given:
        raise InputError(
            "single-spec flags do nothing beside --suite",
            field=given[0],
            accepted="--suite with "
            "--only, --device, --out, --force; or a single spec's flags without --suite",
        )
    if args.kind == "all":
        return load_suite_all(args.suite, only=args.only, device=args.device)
    return load_suite(args.suite, args.kind, only=args.only, device=args.device)


def cmd_bench(args) -> int:
    slowdown_fraction()  # a bad value of the testing-only switch fails here, before any worker
    # torch asks NVML, not the CUDA driver, whether a GPU is there, in the sweep's fork server as in every worker
    # (the same environment, so workers fork from the server): the set-up every H200 sweep was measured with.
    os.environ.setdefault(NVML_CHECK, "1")
    if args.suite:
        entries = _suite_entries(args)
        default_out = RESULTS_DIR / f"{Path(args.suite).stem}.jsonl"
    elif args.kind == "train":
        entries, default_out = _single_entry(args), RESULTS_DIR / "adhoc.jsonl"
    else:
        raise InputError(
            "give --suite", field="--suite", accepted=", ".join(suite_names()) + " or a .toml file"
        )
    if getattr(args, "register_adapters", None):
        entries = [replace(e, spec=replace(e.spec, register=args.register_adapters)) for e in entries]
    out = check_writable(args.out or default_out)
    if not entries:
        tables = "[[train]] or [[infer]]" if args.kind == "all" else f"[[{args.kind}]]"
        raise InputError(
            f"the suite has no {args.kind} entries", file=args.suite, accepted=f"{tables} tables"
        )
    devices = {e.spec.device for e in entries}
    device = next(iter(devices)) if len(devices) == 1 else None
    device_name = device_name_without_torch(device) if device else None
    with sweep_locks(out, device, wait=args.wait, share_device=args.share_device) as device_shared:
        summary = run_sweep(
            entries,
            out,
            device_name=device_name,
            force=args.force,
            progress=not args.no_progress,
            device_shared=device_shared,
        )
    counts = ", ".join(f"{n} {s}" for s, n in sorted(summary.counts.items())) or "nothing run"
    collected = f"{summary.collected} collected from a killed run; " if summary.collected else ""
    print(f"{counts}; {collected}{summary.skipped} skipped; rows in {out}", file=sys.stderr)
    if summary.stopped:
        print(
            f"peftplan: error: sweep stopped: {summary.stopped}; run it again once there is room",
            file=sys.stderr,
        )
        return 1
    return 0 if set(summary.counts) <= {"ok"} else 1


def cmd_results_show(args) -> int:
    from planner.report import render

    print(render(args.path, kind=args.kind))
    return 0


def cmd_results_check(args) -> int:
    from benchmarks.store import stored_rows

    if not args.file.is_file():
        raise InputError("not a regular file", file=str(args.file), accepted="a .jsonl results file")
    rows = stored_rows(args.file)
    for problem in rows.problems:
        print(problem)
    print(f"{len(rows)} valid row(s), {len(rows.problems)} bad line(s) in {args.file}", file=sys.stderr)
    return 1 if rows.problems else 0


def cmd_results_repair(args) -> int:
    from benchmarks.store import repair

    if not args.file.is_file():
        raise InputError("not a regular file", file=str(args.file), accepted="a .jsonl results file")
    kept, bad, backup, aside = repair(args.file)
    for problem in bad:
        print(f"moved aside: {problem}")
    if bad:
        print(f"{kept} row(s) kept; {len(bad)} bad line(s) moved to {aside}; the original is in {backup}")
    else:
        print(f"{kept} row(s), no bad line: {args.file} is unchanged")
    return 0


def cmd_results_compare(args) -> int:
    from core.rows import load_rows
    from planner.regress import THRESHOLDS_TOML, GateResult, compare, load_thresholds
    from planner.regress_report import render_markdown, render_text

    thresholds = load_thresholds(args.thresholds or THRESHOLDS_TOML)
    if not args.new.exists():
        result = GateResult(device_class=None)
        result.fail("empty_run", f"{args.new}: no such results file: nothing was measured")
    else:
        baseline = load_rows(args.baseline) if args.baseline.exists() else []
        result = compare(baseline, load_rows(args.new), thresholds, accept_first_run=args.accept_first_run)
    print(render_text(result))
    if args.summary:
        args.summary.write_text(render_markdown(result), encoding="utf-8")
    return result.exit_code
