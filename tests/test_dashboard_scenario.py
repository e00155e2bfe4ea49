"""The scenario as data (planner.scenario) and in the app: validated from a link or a file, applied to a copy
of the catalog, reproduced by the page's query parameters; the figures the verdict states (month fit, Pareto
front) checked against numbers worked out by hand; tables as text (dashboards.display)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from test_dashboard_pages import APP, assert_clean, figure
from test_dashboard_rows import write_results

from core.errors import InputError
from dashboards import RESULTS_ENV
from dashboards.display import MISSING, cell, display, header, usd
from planner import scenario
from planner.catalog import load_catalog
from planner.cost import compare_training


def test_default_scenario_survives_json_and_the_link_unchanged():
    scn = scenario.validate({"epochs": 5, "kinds": ["spot"], "onprem": {"pue": 1.2}})
    assert scenario.from_json(scenario.to_json(scn)) == scn
    assert scenario.from_query(scenario.to_query(scn)) == scn
    assert scenario.to_query(scenario.default_scenario()) == {}  # a plain link carries nothing


@pytest.mark.parametrize(
    ("data", "field", "value"),
    [
        ({"epochs": -1}, "epochs", "-1"),
        ({"method": "dora"}, "method", "dora"),
        ({"kinds": ["cheap"]}, "kinds", "cheap"),
        ({"prices": {"x": "free"}}, "prices.x", "free"),
        ({"onprem": {"tdp": 1}}, "onprem.tdp", "1"),
        ({"colour": "red"}, "colour", "red"),
        ({"rank": 2.5}, "rank", "2.5"),
    ],
)
def test_a_bad_scenario_file_names_file_field_value_and_what_is_accepted(data, field, value):
    with pytest.raises(InputError) as err:
        scenario.validate(data, "mine.json")
    text = str(err.value)
    assert "mine.json" in text and field in text and value in text and "accepted" in text


def test_a_file_that_is_not_json_is_a_message():
    with pytest.raises(InputError, match="not JSON"):
        scenario.from_json(b"import os; os.system('x')", "evil.json")


def test_a_price_override_reaches_the_planner_and_scales_the_run_cost():
    catalog = load_catalog()
    base = scenario.validate({})
    train, cat = scenario.apply(base, catalog)
    cheapest = next(o for o in compare_training(train, cat).options if o.kind == "self-hosted")
    price = next(
        p
        for p in catalog.prices
        if p.provider == cheapest.provider
        and p.gpu == cheapest.gpu
        and p.pricing_kind == cheapest.pricing_kind
        and p.instance in cheapest.option
    )
    doubled = scenario.validate({"prices": {scenario.price_key(price): 2 * price.usd_per_gpu_hour}})
    again = compare_training(*scenario.apply(doubled, catalog))
    moved = next(o for o in again.options if (o.provider, o.option) == (cheapest.provider, cheapest.option))
    assert moved.usd_per_run == pytest.approx(2 * cheapest.usd_per_run)  # billed hours × price
    assert scenario.changes(doubled) == [
        f"{scenario.price_key(price)} (USD per GPU-hour): {2 * price.usd_per_gpu_hour:,g}"
    ]


def test_engineering_cost_starts_from_the_catalog_and_people_costs_are_editable():
    from planner.cost import cloud_ops_usd_per_month

    catalog = load_catalog()
    train, cat = scenario.apply(scenario.validate({}), catalog)
    cloud = next(o for o in compare_training(train, cat).options if o.kind == "self-hosted")
    assert cloud.ops_usd_per_month == pytest.approx(cloud_ops_usd_per_month(catalog))  # not 0
    # people cost halved: the engineering cost is engineers × cost per engineer-year / 12
    half = catalog.default("usd_per_engineer_year") / 2
    train, cat = scenario.apply(scenario.validate({"defaults": {"usd_per_engineer_year": half}}), catalog)
    cheaper = next(o for o in compare_training(train, cat).options if o.option == cloud.option)
    assert cheaper.ops_usd_per_month == pytest.approx(cloud.ops_usd_per_month / 2)


def test_an_override_of_a_price_the_catalog_lacks_is_a_message():
    with pytest.raises(InputError, match="prices.Nobody"):
        scenario.apply(scenario.validate({"prices": {"Nobody X100": 1.0}}), load_catalog())


def test_month_fit_and_pareto_front_by_hand():
    assert scenario.month_fit(10.0, 4) == (40.0, True)
    assert scenario.month_fit(200.0, 4) == (800.0, False)  # 800 h > 730 h in a month
    assert scenario.month_fit(10.0, 4, runs_capacity=3.0) == (40.0, False)  # the servers do 3 runs a month
    assert scenario.month_fit(None, 4) == (None, None)
    assert scenario.all_in_usd_per_run(100.0, 4) == 25.0 and scenario.all_in_usd_per_run(100.0, 0) is None
    # (hours, dollars): (3, 6) is beaten by (2, 5) on both; the others trade time for money
    assert scenario.pareto_front([(1, 10), (2, 5), (3, 6), (0.5, 20)]) == [True, True, False, True]


def test_band_of_a_figure_inverse_to_throughput():
    # tokens/s off by ±25 %: 10 h becomes 10 / 1.25 = 8 h to 10 / 0.75 = 13.33 h
    low, high = scenario.band(10.0, 0.25)
    assert low == pytest.approx(8.0) and high == pytest.approx(40 / 3)


def test_pareto_chart_bands_are_the_planners_out_of_sample_error(monkeypatch):
    """With predictions committed before their rows (data/predictions/), the band is that pre-registered
    out-of-sample error, not the leave-one-out error over rows that shaped the model."""
    from core.paths import RESULTS_DIR
    from planner.measured import load_measurements
    from planner.preregister import committed_out_of_sample

    results = RESULTS_DIR  # the shipped rows: measured on a catalog GPU, so the planner can be checked
    monkeypatch.setenv(RESULTS_ENV, str(results))
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert_clean(at)
    # the newest pre-registered set with measured rows (files come newest first)
    summary = next(
        s for _file, _errors, s in committed_out_of_sample(load_measurements(results)) if not s.empty
    )
    error = summary.set_index("metric").loc["tokens_per_s", "median_abs_error"]
    trace = next(t for t in figure(at, "Cost against time per run")["data"] if t.get("name") == "projected")
    hours = trace["x"][0]
    assert trace["error_x"]["array"][0] == pytest.approx(hours / (1 - error) - hours)
    assert trace["error_x"]["arrayminus"][0] == pytest.approx(hours - hours / (1 + error))


def test_tables_read_as_text_with_units():
    assert cell(None, "usd") == MISSING and cell(float("nan"), "num") == MISSING
    assert cell(math.inf, "num") == "no limit"
    assert cell(1234.5, "usd") == "$1,234" and cell(12.345, "usd") == "$12.35"
    assert cell("2026-11-20T11:00:00+01:00", "time") == "2026-11-20 10:00"  # in UTC, which the header says
    assert header("time") == ("measured (UTC)", "time")
    assert header("change_pct") == ("change (%)", "pct_value")
    assert cell(0.4567, "pct") == "45.7"
    # one dollar formatter for the app (tables, verdict, metrics): the sign before the dollar
    assert usd(-999.4) == "−$999" and usd(-12.5) == "−$12.50" and usd(None) == MISSING
    assert cell(-1234.5, "usd") == "−$1,234"
    assert header("job_hours") == ("hours per run", "hours")
    assert header("capex_usd") == ("capex (USD)", "usd")
    shown = display(pd.DataFrame({"usd_total": [1e3, None], "note": ["a", None]}))
    assert list(shown.columns) == ["USD per month", "note"]
    assert shown.to_dict("list") == {"USD per month": ["$1,000", MISSING], "note": ["a", MISSING]}


@pytest.fixture
def results(tmp_path, monkeypatch):
    folder = write_results(tmp_path / "results")
    monkeypatch.setenv(RESULTS_ENV, str(folder))
    return folder


def test_a_link_reproduces_the_scenario_and_edits_go_into_the_link(results):
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.query_params["runs_per_month"] = "10"
    at.run()
    assert_clean(at)
    assert figure(at, "Monthly cost of 10 runs")  # the Overview reads the link
    at.switch_page("views/cost.py").run()
    assert at.number_input(key="scn-runs_per_month").value == 10.0
    at.number_input(key="scn-epochs").set_value(5.0).run()
    assert_clean(at)
    assert at.query_params["epochs"] == "5.0" and at.query_params["runs_per_month"] == "10.0"
    at.button(key="scenario-reset").click().run()
    assert at.number_input(key="scn-epochs").value == 3.0 and "epochs" not in at.query_params


def test_a_bad_link_is_a_message_and_the_defaults(results):
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.query_params["epochs"] = "many"
    at.run()
    assert not at.exception
    assert at.error and "epochs" in at.error[0].value and "many" in at.error[0].value
    assert figure(at, "Monthly cost of 4 runs")


def test_a_log_axis_under_a_decade_gets_several_labels():
    import plotly.graph_objects as go

    from dashboards.charts import log_axis

    fig = go.Figure()
    # plotly's decade ticks would label $1,000 only
    log_axis(fig, "y", [480.0, 1606.0, float("nan")], usd=True)
    assert fig.layout.yaxis.type == "log"
    assert list(fig.layout.yaxis.ticktext) == ["$200", "$500", "$1,000", "$2,000"]
    log_axis(fig, "x", [1.5, 50.0])
    assert list(fig.layout.xaxis.tickvals) == [1, 2, 5, 10, 20, 50, 100]
