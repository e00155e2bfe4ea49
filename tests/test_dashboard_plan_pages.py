"""AppTest of the planner pages (Overview, Cost, Capacity): each figure shown equals what the planner returns
for the same inputs, bad input is a message (no traceback), and empty results still give projected answers."""

from __future__ import annotations

import pytest
from test_dashboard_pages import assert_clean, figure, figures, open_page, trace
from test_dashboard_rows import write_results

from dashboards import RESULTS_ENV, plans
from dashboards.display import usd
from planner.breakeven import savings, sensitivity
from planner.capacity import Workload, fits_matrix, gpus_needed
from planner.catalog import load_catalog
from planner.cost import TrainScenario, compare_training
from planner.measured import load_measurements
from planner.scenario import apply, validate


def apply_scenario(changes: dict):
    """The catalog as planner.scenario applies a scenario with these changes."""
    return apply(validate(changes), load_catalog())[1]


@pytest.fixture
def results(tmp_path, monkeypatch):
    folder = write_results(tmp_path / "results")
    monkeypatch.setenv(RESULTS_ENV, str(folder))
    return folder


def bars(fig: dict) -> dict[str, float]:
    """Horizontal bars of every trace: option → value."""
    # the hover's first line names the option whole (the axis label may be cut short)
    return {
        c[0]: x
        for t in fig["data"]
        if t["type"] == "bar"
        for x, c in zip(t["x"], t["customdata"], strict=True)
    }


def usd_totals(scenario: TrainScenario, folder) -> dict[str, float]:
    comparison = compare_training(scenario, load_catalog(), load_measurements(folder))
    return {f"{o.provider} · {o.option}": o.usd_total for o in comparison.options}


def test_overview_verdict_and_chart_are_the_planners(results):
    at = open_page()
    assert_clean(at)
    scenario = TrainScenario.build(**plans.DEFAULT_SCENARIO)
    expected = usd_totals(scenario, results)
    shown = bars(figure(at, "Monthly cost of 4 runs"))
    assert shown and all(shown[label] == pytest.approx(expected[label]) for label in shown)
    saving, best_self, best_managed = savings(
        compare_training(scenario, load_catalog(), load_measurements(results))
    )
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Saving per month"] == usd(saving)  # "−$999" where the managed API is cheaper
    assert metrics["Managed, per month"] == f"${best_managed.usd_total:,.0f}"
    text = " ".join(m.value for m in at.markdown)
    assert f"price as of {best_self.as_of}" in text and f"price as of {best_managed.as_of}" in text


def test_overview_on_empty_results_is_projected_and_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "none"))
    at = open_page()
    assert_clean(at)
    assert "projected" in figure(at, "Monthly cost")["layout"]["title"]["text"]
    assert any("peftplan bench train --suite cpu-smoke --device cpu" in i.value for i in at.info)


def test_cost_what_if_matches_the_planner(results):
    at = open_page("cost")
    assert_clean(at)
    at.text_input(key="scn-tokens-text").set_value("50M")
    at.number_input(key="scn-runs_per_month").set_value(10.0)
    at.segmented_control(key="scn-method").set_value("qlora")
    at.multiselect(key="scn-kinds").select("on-demand").run()
    assert_clean(at)
    scenario = TrainScenario.build(
        model="llama-3.1-8b", tokens=50_000_000, method="qlora", epochs=3.0, runs_per_month=10.0
    )
    catalog = apply_scenario({"kinds": ["on-demand"]})
    comparison = compare_training(scenario, catalog, load_measurements(results))
    expected = {f"{o.provider} · {o.option}": o.usd_total for o in comparison.options}
    shown = bars(figure(at, "Monthly cost of 10 runs"))
    assert shown.keys() == expected.keys()
    assert all(shown[k] == pytest.approx(v) for k, v in expected.items())
    assert not any("spot" in k or "reserved" in k for k in shown)

    at.segmented_control(key="cost-view").set_value("Sensitivity and payback").run()
    tornado = sensitivity(scenario, catalog, load_measurements(results))
    fig = figure(at, "Sensitivity of the monthly saving")
    low = trace(fig, "input −25 %")
    base = tornado["base_saving_usd"].iloc[0]
    assert low["y"] == tornado["input"].tolist()
    assert [b + x for b, x in zip([low["base"]] * len(low["x"]), low["x"], strict=True)] == pytest.approx(
        tornado["saving_low_usd"].tolist()
    )
    assert low["base"] == pytest.approx(base)


def test_cost_widgets_present(results):
    at = open_page("cost")
    for key in ("scn-model", "scn-tokens-text", "scn-epochs", "scn-runs_per_month", "scn-utilisation"):
        assert any(
            w.key == key
            for kind in ("selectbox", "text_input", "number_input", "slider")
            for w in at.get(kind)
        ), key
    assert at.multiselect(key="scn-gpus") is not None
    # assumptions behind a closed expander are not drawn; opening it draws them
    assert not [w for w in at.number_input if w.key == "scn-onprem-pue"]
    at.session_state["cost-open-onprem"] = True
    at.run()
    assert at.number_input(key="scn-onprem-pue") is not None
    drawn = []
    for view in ("Cost by option", "Cost against time", "Break-even", "Sensitivity and payback"):
        at.segmented_control(key="cost-view").set_value(view).run()
        assert_clean(at)
        assert len(figures(at)) == 1 and len(at.get("download_button")) == 2  # the scenario, the chart's data
        drawn.append(figures(at)[0]["layout"]["title"]["text"].split(" <span")[0])
    assert drawn == [
        "Monthly cost of 4 runs",
        "Cost against time per run",
        "Break-even: monthly cost against runs per month",
        "Sensitivity of the monthly saving to each input (±25 %)",
    ]


def test_cost_bad_tokens_is_a_message_not_a_traceback(results):
    at = open_page("cost")
    at.text_input(key="scn-tokens-text").set_value("a lot").run()
    assert not at.exception
    assert at.error and "tokens" in at.error[0].value


def test_onprem_assumptions_reach_the_planner(results):
    at = open_page("cost")
    at.session_state["cost-open-onprem"] = True
    at.run()
    at.number_input(key="scn-onprem-usd_per_kwh").set_value(0.5).run()
    assert_clean(at)
    at.session_state["cost-open-onprem"] = False  # closed: the change stays in the scenario, and reopened
    at.run()
    assert not [w for w in at.number_input if w.key == "scn-onprem-usd_per_kwh"]
    assert at.query_params.get("onprem") and "usd_per_kwh" in str(at.query_params["onprem"])
    at.session_state["cost-open-onprem"] = True
    at.run()
    assert at.number_input(key="scn-onprem-usd_per_kwh").value == 0.5
    comparison = compare_training(
        TrainScenario.build(**plans.DEFAULT_SCENARIO),
        apply_scenario({"onprem": {"usd_per_kwh": 0.5}}),
        load_measurements(results),
    )
    expected = {f"{o.provider} · {o.option}": o.usd_total for o in comparison.options if o.kind == "on-prem"}
    shown = bars(figure(at, "Monthly cost of 4 runs"))
    assert expected and all(shown[k] == pytest.approx(v) for k, v in expected.items())


def test_capacity_matches_the_planner(results):
    at = open_page("capacity")
    assert_clean(at)
    at.number_input(key="cap-deadline").set_value(24.0).run()
    assert_clean(at)
    work = Workload.build(
        "llama-3.1-8b", 100_000_000, jobs_per_month=4.0, method="lora", epochs=3.0, deadline_hours=24.0
    )
    need = gpus_needed(work, load_catalog(), load_measurements(results))
    fig = figure(at, "GPUs needed")
    shown = {x: y for t in fig["data"] for x, y in zip(t["x"], t["y"], strict=True)}
    expected = dict(zip(need["gpu"], need["gpus_needed"], strict=True))
    assert shown == {g: n for g, n in expected.items() if n == n}

    matrix = fits_matrix(
        methods=("lora", "qlora", "full"),
        seq_lens=(2048,),
        micro_batch=4,
        catalog=load_catalog(),
        meas=load_measurements(results),
    )
    heat = figure(at, "Memory headroom")["data"][0]
    row = heat["y"].index("llama-3.1-8b · qlora")
    col = heat["x"].index("H100 SXM")
    cell = matrix[
        (matrix["model"] == "llama-3.1-8b") & (matrix["method"] == "qlora") & (matrix["gpu"] == "H100 SXM")
    ]
    gib = float(cell["headroom_gib"].iloc[0])
    assert heat["customdata"][row][col][1] == pytest.approx(gib)  # the hover's figure
    assert heat["text"][row][col] == f"{gib:.0f}"  # the cell's text
    pairs = zip(heat["customdata"], heat["text"], strict=True)
    short = [(c[1], t) for cs, ts in pairs for c, t in zip(cs, ts, strict=True)]
    assert all(t == "✗" for gib, t in short if gib <= -100) and any(gib <= -100 for gib, _ in short)
    assert max(len(t) for _, t in short) <= 3  # numbers that stay apart at 800 px
    assert at.multiselect(key="cap-fit-methods").value == ["lora", "qlora", "full"]
