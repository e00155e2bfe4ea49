"""AppTest of the pages that read result rows: Training, Inference, Regressions, Data.

Each page runs over test rows written to a temporary folder (tests/test_dashboard_rows.py) and over an empty
folder; a chart's figures must equal the rows' (or, for derived figures, a value worked out by hand).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_dashboard_rows import (
    INFER_BASE,
    NEW_COMMIT,
    OLD_COMMIT,
    OLD_TOKENS_PER_S,
    TRAIN_BASE,
    TRAIN_CASES,
    make_row,
    write_results,
)

from dashboards import RESULTS_ENV

APP = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"
ROW_PAGES = ("training", "inference", "regressions", "data")


def open_page(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def figure(at: AppTest, title_part: str) -> dict:
    found = [f for f in figures(at) if title_part in f["layout"]["title"]["text"]]
    assert found, (
        f"no chart titled {title_part!r}; charts: {[f['layout']['title']['text'] for f in figures(at)]}"
    )
    return found[0]


def trace(fig: dict, name: str) -> dict:
    found = [t for t in fig["data"] if t.get("name") == name]
    assert found, f"no trace {name!r} in {[t.get('name') for t in fig['data']]}"
    return found[0]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture
def fixture_results(tmp_path, monkeypatch):
    folder = write_results(tmp_path / "results")
    monkeypatch.setenv(RESULTS_ENV, str(folder))
    return folder


@pytest.fixture
def empty_results(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "no-results-yet"))


@pytest.mark.parametrize("page", ROW_PAGES)
def test_empty_results_say_what_to_run(empty_results, page):
    at = open_page(page)
    assert_clean(at)
    text = " ".join(i.value for i in at.info)
    assert "peftplan bench" in text and "--suite cpu-smoke --device cpu" in text


@pytest.mark.parametrize("page", ROW_PAGES)
def test_every_chart_has_units_basis_and_csv(fixture_results, page):
    at = open_page(page)
    assert_clean(at)
    figs = figures(at)
    assert figs, "the page shows no chart"
    for fig in figs:
        title = fig["layout"]["title"]["text"]
        assert "measured" in title or "projected" in title, title
        assert fig["layout"]["yaxis"]["title"]["text"], f"no y-axis title on {title}"
        assert fig["layout"]["xaxis"]["title"]["text"], f"no x-axis title on {title}"
    downloads = at.get("download_button")
    assert len(downloads) >= len(figs)


def test_training_chart_shows_the_measured_tokens_per_s(fixture_results):
    at = open_page("training")
    assert_clean(at)
    assert at.multiselect(key="train-model") is not None
    assert at.toggle[0].value is True
    fig = figure(at, "Training throughput")
    lora = trace(fig, "lora")
    by_config = dict(zip(lora["x"], lora["y"], strict=True))
    # the newest row of the 8B LoRA r16 spec, not the older commit's
    assert by_config["llama-3.1-8b lora r16 4×2048"] == TRAIN_CASES[0][1]["tokens_per_s"]
    assert OLD_TOKENS_PER_S not in lora["y"]
    assert trace(fig, "full")["y"] == [TRAIN_CASES[3][1]["tokens_per_s"]]


def test_training_memory_terms_are_the_planners(fixture_results):
    from planner.config import config_from_spec
    from planner.measured import load_measurements
    from planner.memory import predict_memory

    at = open_page("training")
    assert_clean(at)
    fig = figure(at, "Predicted memory terms")
    spec = dict(TRAIN_BASE, method="qlora")
    breakdown = predict_memory(config_from_spec(spec), meas=load_measurements(fixture_results)).breakdown
    expected = {term.removesuffix("_gib").replace("_", " "): gib for term, gib in breakdown.items()}  # legend
    shown = {t["name"]: dict(zip(t["x"], t["y"], strict=True)) for t in fig["data"] if t["type"] == "bar"}
    assert set(shown) == set(expected)
    for term, gib in expected.items():
        assert shown[term]["llama-3.1-8b qlora r16 4×2048"] == pytest.approx(gib)
    peak = trace(fig, "measured peak")
    assert (
        dict(zip(peak["x"], peak["y"], strict=True))["llama-3.1-8b qlora r16 4×2048"]
        == TRAIN_CASES[1][1]["peak_allocated_gib"]
    )


def test_training_filter_narrows_the_chart(fixture_results):
    at = open_page("training")
    at.multiselect(key="train-method").select("qlora").run()
    assert_clean(at)
    fig = figure(at, "Training throughput")
    assert [t["name"] for t in fig["data"]] == ["qlora"]
    assert fig["data"][0]["y"] == [TRAIN_CASES[1][1]["tokens_per_s"]]


def test_training_lists_runs_that_did_not_finish(fixture_results):
    at = open_page("training")
    tables = [str(df.value.to_dict()) for df in at.dataframe]
    assert any("oom" in t and "llama-3.1-70b" in t for t in tables)


def test_inference_overhead_is_worked_out_from_the_pairs(fixture_results):
    at = open_page("inference")
    assert_clean(at)
    fig = figure(at, "Dynamic over merged: decode")
    bars = dict(zip(fig["data"][0]["x"], fig["data"][0]["y"], strict=True))
    # batch 1: 30 ms / 20 ms − 1 = 50 %; batch 8: 40 / 25 − 1 = 60 %
    assert bars == {1: pytest.approx(50.0), 8: pytest.approx(60.0)}
    prefill = figure(at, "Dynamic over merged: prefill")
    assert prefill["data"][0]["y"][0] == pytest.approx(60.0)  # 32000 / 20000 − 1
    decode = figure(at, "Decode latency")
    assert trace(decode, "llama-3.1-8b · dynamic · bf16 · plain · prompt 512")["y"] == [30.0, 40.0]


def test_inference_decode_series_each_have_their_own_colour_and_marker(tmp_path, monkeypatch):
    """Twelve decode series (three modes × four prompt lengths), more than the palette holds: no two share
    colour and marker, and none takes the measured or projected colour (a basis, everywhere else)."""
    from dashboards.charts import BASIS_COLOURS, PALETTE

    rows = [
        make_row(
            "infer",
            {**INFER_BASE, "mode": mode, "prompt_len": prompt, "batch": batch},
            {"ms_per_token": 20.0 + batch, "decode_tokens_per_s": 50.0 * batch},
        )
        for mode in ("merged", "dynamic", "base")
        for prompt in (128, 512, 2048, 4096)
        for batch in (1, 8)
    ]
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "infer.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setenv(RESULTS_ENV, str(folder))
    at = open_page("inference")
    assert_clean(at)
    styles = [(t["marker"]["color"], t["marker"]["symbol"]) for t in figure(at, "Decode latency")["data"]]
    assert len(styles) == 12 > len(PALETTE)
    assert len(set(styles)) == len(styles), styles
    assert not {colour for colour, _ in styles} & {BASIS_COLOURS["measured"], BASIS_COLOURS["projected"]}


def test_inference_states_the_overhead_the_cost_model_uses(fixture_results):
    from planner.inference import dynamic_overhead
    from planner.measured import load_measurements

    at = open_page("inference")
    used = dynamic_overhead("llama-3.1-8b", "decode", load_measurements(fixture_results))
    # measured only from the pair equal to the default scenario (batch 1 × 512, plain, bf16): one of the two
    assert used.value in (pytest.approx(0.5), pytest.approx(0.6))
    assert any(f"decode {used.value:+.0%}" in m.value for m in at.markdown)


def test_regressions_show_each_commit_of_a_spec(fixture_results):
    at = open_page("regressions")
    assert_clean(at)
    assert at.selectbox[0].value == "tokens_per_s"
    fig = figure(at, "tokens/s over time")
    series = trace(fig, "llama-3.1-8b lora r16 4×2048")
    assert series["y"] == [OLD_TOKENS_PER_S, TRAIN_CASES[0][1]["tokens_per_s"]]
    assert [c[0] for c in series["customdata"]] == [OLD_COMMIT[:10], NEW_COMMIT[:10]]


def test_regressions_without_thresholds_file_say_so(fixture_results, monkeypatch, tmp_path):
    from dashboards import loaders

    monkeypatch.setattr(loaders, "THRESHOLDS_TOML", tmp_path / "absent.toml")
    at = open_page("regressions")
    assert_clean(at)
    assert any("No thresholds file" in i.value for i in at.info)


def test_regressions_show_the_gates_verdict(fixture_results, monkeypatch, tmp_path):
    from dashboards import loaders

    gate = tmp_path / "thresholds.toml"
    gate.write_text('[metrics.tokens_per_s]\nbetter = "higher"\ntolerance = 0.05\n')
    monkeypatch.setattr(loaders, "THRESHOLDS_TOML", gate)
    at = open_page("regressions")
    assert_clean(at)
    steps = at.dataframe[-1].value
    (step,) = steps[steps["spec"] == "llama-3.1-8b lora r16 4×2048"].to_dict("records")
    # 9500 → 9000 tokens/s is −5.3 %: beyond the 5 % tolerance, so the gate calls it regressed
    assert step["verdict"] == "regressed" and step["change (%)"] == f"{(9000 / 9500 - 1) * 100:.1f}"
    assert "T" not in step["measured (UTC)"]  # a readable date, not an ISO timestamp
    fig = figure(at, "tokens/s over time")
    assert trace(fig, "regressed")["y"] == [TRAIN_CASES[0][1]["tokens_per_s"]]
    limit = trace(fig, "gate limit: llama-3.1-8b lora r16 4×2048")
    assert limit["y"] == [pytest.approx(OLD_TOKENS_PER_S * 0.95)] * 2


def test_regressions_bad_thresholds_file_is_a_message(fixture_results, monkeypatch, tmp_path):
    from dashboards import loaders

    gate = tmp_path / "thresholds.toml"
    gate.write_text('[metrics.tokens_per_s]\nbetter = "sideways"\ntolerance = 0.05\n')
    monkeypatch.setattr(loaders, "THRESHOLDS_TOML", gate)
    at = open_page("regressions")
    assert not at.exception
    assert at.error and "better" in at.error[0].value and "sideways" in at.error[0].value


def test_data_page_lists_files_and_counts_rows(fixture_results):
    at = open_page("data")
    assert_clean(at)
    summary = at.dataframe[0].value
    assert sorted(summary["file"].map(lambda f: Path(f).name)) == [
        "infer-fixture.jsonl",
        "train-fixture.jsonl",
    ]
    assert int(summary["failed"].sum()) == 1
    assert at.get("file_uploader"), "no upload widget"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not json\n", "not valid JSON"),
        (b'{"schema_version": 1}\n', "missing field"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"\n\n", "no result rows"),
    ],
)
def test_upload_bad_file_is_one_clear_message(content, message):
    from core.errors import InputError
    from dashboards.loaders import parse_upload

    with pytest.raises(InputError, match=message) as err:
        parse_upload("upload.jsonl", content)
    assert "upload.jsonl" in str(err.value)


def test_upload_good_file_is_parsed_in_memory(tmp_path):
    from dashboards.loaders import parse_upload

    folder = write_results(tmp_path / "results")
    data = (folder / "train-fixture.jsonl").read_bytes()
    rows = parse_upload("train-fixture.jsonl", data)
    assert len(rows) == len(data.splitlines()) and {r["_file"] for r in rows} == {"train-fixture.jsonl"}
