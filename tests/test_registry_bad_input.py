"""Bad input to `peftplan adapters ...`: one clear message, exit 2, no traceback, and nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from registry_fixtures import adapters_fixture, run_cli  # noqa: F401 — a fixture

from registry.db import SCHEMA_VERSION, open_registry, schema_info
from registry.fingerprint import FINGERPRINT_FILE


def _empty(adapters, tmp: Path) -> Path:
    (tmp / "empty").mkdir()
    return tmp / "empty"


def _pickle_only(adapters, tmp: Path) -> Path:
    folder = tmp / "pickle"
    folder.mkdir()
    shutil.copy(adapters["a"] / "adapter_config.json", folder)
    (folder / "adapter_model.bin").write_bytes(b"\x80\x04not read")
    return folder


def _garbage_header(adapters, tmp: Path) -> Path:
    folder = shutil.copytree(adapters["a"], tmp / "garbage")
    (folder / "adapter_model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    return folder


def _truncated(adapters, tmp: Path) -> Path:
    folder = shutil.copytree(adapters["a"], tmp / "truncated")
    path = folder / "adapter_model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    return folder


def _no_base(adapters, tmp: Path) -> Path:
    folder = shutil.copytree(adapters["a"], tmp / "nobase")
    (folder / FINGERPRINT_FILE).unlink()
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": None}))
    return folder


BAD_ADAPTERS = {
    "not an adapter folder": (_empty, "no adapter_config.json"),
    "pickle weights only": (_pickle_only, "pickle files are never read"),
    "corrupt safetensors": (_garbage_header, "header is not JSON"),
    "truncated safetensors": (_truncated, "truncated safetensors file"),
    "config naming no base": (_no_base, "names no base model"),
}


def assert_refused(code: int, out: str, err: str, expected: str) -> None:
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("peftplan: error: "), err
    assert expected in err and "Traceback" not in err


@pytest.fixture
def reg(tmp_path, adapters, capsys) -> Path:
    """A registry holding adapter a (id 1)."""
    path = tmp_path / "registry.sqlite"
    code, _, err = run_cli(
        capsys, "adapters", "register", adapters["a"], "--data", "org/ds@v1", "--registry", path
    )
    assert code == 0, err
    return path


@pytest.mark.parametrize("case", BAD_ADAPTERS)
def test_a_bad_adapter_folder_is_refused_and_nothing_is_created(capsys, adapters, tmp_path, case):
    make, expected = BAD_ADAPTERS[case]
    registry = tmp_path / "new.sqlite"
    code, out, err = run_cli(
        capsys,
        "adapters",
        "register",
        make(adapters, tmp_path),
        "--data",
        "org/ds@v1",
        "--registry",
        registry,
    )
    assert_refused(code, out, err, expected)
    assert not registry.exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("register", "{a}", "--data", "{tmp}/nowhere"), "not NAME@REVISION"),
        (("register", "{a}", "--data", "org/ds@v1", "--base", "no-such-model"), "no such base folder"),
        (
            ("register", "{a}", "--data", "org/ds@v1", "--base", "{a}/adapter_model.safetensors"),
            "not a valid JSON file",  # the words an adapter's own broken base_fingerprint.json gets
        ),
        (
            ("register", "{a}", "--data", "org/ds@v1", "--base", "{a}/adapter_config.json"),
            "no base fingerprint in the file",
        ),
        (
            ("register", "{a}", "--data", "org/ds@v1", "--training", "{a}/adapter_config.json"),
            "neither a result row",
        ),
        (("show", "99"), "unknown adapter"),
        (("show", "not-an-id"), "not an adapter id"),
        (("check", "99", "--base", "{a}/base_fingerprint.json"), "unknown adapter"),
        (("deploy", "1", "--name", "x", "--base", "{tmp}", "--mode", "merged"), "no config.json"),
        (("retire", "ffffff"), "unknown adapter"),
    ],
    ids=[
        "data",
        "base",
        "base-not-json",
        "base-no-fingerprint",
        "training",
        "show",
        "id",
        "check",
        "deploy-base",
        "retire",
    ],
)
def test_bad_arguments_are_refused_and_the_registry_is_unchanged(
    capsys, adapters, reg, tmp_path, argv, expected
):
    before = reg.read_bytes()
    argv = [a.format(a=adapters["a"], tmp=tmp_path) for a in argv]
    code, out, err = run_cli(capsys, "adapters", *argv, "--registry", reg)
    assert_refused(code, out, err, expected)
    assert reg.read_bytes() == before


@pytest.mark.parametrize("command", [("list",), ("show", "1"), ("register", "{a}", "--data", "org/ds@v1")])
def test_a_file_that_is_not_a_database_is_refused_untouched(capsys, adapters, tmp_path, command):
    registry = tmp_path / "notes.txt"
    registry.write_text("these are my notes, not a database\n" * 100)
    before = registry.read_bytes()
    argv = [a.format(a=adapters["a"]) for a in command]
    code, out, err = run_cli(capsys, "adapters", *argv, "--registry", registry)
    assert_refused(code, out, err, "not an SQLite database")
    assert registry.read_bytes() == before


def test_a_registry_with_a_newer_schema_is_refused(capsys, adapters, reg):
    with open_registry(str(reg)).begin() as conn:
        conn.execute(sa.update(schema_info).values(version=SCHEMA_VERSION + 1))
    before = reg.read_bytes()
    for argv in (("list",), ("register", adapters["b"], "--data", "org/ds@v1")):
        code, out, err = run_cli(capsys, "adapters", *argv, "--registry", reg)
        assert_refused(code, out, err, f"schema version {SCHEMA_VERSION + 1} is newer")
    assert reg.read_bytes() == before


def test_an_unsupported_database_url_is_refused(capsys):
    code, out, err = run_cli(capsys, "adapters", "list", "--registry", "mysql://me@db/registry")
    assert_refused(code, out, err, "unsupported database")


def test_a_database_server_that_cannot_be_reached_is_refused_without_its_password(capsys):
    code, out, err = run_cli(
        capsys, "adapters", "list", "--registry", "postgresql://me:secret@127.0.0.1:1/registry"
    )
    assert_refused(code, out, err, "cannot use the registry")
    assert "secret" not in err and "127.0.0.1:1" in err


def test_a_registry_locked_past_the_busy_timeout_is_one_message(capsys, adapters, reg, monkeypatch):
    import sqlite3

    import registry.db

    monkeypatch.setattr(registry.db, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(reg, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        code, out, err = run_cli(
            capsys, "adapters", "register", adapters["b"], "--data", "org/ds@v1", "--registry", reg
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_refused(code, out, err, "database is locked")
