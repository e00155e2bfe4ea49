"""Shape flat result frames for display: readable column names, configuration labels, and the dynamic-over-
merged overhead, which is derived from pairs of measured rows when shown and never stored.
"""

from __future__ import annotations

import os

import pandas as pd

from core.vocab import DEFAULT_ALLOCATOR

TRAIN_SPEC = (
    "model",
    "method",
    "rank",
    "targets",
    "micro_batch",
    "seq_len",
    "grad_accum",
    "grad_checkpointing",
    "optimizer",
    "attn_impl",
    "profile",
    "num_gpus",
    "sharding",
    "cpu_offload",
    "allocator",
)
INFER_SPEC = (
    "model",
    "base",
    "mode",
    "task",
    "batch",
    "prompt_len",
    "new_tokens",
    "profile",
    "rank",
    "targets",
    "n_adapters",
)
PROVENANCE = (
    "device_name",
    "git_commit",
    "git_dirty",
    "timestamp",
    "host",
    "torch",
    "transformers",
    "peft",
    "bitsandbytes",
    "cuda",
)
# What a hover says about where a measured point comes from (label → column of view()).
PROVENANCE_HOVER = {
    "GPU": "device_name",
    "commit": "git_commit",
    "measured": "measured_at",
    "torch": "torch",
    "transformers": "transformers",
    "peft": "peft",
    "bitsandbytes": "bitsandbytes",
}
TRAIN_METRICS = (
    "tokens_per_s",
    "samples_per_s",
    "step_time_median_s",
    "step_time_p90_s",
    "mfu",
    "peak_allocated_gib",
    "peak_reserved_gib",
    "weights_gib",
    "trainable_params",
    "total_params",
    "adapter_bytes",
    "loss_first",
    "loss_last",
    "energy_j_per_token",
    "build_s",
)
INFER_METRICS = (
    "prefill_tokens_per_s",
    "ttft_ms",
    "ms_per_token",
    "decode_tokens_per_s",
    "peak_allocated_gib",
    "weights_gib",
    "merge_s",
    "unmerge_s",
    "adapter_load_s",
    "switch_ms",
    "hotswap_ms",
    "adapter_mib",
    "logit_rel_diff_max",
    "logit_rel_diff_mean",
    "token_agreement",
)
# Metrics where a smaller figure is better (everything else: larger is better).
LOWER_IS_BETTER = frozenset(
    {
        "step_time_median_s",
        "step_time_p90_s",
        "peak_allocated_gib",
        "peak_reserved_gib",
        "weights_gib",
        "loss_last",
        "energy_j_per_token",
        "build_s",
        "ttft_ms",
        "ms_per_token",
        "merge_s",
        "unmerge_s",
        "adapter_load_s",
        "switch_ms",
        "hotswap_ms",
        "adapter_mib",
        "logit_rel_diff_max",
        "logit_rel_diff_mean",
    }
)


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column, or an all-missing one when no row has that field."""
    return frame[name] if name in frame else pd.Series([None] * len(frame), index=frame.index, dtype=object)


def ok(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[column(frame, "status") == "ok"] if not frame.empty else frame


def failed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[column(frame, "status") != "ok"] if not frame.empty else frame


def _short(value) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None or value != value else str(value)


def view(frame: pd.DataFrame, spec: tuple[str, ...], metrics: tuple[str, ...]) -> pd.DataFrame:
    """Spec fields, the given metrics, provenance and the file, with plain column names (units kept)."""
    out = pd.DataFrame(index=frame.index)
    for name in spec:
        out[name] = (
            column(frame, f"spec.{name}").map(_short) if name == "targets" else column(frame, f"spec.{name}")
        )
    if "allocator" in spec:  # rows from before the field ran PyTorch's default
        out["allocator"] = out["allocator"].fillna(DEFAULT_ALLOCATOR)
    for name in metrics:
        out[name] = pd.to_numeric(column(frame, f"metrics.{name}"), errors="coerce")
    for name in PROVENANCE:
        out[name] = column(frame, f"provenance.{name}")
    out["status"] = column(frame, "status")
    out["error"] = column(frame, "error")
    out["spec_hash"] = column(frame, "spec_hash")
    out["file"] = column(frame, "_file")
    out["source"] = column(frame, "source").fillna("shipped")
    if "time" in frame:
        out["time"] = frame["time"]
        out["measured_at"] = frame["time"].dt.strftime("%Y-%m-%d %H:%M UTC")
    return out.reset_index(drop=True)


def train_label(row: pd.Series) -> str:
    """'llama-3.1-8b qlora r16 4×2048 ckpt' — the fields that tell training configurations apart."""
    parts = [str(row.get("model")), str(row.get("method"))]
    if row.get("method") != "full":
        parts.append(f"r{row.get('rank')}")
    parts.append(f"{row.get('micro_batch')}×{row.get('seq_len')}")
    if row.get("grad_checkpointing") is True:
        parts.append("ckpt")
    if row.get("profile") not in (None, "plain"):
        parts.append(str(row.get("profile")))
    if row.get("allocator") == "expandable":
        parts.append("expandable segments")
    if (row.get("num_gpus") or 1) > 1:
        parts.append(f"{row.get('num_gpus')} GPUs")
    return " ".join(parts)


def with_labels(view_frame: pd.DataFrame) -> pd.DataFrame:
    out = view_frame.copy()
    out["configuration"] = out.apply(train_label, axis=1) if not out.empty else pd.Series(dtype=str)
    return out


def latest_per_spec(view_frame: pd.DataFrame) -> pd.DataFrame:
    """The newest row of each spec on each device (older rows of a spec are the Regressions page's business)."""
    if view_frame.empty:
        return view_frame
    ordered = view_frame.sort_values("timestamp", kind="stable")
    keys = ["spec_hash", "device_name", "source"] if "source" in view_frame else ["spec_hash", "device_name"]
    return ordered.drop_duplicates(keys, keep="last").reset_index(drop=True)


def mode_overhead(view_frame: pd.DataFrame, metric: str, lower_is_better: bool) -> pd.DataFrame:
    """Overhead in % of `dynamic` over `merged` for rows that share every other spec field and the device.

    Latency (lower is better): dynamic / merged − 1. Throughput: merged / dynamic − 1. Both read as 'dynamic
    costs this much more time per token'.
    """
    keys = [c for c in INFER_SPEC if c not in ("mode",)] + ["device_name"]
    rows = view_frame[view_frame["mode"].isin(["merged", "dynamic"])].dropna(subset=[metric])
    if rows.empty:
        return pd.DataFrame(columns=[*keys, "merged", "dynamic", "overhead_pct"])
    table = rows.assign(**{k: rows[k].map(_short) for k in keys}).pivot_table(
        index=keys, columns="mode", values=metric, aggfunc="last"
    )
    if not {"merged", "dynamic"} <= set(table.columns):
        return pd.DataFrame(columns=[*keys, "merged", "dynamic", "overhead_pct"])
    table = table.dropna(subset=["merged", "dynamic"]).reset_index()
    for name in ("batch", "prompt_len", "new_tokens", "rank", "n_adapters"):
        table[name] = pd.to_numeric(table[name], errors="coerce")
    table = table.sort_values(["model", "base", "profile", "prompt_len", "batch"], kind="stable")
    ratio = table["dynamic"] / table["merged"] if lower_is_better else table["merged"] / table["dynamic"]
    table["overhead_pct"] = (ratio - 1.0) * 100.0
    return table[[*keys, "merged", "dynamic", "overhead_pct"]]


def infer_label(row: pd.Series) -> str:
    """'llama-3.1-8b nf4 dynamic decode b8 p512 tuned' — the fields that tell inference specs apart."""
    parts = [str(row.get(k)) for k in ("model", "base", "mode", "task")]
    parts += [f"b{row.get('batch')}", f"p{row.get('prompt_len')}", str(row.get("profile"))]
    if (row.get("n_adapters") or 1) > 1:
        parts.append(f"{row.get('n_adapters')} adapters")
    return " ".join(parts)


def spec_labels(view_frame: pd.DataFrame, kind: str) -> pd.Series:
    label = train_label if kind == "train" else infer_label
    return view_frame.apply(label, axis=1) if not view_frame.empty else pd.Series(dtype=str)


def numeric_metrics(view_frame: pd.DataFrame, names: tuple[str, ...]) -> list[str]:
    """The metrics of `names` that at least one row carries."""
    return [n for n in names if n in view_frame and view_frame[n].notna().any()]


def file_summary(frame: pd.DataFrame, base: str | None = None) -> pd.DataFrame:
    """One line per results file (named relative to `base` when given): row counts by status, hardware,
    commits and the time span."""
    if frame.empty:
        return pd.DataFrame(
            columns=[
                "file",
                "rows",
                "ok",
                "failed",
                "kinds",
                "devices",
                "commits",
                "dirty_rows",
                "first",
                "last",
            ]
        )
    out = []
    for file, part in frame.groupby("_file", sort=True):
        status = column(part, "status")
        out.append(
            {
                "file": os.path.relpath(file, base) if base and os.path.isabs(str(file)) else file,
                "rows": len(part),
                "ok": int((status == "ok").sum()),
                "failed": int((status != "ok").sum()),
                "kinds": ", ".join(sorted(set(column(part, "kind").dropna()))),
                "devices": ", ".join(
                    sorted({str(d) for d in column(part, "provenance.device_name").dropna()})
                ),
                "commits": ", ".join(
                    sorted({str(c)[:10] for c in column(part, "provenance.git_commit").dropna()})
                ),
                "dirty_rows": int((column(part, "provenance.git_dirty") == True).sum()),  # noqa: E712
                "first": column(part, "provenance.timestamp").min(),
                "last": column(part, "provenance.timestamp").max(),
            }
        )
    return pd.DataFrame(out)


def status_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows per file and status, for a stacked bar."""
    counts = frame.groupby(["_file", "status"]).size().reset_index(name="rows")
    counts["file"] = counts["_file"].map(lambda f: str(f).rsplit("/", 1)[-1])
    return counts[["file", "status", "rows"]]


def headline_train(view_frame: pd.DataFrame, limit: int = 8) -> pd.DataFrame:
    """The fastest measured configuration of each model and method on each device (newest row per spec)."""
    rows = latest_per_spec(view_frame[view_frame["status"] == "ok"]).dropna(subset=["tokens_per_s"])
    if rows.empty:
        return rows
    best = rows.sort_values("tokens_per_s", ascending=False).drop_duplicates(
        ["model", "method", "device_name"]
    )
    best = with_labels(best).assign(mfu_pct=best["mfu"] * 100.0)
    cols = ["configuration", "tokens_per_s", "mfu_pct", "peak_allocated_gib", "device_name", "timestamp"]
    return best.sort_values(["model", "method"])[cols].head(limit).reset_index(drop=True)


def headline_decode(view_frame: pd.DataFrame) -> pd.DataFrame:
    """Batch-1 decode latency by mode, per model, base weights, profile, prompt and generated length and device
    (newest rows): merged and dynamic stand side by side only where they were measured on the same shape."""
    rows = latest_per_spec(view_frame[view_frame["status"] == "ok"])
    rows = rows[(rows["task"] == "decode") & (rows["batch"] == 1)].dropna(subset=["ms_per_token"])
    if rows.empty:
        return rows
    keys = ["model", "base", "profile", "prompt_len", "new_tokens", "device_name"]
    table = rows.pivot_table(index=keys, columns="mode", values="ms_per_token", aggfunc="last")
    table.columns = [f"{mode} ms/token" for mode in table.columns]  # "base" is also a column: the weights
    return table.reset_index()
