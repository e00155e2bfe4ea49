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
    (tmp_path / "no-results").mkdir()
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


def test_train_json_ranks_like_for_like_and_lists_the_rest(capsys, empty):
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
    obj = json.loads(out)
    ranked = obj["ranked"]
    assert {o["kind"] for o in ranked} == {"self-hosted", "on-prem", "managed"}
    assert all(
        {"provider", "kind", "usd_total", "as_of", "basis", "flags", "status"} <= set(o) for o in ranked
    )
    totals = [o["usd_total"] for o in ranked]
    assert totals == sorted(totals)
    assert all(o["group"] == "like-for-like" for o in ranked)
    assert all(o["match"].startswith("same open model") for o in ranked if o["kind"] == "managed")
    # hours per run and the configuration used beside dollars
    hosted = [o for o in ranked if o["kind"] != "managed"]
    assert all(
        o["job_hours"] > 0 and o["micro_batch"] and o["memory_state"] in ("fits", "tight") for o in hosted
    )
    assert all("different model" in o["flags"] for o in obj["other_models"])
    assert all(o["status"] != "example" for o in ranked + obj["other_models"] + obj["set_aside"])
    assert any("example" in s["why"] for s in obj["skipped"])
    assert "no measured rows" in err


def test_nothing_self_hosted_fits_and_every_skip_is_listed(capsys, empty):
    argv = ["train", "--model", "llama-3.1-70b", "--method", "full", "--seq", "32768", "--batch", "8"]
    code, out, _ = run(capsys, *argv, "--tokens", "100M", "--results", empty, "--json")
    obj = json.loads(out)
    assert code == 0 and not [o for o in obj["ranked"] if o["kind"] != "managed"]
    reasons = [s["why"] for s in obj["skipped"]]
    assert sum("does not fit 8 ×" in r for r in reasons) >= 10
    code, out, _ = run(capsys, *argv, "--tokens", "100M", "--results", empty)
    assert code == 0 and "Not priced:" in out and "does not fit 8 × H200" in out


def test_train_table_shows_groups_and_all(capsys, empty):
    code, out, _ = run(
        capsys,
        "train",
        "--model",
        "llama-3.1-70b",
        "--method",
        "qlora",
        "--tokens",
        "100M",
        "--results",
        empty,
    )
    assert code == 0 and "Like for like" in out and "Other models" in out and "Set aside" in out
    code, out, _ = run(
        capsys,
        "train",
        "--model",
        "llama-3.1-70b",
        "--method",
        "qlora",
        "--tokens",
        "100M",
        "--results",
        empty,
        "--all",
        "--top",
        "200",
    )
    assert code == 0 and "Every priced option" in out and "Titan Text Lite" in out and "other model" in out


def test_train_table_and_other_commands_run(capsys, empty):
    assert run(capsys, "train", "--model", "llama-3.2-1b", "--tokens", "1.5B", "--results", empty)[0] == 0
    code, out, _ = run(
        capsys, "serve", "--model", "llama-3.1-8b", "--adapters", "5", "--results", empty, "--json"
    )
    assert code == 0 and {o["strategy"] for o in json.loads(out)["ranked"]} >= {
        "dynamic",
        "merged-per-adapter",
    }
    code, out, _ = run(
        capsys, "breakeven", "--model", "llama-3.1-8b", "--tokens", "100M", "--results", empty, "--json"
    )
    obj = json.loads(out)
    assert code == 0 and obj["break_even"] and obj["payback"] and len(obj["sensitivity"]) == 8
    assert all(p["units"] >= 1 and p["unit"] for p in obj["payback"])
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
    rows = json.loads(out)
    assert code == 0 and len(rows) == 10
    assert all(len(r["schedule"]) == 10 for r in rows if r.get("gpus_needed"))
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
    )
    assert code == 0 and "Schedules" in out and "round 1: jobs" in out
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


TRAIN = ["--model", "llama-3.1-8b", "--tokens", "100M"]
CAPACITY = ["--model", "llama-3.1-8b", "--tokens", "100M", "--jobs-per-month", "6", "--deadline-hours", "100"]
SERVE = ["--model", "llama-3.1-8b"]
MEMORY = ["--model", "llama-3.1-8b"]
FLAGS = [
    *[
        ("memory", MEMORY, flag, value)
        for flag, value in (
            ("--model", "llama-3.2-1b"),
            ("--method", "qlora"),
            ("--rank", "64"),
            ("--targets", "q_proj,v_proj"),
            ("--batch", "2"),
            ("--seq", "1024"),
            ("--profile", "tuned"),
            ("--gpu", "l40s"),
            ("--optimizer", "paged_adamw_8bit"),
            ("--attn-impl", "eager"),
            ("--num-gpus", "2"),
            ("--grad-checkpointing", None),
        )
    ],
    *[
        ("train", TRAIN, flag, value)
        for flag, value in (
            ("--method", "qlora"),
            ("--rank", "64"),
            ("--targets", "q_proj,v_proj"),
            ("--batch", "1"),
            ("--seq", "1024"),
            ("--profile", "tuned"),
            ("--tokens", "200M"),
            ("--epochs", "2"),
            ("--runs-per-month", "5"),
            ("--utilisation", "0.5"),
            ("--managed", "same-model"),
            ("--max-hours-per-run", "2"),
            ("--ops-usd-per-month", "0"),
            ("--model", "llama-3.2-3b"),
        )
    ],
    *[
        ("breakeven", TRAIN, flag, value)
        for flag, value in (
            ("--max-runs", "3"),
            ("--runs-per-month", "5"),
            ("--ops-usd-per-month", "10"),
            ("--utilisation", "0.5"),
        )
    ],
    *[
        ("capacity", CAPACITY, flag, value)
        for flag, value in (
            ("--method", "qlora"),
            ("--rank", "64"),
            ("--targets", "q_proj,v_proj"),
            ("--batch", "1"),
            ("--seq", "1024"),
            ("--profile", "tuned"),
            ("--tokens", "200M"),
            ("--epochs", "2"),
            ("--jobs-per-month", "12"),
            ("--deadline-hours", "30"),
            ("--utilisation", "0.5"),
        )
    ],
    *[
        ("serve", SERVE, flag, value)
        for flag, value in (
            ("--adapters", "50"),
            ("--requests-per-day", "500000"),
            ("--prompt-tokens", "2048"),
            ("--output-tokens", "512"),
            ("--base", "nf4"),
            ("--batch", "32"),
            ("--rank", "64"),
            ("--peak-to-mean", "4"),
        )
    ],
]


def _with(argv: list[str], flag: str, value: str | None) -> list[str]:
    if value is None:  # a switch
        return [*argv, flag]
    if flag in argv:
        i = argv.index(flag)
        return [*argv[:i], flag, value, *argv[i + 2 :]]
    return [*argv, flag, value]


@pytest.mark.parametrize(("command", "argv", "flag", "value"), FLAGS)
def test_every_flag_reaches_the_computation(capsys, empty, command, argv, flag, value):
    code, before, _ = run(capsys, command, *argv, "--results", empty, "--json")
    code2, after, _ = run(capsys, command, *_with(argv, flag, value), "--results", empty, "--json")
    assert code == code2 == 0 and json.loads(before) != json.loads(after)


def test_results_catalog_top_and_all_reach_the_output(capsys, empty, tmp_path):
    from test_planner_fixtures import copy_catalog, train_row

    base = run(capsys, "train", *TRAIN, "--results", empty, "--json")[1]
    write_rows(tmp_path / "rows", [train_row(tokens_per_s=50_000.0, peak_allocated_gib=40.0)])
    assert run(capsys, "train", *TRAIN, "--results", str(tmp_path / "rows"), "--json")[1] != base
    cat = copy_catalog(tmp_path / "cat")
    prices = cat / "gpu_prices.csv"
    prices.write_text(prices.read_text().replace("p5en.48xlarge,current", "p5en.48xlarge,example"))
    edited = json.loads(run(capsys, "train", *TRAIN, "--results", empty, "--catalog", str(cat), "--json")[1])
    assert not [o for o in edited["ranked"] if "p5en" in o["option"]]
    short = run(capsys, "train", *TRAIN, "--results", empty, "--top", "2")[1]
    long = run(capsys, "train", *TRAIN, "--results", empty, "--top", "40")[1]
    assert len(short.splitlines()) < len(long.splitlines())
    every = run(capsys, "train", *TRAIN, "--results", empty, "--all", "--top", "500")[1]
    assert "Every priced option" in every and "Like for like" not in every


MATRIX = ["--matrix", "--models", "llama-3.1-8b", "--methods", "lora", "--gpus", "l40s,h200"]


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--models", "llama-3.2-1b"),
        ("--methods", "qlora"),
        ("--gpus", "rtx4090"),
        ("--seq", "1024"),
        ("--batch", "1"),
        ("--rank", "256"),
        ("--targets", "q_proj,v_proj"),
        ("--profile", "tuned"),
    ],
)
def test_every_matrix_flag_reaches_the_matrix(capsys, empty, flag, value):
    before = json.loads(run(capsys, "capacity", *MATRIX, "--results", empty, "--json")[1])
    after = json.loads(run(capsys, "capacity", *_with(MATRIX, flag, value), "--results", empty, "--json")[1])
    assert before != after


def test_capacity_refuses_flags_it_would_ignore(capsys):
    for flag, value in (("--runs-per-month", "3"), ("--managed", "all")):
        with pytest.raises(SystemExit) as exc:
            cli.main(["plan", "capacity", *CAPACITY, flag, value])
        assert exc.value.code == 2


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
    (["train", "--model", "llama-3.1-8b", "--tokens", "1e9999"], "--tokens"),
    (["train", "--model", "llama-3.1-8b", "--tokens", "1e16"], "--tokens"),
    (["train", "--model", "llama-3.1-8b", "--tokens", "100M", "--epochs", "inf"], "--epochs"),
    (["train", "--model", "llama-3.1-8b", "--tokens", "100M", "--runs-per-month", "nan"], "--runs-per-month"),
    (
        ["train", "--model", "llama-3.1-8b", "--tokens", "100M", "--max-hours-per-run", "800"],
        "--max-hours-per-run",
    ),
    (
        ["train", "--model", "llama-3.1-8b", "--tokens", "100M", "--ops-usd-per-month", "-5"],
        "--ops-usd-per-month",
    ),
    (["train", "--model", "llama-3.1-8b", "--tokens", "100M", "--top", "0"], "--top"),
    (["breakeven", "--model", "llama-3.1-8b", "--tokens", "100M", "--max-runs", "1e300"], "--max-runs"),
    (
        ["capacity", "--model", "llama-3.1-8b", "--tokens", "100M", "--deadline-hours", "1000"],
        "--deadline-hours",
    ),
    (
        ["capacity", "--model", "llama-3.1-8b", "--tokens", "100M", "--jobs-per-month", "1e12"],
        "--jobs-per-month",
    ),
    (["capacity", "--model", "llama-3.1-8b", "--tokens", "100M", "--utilisation", "0"], "--utilisation"),
    (["serve", "--model", "llama-3.1-8b", "--peak-to-mean", "0.5"], "--peak-to-mean"),
    (["serve", "--model", "llama-3.1-8b", "--requests-per-day", "1e30"], "--requests-per-day"),
    (["memory", "--model", "llama-3.1-8b", "--num-gpus", "1e9"], "--num-gpus"),
    (["capacity", "--model", "llama-3.1-8b"], "--model/--tokens"),
    (["capacity", "--matrix", "--methods", "lora,prefix"], "method"),
    (["memory", "--model", "llama-3.1-8b", "--results", "/nonexistent/x.jsonl"], "results path not found"),
    (["train", "--model", "llama-3.1-8b", "--tokens", "1e400"], "--tokens"),
    (["memory", "--model", "llama-3.1-8b", "--batch", "1e300"], "--batch"),
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


def test_absurd_scales_warn(capsys, empty):
    code, out, err = run(capsys, "train", "--model", "llama-3.1-8b", "--tokens", "1e15", "--results", empty)
    assert code == 0 and "beyond any fine-tuning job" in err and "longer than a month" in out


def test_the_allocator_flag_picks_that_modes_rows_and_reserved_fit(capsys, tmp_path):
    from test_planner_fixtures import train_row

    rows = []
    for allocator, gap_gib in (("caching", 6.0), ("expandable", 1.0)):
        row = train_row(tokens_per_s=1234.0, peak_allocated_gib=42.0)
        row["spec"]["allocator"] = allocator
        row["metrics"]["peak_reserved_gib"] = 42.0 + gap_gib
        rows.append(row)
    write_rows(tmp_path, rows)
    reserved = {}
    for allocator in ("caching", "expandable"):
        argv = ["--model", "llama-3.1-8b", "--allocator", allocator, "--results", str(tmp_path), "--json"]
        code, out, _ = run(capsys, "memory", *argv)
        obj = json.loads(out)
        assert code == 0 and obj["config"]["allocator"] == allocator and obj["memory_basis"] == "measured"
        reserved[allocator] = obj["reserved_gib"]
        other = obj["other_allocator"]  # the same configuration under the allocator's other mode
        assert other["allocator"] != allocator and other["basis"] == "measured"
        assert other["reserved_gib"] == (43.0 if allocator == "caching" else 48.0)
    assert reserved == {"caching": 48.0, "expandable": 43.0}
    for command, argv in (("train", TRAIN), ("capacity", CAPACITY)):
        outs = [
            json.loads(run(capsys, command, *argv, "--allocator", a, "--results", str(tmp_path), "--json")[1])
            for a in ("caching", "expandable")
        ]
        assert outs[0] != outs[1]
