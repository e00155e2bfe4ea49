"""Regression micro-benchmarks for GPU CI runners (pytest-benchmark), skipped where CUDA is absent.

On a GPU runner:
    pytest -m gpu tests/test_gpu_regression.py --benchmark-enable --benchmark-autosave \\
        --benchmark-compare --benchmark-compare-fail=median:5%
fails when a LoRA / QLoRA training step got more than 5% slower than the last saved run on that runner.
The sweep-level gate is `peftplan bench train --suite ci-gpu` then `peftplan results compare`.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module", params=["lora", "qlora"])
def stepper(request):
    import torch

    from benchmarks.data import PatternBatches
    from benchmarks.spec import TrainSpec
    from benchmarks.train import prepare, train_step

    spec = TrainSpec(model="llama-3.2-1b", method=request.param, micro_batch=4, seq_len=1024, device="cuda")
    model, optimizer, _ = prepare(spec)
    batches = PatternBatches(spec.micro_batch, spec.seq_len, 128256, "cuda")

    def step():
        train_step(model, optimizer, batches, 1)
        torch.cuda.synchronize()  # the round ends when the GPU is done

    yield spec, step


def test_train_step(benchmark, stepper):
    spec, step = stepper
    benchmark.extra_info["tokens_per_step"] = spec.tokens_per_step
    benchmark.pedantic(step, rounds=10, warmup_rounds=3)
