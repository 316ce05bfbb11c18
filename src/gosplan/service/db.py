"""Engines, sessions and migrations of the bureau's database (SQLite WAL or PostgreSQL)."""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy timeout alone
    fcntl = None  # type: ignore[assignment]

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
    deferred ``BEGIN`` reads a snapshot beside the writers. Writers queue on a lock (threads)
    and a file lock beside the database (processes) before ``BEGIN IMMEDIATE``
    (:class:`_WriteQueue`) instead of polling SQLite's.
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

        writers = _WriteQueue(None if not u.database or u.database == ":memory:"
                              else str(Path(u.database).expanduser()) + ".writers")

        @event.listens_for(engine, "begin")
        def _begin(conn):  # noqa: ANN001
            if conn.get_execution_options().get("readonly", False):
                conn.exec_driver_sql("BEGIN")
                return
            raw = conn.connection.dbapi_connection
            writers.acquire(raw)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                writers.release(raw)
                raise

        @event.listens_for(engine, "commit")
        def _commit(conn):  # noqa: ANN001
            raw = conn.connection.dbapi_connection
            if writers.holds(raw):
                try:
                    raw.commit()  # now, so that the next writer finds SQLite's lock free (SQLAlchemy's commit after is a no-op)
                finally:
                    writers.release(raw)

        @event.listens_for(engine, "rollback")
        def _rollback(conn):  # noqa: ANN001
            raw = conn.connection.dbapi_connection
            if writers.holds(raw):
                try:
                    raw.rollback()
                finally:
                    writers.release(raw)

        @event.listens_for(engine, "checkin")
        def _checkin(raw, _record):  # noqa: ANN001 - a connection back in the pool holds nothing
            writers.release(raw)

        @event.listens_for(engine, "close")
        def _close(raw, _record):  # noqa: ANN001
            writers.release(raw)

        return engine
    return create_engine(u, pool_pre_ping=True, pool_size=16, max_overflow=16, pool_recycle=300)


class _WriteQueue:
    """The writers queue here, one at a time, before asking SQLite for its write lock.

    SQLite's own wait for a busy database polls with sleeps of 1, 2, 5 ... up to 100 ms, so
    eight threads writing at once waited up to a second for a lock held 1 ms at a time (report
    submissions: p99 0.8-1.5 s at 8 connections, benchmarks/bench_service.py). Threads of one
    process wait on a lock and wake as soon as it is free; the processes sharing the database
    (uvicorn's ``--workers``) then take an exclusive ``flock`` on the file ``lock_path`` beside
    it, tried every half millisecond (with two workers SQLite's polling made the report p99 1-2 s).
    The kernel drops a killed process's ``flock``. A thread that already holds the queue (a nested
    transaction) does not wait here, and a lock not had after ``timeout`` seconds is not waited
    for longer: SQLite's busy timeout decides then, as without the queue. Released after the
    commit or rollback, or when the connection goes back to the pool or is closed.
    """

    def __init__(self, lock_path: str | None = None, timeout: float = 30.0):
        self.timeout = timeout
        self.lock_path = lock_path
        self._lock = threading.Lock()
        self._owner: object | None = None
        self._thread: int | None = None
        self._fd: int | None = None
        self._flocked = False

    def _file(self) -> int | None:
        if self._fd is None and self.lock_path is not None:
            try:
                self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                self.lock_path = None  # a read-only folder: threads still queue
        return self._fd

    def acquire(self, raw: object) -> None:
        if self._thread == threading.get_ident():
            return
        deadline = time.monotonic() + self.timeout
        if not self._lock.acquire(timeout=self.timeout):
            return
        self._owner, self._thread = raw, threading.get_ident()
        fd = self._file()
        if fd is None or fcntl is None:
            return
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._flocked = True
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.0005)

    def holds(self, raw: object) -> bool:
        return raw is not None and self._owner is raw

    def release(self, raw: object) -> None:
        if self.holds(raw):
            if self._flocked:
                self._flocked = False
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._owner = self._thread = None
            self._lock.release()


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
