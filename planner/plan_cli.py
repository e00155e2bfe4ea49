"""`peftplan plan ...`: the planner from the command line (pure Python; reads data/results and data/catalog).

    peftplan plan memory    --model M --method lora|qlora|full --rank R --targets all-linear|q_proj,v_proj
                            --batch B --seq S [--grad-checkpointing] [--gpu h200] [--profile plain|tuned]
                            [--allocator caching|expandable] [--json]
    peftplan plan train     --model M --method lora --tokens 100M --epochs 3 [--runs-per-month N]
                            [--max-hours-per-run H] [--ops-usd-per-month U] [--all] [--json]
    peftplan plan serve     --model M --adapters A --requests-per-day R --prompt-tokens P --output-tokens O [--json]
    peftplan plan breakeven --model M --method lora --tokens 100M --epochs 3 [--runs-per-month N] [--json]
    peftplan plan capacity  --model M --tokens 100M --jobs-per-month J --deadline-hours H [--utilisation U] [--json]
    peftplan plan capacity  --matrix [--models a,b] [--methods lora,qlora] [--seq 2048,8192] [--json]
    peftplan plan accuracy  [--results DIR] [--json]

Every command takes --results DIR (measured rows) and --catalog DIR (its models.csv, when it has one, gives the
model shapes). Token counts take suffixes (100M, 1.5B).
A bad or out-of-range number prints one message naming the option and its range, and exits 2; an absurd but
valid scale (a year-long run, 10 trillion tokens) prints a warning.

Public: register(subparsers)
"""

from __future__ import annotations

import argparse
import functools
from contextlib import nullcontext
from pathlib import Path

from core.paths import CATALOG_DIR, RESULTS_DIR
from core.shapes import models_from
from core.vocab import ALLOCATORS, ATTN_IMPLS, DEFAULT_ALLOCATOR, METHODS, OPTIMIZERS, PROFILES
from planner import plan_commands as commands


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", default=str(RESULTS_DIR), help="measured rows: a .jsonl file or a folder")
    p.add_argument(
        "--catalog",
        default=str(CATALOG_DIR),
        help="folder of catalog CSV files (model shapes from its models.csv, else the shipped one)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _train_args(p: argparse.ArgumentParser, model_required: bool = True) -> None:
    p.add_argument("--model", required=model_required, help="a model of data/catalog/models.csv")
    p.add_argument("--method", default="lora", choices=METHODS)
    p.add_argument("--rank", default="16")
    p.add_argument("--targets", default="all-linear", help="all-linear or a comma list such as q_proj,v_proj")
    p.add_argument("--batch", default="4", help="micro-batch")
    p.add_argument("--seq", default="2048", help="sequence length")
    p.add_argument("--profile", default="plain", choices=PROFILES)
    p.add_argument(
        "--allocator",
        default=DEFAULT_ALLOCATOR,
        choices=ALLOCATORS,
        help="CUDA allocator mode: expandable = PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True",
    )


def _job_args(p: argparse.ArgumentParser, tokens_required: bool = True) -> None:
    p.add_argument("--tokens", required=tokens_required, help="training tokens per epoch (100M, 1.5B)")
    p.add_argument("--epochs", default="1")
    p.add_argument("--utilisation", default="0.9", help="share of billed GPU-hours spent training")


def _cost_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs-per-month", default="1")
    p.add_argument(
        "--max-hours-per-run",
        default="730",
        help="set aside options whose run takes longer (hours; default a month)",
    )
    p.add_argument(
        "--ops-usd-per-month",
        default=None,
        help="engineering cost of running self-hosted cloud jobs (default: data/catalog/defaults.csv)",
    )
    p.add_argument(
        "--managed",
        default="all",
        choices=("all", "same-model"),
        help="managed offers: all, or only those that tune this open model",
    )


def _in_catalog(command):
    """`command` reading the model shapes of its --catalog folder, where that folder has a models.csv."""

    @functools.wraps(command)
    def run(args) -> int:
        models = Path(args.catalog) / "models.csv"
        with models_from(models) if models.is_file() else nullcontext():
            return command(args)

    return run


def register(subparsers) -> None:
    """Add `plan memory|train|serve|breakeven|capacity|accuracy` to the root parser."""
    plan = subparsers.add_parser("plan", help="cost, memory, capacity and accuracy of the planner")
    sub = plan.add_subparsers(dest="plan_command", required=True)

    p = sub.add_parser("memory", help="peak memory and tokens/s of one configuration on one GPU")
    _train_args(p)
    p.add_argument("--grad-checkpointing", action="store_true")
    p.add_argument("--gpu", default="h200")
    p.add_argument("--optimizer", default="adamw_fused", choices=OPTIMIZERS)
    p.add_argument("--attn-impl", default="sdpa", choices=ATTN_IMPLS)
    p.add_argument("--num-gpus", default="1", help="GPUs of the job (more than one: FSDP full sharding)")
    _common(p)
    p.set_defaults(func=_in_catalog(commands.cmd_memory))

    for name, func, text in (
        ("train", commands.cmd_train, "rank every way to run a training job by monthly cost"),
        ("breakeven", commands.cmd_breakeven, "break-even, payback and sensitivity"),
    ):
        p = sub.add_parser(name, help=text)
        _train_args(p)
        _job_args(p)
        _cost_args(p)
        if name == "train":
            p.add_argument("--top", default="25", help="rows of each table")
            p.add_argument("--all", action="store_true", help="one ranking of every priced option, flagged")
        else:
            p.add_argument("--max-runs", default="1000", help="search break-evens up to this many runs/month")
        _common(p)
        p.set_defaults(func=_in_catalog(func))

    p = sub.add_parser("serve", help="serve many adapters: merged, dynamic or managed")
    p.add_argument("--model", required=True)
    p.add_argument("--adapters", default="10")
    p.add_argument("--requests-per-day", default="10000")
    p.add_argument("--prompt-tokens", default="512")
    p.add_argument("--output-tokens", default="128")
    p.add_argument("--base", default="bf16", choices=("bf16", "nf4"))
    p.add_argument("--batch", default="8", help="concurrent requests per replica")
    p.add_argument("--rank", default="16")
    p.add_argument("--peak-to-mean", default="2.0")
    p.add_argument("--top", default="25")
    _common(p)
    p.set_defaults(func=_in_catalog(commands.cmd_serve))

    p = sub.add_parser("capacity", help="GPUs needed for a workload, or the fits-in-memory matrix")
    _train_args(p, model_required=False)
    _job_args(p, tokens_required=False)
    p.add_argument("--jobs-per-month", default="1")
    p.add_argument("--deadline-hours", default="730", help="hours within which the month's jobs must finish")
    p.add_argument("--matrix", action="store_true", help="GPU × model × method fits-in-memory matrix")
    p.add_argument("--models", help="comma list (matrix; default every released model)")
    p.add_argument("--methods", help="comma list (matrix; default lora,qlora,full)")
    p.add_argument("--gpus", help="comma list (matrix; default every catalog GPU)")
    _common(p)
    p.set_defaults(func=_in_catalog(commands.cmd_capacity))

    p = sub.add_parser("accuracy", help="leave-one-out error of the predictions against measured rows")
    _common(p)
    p.set_defaults(func=_in_catalog(commands.cmd_accuracy))
