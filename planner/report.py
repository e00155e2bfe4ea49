"""Plain-text tables of result rows (`peftplan results show`, and `make run` before the dashboard)."""

from __future__ import annotations

import math
from pathlib import Path

from core.rows import load_rows, rows_frame

# (column in the flattened frame, header, format)
TRAIN_COLUMNS = (
    ("name", "name", "{}"),
    ("spec.model", "model", "{}"),
    ("spec.method", "method", "{}"),
    ("spec.rank", "r", "{}"),
    ("spec.micro_batch", "batch", "{}"),
    ("spec.seq_len", "seq", "{}"),
    ("spec.grad_checkpointing", "ckpt", "{}"),
    ("status", "status", "{}"),
    ("metrics.tokens_per_s", "tokens/s", "{:,.0f}"),
    ("metrics.mfu", "MFU", "{:.1%}"),
    ("metrics.peak_allocated_gib", "peak GiB", "{:.1f}"),
    ("metrics.weights_gib", "weights GiB", "{:.2f}"),
    ("provenance.device_name", "device", "{}"),
    ("provenance.git_commit", "commit", "{:.8}"),
)
INFER_COLUMNS = (
    ("name", "name", "{}"),
    ("spec.model", "model", "{}"),
    ("spec.base", "base", "{}"),
    ("spec.mode", "mode", "{}"),
    ("spec.task", "task", "{}"),
    ("spec.batch", "batch", "{}"),
    ("spec.profile", "profile", "{}"),
    ("status", "status", "{}"),
    ("metrics.prefill_tokens_per_s", "prefill tok/s", "{:,.0f}"),
    ("metrics.ms_per_token", "ms/token", "{:.2f}"),
    ("metrics.merge_s", "merge s", "{:.2f}"),
    ("metrics.token_agreement", "agree", "{:.1%}"),
    ("metrics.peak_allocated_gib", "peak GiB", "{:.1f}"),
    ("provenance.device_name", "device", "{}"),
)


def _fmt(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def table(rows: list[dict], columns) -> str:
    frame = rows_frame(rows)
    present = [(c, h, f) for c, h, f in columns if c in frame.columns]
    cells = [[h for _, h, _ in present]]
    for _, rec in frame.iterrows():
        cells.append([_fmt(rec[c], f) for c, _, f in present])
    widths = [max(len(r[i]) for r in cells) for i in range(len(present))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render(path: str | Path, kind: str | None = None) -> str:
    """Tables of the training and inference rows under `path` (a .jsonl file or a folder)."""
    rows = load_rows(path, kind)
    if not rows:
        return (
            f"No result rows under {path}. Fill it with, for instance:\n"
            "  peftplan bench train --suite cpu-smoke --device cpu"
        )
    parts = []
    for k, columns in (("train", TRAIN_COLUMNS), ("infer", INFER_COLUMNS)):
        subset = [r for r in rows if r["kind"] == k]
        if subset:
            parts.append(f"{k} rows ({len(subset)}):\n{table(subset, columns)}")
    return "\n\n".join(parts)
