"""The adapter registry on a real PostgreSQL server (psycopg 3): the round trip, two writers at once, and the
refusal of a newer schema.

The server: $PEFTPLAN_TEST_POSTGRES (a URL whose user may create databases), else one started here from
Debian's `postgresql` package: initdb and pg_ctl as a non-root user in a temporary folder, listening on
127.0.0.1 only, stopped at the end of the session. Skipped, with the reason, only where none can start.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid

import pytest
import sqlalchemy as sa
from registry_fixtures import adapters_fixture, registered_at_once, run_cli  # noqa: F401 — a fixture

from benchmarks.models import fingerprint
from registry.db import SCHEMA_VERSION, open_registry, schema_info, url_of
from registry.store import entries


def _bindir() -> str | None:
    found = shutil.which("pg_ctl")
    if found:
        return os.path.dirname(os.path.realpath(found))
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return dirs[-1] if dirs else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> dict:
    """initdb refuses to run as root: run the server as `postgres` (Debian's package makes it) or `nobody`."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
            return {"user": entry.pw_uid, "group": entry.pw_gid}
        except KeyError:
            continue
    return {}


@pytest.fixture(scope="session")
def postgres_url():
    if os.environ.get("PEFTPLAN_TEST_POSTGRES"):
        yield os.environ["PEFTPLAN_TEST_POSTGRES"]
        return
    bindir = _bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server here (initdb, pg_ctl): apt-get install postgresql")
    root = tempfile.mkdtemp(prefix="peftplan-pg-")
    who = _server_user()
    if who:
        os.chown(root, who["user"], who["group"])
    data, port = os.path.join(root, "data"), _free_port()

    def run(*argv):
        return subprocess.run(
            [os.path.join(bindir, argv[0]), *argv[1:]],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=root,
            **who,
        )

    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    steps = (
        ("initdb", "-D", data, "-A", "trust", "-U", "peftplan", "-E", "UTF8", "--no-sync"),
        ("pg_ctl", "-D", data, "-l", os.path.join(root, "log"), "-o", options, "-w", "start"),
    )
    for step in steps:
        done = run(*step)
        if done.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            pytest.skip(
                f"PostgreSQL could not start ({step[0]}): {(done.stderr or done.stdout).strip()[-300:]}"
            )
    try:
        yield f"postgresql://peftplan@127.0.0.1:{port}/postgres"
    finally:
        run("pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg(postgres_url):
    """A fresh database on the server, as a registry URL."""
    admin = sa.create_engine(url_of(postgres_url), isolation_level="AUTOCOMMIT")
    name = f"registry_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield url_of(postgres_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_round_trip_on_postgresql(capsys, adapters, pg):
    for folder in (adapters["a"], adapters["a_copy"], adapters["b"]):
        code, out, err = run_cli(
            capsys, "adapters", "register", folder, "--data", "org/ds@v1", "--registry", pg, "--json"
        )
        assert code == 0, err
    first, second = entries(open_registry(pg))  # the copy is the first entry again
    assert second["id"] == json.loads(out)["id"] and first["weights_sha256"] != second["weights_sha256"]
    deploy = (
        "adapters",
        "deploy",
        str(second["id"]),
        "--name",
        "prod",
        "--mode",
        "dynamic",
        "--registry",
        pg,
    )
    code, _, err = run_cli(capsys, *deploy, "--base", "tiny-mistral")
    assert code == 2 and fingerprint("tiny-mistral")["config_sha256"][:12] in err
    code, _, err = run_cli(capsys, *deploy, "--base", "tiny-llama")
    assert code == 0, err
    run_cli(capsys, "adapters", "retire", str(first["id"]), "--registry", pg)
    code, out, _ = run_cli(capsys, "adapters", "list", "--registry", pg, "--json", "--deployment", "prod")
    (entry,) = [(e["id"], e["status"], [d["name"] for d in e["deployments"]]) for e in json.loads(out)]
    assert entry == (second["id"], "active", ["prod"])
    assert [e["status"] for e in entries(open_registry(pg))] == ["retired", "active"]


def test_two_processes_registering_at_once_on_postgresql(adapters, pg, tmp_path):
    registered_at_once(adapters, pg, tmp_path)
    found = entries(open_registry(pg))
    assert len(found) == 6 and len({e["weights_sha256"] for e in found}) == 6


def test_a_newer_schema_on_postgresql_is_refused(capsys, adapters, pg):
    with open_registry(pg).begin() as conn:
        conn.execute(sa.update(schema_info).values(version=SCHEMA_VERSION + 1))
    code, _, err = run_cli(
        capsys, "adapters", "register", adapters["a"], "--data", "org/ds@v1", "--registry", pg
    )
    assert code == 2 and "is newer" in err
    with sa.create_engine(url_of(pg)).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM adapters")).scalar() == 0
