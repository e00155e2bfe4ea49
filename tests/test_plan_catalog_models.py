"""`peftplan plan --catalog DIR` reads the model shapes of DIR/models.csv, like the other catalog files."""

from __future__ import annotations

import json

import pytest
from test_planner_cli import run
from test_planner_fixtures import copy_catalog

from core.errors import InputError
from core.shapes import get_shape

MEMORY = ["memory", "--method", "lora", "--seq", "1024", "--json"]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    return run(capsys, *MEMORY, *argv)


@pytest.fixture
def empty(tmp_path) -> str:
    (tmp_path / "no-results").mkdir()
    return str(tmp_path / "no-results")


def test_a_model_added_to_the_catalogs_models_csv_is_planned(capsys, tmp_path, empty):
    catalog = copy_catalog(tmp_path / "cat")
    models = catalog / "models.csv"
    line = next(x for x in models.read_text().splitlines() if x.startswith("llama-3.2-1b,"))
    models.write_text(models.read_text() + line.replace("llama-3.2-1b,", "our-1b,", 1) + "\n")

    code, out, err = _run(capsys, "--model", "our-1b", "--results", empty)
    assert code == 2 and "unknown model" in err and "our-1b" in err  # the shipped catalog has no such model
    code, out, err = _run(capsys, "--model", "our-1b", "--results", empty, "--catalog", str(catalog))
    assert code == 0, err
    ours = json.loads(out)
    code, out, _ = _run(capsys, "--model", "llama-3.2-1b", "--results", empty)
    shipped = json.loads(out)
    # the same shape under another name: the same figures
    assert ours["peak_allocated_gib"] == pytest.approx(shipped["peak_allocated_gib"])
    assert ours["tokens_per_s"] == pytest.approx(shipped["tokens_per_s"])
    with pytest.raises(InputError, match="unknown model"):
        get_shape("our-1b")  # the catalog's shapes held for that command only


def test_a_bad_models_csv_in_the_catalog_names_that_file(capsys, tmp_path, empty):
    catalog = copy_catalog(tmp_path / "cat")
    models = catalog / "models.csv"
    models.write_text(models.read_text().replace("llama-3.2-1b,llama,2048", "llama-3.2-1b,llama,-5", 1))
    code, out, err = _run(capsys, "--model", "llama-3.1-8b", "--results", empty, "--catalog", str(catalog))
    assert code == 2 and out == ""
    assert str(models) in err and "row 2" in err and "hidden_size" in err and "-5" in err
