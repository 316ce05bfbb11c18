"""Fixtures of the bureau service's tests: a database (SQLite always, PostgreSQL when reachable),
the application with its users, and helpers that drive the API as a client would."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service extra is not installed (pip install '.[service]')")

from fastapi.testclient import TestClient  # noqa: E402

from gosplan.service import Settings, create_app  # noqa: E402
from gosplan.service.auth import create_user  # noqa: E402

#: Where the PostgreSQL tests look (this project's machines: trust authentication, database ``test``).
PG_ADMIN_URL = os.environ.get("GOSPLAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_pg_state: dict[str, Any] = {}


def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used (``None`` when it can)."""
    if "why" not in _pg_state:
        try:
            import psycopg

            dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(dsn, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            _pg_state["why"] = None
        except Exception as exc:  # noqa: BLE001
            _pg_state["why"] = f"PostgreSQL not reachable at {PG_ADMIN_URL.split('@')[-1]} ({type(exc).__name__}): skipping the PostgreSQL tests of the service"
    return _pg_state["why"]


def fresh_postgres_database() -> tuple[str, Any]:
    """A new empty database on the test server: its URL and a function that drops it."""
    import psycopg

    name = "gosplan_t_" + uuid.uuid4().hex[:12]
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_ADMIN_URL.rpartition("/")

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A fresh database: an SQLite file, then (when reachable) a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bureau.sqlite'}"
        return
    why = postgres_unreachable()
    if why:
        pytest.skip(why)
    url, drop = fresh_postgres_database()
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'bureau.sqlite'}"


class Bureau:
    """The application under test, a client, and helpers to act as its users."""

    def __init__(self, client: TestClient, app: Any):
        self.client, self.app = client, app
        self.tokens: dict[str, str] = {}

    # people -------------------------------------------------------------------------------
    def user(self, name: str, role: str, *, ministry: str | None = None, enterprise: str | None = None) -> dict[str, str]:
        """Headers of a (new or existing) user ``name``."""
        if name not in self.tokens:
            with self.app.state.db.session() as s:
                _, token = create_user(s, name, role, ministry=ministry, enterprise=enterprise)
            self.tokens[name] = token
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    @property
    def planner(self) -> dict[str, str]:
        return self.user("centre", "planner")

    @property
    def viewer(self) -> dict[str, str]:
        return self.user("public", "viewer")

    # the API as a client drives it ----------------------------------------------------------
    def load_economy(self, bundled: str = "us-2022", *, name: str | None = None,
                     enterprises_per_product: float | None = 2.0, ministries: int | None = None,
                     seed: int = 0) -> dict[str, Any]:
        body = {"name": name or f"{bundled}-{uuid.uuid4().hex[:6]}", "bundled": bundled,
                "enterprises_per_product": enterprises_per_product, "ministries": ministries, "seed": seed}
        r = self.client.post("/api/v1/economies", json=body, headers=self.planner)
        assert r.status_code == 201, r.text
        return r.json()

    def wait(self, job_id: int, timeout: float = 300.0) -> dict[str, Any]:
        """Poll ``GET /api/v1/jobs/{id}`` until the job is done, failed or cancelled."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.client.get(f"/api/v1/jobs/{job_id}", headers=self.planner)
            assert r.status_code == 200, r.text
            job = r.json()
            if job["state"] in ("done", "failed", "cancelled"):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s: {job}")
            time.sleep(0.1)

    def plan(self, economy_id: int, **params: Any) -> dict[str, Any]:
        """Run a plan job to the end; the finished job (with its ``draft_id``)."""
        r = self.client.post(f"/api/v1/economies/{economy_id}/plans", json=params, headers=self.planner)
        assert r.status_code == 202, r.text
        job = self.wait(r.json()["id"])
        assert job["state"] == "done", job
        return job

    def publish(self, draft_id: int, base_version: int = 0) -> dict[str, Any]:
        r = self.client.post(f"/api/v1/drafts/{draft_id}/publish", json={"base_version": base_version},
                             headers=self.planner)
        assert r.status_code == 201, r.text
        return r.json()


def make_bureau(db_url: str, **settings: Any) -> Iterator[Bureau]:
    app = create_app(Settings(db_url=db_url, **settings))
    with TestClient(app) as client:
        yield Bureau(client, app)


@pytest.fixture
def bureau(db_url: str) -> Iterator[Bureau]:
    """The bureau on SQLite and (when reachable) PostgreSQL."""
    yield from make_bureau(db_url)


@pytest.fixture
def sqlite_bureau(sqlite_url: str) -> Iterator[Bureau]:
    """The bureau on SQLite only (for tests whose database does not matter)."""
    yield from make_bureau(sqlite_url)
