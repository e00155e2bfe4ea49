"""Builders of TEST DATA for the planner's tests: result rows and small catalogs, made up to exercise the
code and written only under pytest's tmp directories (never to data/results/ or data/catalog/)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from core.paths import CATALOG_DIR
from core.rows import SCHEMA_VERSION
from core.vocab import TUNED_FUSED_LORA
from planner.measured import Measurements, load_measurements

PROVENANCE = {
    "git_commit": "0" * 40,
    "git_dirty": False,
    "torch": "test",
    "transformers": "test",
    "peft": "test",
    "bitsandbytes": "test",
    "timestamp": "2026-01-01T00:00:00+00:00",
}


def _row(kind: str, spec: dict, metrics: dict, device_name: str, status: str, timestamp: str) -> dict:
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "status": status,
        "error": None if status == "ok" else "test failure",
        "spec": spec,
        "spec_hash": digest,
        "code_version": "test",
        "suite": "test",
        "metrics": metrics if status == "ok" else {},
        "provenance": {**PROVENANCE, "device_name": device_name, "timestamp": timestamp},
    }


def train_row(
    model: str = "llama-3.1-8b",
    method: str = "lora",
    *,
    rank: int = 16,
    targets="all-linear",
    micro_batch: int = 4,
    seq_len: int = 2048,
    grad_checkpointing: bool = False,
    optimizer: str = "adamw_fused",
    profile: str = "plain",
    num_gpus: int = 1,
    sharding=None,
    device_name: str = "NVIDIA H200",
    tokens_per_s: float | None = 1000.0,
    peak_allocated_gib: float | None = 50.0,
    energy_j_per_token: float | None = None,
    status: str = "ok",
    timestamp: str = "2026-01-01T00:00:00+00:00",
    tuned_applied: list[str] | None = None,
    dropout: float = 0.0,
) -> dict:
    """A made-up training row (test data). A tuned LoRA row says, as the current code's rows do, that its
    adapters ran fused (core.vocab.TUNED_FUSED_LORA) unless `tuned_applied` says otherwise."""
    spec = {
        "model": model,
        "method": method,
        "rank": rank,
        "alpha": 2 * rank,
        "dropout": dropout,
        "targets": targets,
        "micro_batch": micro_batch,
        "seq_len": seq_len,
        "grad_accum": 1,
        "grad_checkpointing": grad_checkpointing,
        "optimizer": optimizer,
        "attn_impl": "sdpa",
        "profile": profile,
        "warmup_steps": 1,
        "measure_steps": 1,
        "seed": 0,
        "device": "cpu" if device_name == "cpu" else "cuda",
        "checkpoint": None,
        "num_gpus": num_gpus,
        "sharding": sharding,
        "cpu_offload": False,
    }
    metrics = {
        "tokens_per_s": tokens_per_s,
        "peak_allocated_gib": peak_allocated_gib,
        "energy_j_per_token": energy_j_per_token,
        "world_size": num_gpus,
    }
    if profile == "tuned":
        fused = [TUNED_FUSED_LORA] if method != "full" and not dropout else []
        metrics["tuned_applied"] = ["compile_layers", *fused] if tuned_applied is None else tuned_applied
        metrics["tuned_skipped"] = [f"{TUNED_FUSED_LORA}: dropout"] if dropout else []
    return _row("train", spec, metrics, device_name, status, timestamp)


def row_of(config, tokens_per_s: float) -> dict:
    """A made-up training row of a TrainConfig's model, method, batch, sequence, checkpointing and profile."""
    return train_row(
        config.model,
        config.method,
        micro_batch=config.micro_batch,
        seq_len=config.seq_len,
        grad_checkpointing=config.grad_checkpointing,
        profile=config.profile,
        tokens_per_s=tokens_per_s,
    )


def infer_row(
    model: str,
    task: str,
    mode: str,
    metrics: dict,
    *,
    base: str = "bf16",
    batch: int = 1,
    prompt_len: int = 512,
    profile: str = "plain",
    n_adapters: int = 1,
    device_name: str = "NVIDIA H200",
    timestamp: str = "2026-01-01T00:00:00+00:00",
) -> dict:
    """A made-up inference row (test data)."""
    spec = {
        "model": model,
        "base": base,
        "mode": mode,
        "task": task,
        "batch": batch,
        "prompt_len": prompt_len,
        "new_tokens": 128,
        "profile": profile,
        "rank": 16,
        "targets": "all-linear",
        "n_adapters": n_adapters,
        "device": "cuda",
        "seed": 0,
    }
    return _row("infer", spec, metrics, device_name, "ok", timestamp)


def write_rows(directory: Path, rows: list[dict], name: str = "test.jsonl") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def measurements(directory: Path, rows: list[dict]) -> Measurements:
    """Rows written to a tmp results folder and read back through the planner's loader."""
    write_rows(directory, rows)
    return load_measurements(directory)


def copy_catalog(directory: Path) -> Path:
    """A copy of the shipped catalog in a tmp folder, to edit for error cases."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("gpus.csv", "gpu_prices.csv", "managed.csv", "onprem.csv", "defaults.csv", "models.csv"):
        shutil.copy(CATALOG_DIR / name, directory / name)
    return directory


PRICES_HEADER = (
    "provider,gpu,region,pricing_kind,term,usd_per_gpu_hour,gpus_per_instance,min_commit_hours,instance,"
    "status,source,as_of\n"
)
MANAGED_HEADER = (
    "provider,offer,managed_model,open_weights,min_params_b,max_params_b,method,usd_per_1m_training_tokens,"
    "usd_per_training_hour,min_charge_usd,usd_per_1m_input,usd_per_1m_cached_input,usd_per_1m_output,"
    "hosting_usd_per_hour,storage_usd_per_month,multi_lora,status,source,as_of\n"
)
ONPREM_HEADER = (
    "gpu,unit,unit_gpus,unit_usd,years,usd_per_kwh,pue,utilisation,system_w_per_gpu,colo_usd_per_kw_month,"
    "support_frac_per_year,setup_usd_per_unit,people_fte,status,source,as_of\n"
)
DEFAULTS_HEADER = "name,value,unit,status,source,as_of\n"


def small_catalog(
    directory: Path, prices: str, managed: str, onprem: str, defaults: str | None = None
) -> Path:
    """A catalog with the shipped GPUs and only the given (test) price, managed and on-prem lines (and
    operating assumptions: the shipped ones unless given)."""
    copy_catalog(directory)
    (directory / "gpu_prices.csv").write_text(PRICES_HEADER + prices)
    (directory / "managed.csv").write_text(MANAGED_HEADER + managed)
    (directory / "onprem.csv").write_text(ONPREM_HEADER + onprem)
    if defaults is not None:
        (directory / "defaults.csv").write_text(DEFAULTS_HEADER + defaults)
    return directory
