"""Where the registry lives and its schema: SQLAlchemy Core over SQLite (a file, zero set-up) or PostgreSQL
(a team's shared registry, through the psycopg 3 driver).

Schema versions: `schema_info` holds one row, the version. Opening a registry applies the migrations it lacks
in one transaction (MIGRATIONS, in order) and refuses one written by a newer peftplan. Concurrent writers:
every SQLite transaction starts with BEGIN IMMEDIATE (one writer at a time, the others wait up to
BUSY_TIMEOUT_S), and on PostgreSQL migrations hold an advisory lock; an adapter's weights hash is unique, so
two processes registering the same adapter at once make one entry (store.py inserts with ON CONFLICT).
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event, exc

from core.errors import InputError

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 60
ADVISORY_LOCK = 0x70656674  # any constant shared by every peftplan process
LOCATION_ACCEPTED = "a SQLite file path, sqlite:///PATH, or postgresql://USER@HOST/DB"

metadata = sa.MetaData()
schema_info = sa.Table("schema_info", metadata, sa.Column("version", sa.Integer, nullable=False))
adapters = sa.Table(
    "adapters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("weights_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("peft_type", sa.String(32), nullable=False),
    sa.Column("rank", sa.Integer),
    sa.Column("alpha", sa.Float),
    sa.Column("targets", sa.JSON, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("base_model", sa.String(512), nullable=False),
    sa.Column("base_fingerprint", sa.JSON),  # null: the adapter records no base
    sa.Column("base_digest", sa.String(96)),
    sa.Column("data_label", sa.Text, nullable=False),
    sa.Column("data_sha256", sa.String(64), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("training", sa.JSON),
    sa.Column("cost", sa.JSON),
    sa.Column("origin", sa.JSON),  # what produced it, e.g. a benchmark row's spec hash
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),  # active | retired
    sa.Column("registered_by", sa.String(256), nullable=False),
    sa.Column("registered_at", sa.String(32), nullable=False),  # ISO 8601, UTC
)
deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("adapter_id", sa.Integer, sa.ForeignKey("adapters.id"), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("base_model", sa.String(512), nullable=False),
    sa.Column("base_fingerprint", sa.JSON, nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),  # merged | dynamic
    sa.Column("mismatch_allowed", sa.Boolean, nullable=False),
    sa.Column("deployed_by", sa.String(256), nullable=False),
    sa.Column("deployed_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("adapter_id", "name"),
)


def _v1(conn: sa.Connection) -> None:
    for table in (adapters, deployments):
        table.create(conn, checkfirst=True)


MIGRATIONS = {1: _v1}  # version -> step that brings version - 1 to it; later steps ALTER, never re-create


def default_location() -> str:
    """PEFTPLAN_REGISTRY, else registry.sqlite in the user's data folder (platformdirs)."""
    from platformdirs import user_data_dir

    return os.environ.get("PEFTPLAN_REGISTRY") or str(Path(user_data_dir("peftplan")) / "registry.sqlite")


def url_of(location: str) -> sa.URL:
    if "://" not in location:
        return sa.URL.create("sqlite", database=str(Path(location).expanduser()))
    try:
        url = sa.make_url(location)
    except exc.ArgumentError:
        raise InputError(
            "not a database URL", field="--registry", value=location, accepted=LOCATION_ACCEPTED
        ) from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise InputError(
            "unsupported database", field="--registry", value=location, accepted=LOCATION_ACCEPTED
        )
    return url


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # SQLAlchemy, not the driver, begins transactions
        dbapi_conn.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlock later

    return engine


def open_registry(location: str | None = None, *, create: bool = True) -> sa.Engine:
    """An engine on an up-to-date registry. With create=False a missing SQLite file is an InputError and
    nothing is created (reading commands)."""
    location = location or default_location()
    url = url_of(location)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if url.database in (None, "", ":memory:") or path.is_dir():
            raise InputError(
                "not a database file", field="--registry", value=location, accepted=LOCATION_ACCEPTED
            )
        if not path.exists() and not create:
            raise InputError("no registry here yet (`peftplan adapters register` creates it)", file=str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = _sqlite_engine(url)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True)
        location = url.render_as_string(hide_password=True)  # messages never show a password
    try:
        migrate(engine, location)
    except exc.DatabaseError as err:
        engine.dispose()
        raise database_error(err, location) from None
    return engine


def database_error(err: exc.DBAPIError, location: str) -> InputError:
    """A database failure as one InputError naming the registry (and never a password)."""
    if "://" in location:
        location = url_of(location).render_as_string(hide_password=True)
    text = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
    if "not a database" in text:
        return InputError("not an SQLite database", file=location, accepted=LOCATION_ACCEPTED)
    return InputError(f"cannot use the registry ({text})", file=location, accepted=LOCATION_ACCEPTED)


def schema_version(conn: sa.Connection) -> int:
    if not sa.inspect(conn).has_table("schema_info"):
        return 0
    return conn.execute(sa.select(sa.func.max(schema_info.c.version))).scalar() or 0


def migrate(engine: sa.Engine, location: str) -> None:
    """Bring the schema to SCHEMA_VERSION; refuse a newer one (nothing is written then)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
        version = schema_version(conn)
        if version > SCHEMA_VERSION:
            raise InputError(
                f"registry schema version {version} is newer than this peftplan's ({SCHEMA_VERSION})",
                file=location,
                field="schema_info.version",
                value=version,
                accepted=f"a registry of schema version <= {SCHEMA_VERSION}; upgrade peftplan",
            )
        if version == SCHEMA_VERSION:
            return
        schema_info.create(conn, checkfirst=True)
        for step in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[step](conn)
        conn.execute(schema_info.delete())
        conn.execute(schema_info.insert().values(version=SCHEMA_VERSION))
