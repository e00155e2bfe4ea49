"""Step benchmarks for GPU CI runners (pytest-benchmark), skipped where CUDA is absent.

On a GPU runner:
    pytest -m gpu tests/test_gpu_regression.py --benchmark-enable --benchmark-autosave \\
        --benchmark-compare --benchmark-compare-fail=median:5%
fails when a Llama-3.1-8B LoRA / QLoRA training step got more than 5% slower than the last saved run on that
runner. The shapes are the ci-gpu suite's (2 × 1024 tokens, ~0.25 s of GPU work a step, so the host's kernel
launches do not set the pace), and each test checks what it measured: the tokens every round fed the model,
a finite loss, and a spread small enough for the 5% comparison to mean something. The sweep-level gate is
`peftplan bench train|infer --suite ci-gpu` then `peftplan results compare` (README, "Regression gate").
"""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.gpu

ROUNDS, WARMUP_ROUNDS = 15, 3
TOLERANCE = 0.05  # --benchmark-compare-fail=median:5%: the noise must stay well inside it


class CountingBatches:
    """The benchmark's batches, counting the tokens handed to the model."""

    def __init__(self, batches):
        self.batches, self.tokens = batches, 0

    def __iter__(self):
        return self

    def __next__(self):
        ids, labels = next(self.batches)
        self.tokens += ids.numel()
        return ids, labels


@pytest.fixture(scope="module", params=["lora", "qlora"])
def stepper(request):
    import torch

    from benchmarks.data import PatternBatches
    from benchmarks.models import shape_of
    from benchmarks.spec import TrainSpec
    from benchmarks.train import prepare, train_step

    spec = TrainSpec(model="llama-3.1-8b", method=request.param, micro_batch=2, seq_len=1024, device="cuda")
    model, optimizer, _ = prepare(spec)
    batches = CountingBatches(
        PatternBatches(spec.micro_batch, spec.seq_len, shape_of(spec.model).vocab_size, "cuda")
    )
    losses = []

    def step():
        losses.append(train_step(model, optimizer, batches, spec.grad_accum))  # float(): waits for the GPU
        torch.cuda.synchronize()  # the round ends when the GPU is done

    return spec, step, batches, losses


def test_train_step(benchmark, stepper):
    spec, step, batches, losses = stepper
    benchmark.extra_info["tokens_per_step"] = spec.tokens_per_step
    benchmark.pedantic(step, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS)
    steps = 1 if benchmark.disabled else ROUNDS + WARMUP_ROUNDS  # --benchmark-disable: one plain call
    assert batches.tokens == spec.tokens_per_step * steps
    assert len(losses) == steps and all(math.isfinite(x) and x > 0 for x in losses)
    if benchmark.disabled:
        return
    stats = benchmark.stats.stats
    benchmark.extra_info["tokens_per_s_median"] = spec.tokens_per_step / stats.median
    # the interquartile range, as a share of the median: a 5% compare is meaningless above a few per cent
    assert stats.iqr / stats.median < TOLERANCE / 2, (
        f"step times spread {stats.iqr / stats.median:.1%} of the median"
    )
