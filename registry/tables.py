"""The registry as a text table (the CLI's `list`) and as table rows (the dashboard)."""

from __future__ import annotations

COLUMNS = ("id", "weights", "base", "data", "deployments", "size_mib", "status", "registered_at")


def summary(entry: dict) -> dict:
    """One adapter as a flat row of COLUMNS."""
    return {
        "id": entry["id"],
        "weights": entry["weights_sha256"][:12],
        "base": entry["base_model"],
        "data": entry["data_label"],
        "deployments": ", ".join(f"{d['name']} ({d['mode']})" for d in entry["deployments"]) or "-",
        "size_mib": round(entry["size_bytes"] / 1024**2, 3),
        "status": entry["status"],
        "registered_at": entry["registered_at"],
    }


def table(entries: list[dict]) -> str:
    if not entries:
        return "no adapters registered"
    rows = [[str(v) for v in summary(e).values()] for e in entries]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
