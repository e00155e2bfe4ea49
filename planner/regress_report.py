"""The regression gate's report: plain text for a terminal, Markdown for a CI job summary or a PR comment.

The Markdown stays well under GitHub's 65,536-character limit for a comment: problems first, then one table
row per gated metric that is not plainly `ok` (all rows when there are few).
"""

from __future__ import annotations

from planner.regress import Finding, GateResult, Sample

MAX_TABLE_ROWS = 120  # a suite of a few dozen specs × a few metrics fits; the rest is summarised
VERDICT_MARK = {
    "regressed": "❌ regressed",
    "failed": "❌ failed",
    "missing_spec": "❌ missing spec",
    "missing_metric": "❌ missing metric",
    "improved": "✅ improved",
    "noisy": "〰️ within noise",
    "ok": "ok",
}


def _fmt(x: Sample | None) -> str:
    if x is None:
        return "—"
    spread = f" ±{x.spread / 2:.1%}" if x.spread and len(x.windows) > 1 else ""
    return (f"{x.value:,.0f}" if abs(x.value) >= 1000 else f"{x.value:.4g}") + spread


def _change(f: Finding) -> str:
    return "" if f.change is None else f"{f.change:+.1%}"


def verdict_line(result: GateResult) -> str:
    code = result.exit_code
    if code == 0:
        judged = len({f.spec_hash for f in result.findings})
        return f"PASSED: {judged} spec(s) on device class '{result.device_class}' within their noise and tolerance"
    return f"FAILED (exit {code}): {len(result.problems)} problem(s) on device class '{result.device_class}'"


def render_text(result: GateResult) -> str:
    lines = [
        f"{f.verdict:14s} {f.name:40s} {f.metric:22s} {_fmt(f.baseline):>18s} -> {_fmt(f.new):<18s} {_change(f)}"
        for f in result.findings
    ]
    lines += [f"note: {n}" for n in result.notes]
    lines += [f"{kind}: {message}" for kind, message in result.problems]
    lines.append(verdict_line(result))
    return "\n".join(lines)


def render_markdown(result: GateResult, title: str = "Regression gate") -> str:
    """A job summary / PR comment: the verdict, the problems, a table of the judged metrics."""
    head = "✅" if result.exit_code == 0 else "❌"
    out = [f"### {head} {title}: {verdict_line(result)}", ""]
    out += [f"- **{kind}**: {message}" for kind, message in result.problems]
    out += [f"- note: {n}" for n in result.notes]
    rows = result.findings
    if len(rows) > MAX_TABLE_ROWS:
        rows = [f for f in rows if f.verdict != "ok"][:MAX_TABLE_ROWS]
        out += ["", f"{len(result.findings) - len(rows)} plainly ok metric(s) left out of the table."]
    if rows:
        out += [
            "",
            "| spec | metric | baseline (median ± half-spread) | new | change | verdict |",
            "| --- | --- | ---: | ---: | ---: | --- |",
        ]
        out += [
            f"| {f.name} | {f.metric} | {_fmt(f.baseline)} | {_fmt(f.new)} | {_change(f)} | "
            f"{VERDICT_MARK.get(f.verdict, f.verdict)} |"
            for f in rows
        ]
    out += [
        "",
        "A metric regresses when its median is worse than the baseline's by more than its tolerance "
        '*and* every new window is worse than every baseline window (README, "Regression gate").',
    ]
    return "\n".join(out) + "\n"
