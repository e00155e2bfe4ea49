"""The dashboard in a real headless browser: `peftplan dashboard` is started as a user starts it, and Debian's
Chromium (driven by Playwright) opens every page at 1440 and 800 px wide.

- On the shipped data: the time from starting the server to the first chart visible is printed (the speed
  benchmark is dashboards/speed.py), and no page shows an error; editing a price on the Cost page moves the
  verdict, and the page's link reproduces it on a fresh page (Cost and Overview).
- On test rows (tests/test_dashboard_rows.py): every page shows a plotly chart and no error; an uploaded
  results file is shown on the Data page and beside the shipped rows on the Training chart, marked yours, and
  is never written to the results folder.
Screenshots go to tests/artifacts/ (ignored by git). .ci/debian-deps.sh installs Chromium on a CI machine.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from test_dashboard_rows import write_results

from dashboards.browser import (
    CHART,
    CHROMIUM,
    CHROMIUM_ARGS,
    ServerExited,
    free_port,
    goto_when_up,
    start_dashboard,
    stop,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# page file → URL path (st.navigation derives it from the file name; the default page is "/")
PAGES = {
    "overview": "",
    "cost": "cost",
    "capacity": "capacity",
    "claims": "claims",
    "training": "training",
    "inference": "inference",
    "regressions": "regressions",
    "adapters": "adapters",
    "data": "data",
}
# Pages that draw no chart, and what shows they are drawn
NO_CHART = {"claims": "text=What would measure it", "adapters": '[data-testid="stMain"] h1'}
WIDTHS = (1440, 800)
FILL_HINT = '[data-testid="stAlertContentInfo"]:has-text("peftplan bench")'
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
VERDICT = '[data-testid="stAlertContentSuccess"], [data-testid="stAlertContentWarning"]'
PAGE_HEIGHT_JS = """Math.max(...Array.from(document.querySelectorAll(
    '[data-testid="stMain"], [data-testid="stMain"] *')).slice(0, 50).map(e => e.scrollHeight))"""
START_BUDGET_S = 30.0  # a hard failure bound; the speed goal is measured by dashboards/speed.py


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/debian-deps.sh installs it")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def open_when_up(page, url: str, proc, log: Path) -> None:
    try:
        goto_when_up(page, url, proc, log, time.perf_counter() + START_BUDGET_S)
    except ServerExited as exc:
        pytest.fail(str(exc))


def settle(page) -> None:
    """Wait until the script run is over (the status widget goes) and charts are drawn."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=20000)
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30000)
    page.wait_for_timeout(300)


def screenshot(page, name: str) -> None:
    """The whole page: Streamlit scrolls inside its main block, so the viewport is made as tall as the page."""
    size = page.viewport_size
    height = page.evaluate(PAGE_HEIGHT_JS)
    page.set_viewport_size({"width": size["width"], "height": min(max(height, 1000), 12000)})
    page.wait_for_timeout(500)  # charts redraw at the new size
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)


def check_page(page, base: str, name: str, shot: str, *, need_chart: bool) -> None:
    """Open a page; it must draw a chart (or, where rows are missing, say which command fills it; the pages of
    NO_CHART draw none) and show no error box."""
    page.goto(f"{base}/{PAGES[name]}", wait_until="domcontentloaded")
    if name in NO_CHART:
        page.locator(NO_CHART[name]).first.wait_for(timeout=30000)
    else:
        page.wait_for_selector(
            CHART if need_chart else f"{CHART}, {FILL_HINT}", state="visible", timeout=30000
        )
    settle(page)
    screenshot(page, f"{shot}-{name}")
    errors = page.locator(ERRORS)
    assert errors.count() == 0, f"{name}: error shown: {errors.first.inner_text()}"


def every_page_at_each_width(page, base: str, label: str, *, need_chart: bool, widths=WIDTHS) -> None:
    for width in widths:
        page.set_viewport_size({"width": width, "height": 1000})
        for name in PAGES:
            check_page(page, base, name, f"{label}-{width}", need_chart=need_chart)


def verdict(page) -> str:
    page.wait_for_selector(VERDICT, timeout=30000)
    settle(page)
    return page.locator(VERDICT).first.inner_text()


def edit_price_and_share(browser, page, base: str) -> None:
    """A price raised on the Cost page moves the verdict; the link reproduces it on a fresh page."""
    page.goto(f"{base}/cost", wait_until="domcontentloaded")
    before = verdict(page)
    page.get_by_text("Prices", exact=True).click()
    box = page.get_by_label("USD per GPU-hour", exact=False)
    box.fill("500")  # the cheapest self-hosted option's price, now far above every other
    box.press("Enter")
    page.wait_for_function(
        "([sel, old]) => { const el = document.querySelector(sel); return el && el.innerText !== old; }",
        arg=[VERDICT, before],
        timeout=30000,
    )
    after = verdict(page)
    assert after != before
    assert "prices=" in page.url
    assert page.get_by_text("(USD per GPU-hour): 500").count() == 1  # the note of what changed
    screenshot(page, "shipped-1440-cost-price-edited")
    link = page.url
    fresh = browser.new_page(viewport={"width": 1440, "height": 1000})
    try:
        fresh.goto(link, wait_until="domcontentloaded")
        assert verdict(fresh) == after
        fresh.goto(link.replace("/cost?", "/?"), wait_until="domcontentloaded")
        assert verdict(fresh) == after  # the Overview reads the same scenario from the link
        screenshot(fresh, "shipped-1440-overview-shared-link")
    finally:
        fresh.close()


def test_shipped_data_every_page_price_edit_and_shared_link(browser, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    port, log = free_port(), tmp_path / "server.log"
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    start = time.perf_counter()
    proc = start_dashboard(port, log)
    try:
        open_when_up(page, f"http://127.0.0.1:{port}/", proc, log)
        page.wait_for_selector(CHART, state="visible", timeout=START_BUDGET_S * 1000)
        print(f"\ndashboard: server start to first chart visible: {time.perf_counter() - start:.2f} s")
        every_page_at_each_width(page, f"http://127.0.0.1:{port}", "shipped", need_chart=False)
        page.set_viewport_size({"width": 1440, "height": 1000})
        edit_price_and_share(browser, page, f"http://127.0.0.1:{port}")
    finally:
        page.close()
        stop(proc)


def upload_results(page, base: str, results: Path, tmp_path: Path) -> None:
    """The Data page's upload: a good results file is shown, a bad one gets a message, neither is kept."""
    page.goto(f"{base}/data", wait_until="domcontentloaded")
    upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    upload.wait_for(state="attached", timeout=30000)
    upload.set_input_files(str(results / "infer-fixture.jsonl"))
    page.get_by_text("valid rows in").wait_for(timeout=30000)
    settle(page)
    screenshot(page, "fixture-1440-data-upload")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"schema_version": 1, "kind": "train"}\n')
    upload.set_input_files(str(bad))
    error = page.locator('[data-testid="stAlertContentError"]')
    error.wait_for(timeout=30000)
    assert "cannot be read as results" in error.inner_text() and "bad.jsonl" in error.inner_text()


def overlay_on_training(page, base: str, results: Path) -> None:
    """Your file on the Training page: its rows drawn beside the shipped ones, marked yours."""
    page.goto(f"{base}/training", wait_until="domcontentloaded")
    page.wait_for_selector(CHART, state="visible", timeout=30000)
    page.get_by_text("Compare with your results file").click()
    upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    upload.wait_for(state="attached", timeout=30000)
    upload.set_input_files(str(results / "train-fixture.jsonl"))
    page.locator(f"{CHART} .legend >> text=★ yours").first.wait_for(timeout=30000)
    settle(page)
    screenshot(page, "fixture-1440-training-yours")
    assert page.locator(ERRORS).count() == 0


def test_every_page_draws_a_chart_over_test_rows_and_your_file_overlays(browser, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    results = write_results(tmp_path / "results")
    port, log = free_port(), tmp_path / "server.log"
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    proc = start_dashboard(port, log, results)
    try:
        open_when_up(page, f"http://127.0.0.1:{port}/", proc, log)
        # every page draws a chart over the test rows; the shipped-data test covers both widths
        every_page_at_each_width(page, f"http://127.0.0.1:{port}", "fixture", need_chart=True, widths=(1440,))
        assert str(results) in page.inner_text('[data-testid="stSidebar"]')
        page.set_viewport_size({"width": 1440, "height": 1000})
        upload_results(page, f"http://127.0.0.1:{port}", results, tmp_path)
        overlay_on_training(page, f"http://127.0.0.1:{port}", results)
        assert sorted(p.name for p in results.iterdir()) == ["infer-fixture.jsonl", "train-fixture.jsonl"]
    finally:
        page.close()
        stop(proc)
