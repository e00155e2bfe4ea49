"""Small helpers shared by the benchmark tests (tiny specs, sweeps into a tmp folder)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.suites import make_entry

TINY = {
    "model": "tiny-llama",
    "method": "lora",
    "device": "cpu",
    "micro_batch": 2,
    "seq_len": 32,
    "warmup_steps": 1,
    "measure_steps": 2,
}


def tiny_entry(name: str, timeout_s: float = 120, **overrides):
    return make_entry(
        "train",
        {**TINY, **overrides, "name": name, "timeout_s": timeout_s},
        where="test",
        suite="test",
        device=None,
    )


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
