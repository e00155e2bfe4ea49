"""GPU-only checks of the training benchmark (skipped where no CUDA device exists)."""

from __future__ import annotations

import pytest

from benchmarks.runner import run_isolated
from core.rows import validate_row
from tests.helpers import tiny_entry

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("method", ["lora", "qlora", "full"])
def test_small_shape_on_cuda(method):
    entry = tiny_entry(
        f"gpu-{method}",
        model="llama-3.2-1b",
        method=method,
        device="cuda",
        micro_batch=2,
        seq_len=512,
        measure_steps=3,
        timeout_s=300,
    )
    row = validate_row(run_isolated(entry))
    assert row["status"] == "ok", row["error"]
    m = row["metrics"]
    assert m["memory_basis"] == "cuda_allocator"
    assert m["peak_reserved_gib"] >= m["peak_allocated_gib"] > m["weights_gib"] > 0
    assert 0 < m["mfu"] < 1 and m["matmul_peak_tflops"] > 10


def test_70b_nf4_builds_layer_by_layer_under_40_gib():
    import torch

    from benchmarks.models import build_model

    torch.cuda.reset_peak_memory_stats()
    model, build_s = build_model("llama-3.1-70b", "nf4", "cuda")
    peak_gib = torch.cuda.max_memory_allocated() / 1024**3
    assert peak_gib < 40, f"peak {peak_gib:.1f} GiB while building"
    assert build_s < 60
    del model
