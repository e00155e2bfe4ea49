"""Synthetic token batches with a learnable pattern.

Random tokens give a flat loss: nothing to learn. Here each sequence counts upward from a random start with a
per-sequence stride drawn from a small set, modulo the vocabulary (t[i+1] = t[i] + stride): a model can learn it
from context, so the loss falls on a tiny model, while the token distribution stays uniform, so throughput
is what real text of that length would give.
"""

from __future__ import annotations

import torch

STRIDES = (1, 2, 3, 5)


def pattern_batch(batch: int, seq_len: int, vocab_size: int, generator: torch.Generator) -> torch.Tensor:
    start = torch.randint(0, vocab_size, (batch, 1), generator=generator)
    stride = torch.tensor(STRIDES)[torch.randint(0, len(STRIDES), (batch, 1), generator=generator)]
    return (start + stride * torch.arange(seq_len).unsqueeze(0)) % vocab_size


class PatternBatches:
    """An endless stream of (input_ids, labels) on `device`; labels equal inputs (the model shifts them)."""

    def __init__(self, batch: int, seq_len: int, vocab_size: int, device: str, seed: int = 0):
        self.batch, self.seq_len, self.vocab_size, self.device = batch, seq_len, vocab_size, device
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self):
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        ids = pattern_batch(self.batch, self.seq_len, self.vocab_size, self.generator).to(self.device)
        return ids, ids
