"""How fast the dashboard answers in a real browser: `python -m dashboards.speed [--repeats N]`.

Starts `peftplan dashboard` as a user does, drives Debian's Chromium headless (Playwright), and measures
- start_to_first_chart_s: from starting the server to the first chart visible on the Overview;
- cost_change_s: on the Cost page, from changing "Runs per month" to the cost chart showing the new figure.
Each figure is the median of N fresh servers (the first run warms the disk cache and is reported apart).
Prints one JSON line with every sample, the machine's CPU count and the load average. A benchmark, not a test:
it asserts nothing. Goals (issue 12): first chart ≤ 2.5 s, a Cost-page change ≤ 0.5 s on a 2-core machine.
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


def _first_chart(browser, log: Path) -> tuple[float, subprocess.Popen, int, object]:
    port = free_port()
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    start = time.perf_counter()
    proc = start_dashboard(port, log)
    goto_when_up(page, f"http://127.0.0.1:{port}/", proc, log, start + 30)
    page.wait_for_selector(CHART, state="visible", timeout=30000)
    return time.perf_counter() - start, proc, port, page


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: .ci/debian-deps.sh installs it", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    first, changes = [], []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as tmp:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        for i in range(args.repeats + 1):
            seconds, proc, port, page = _first_chart(browser, Path(tmp) / f"server-{i}.log")
            try:
                first.append(seconds)
                changes += [_cost_change(page, port, runs) for runs in (5 + i, 9 + i, 13 + i)]
            finally:
                page.close()
                stop(proc)
        browser.close()
    result = {
        "start_to_first_chart_s": statistics.median(first[1:]),
        "cost_change_s": statistics.median(changes[3:]),
        "start_to_first_chart_samples_s": [round(s, 3) for s in first],
        "cost_change_samples_s": [round(s, 3) for s in changes],
        "warm_up": "first sample of each list (cold disk cache), left out of the medians",
        "cpus": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
