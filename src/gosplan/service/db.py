"""Engines, sessions and migrations of the bureau's database (SQLite WAL or PostgreSQL)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["make_engine", "upgrade", "current_revision", "head_revision", "Database", "is_sqlite"]

MIGRATIONS = Path(__file__).with_name("migrations")


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def make_engine(url: str) -> Engine:
    """An engine for ``url``.

    SQLite: the file's folder is created; every connection uses WAL with
    ``synchronous=FULL`` (a committed transaction survives the process being killed and
    the machine losing power), a 30 s busy timeout, foreign keys on, and ``BEGIN IMMEDIATE``
    for every transaction (writers queue instead of failing to upgrade a read lock), except on
    connections with the execution option ``readonly=True`` (:meth:`Database.read`), whose
    deferred ``BEGIN`` reads a snapshot beside the writers.
    PostgreSQL: pooled connections checked before use (``pool_pre_ping``), so the service
    reconnects by itself after the server restarts.
    """
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=16, max_overflow=16)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # noqa: ANN001
            readonly = conn.get_execution_options().get("readonly", False)
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    return create_engine(u, pool_pre_ping=True, pool_size=16, max_overflow=16, pool_recycle=300)


def _alembic_config(url: str):  # noqa: ANN202
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head", *, engine: Engine | None = None) -> str:
    """Apply the migrations up to ``revision``; returns the database's revision after."""
    from alembic import command

    cfg = _alembic_config(url)
    own = engine is None
    engine = engine or make_engine(url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        return current_revision(engine) or ""
    finally:
        if own:
            engine.dispose()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return MigrationContext.configure(conn).get_current_revision()


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.readers = sessionmaker(self.engine.execution_options(readonly=True), expire_on_commit=False)
        self.sqlite = is_sqlite(url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on leaving (rolls back on an exception)."""
        with self.sessions() as s, s.begin():
            yield s

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading: on SQLite a deferred transaction, a snapshot that does not queue
        behind the writers (do not write in it: under contention the write fails as locked)."""
        with self.readers() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()
