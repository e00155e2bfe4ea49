"""Test data for the dashboard tests: result rows written to a temporary folder, never to data/results/.

The figures are invented, round and labelled as test data (device "TEST-GPU (fixture)", host "test-fixture");
they exist to check that the dashboard shows what the rows say, not to describe any hardware.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from core.rows import SCHEMA_VERSION, load_rows

FIXTURE_DEVICE = "TEST-GPU (fixture)"
OLD_COMMIT, NEW_COMMIT = "1111111111" + "0" * 30, "2222222222" + "0" * 30
OLD_TIME, NEW_TIME = "2026-11-01T10:00:00+00:00", "2026-11-20T10:00:00+00:00"

TRAIN_BASE = {
    "model": "llama-3.1-8b",
    "method": "lora",
    "rank": 16,
    "alpha": 32,
    "dropout": 0.0,
    "targets": "all-linear",
    "micro_batch": 4,
    "seq_len": 2048,
    "grad_accum": 1,
    "grad_checkpointing": False,
    "optimizer": "adamw_fused",
    "attn_impl": "sdpa",
    "profile": "plain",
    "warmup_steps": 2,
    "measure_steps": 5,
    "seed": 0,
    "device": "cuda",
    "checkpoint": None,
    "num_gpus": 1,
    "sharding": None,
    "cpu_offload": False,
}
INFER_BASE = {
    "model": "llama-3.1-8b",
    "base": "bf16",
    "mode": "merged",
    "task": "decode",
    "batch": 1,
    "prompt_len": 512,
    "new_tokens": 128,
    "profile": "plain",
    "rank": 16,
    "targets": "all-linear",
    "n_adapters": 1,
    "device": "cuda",
    "seed": 0,
}

# (spec changes, metrics) of the training rows; the first spec is also measured on an older commit.
TRAIN_CASES = (
    (
        {},
        {
            "tokens_per_s": 9000.0,
            "mfu": 0.36,
            "peak_allocated_gib": 100.0,
            "peak_reserved_gib": 104.0,
            "weights_gib": 15.0,
            "trainable_params": 41943040,
            "loss_first": 11.0,
            "loss_last": 10.5,
        },
    ),
    (
        {"method": "qlora"},
        {
            "tokens_per_s": 8000.0,
            "mfu": 0.32,
            "peak_allocated_gib": 90.0,
            "peak_reserved_gib": 95.0,
            "weights_gib": 5.5,
            "trainable_params": 41943040,
        },
    ),
    (
        {"rank": 64},
        {
            "tokens_per_s": 8500.0,
            "mfu": 0.35,
            "peak_allocated_gib": 102.0,
            "peak_reserved_gib": 106.0,
            "weights_gib": 15.0,
            "trainable_params": 167772160,
        },
    ),
    (
        {"model": "llama-3.2-3b", "method": "full", "rank": 0},
        {
            "tokens_per_s": 12000.0,
            "mfu": 0.40,
            "peak_allocated_gib": 70.0,
            "peak_reserved_gib": 75.0,
            "weights_gib": 6.0,
            "trainable_params": 3212749824,
        },
    ),
)
OLD_TOKENS_PER_S = 9500.0  # the first spec's figure on the older commit
INFER_CASES = (
    ({"mode": "merged", "batch": 1}, {"ms_per_token": 20.0, "decode_tokens_per_s": 50.0}),
    ({"mode": "dynamic", "batch": 1}, {"ms_per_token": 30.0, "decode_tokens_per_s": 33.3}),
    ({"mode": "base", "batch": 1}, {"ms_per_token": 19.0, "decode_tokens_per_s": 52.6}),
    ({"mode": "merged", "batch": 8}, {"ms_per_token": 25.0, "decode_tokens_per_s": 320.0}),
    ({"mode": "dynamic", "batch": 8}, {"ms_per_token": 40.0, "decode_tokens_per_s": 200.0}),
    (
        {"mode": "merged", "task": "prefill", "batch": 8, "prompt_len": 2048},
        {"prefill_tokens_per_s": 32000.0, "ttft_ms": 512.0},
    ),
    (
        {"mode": "dynamic", "task": "prefill", "batch": 8, "prompt_len": 2048},
        {"prefill_tokens_per_s": 20000.0, "ttft_ms": 820.0},
    ),
    ({"mode": "dynamic", "task": "mixed", "batch": 32, "n_adapters": 4}, {"decode_tokens_per_s": 900.0}),
    ({"mode": "dynamic", "task": "mixed", "batch": 32, "n_adapters": 16}, {"decode_tokens_per_s": 700.0}),
    (
        {"mode": "dynamic", "task": "adapters"},
        {"adapter_load_s": 0.4, "switch_ms": 0.5, "hotswap_ms": 12.0, "adapter_mib": 160.0},
    ),
    (
        {"mode": "merged", "task": "fidelity"},
        {"logit_rel_diff_max": 0.01, "logit_rel_diff_mean": 0.001, "token_agreement": 1.0},
    ),
    (
        {"mode": "merged", "task": "fidelity", "base": "nf4"},
        {"logit_rel_diff_max": 0.2, "logit_rel_diff_mean": 0.02, "token_agreement": 0.9},
    ),
)


def _provenance(commit: str, timestamp: str) -> dict:
    return {
        "git_commit": commit,
        "git_dirty": False,
        "torch": "test",
        "transformers": "test",
        "peft": "test",
        "bitsandbytes": "test",
        "device_name": FIXTURE_DEVICE,
        "driver": "test",
        "cuda": "test",
        "timestamp": timestamp,
        "host": "test-fixture",
        "python": "3",
    }


def make_row(
    kind: str,
    spec: dict,
    metrics: dict,
    *,
    status: str = "ok",
    commit: str = NEW_COMMIT,
    timestamp: str = NEW_TIME,
) -> dict:
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "status": status,
        "error": None if status == "ok" else "CUDA out of memory (test data)",
        "spec": spec,
        "spec_hash": digest,
        "code_version": "test",
        "suite": "test-fixture",
        "metrics": metrics,
        "provenance": _provenance(commit, timestamp),
    }


def fixture_rows() -> tuple[list[dict], list[dict]]:
    """(train rows, infer rows) of the test data."""
    train = [make_row("train", {**TRAIN_BASE, **change}, metrics) for change, metrics in TRAIN_CASES]
    first_old = {**TRAIN_CASES[0][1], "tokens_per_s": OLD_TOKENS_PER_S}
    train.insert(0, make_row("train", dict(TRAIN_BASE), first_old, commit=OLD_COMMIT, timestamp=OLD_TIME))
    oom = {**TRAIN_BASE, "model": "llama-3.1-70b", "method": "full", "rank": 0}
    train.append(make_row("train", oom, {}, status="oom"))
    infer = [make_row("infer", {**INFER_BASE, **change}, metrics) for change, metrics in INFER_CASES]
    return train, infer


def write_results(folder: Path) -> Path:
    """Write the test rows as two JSONL files under `folder`; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    train, infer = fixture_rows()
    for name, rows in (("train-fixture.jsonl", train), ("infer-fixture.jsonl", infer)):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


def test_fixture_rows_follow_the_row_contract(tmp_path):
    folder = write_results(tmp_path / "results")
    rows = load_rows(folder)  # validates every row against core.rows
    train, infer = fixture_rows()
    assert len(rows) == len(train) + len(infer)
    assert {r["provenance"]["device_name"] for r in rows} == {FIXTURE_DEVICE}
