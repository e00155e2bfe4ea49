"""Step benchmarks for GPU CI runners (pytest-benchmark): the training specs of the ci-gpu suite, one step a
round. The GPU test is skipped where CUDA is absent; the same code runs on the CPU with a tiny model.

On a GPU runner:
    pytest -m gpu tests/test_gpu_regression.py --benchmark-enable --benchmark-autosave \\
        --benchmark-compare --benchmark-compare-fail=median:5%
fails when a Llama-3.1-8B LoRA / QLoRA training step got more than 5% slower than the last saved run on that
runner. The shapes are read from benchmarks/suites/ci-gpu.toml (steps of 0.25-0.5 s of GPU work, so the host's
kernel launches do not set the pace), and each test checks what it measured: the tokens every round fed the
model, a finite loss every round, and an interquartile range of the step times under half the 5% tolerance,
so that the comparison means something. Rounds run after a garbage collection with the live objects frozen
(benchmarks/measure.py, quiet_gc), like the suite's measured steps. The sweep-level gate is
`peftplan bench all --suite ci-gpu` then `peftplan results compare` (README, "Regression gate").
"""

from __future__ import annotations

import gc
import math

import pytest

from benchmarks.suites import load_suite

ROUNDS, WARMUP_ROUNDS = 15, 3
TOLERANCE = 0.05  # --benchmark-compare-fail=median:5%: the noise must stay well inside it
SUITE_STEPS = {e.name: e.spec for e in load_suite("ci-gpu", "train")}


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


def measure_steps(benchmark, spec, max_iqr: float | None) -> None:
    """Build the spec's model, time `ROUNDS` training steps (after `WARMUP_ROUNDS`), and check them."""
    from benchmarks.data import PatternBatches
    from benchmarks.measure import quiet_gc, sync
    from benchmarks.models import shape_of
    from benchmarks.train import prepare, train_step

    model, optimizer, _ = prepare(spec)
    vocab = shape_of(spec.model).vocab_size
    batches = CountingBatches(PatternBatches(spec.micro_batch, spec.seq_len, vocab, spec.device, spec.seed))
    losses = []

    def step():
        losses.append(train_step(model, optimizer, batches, spec.grad_accum))  # float(): waits for the device
        sync(spec.device)  # the round ends when the device is done

    benchmark.extra_info["tokens_per_step"] = spec.tokens_per_step
    with quiet_gc():
        benchmark.pedantic(step, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS, iterations=1)
    steps = 1 if benchmark.disabled else ROUNDS + WARMUP_ROUNDS  # --benchmark-disable: one plain call
    assert batches.tokens == spec.tokens_per_step * steps, "a round fed the model another number of tokens"
    bad = [x for x in losses if not (math.isfinite(x) and x > 0)]
    assert len(losses) == steps and not bad, f"{len(losses)} losses for {steps} steps; not finite: {bad}"
    if benchmark.disabled:
        return
    stats = benchmark.stats.stats
    benchmark.extra_info["tokens_per_s_median"] = spec.tokens_per_step / stats.median
    spread = stats.iqr / stats.median
    benchmark.extra_info["iqr_share_of_median"] = spread
    assert max_iqr is None or spread < max_iqr, (
        f"{spec.method}: step times' interquartile range is {spread:.1%} of the median "
        f"({stats.median:.4f} s; min {stats.min:.4f} s, max {stats.max:.4f} s); a {TOLERANCE:.0%} compare "
        f"needs it under {max_iqr:.1%}"
    )


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(SUITE_STEPS))
def test_train_step(benchmark, name):
    import torch

    try:
        measure_steps(benchmark, SUITE_STEPS[name], max_iqr=TOLERANCE / 2)
    finally:  # the next parameter builds its own 8B model
        gc.collect()
        torch.cuda.empty_cache()


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_train_step_on_the_cpu(benchmark, method):
    """The same measurement on a tiny model (CPU timings on a shared host are not held to the tolerance)."""
    from benchmarks.spec import TrainSpec

    suite = SUITE_STEPS["ci-llama8b-lora-r16-b2x1024"].to_dict()
    spec = TrainSpec(**suite | {"model": "tiny-llama", "method": method, "seq_len": 32, "device": "cpu"})
    measure_steps(benchmark, spec, max_iqr=None)
