"""Tables as a reader sees them: human headers with units, numbers formatted to what they mean, "n/a" for a
figure that is missing, "none" for a limit that does not exist, dates without ISO clutter.

display(frame) returns a frame of text for st.dataframe (cells are text, never Markdown). A column not named
in HEADERS gets a header from its name and the unit its suffix says (`_gib` → GiB, `_s` → s, ...).
"""

from __future__ import annotations

import math

import pandas as pd

MISSING = "n/a"

# column → (header, format); formats: usd, int, num (3 significant digits), pct (a fraction shown in %),
# pct_value (already in %), hours, gib, time (ISO timestamp), commit, text
HEADERS: dict[str, tuple[str, str]] = {
    "rank": ("#", "int"),
    "provider": ("provider", "text"),
    "kind": ("kind", "text"),
    "option": ("option", "text"),
    "usd_total": ("USD per month", "usd"),
    "usd_per_run": ("USD per run", "usd"),
    "usd_fixed_per_month": ("fixed USD per month", "usd"),
    "ops_usd_per_month": ("operating USD per month", "usd"),
    "runs_capacity": ("runs per month a block can do", "num"),
    "basis": ("throughput", "text"),
    "model": ("model", "text"),
    "as_of": ("price as of", "text"),
    "gpu": ("GPU", "text"),
    "pricing_kind": ("pricing", "text"),
    "n_gpus": ("GPUs", "int"),
    "tokens_per_s": ("tokens/s", "num"),
    "job_hours": ("hours per run", "hours"),
    "gpu_hours_per_run": ("GPU-hours per run", "hours"),
    "energy_kwh_per_run": ("kWh per run", "num"),
    "peak_allocated_gib": ("peak memory (GiB)", "gib"),
    "memory_basis": ("memory", "text"),
    "config": ("configuration used", "text"),
    "managed_model": ("managed model", "text"),
    "match": ("model match", "text"),
    "status": ("status", "text"),
    "flags": ("flags", "text"),
    "managed_option": ("managed option", "text"),
    "self_option": ("self-hosted option", "text"),
    "self_kind": ("self kind", "text"),
    "break_even_runs_per_month": ("break-even (runs per month)", "num"),
    "self_usd_total": ("self-hosted USD per month", "usd"),
    "managed_usd_total": ("managed USD per month", "usd"),
    "self_basis": ("self-hosted throughput", "text"),
    "self_as_of": ("self-hosted price as of", "text"),
    "managed_as_of": ("managed price as of", "text"),
    "verdict": ("verdict", "text"),
    "payback_months": ("payback (months)", "num"),
    "mfu": ("MFU (%)", "pct"),
    "mfu_pct": ("MFU (%)", "pct_value"),
    "timestamp": ("measured (UTC)", "time"),
    "time": ("measured (UTC)", "time"),
    "first": ("first row (UTC)", "time"),
    "last": ("last row (UTC)", "time"),
    "git_commit": ("commit", "commit"),
    "from_commit": ("from commit", "commit"),
    "to_commit": ("to commit", "commit"),
    "device_class": ("GPU class", "text"),
    "baseline": ("baseline", "num"),
    "new": ("new", "num"),
    "change_pct": ("change (%)", "pct_value"),
    "new_spread_pct": ("spread of new windows (%)", "pct_value"),
    "device_name": ("hardware", "text"),
    "seq_len": ("sequence length (tokens)", "int"),
    "micro_batch": ("micro-batch", "int"),
    "prompt_len": ("prompt (tokens)", "int"),
    "new_tokens": ("new tokens", "int"),
    "batch": ("batch", "int"),
    "n_adapters": ("adapters", "int"),
    "token_agreement": ("token agreement (%)", "pct"),
    "logit_rel_diff_max": ("max relative logit difference", "num"),
    "logit_rel_diff_mean": ("mean relative logit difference", "num"),
    "gpus_needed": ("GPUs needed", "int"),
    "gpus_per_job": ("GPUs per job", "int"),
    "concurrent_jobs": ("jobs at once", "int"),
    "gpu_hours_per_month": ("GPU-hours per month", "hours"),
    "tokens_per_s_per_job": ("tokens/s per job", "num"),
    "memory_gib": ("memory per GPU (GiB)", "gib"),
    "note": ("note", "text"),
    "source": ("source", "text"),
    "server_usd_per_gpu": ("server USD per GPU", "usd"),
    "years": ("depreciation (years)", "num"),
    "usd_per_kwh": ("USD per kWh", "num"),
    "pue": ("PUE", "num"),
    "utilisation": ("utilisation (%)", "pct"),
    "system_w_per_gpu": ("W per GPU (whole server)", "int"),
    "colo_usd_per_kw_month": ("colocation USD per kW-month", "num"),
}
_SUFFIXES = (
    ("_usd_per_month", "USD per month", "usd"),
    ("_usd", "USD", "usd"),
    ("_gib", "GiB", "gib"),
    ("_ms", "ms", "num"),
    ("_s", "s", "num"),
    ("_pct", "%", "pct_value"),
    ("_mib", "MiB", "num"),
    ("_bytes", "bytes", "int"),
    ("_months", "months", "num"),
    ("_hours", "hours", "hours"),
)


def header(name: str) -> tuple[str, str]:
    """(human header, format) of a column."""
    if name in HEADERS:
        return HEADERS[name]
    for suffix, unit, fmt in _SUFFIXES:
        if name.endswith(suffix):
            return f"{name[: -len(suffix)].replace('_', ' ')} ({unit})", fmt
    return name.replace("_", " "), "text"


def _missing(value) -> bool:
    return (
        value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))
    )


def cell(value, fmt: str) -> str:
    """One value as text in the given format."""
    if _missing(value) or (isinstance(value, str) and not value.strip()):
        return MISSING
    if isinstance(value, float) and math.isinf(value):
        return "no limit"
    try:
        return _FORMATS.get(fmt, _text)(value)
    except (TypeError, ValueError):
        return str(value)


def _text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return _num(value)
    return str(value)


def _num(value) -> str:
    value = float(value)
    if value == int(value) and abs(value) < 1e6:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def usd(value) -> str:
    """Dollars as the whole app writes them: '$1,234' (no cents from $100), '$12.50', '−$999' (the sign
    before the dollar, a minus sign), 'n/a' for a missing figure."""
    if _missing(value):
        return MISSING
    value = float(value)
    sign = "−" if value < 0 else ""
    return f"{sign}${abs(value):,.0f}" if abs(value) >= 100 else f"{sign}${abs(value):,.2f}"


def _time(value) -> str:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%d %H:%M")  # the header says UTC


_FORMATS = {
    "usd": usd,
    "int": lambda v: f"{int(round(float(v))):,}",
    "num": _num,
    "pct": lambda v: f"{float(v) * 100:.1f}",
    "pct_value": lambda v: f"{float(v):.1f}",
    "hours": lambda v: f"{float(v):,.1f}",
    "gib": lambda v: f"{float(v):,.1f}",
    "time": _time,
    "commit": lambda v: str(v)[:10],
    "text": _text,
}


def display(
    frame: pd.DataFrame, columns: list[str] | None = None, rename: dict[str, str] | None = None
) -> pd.DataFrame:
    """The columns (all when None) as text, under human headers (`rename` overrides a header)."""
    names = [c for c in (columns or list(frame.columns)) if c in frame]
    out = pd.DataFrame(index=frame.index)
    for name in names:
        title, fmt = header(name)
        title = (rename or {}).get(name, title)
        while title in out:  # two columns with one header: keep both
            title += " "
        out[title] = [cell(v, fmt) for v in frame[name].tolist()]
    return out.reset_index(drop=True)
