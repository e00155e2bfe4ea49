"""How fast the dashboard answers in a real browser: `python -m dashboards.speed [--repeats N]`.

Starts `peftplan dashboard` as a user does, drives Debian's Chromium headless (Playwright; the browser is
started before the clock starts), and measures
- start_to_first_chart_s: from starting the server to the first chart's SVG on the Overview, drawn and
  visible (checked at every frame) in a fresh browser context (empty cache, as a first visit), with the
  phases on the way: server_listening_s (the page's first byte; the port is polled every 10 ms before the
  browser is sent to it), frontend_loaded_s (DOMContentLoaded: Streamlit's JavaScript loaded) and
  websocket_open_s (the script run starts);
- cpu_s: where the machine's time went between starting the server and the first chart (Linux's /proc):
  CPU seconds of the server's processes and of everything else (the browser's processes, chiefly), and the
  share of the machine busy. A first view that keeps every core busy is bound by the work, not by waiting;
- cost_change_s: on the Cost page, from pressing Enter on a new "Runs per month" to the cost chart titled
  with the new figure.
Each figure is reported as the minimum (the quiet machine) and the median of N fresh servers; the first
server warms the disk cache and is reported apart. Prints one JSON line with every sample, the machine's CPU
count and the load average before and after. A benchmark, not a test: it asserts nothing. Goals (issue 12):
first chart ≤ 2.5 s, a Cost-page change ≤ 0.5 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dashboards.browser import CHART, CHROMIUM, CHROMIUM_ARGS, free_port, goto_when_up, start_dashboard, stop

PHASES = ("server_listening_s", "frontend_loaded_s", "websocket_open_s", "start_to_first_chart_s")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_ticks() -> tuple[int, int] | None:
    """All and idle (with I/O wait) CPU ticks of the machine since boot; None without /proc."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(ticks), ticks[3] + ticks[4]


def _group_ticks() -> dict[int, int]:
    """CPU ticks (user + system) of each process group's live processes."""
    groups: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        groups[int(fields[2])] = groups.get(int(fields[2]), 0) + int(fields[11]) + int(fields[12])
    return groups


def cpu_between(before: tuple, after: tuple, server_group: int) -> dict[str, float] | None:
    """CPU seconds of the server's process group and of all else, and the machine's busy share, between two
    (_machine_ticks(), _group_ticks()) snapshots; None without /proc."""
    (machine0, groups0), (machine1, groups1) = before, after
    if machine0 is None or machine1 is None:
        return None
    spent = {g: t - groups0.get(g, 0) for g, t in groups1.items()}
    server = spent.get(server_group, 0)
    total, idle = machine1[0] - machine0[0], machine1[1] - machine0[1]
    return {
        "server": round(server / CLOCK_TICKS, 2),
        "rest": round((sum(spent.values()) - server) / CLOCK_TICKS, 2),
        "machine_busy_share": round((total - idle) / total, 2) if total else float("nan"),
    }


def _snapshot() -> tuple:
    return _machine_ticks(), _group_ticks()


# Checked at every frame: Playwright's own wait re-checks an element that is there but not yet drawn only
# after growing pauses (up to half a second), which would be counted as the page's time.
_VISIBLE_JS = """selector => {
  const element = document.querySelector(selector);
  if (!element) return false;
  const box = element.getBoundingClientRect();
  return box.width > 0 && box.height > 0 && getComputedStyle(element).visibility !== "hidden";
}"""


def _wait_visible(page, selector: str, timeout_ms: float = 30000) -> None:
    """Wait until `selector` is drawn with a non-empty box (Playwright's meaning of visible), frame by frame."""
    page.wait_for_function(_VISIBLE_JS, arg=selector, polling="raf", timeout=timeout_ms)


def _first_chart(browser, log: Path) -> tuple[dict[str, float], subprocess.Popen, int, object]:
    """Seconds from starting the server to each phase of the first view."""
    port = free_port()
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    opened: list[float] = []
    page.on("websocket", lambda ws: opened.append(time.perf_counter()))
    before = _snapshot()
    start = time.perf_counter()
    proc = start_dashboard(port, log)
    goto_when_up(page, f"http://127.0.0.1:{port}/", proc, log, start + 30)
    listening = time.perf_counter()
    page.wait_for_load_state("domcontentloaded")
    loaded = time.perf_counter()
    _wait_visible(page, CHART)
    chart = time.perf_counter()
    cpu = cpu_between(before, _snapshot(), proc.pid)  # the server leads its own process group
    times = (listening, loaded, opened[0] if opened else float("nan"), chart)
    phases = {name: t - start for name, t in zip(PHASES, times, strict=True)}
    return phases | ({"cpu_s": cpu} if cpu else {}), proc, port, page


def _cost_change(page, port: int, runs: int) -> float:
    """Seconds from typing a new runs-per-month to the cost chart titled with it."""
    page.goto(f"http://127.0.0.1:{port}/cost", wait_until="domcontentloaded")
    page.wait_for_selector(CHART, state="visible", timeout=30000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30000)
    box = page.get_by_label("Runs per month")
    box.fill(str(runs))
    start = time.perf_counter()
    box.press("Enter")
    page.get_by_text(f"Monthly cost of {runs} runs").first.wait_for(state="visible", timeout=30000)
    return time.perf_counter() - start


def summary(samples: list[float]) -> dict[str, float]:
    """Minimum and median of the samples, in seconds to the millisecond."""
    return {"min": round(min(samples), 3), "median": round(statistics.median(samples), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        print(f"--repeats: {args.repeats} is not accepted; give 1 or more", file=sys.stderr)
        return 2
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: .ci/debian-deps.sh installs it", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()[0]
    first: list[dict[str, float]] = []
    changes: list[float] = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as tmp:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        for i in range(args.repeats + 1):
            phases, proc, port, page = _first_chart(browser, Path(tmp) / f"server-{i}.log")
            try:
                first.append(phases)
                changes += [_cost_change(page, port, runs) for runs in (5 + i, 9 + i, 13 + i)]
            finally:
                page.close()
                stop(proc)
        browser.close()
    result = {name: summary([p[name] for p in first[1:]]) for name in PHASES}
    result["cost_change_s"] = summary(changes[3:])
    result["start_to_first_chart_samples_s"] = [round(p[PHASES[-1]], 3) for p in first]
    if all("cpu_s" in p for p in first[1:]):
        result["first_view_cpu_s"] = {
            name: summary([p["cpu_s"][name] for p in first[1:]])
            for name in ("server", "rest", "machine_busy_share")
        }
    result["cost_change_samples_s"] = [round(s, 3) for s in changes]
    result["warm_up"] = "first server (first sample, first three changes): cold disk cache, left out"
    result["cpus"] = os.cpu_count()
    result["load_average_1m"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
