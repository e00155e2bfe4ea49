"""Numbers where they enter (core.numbers): a `plan` flag, a scenario file and a scenario link refuse a bad
number in the same words: where (file or flag), why, the value as given and the accepted range."""

from __future__ import annotations

import pytest

from core.errors import InputError
from core.numbers import check_number, parse_number
from peftplan.cli import main
from planner import scenario


@pytest.mark.parametrize(
    ("value", "why"),
    [("0", "out of range"), ("-1", "out of range"), ("nan", "not a finite number"), ("lots", "not a number")],
)
def test_a_plan_flag_and_a_scenario_refuse_a_number_in_the_same_words(capsys, value, why):
    argv = ["plan", "train", "--model", "llama-3.1-8b", "--tokens", "100M", "--epochs", value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"field '--epochs': {why} (got '{value}'); accepted: a finite number above 0, up to 1000" in err
    expected = f"field 'epochs': {why} (got '{value}'); accepted: a finite number from 0.01 to 100"
    with pytest.raises(InputError) as info:
        scenario.validate({"epochs": value}, "mine.json")
    assert str(info.value) == f"mine.json, {expected}"
    with pytest.raises(InputError) as info:
        scenario.from_query({"epochs": value})
    assert str(info.value) == f"the link, {expected}"


def test_an_open_lower_bound_refuses_the_bound_and_keeps_what_is_above_it():
    assert check_number(1e-9, "x", lo=0, hi=1, lo_open=True) == 1e-9
    assert parse_number("1", "x", lo=0, hi=1, lo_open=True) == 1.0
    with pytest.raises(InputError, match="out of range.*above 0, up to 1"):
        check_number(0, "x", lo=0, hi=1, lo_open=True)
    assert check_number(0, "x", lo=0, hi=1) == 0


def test_a_scenario_override_names_its_unit_with_the_range():
    with pytest.raises(InputError) as info:
        scenario.validate({"prices": {"x": -1}}, "mine.json")
    assert str(info.value) == (
        "mine.json, field 'prices.x': out of range (got -1); "
        "accepted: USD per GPU-hour: a finite number from 0 to 10000"
    )


def test_a_scenario_number_as_text_is_read_as_before():
    scn = scenario.validate({"epochs": "5", "tokens": "200000000", "rank": 8})
    assert scn["epochs"] == 5.0 and scn["tokens"] == 200_000_000 and scn["rank"] == 8
    with pytest.raises(InputError, match="field 'rank': not an integer"):
        scenario.validate({"rank": 2.5})
    with pytest.raises(InputError, match="field 'utilisation': not a number"):
        scenario.validate({"utilisation": True})


@pytest.mark.parametrize(("value", "why"), [("lots", "not a token count"), ("1e16", "out of range")])
def test_a_token_count_is_refused_in_the_same_words(capsys, value, why):
    assert main(["plan", "train", "--model", "llama-3.1-8b", "--tokens", value]) == 2
    err = capsys.readouterr().err
    assert f"field '--tokens': {why} (got '{value}'); accepted: a count from 1 to 1e+15, optionally" in err
