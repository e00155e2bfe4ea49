"""`peftplan plan ...`: JSON outputs carry the figures and their basis; every bad argument gives one message
and exit code 2."""

from __future__ import annotations

import json

import pytest
from test_planner_fixtures import write_rows

from peftplan import cli


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["plan", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def empty(tmp_path):
    return str(tmp_path / "no-results")


def test_memory_json_has_the_promised_fields(capsys, empty):
    code, out, _ = run(
        capsys,
        "memory",
        "--model",
        "llama-3.1-8b",
        "--method",
        "qlora",
        "--rank",
        "16",
        "--targets",
        "q_proj,v_proj",
        "--batch",
        "2",
        "--seq",
        "1024",
        "--grad-checkpointing",
        "--gpu",
        "a100-40gb",
        "--results",
        empty,
        "--json",
    )
    assert code == 0
    obj = json.loads(out)
    assert {"peak_allocated_gib", "tokens_per_s", "fits", "basis", "breakdown"} <= set(obj)
    assert obj["basis"] == "projected" and obj["gpu"] == "A100 40GB" and obj["fits"] is True
    assert obj["config"]["targets"] == "q_proj,v_proj" and obj["config"]["grad_checkpointing"] is True
    assert sum(obj["breakdown"].values()) == pytest.approx(obj["peak_allocated_gib"])
    assert any("no measured rows" in n for n in obj["notes"])


def test_memory_is_measured_where_a_row_matches(capsys, tmp_path):
    from test_planner_fixtures import train_row

    write_rows(tmp_path, [train_row(tokens_per_s=1234.0, peak_allocated_gib=42.0)])
    code, out, _ = run(capsys, "memory", "--model", "llama-3.1-8b", "--results", str(tmp_path), "--json")
    obj = json.loads(out)
    assert (
        code == 0
        and obj["basis"] == "measured"
        and obj["peak_allocated_gib"] == 42.0
        and obj["tokens_per_s"] == 1234.0
    )


def test_train_json_is_a_ranked_list_of_options(capsys, empty):
    code, out, err = run(
        capsys,
        "train",
        "--model",
        "llama-3.1-8b",
        "--method",
        "lora",
        "--tokens",
        "100M",
        "--epochs",
        "3",
        "--runs-per-month",
        "2",
        "--results",
        empty,
        "--json",
    )
    assert code == 0
    options = json.loads(out)
    assert {o["kind"] for o in options} == {"self-hosted", "on-prem", "managed"}
    assert all({"provider", "kind", "usd_total", "as_of", "basis"} <= set(o) for o in options)
    totals = [o["usd_total"] for o in options]
    assert totals == sorted(totals)
    managed = [o for o in options if o["kind"] == "managed"]
    assert all(o["managed_model"] and o["match"] for o in managed)
    assert "no measured rows" in err


def test_train_table_and_other_commands_run(capsys, empty):
    assert run(capsys, "train", "--model", "llama-3.2-1b", "--tokens", "1.5B", "--results", empty)[0] == 0
    code, out, _ = run(
        capsys, "serve", "--model", "llama-3.1-8b", "--adapters", "5", "--results", empty, "--json"
    )
    assert code == 0 and {o["strategy"] for o in json.loads(out)} >= {"dynamic", "merged-per-adapter"}
    code, out, _ = run(
        capsys, "breakeven", "--model", "llama-3.1-8b", "--tokens", "100M", "--results", empty, "--json"
    )
    obj = json.loads(out)
    assert code == 0 and obj["break_even"] and obj["payback"] and len(obj["sensitivity"]) == 8
    code, out, _ = run(
        capsys,
        "capacity",
        "--model",
        "llama-3.1-8b",
        "--tokens",
        "100M",
        "--jobs-per-month",
        "10",
        "--deadline-hours",
        "48",
        "--results",
        empty,
        "--json",
    )
    assert code == 0 and len(json.loads(out)) == 10
    code, out, _ = run(
        capsys,
        "capacity",
        "--matrix",
        "--models",
        "llama-3.1-8b",
        "--methods",
        "qlora",
        "--results",
        empty,
        "--json",
    )
    assert code == 0 and {c["gpu"] for c in json.loads(out)} >= {"H200", "L4"}


def test_accuracy_says_no_measured_rows(capsys, empty):
    code, out, _ = run(capsys, "accuracy", "--results", empty)
    assert code == 0 and "no measured rows" in out
    code, out, _ = run(capsys, "accuracy", "--results", empty, "--json")
    assert json.loads(out)["rows"] == []


BAD = [
    (["memory", "--model", "llama-9"], "unknown model"),
    (["memory", "--model", "llama-3.1-8b", "--rank", "0"], "--rank"),
    (["memory", "--model", "llama-3.1-8b", "--batch", "two"], "--batch"),
    (["memory", "--model", "llama-3.1-8b", "--targets", "q_proj,w_proj"], "w_proj"),
    (["memory", "--model", "llama-3.1-8b", "--gpu", "h300"], "unknown GPU"),
    (["memory", "--model", "tiny-llama", "--seq", "4096"], "seq_len"),
    (["train", "--model", "llama-3.1-8b", "--tokens", "lots"], "--tokens"),
    (["train", "--model", "llama-3.1-8b", "--tokens", "100M", "--epochs", "-1"], "--epochs"),
    (["train", "--model", "llama-3.1-8b", "--tokens", "100M", "--utilisation", "1.5"], "--utilisation"),
    (["serve", "--model", "llama-3.1-8b", "--adapters", "0"], "--adapters"),
    (["capacity", "--model", "llama-3.1-8b"], "--model/--tokens"),
    (["capacity", "--matrix", "--methods", "lora,prefix"], "method"),
    (["memory", "--model", "llama-3.1-8b", "--results", "/nonexistent/x.jsonl"], None),
]


@pytest.mark.parametrize(("argv", "needle"), BAD)
def test_bad_arguments_print_one_message_and_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    if needle is None:  # a missing results path is not an error: there are simply no rows
        assert code == 0
        return
    assert code == 2 and out == ""
    assert err.count("peftplan: error:") == 1 and needle in err and "Traceback" not in err


def test_argparse_choices_also_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["plan", "memory", "--model", "llama-3.1-8b", "--method", "prefix"])
    assert exc.value.code == 2
