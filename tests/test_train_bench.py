"""The training benchmark end to end on the CPU: tiny real models, real peft and bitsandbytes NF4."""

from __future__ import annotations

import pytest

from benchmarks.runner import run_sweep
from benchmarks.suites import load_suite
from core.rows import validate_row
from core.shapes import get_shape, lora_params
from tests.helpers import read_jsonl

TRAIN_METRICS = (
    "tokens_per_s",
    "samples_per_s",
    "step_time_median_s",
    "step_time_p90_s",
    "peak_allocated_gib",
    "peak_reserved_gib",
    "weights_gib",
    "trainable_params",
    "total_params",
    "adapter_bytes",
    "mfu",
    "matmul_peak_tflops",
    "flops_per_token",
    "loss_first",
    "loss_last",
    "energy_j_per_token",
    "build_s",
)
PROVENANCE = (
    "git_commit",
    "git_dirty",
    "torch",
    "transformers",
    "peft",
    "bitsandbytes",
    "device_name",
    "timestamp",
)


@pytest.fixture(scope="module")
def smoke_rows(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke") / "rows.jsonl"
    entries = load_suite("cpu-smoke", "train")
    summary = run_sweep(entries, out, device_name="cpu", progress=False)
    assert summary.counts == {"ok": len(entries)}
    return {r["name"]: r for r in read_jsonl(out)}


def test_every_method_gives_a_complete_ok_row(smoke_rows):
    assert {r["spec"]["method"] for r in smoke_rows.values()} == {"lora", "qlora", "full"}
    for row in smoke_rows.values():
        validate_row(row)
        assert row["status"] == "ok" and row["error"] is None
        assert set(TRAIN_METRICS) <= set(row["metrics"]), row["name"]
        assert set(PROVENANCE) <= set(row["provenance"])
        m = row["metrics"]
        assert m["tokens_per_s"] > 0 and 0 < m["mfu"] < 1
        assert m["step_time_p90_s"] >= m["step_time_median_s"] > 0
        assert m["energy_j_per_token"] is None  # no NVML energy counter on a CPU
        assert m["peak_reserved_gib"] > 0 and m["memory_basis"] == "process_rss"
        assert row["provenance"]["device_name"] == "cpu"


def test_loss_falls_on_the_learnable_task(smoke_rows):
    for row in smoke_rows.values():
        m = row["metrics"]
        assert m["loss_last"] < m["loss_first"] - 0.1, row["name"]


def test_trainable_parameters_follow_the_lora_formula(smoke_rows):
    for row in smoke_rows.values():
        spec, m = row["spec"], row["metrics"]
        shape = get_shape(spec["model"])
        if spec["method"] == "full":
            assert m["trainable_params"] == m["total_params"] == shape.total_params()
        else:
            expected = lora_params(shape, spec["rank"], spec["targets"])
            assert m["trainable_params"] == expected
            assert m["total_params"] == shape.total_params() + expected


def test_adapter_size_on_disk_matches_its_parameters(smoke_rows):
    for row in smoke_rows.values():
        m = row["metrics"]
        if row["spec"]["method"] == "full":
            assert m["adapter_bytes"] is None
            continue
        # peft keeps adapter weights in fp32 (autocast_adapter_dtype) even on a bf16 base: 4 bytes each
        tensor_bytes = 4 * m["trainable_params"]
        # safetensors adds a JSON header: a few hundred bytes per tensor at most (A and B per target per layer)
        n_tensors = 2 * get_shape(row["spec"]["model"]).num_layers * 7
        assert tensor_bytes <= m["adapter_bytes"] <= tensor_bytes + 256 * n_tensors + 4096


def test_qlora_weights_are_smaller_than_bf16(smoke_rows):
    lora = smoke_rows["tiny-llama-lora-r8"]["metrics"]["weights_gib"]
    qlora = smoke_rows["tiny-llama-qlora-r8"]["metrics"]["weights_gib"]
    assert qlora < lora


def test_resume_skips_finished_specs_and_force_redoes_them(tmp_path):
    out = tmp_path / "rows.jsonl"
    entries = load_suite("cpu-smoke", "train", only="tiny-qwen2-*")
    assert len(entries) == 1
    assert run_sweep(entries, out, device_name="cpu", progress=False).counts == {"ok": 1}
    again = run_sweep(entries, out, device_name="cpu", progress=False)
    assert again.skipped == 1 and again.counts == {}
    elsewhere = run_sweep(
        entries, out, device_name="NVIDIA H200", progress=False
    )  # other device: not skipped
    assert elsewhere.skipped == 0
    forced = run_sweep(entries, out, device_name="cpu", force=True, progress=False)
    assert forced.counts == {"ok": 1}
    assert len(read_jsonl(out)) == 3
