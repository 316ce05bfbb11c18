"""`gosplan serve`, `gosplan db upgrade` and `gosplan users ...`: what a bureau's administrator types."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, select
from typer.testing import CliRunner

from gosplan.cli.app import app
from gosplan.cli.service_commands import Role
from gosplan.service.auth import hash_token
from gosplan.service.db import head_revision
from gosplan.service.models import ROLES, Base, User

runner = CliRunner()


def gosplan(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_cli_roles_are_the_models_roles() -> None:
    assert tuple(r.value for r in Role) == ROLES


def test_db_upgrade_creates_every_table(db_url: str) -> None:
    code, out, err = gosplan("db", "upgrade", "--db", db_url)
    assert code == 0, err
    assert f"at revision {head_revision()}" in out
    engine = create_engine(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables
    # a second upgrade is a no-op
    assert gosplan("db", "upgrade", "--db", db_url)[0] == 0


def test_db_upgrade_names_an_unreachable_database(tmp_path: Path) -> None:
    code, _, err = gosplan("db", "upgrade", "--db", "postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    assert code == 1
    assert "cannot upgrade postgresql+psycopg://nobody:***@127.0.0.1:1/none" in err
    assert "secret" not in err


def test_users_create_prints_a_token_stored_only_as_its_hash(db_url: str) -> None:
    code, out, err = gosplan("users", "create", "gosbank", "--role", "ministry", "--ministry", "31G", "--db", db_url, "--json")
    assert code == 0, err
    made = json.loads(out)
    assert made["role"] == "ministry" and made["ministry"] == "31G" and made["token"].startswith("gsp_")
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(User.__table__)).one()
    finally:
        engine.dispose()
    assert row.token_hash == hash_token(made["token"])
    assert made["token"] not in json.dumps([str(v) for v in row])
    code, out, _ = gosplan("users", "list", "--db", db_url, "--json")
    assert code == 0 and json.loads(out)[0]["name"] == "gosbank" and "token" not in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--role", "ministry"], "a ministry user needs --ministry M"),
        (["--role", "enterprise"], "an enterprise user needs --enterprise E"),
        (["--role", "viewer", "--ministry", "31G"], "--ministry is for role ministry, not viewer"),
        (["--role", "planner", "--enterprise", "E1"], "--enterprise is for role enterprise, not planner"),
    ],
)
def test_users_create_refuses_a_scope_that_does_not_fit_the_role(sqlite_url: str, args: list[str], words: str) -> None:
    code, _, err = gosplan("users", "create", "x", *args, "--db", sqlite_url)
    assert code == 1 and words in err


def test_users_create_refuses_a_duplicate_and_an_unknown_role(sqlite_url: str) -> None:
    assert gosplan("users", "create", "ann", "--role", "planner", "--db", sqlite_url)[0] == 0
    code, _, err = gosplan("users", "create", "ann", "--role", "viewer", "--db", sqlite_url)
    assert code == 1 and "a user named 'ann' exists already" in err
    code, _, err = gosplan("users", "create", "bob", "--role", "minister", "--db", sqlite_url)
    assert code == 2 and "'minister' is not one of" in err


def test_disabled_users_are_refused(sqlite_bureau) -> None:
    b = sqlite_bureau
    headers = b.user("clerk", "viewer")
    assert b.client.get("/api/v1/me", headers=headers).status_code == 200
    code, out, err = gosplan("users", "disable", "clerk", "--db", str(b.app.state.db.url))
    assert code == 0, err
    b.app.state.tokens._entries.clear()  # the cache's 2 s
    assert b.client.get("/api/v1/me", headers=headers).status_code == 401
    assert gosplan("users", "disable", "nobody", "--db", str(b.app.state.db.url))[0] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_starts_a_bureau_on_a_bundled_economy(tmp_path: Path) -> None:
    """The README's command, as a user runs it: a real server on a fresh SQLite file."""
    port = _free_port()
    env = {**os.environ, "GOSPLAN_DATA_DIR": str(tmp_path / "data")}
    env.pop("GOSPLAN_DB", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gosplan", "serve", "--economy", "us-2022", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(proc.stderr.read() if proc.poll() is not None else "no answer")
                time.sleep(0.3)
        assert r.status_code == 200 and r.json()["database"] == "ok"
        assert (tmp_path / "data" / "bureau.sqlite").exists()
        code, out, err = gosplan("users", "create", "ann", "--role", "planner", "--json",
                                 "--db", f"sqlite:///{tmp_path / 'data' / 'bureau.sqlite'}")
        assert code == 0, err
        token = json.loads(out)["token"]
        economies = httpx.get(f"http://127.0.0.1:{port}/api/v1/economies", headers={"Authorization": f"Bearer {token}"}).json()
        assert [e["name"] for e in economies] == ["us-2022"]
        assert economies[0]["n_products"] == 73 and economies[0]["n_enterprises"] > 73
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["info"]["title"] == "gosplan planning bureau"
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert token not in err  # the access log names paths, never tokens
    assert "loaded us-2022 (73 products" in err
