"""The adapter registry on SQLite: round trips through `peftplan adapters ...` on tiny real peft adapters,
the base check and its override, the same weights twice, two processes at once, and every bad input."""

from __future__ import annotations

import json

import pytest
from registry_fixtures import adapters_fixture, registered_at_once, run_cli  # noqa: F401 — a fixture

from benchmarks.models import fingerprint
from registry.db import open_registry
from registry.store import entries


@pytest.fixture
def reg(tmp_path) -> str:
    return str(tmp_path / "registry.sqlite")


def listed(capsys, reg: str, *filters) -> list[dict]:
    code, out, err = run_cli(capsys, "adapters", "list", "--registry", reg, "--json", *filters)
    assert code == 0, err
    return json.loads(out)


def test_register_list_show_deploy_check_retire_round_trip(capsys, adapters, reg):
    code, out, err = run_cli(
        capsys,
        "adapters",
        "register",
        adapters["a"],
        "--data",
        adapters["data"],
        "--registry",
        reg,
        "--note",
        "first",
    )
    assert code == 0, err
    assert out.startswith("registered: adapter 1 ")
    (entry,) = listed(capsys, reg)
    assert (entry["rank"], entry["alpha"], entry["targets"]) == (4, 8.0, ["q_proj", "v_proj"])
    assert entry["base_model"] == "tiny-llama" and entry["base_fingerprint"] == fingerprint("tiny-llama")
    assert entry["size_bytes"] == sum(p.stat().st_size for p in adapters["a"].glob("adapter_*"))
    assert entry["data"]["files"] == {"train.jsonl": entry["data"]["files"]["train.jsonl"]}
    assert entry["note"] == "first" and entry["status"] == "active" and entry["registered_by"]

    code, out, _ = run_cli(capsys, "adapters", "check", "1", "--base", "tiny-llama", "--registry", reg)
    assert code == 0 and out.startswith("ok: adapter 1")
    prefix = entry["weights_sha256"][:10]
    code, _, err = run_cli(
        capsys,
        "adapters",
        "deploy",
        prefix,
        "--name",
        "prod",
        "--base",
        "tiny-llama",
        "--mode",
        "merged",
        "--registry",
        reg,
    )
    assert code == 0, err
    code, out, _ = run_cli(capsys, "adapters", "show", "1", "--registry", reg)
    (deployed,) = json.loads(out)["deployments"]
    assert (deployed["name"], deployed["mode"], deployed["mismatch_allowed"]) == ("prod", "merged", False)
    code, out, _ = run_cli(capsys, "adapters", "list", "--registry", reg)
    assert "prod (merged)" in out and "tiny-llama" in out

    code, out, _ = run_cli(capsys, "adapters", "retire", "1", "--registry", reg)
    assert code == 0 and "removed from prod" in out
    (entry,) = listed(capsys, reg, "--status", "retired")
    assert entry["deployments"] == []
    code, _, err = run_cli(
        capsys,
        "adapters",
        "deploy",
        "1",
        "--name",
        "p2",
        "--base",
        "tiny-llama",
        "--mode",
        "dynamic",
        "--registry",
        reg,
    )
    assert code == 2 and "retired" in err


def test_the_same_weights_twice_are_one_entry(capsys, adapters, reg):
    for folder, data in ((adapters["a"], adapters["data"]), (adapters["a_copy"], "org/other@v2")):
        code, out, err = run_cli(capsys, "adapters", "register", folder, "--data", data, "--registry", reg)
        assert code == 0, err
    assert out.startswith("already registered (same weights): adapter 1")
    code, _, _ = run_cli(
        capsys, "adapters", "register", adapters["b"], "--data", "org/ds@v1", "--registry", reg
    )
    assert [e["id"] for e in listed(capsys, reg)] == [1, 2]
    assert listed(capsys, reg)[0]["data_label"] == str(adapters["data"])  # the first registration stays


def test_a_mismatched_base_is_refused_naming_both_fingerprints_unless_allowed(capsys, adapters, reg):
    run_cli(capsys, "adapters", "register", adapters["a"], "--data", adapters["data"], "--registry", reg)
    llama, mistral = fingerprint("tiny-llama")["config_sha256"], fingerprint("tiny-mistral")["config_sha256"]
    code, out, err = run_cli(capsys, "adapters", "check", "1", "--base", "tiny-mistral", "--registry", reg)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert llama[:12] in err and mistral[:12] in err and "Traceback" not in err
    code, out, err = run_cli(
        capsys, "adapters", "check", "1", "--base", "tiny-mistral", "--allow-mismatch", "--registry", reg
    )
    assert code == 0 and "warning" in err and mistral[:12] in err

    deploy = ("adapters", "deploy", "1", "--name", "prod", "--base", "tiny-mistral", "--mode", "dynamic")
    code, _, err = run_cli(capsys, *deploy, "--registry", reg)
    assert code == 2 and llama[:12] in err and mistral[:12] in err
    assert listed(capsys, reg)[0]["deployments"] == []  # nothing written
    code, _, err = run_cli(capsys, *deploy, "--allow-mismatch", "--registry", reg)
    assert code == 0 and "warning" in err
    assert listed(capsys, reg)[0]["deployments"][0]["mismatch_allowed"] is True


def test_a_local_base_folder_is_fingerprinted_as_the_benchmark_does(capsys, adapters, reg):
    code, _, err = run_cli(
        capsys, "adapters", "register", adapters["local"], "--data", "org/ds@v1", "--registry", reg
    )
    assert code == 0, err
    (entry,) = listed(capsys, reg)
    assert entry["base_fingerprint"] == fingerprint(str(adapters["base"]), checkpoint=str(adapters["base"]))
    code, out, err = run_cli(capsys, "adapters", "check", "1", "--base", adapters["base"], "--registry", reg)
    assert code == 0, err
    code, _, err = run_cli(capsys, "adapters", "check", "1", "--base", "tiny-llama", "--registry", reg)
    assert code == 2 and "checkpoint_sha256" in err and "config_sha256" in err


def test_list_filters_by_base_deployment_data_and_status(capsys, adapters, reg):
    run_cli(
        capsys,
        "adapters",
        "register",
        adapters["a"],
        "--data",
        adapters["data"],
        "--registry",
        reg,
        "--deployment",
        "chat",
        "--mode",
        "merged",
    )
    run_cli(capsys, "adapters", "register", adapters["local"], "--data", "org/ds@v1", "--registry", reg)
    run_cli(capsys, "adapters", "register", adapters["b"], "--data", "org/ds@v2", "--registry", reg)
    run_cli(capsys, "adapters", "retire", "3", "--registry", reg)

    def ids(*filters):
        return [e["id"] for e in listed(capsys, reg, *filters)]

    assert ids("--base", "tiny-llama") == [1, 3]
    assert ids("--base", fingerprint("tiny-llama")["config_sha256"][:8]) == [1, 3]
    assert ids("--deployment", "chat") == [1] and ids("--deployment", "none") == []
    assert (
        ids("--data", "org/ds") == [2, 3] and ids("--data", "train") == []
    )  # a folder's path, not its files
    assert ids("--data", adapters["data"].name) == [1]
    assert ids("--status", "active") == [1, 2] and ids("--status", "retired") == [3]


def test_training_figures_from_a_result_row_or_a_plan(capsys, adapters, reg, tmp_path):
    row = {
        "kind": "train",
        "spec": {"model": "tiny-llama", "method": "lora"},
        "spec_hash": "abc",
        "status": "ok",
        "metrics": {"tokens_per_s": 10.0},
        "provenance": {"gpu_name": "cpu"},
    }
    (tmp_path / "row.json").write_text(json.dumps(row))
    plan = [
        {
            "option": "H200 on-demand",
            "usd_per_run": 3.5,
            "job_hours": 1.0,
            "basis": "projected",
            "config": {"model": "tiny-llama", "method": "lora"},
        }
    ]
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    run_cli(
        capsys,
        "adapters",
        "register",
        adapters["a"],
        "--data",
        "d@1",
        "--training",
        tmp_path / "row.json",
        "--registry",
        reg,
    )
    run_cli(
        capsys,
        "adapters",
        "register",
        adapters["b"],
        "--data",
        "d@1",
        "--training",
        tmp_path / "plan.json",
        "--registry",
        reg,
    )
    measured, planned = listed(capsys, reg)
    assert measured["training"]["spec"] == row["spec"] and measured["cost"]["basis"] == "measured"
    assert measured["cost"]["metrics"] == {"tokens_per_s": 10.0}
    assert planned["training"] == plan[0]["config"] and planned["cost"]["options"][0]["usd_per_run"] == 3.5
    assert planned["cost"]["basis"] == "projected"


def test_two_processes_registering_at_once_lose_nothing_and_duplicate_nothing(adapters, reg, tmp_path):
    registered_at_once(
        adapters, reg, tmp_path
    )  # the registry does not exist yet: both race on its schema too
    found = entries(open_registry(reg, create=False))
    assert len(found) == 6 and len({e["weights_sha256"] for e in found}) == 6  # seven folders, two the same


def test_the_registry_runs_without_torch_or_the_dashboard(adapters, reg):
    from test_entry_point import _run

    fingerprint_file = str(adapters["a"] / "base_fingerprint.json")
    commands = [
        ["register", str(adapters["a"]), "--data", "org/ds@v1"],
        ["list"],
        ["check", "1", "--base", fingerprint_file],
    ]
    calls = "; ".join(f"codes.append(main({['adapters', *argv, '--registry', reg]!r}))" for argv in commands)
    proc = _run(f"import sys; from peftplan.cli import main; codes = []; {calls}; sys.exit(max(codes))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("registered: adapter 1") and "ok: adapter 1" in proc.stdout
