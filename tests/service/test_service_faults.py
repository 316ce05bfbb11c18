"""The bureau as a real server under faults: killed with SIGKILL under report load, simultaneous
publishes of one base version, oversized request bodies.

Each test starts ``python -m gosplan serve`` as a subprocess on a free loopback port and talks
to it over HTTP (no TestClient: the races and the kills need a real server and real sockets).
``benchmarks/bench_service_faults.py`` runs the same with more (20 kills, 5 rounds of
publishes) and also restarts PostgreSQL under load; that restart stays in the benchmark only,
because restarting the machine's shared PostgreSQL in the test suite would cut the
connections of every other test using it.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

httpx = pytest.importorskip("httpx")

from sqlalchemy import func, select  # noqa: E402

from gosplan.service.auth import create_user  # noqa: E402
from gosplan.service.db import Database, upgrade  # noqa: E402
from gosplan.service.models import Directive, Draft, PlanVersion, Report  # noqa: E402

API = "/api/v1"
SRC = Path(__file__).resolve().parents[2] / "src"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m gosplan serve`` in its own process group, on a fixed port across restarts."""

    def __init__(self, db_url: str, log: Path, *args: str):
        self.db_url, self.log, self.args = db_url, log, args
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> Server:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gosplan", "serve", "--db", self.db_url, "--host", "127.0.0.1",
                 "--port", str(self.port), "--no-access-log", *self.args],
                stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited ({self.proc.returncode}): {self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return self
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"the server did not come up in {timeout} s: {self.tail()}")

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def kill(self) -> None:
        """SIGKILL the server and its workers: no shutdown, no flush, nothing."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def serving(db_url: str, tmp_path: Path, *args: str) -> Iterator[tuple[Server, dict[str, str]]]:
    """The server on ``db_url`` with a planner; yields it and the planner's headers."""
    upgrade(db_url)
    db = Database(db_url)
    try:
        with db.session() as s:
            _, token = create_user(s, "centre", "planner")
    finally:
        db.dispose()
    server = Server(db_url, tmp_path / f"server-{uuid.uuid4().hex[:6]}.log", *args).start()
    try:
        yield server, {"Authorization": f"Bearer {token}"}
    finally:
        server.stop()


def load_economy(c: httpx.Client) -> dict[str, Any]:
    r = c.post(f"{API}/economies", json={"name": f"us-{uuid.uuid4().hex[:6]}", "bundled": "us-2022",
                                        "enterprises_per_product": 2.0, "ministries": None, "seed": 0})
    assert r.status_code == 201, r.text
    return r.json()


def plan_draft(c: httpx.Client, economy_id: int, timeout: float = 300.0) -> int:
    r = c.post(f"{API}/economies/{economy_id}/plans", json={})
    assert r.status_code == 202, r.text
    job_id, deadline = r.json()["id"], time.monotonic() + timeout
    while True:
        job = c.get(f"{API}/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled"):
            break
        assert time.monotonic() < deadline, f"plan job still {job['state']} after {timeout} s"
        time.sleep(0.1)
    assert job["state"] == "done", job
    return job["draft_id"]


def enterprise_users(db_url: str, c: httpx.Client, economy_id: int, n: int) -> list[tuple[str, str]]:
    """(enterprise, token) for the economy's first ``n`` enterprises."""
    r = c.get(f"{API}/economies/{economy_id}/enterprises", params={"limit": n})
    assert r.status_code == 200, r.text
    labels = [row["enterprise"] for row in r.json()][:n]
    db = Database(db_url)
    try:
        with db.session() as s:
            return [(e, create_user(s, f"ent-{e}", "enterprise", enterprise=e)[1]) for e in labels]
    finally:
        db.dispose()


# --- SIGKILL under report load ------------------------------------------------------------------------

class Clients:
    """Report clients that keep every (key, body) acknowledged and retry the unanswered ones
    with the same Idempotency-Key until they are answered."""

    def __init__(self, base: str, economy_id: int, users: list[tuple[str, str]]):
        self.url = f"{base}{API}/economies/{economy_id}/reports"
        self.users = users
        self.acked: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, tuple[str, dict[str, Any]]] = {}
        self.refused: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(e, t), daemon=True) for e, t in users]

    def __enter__(self) -> Clients:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def send(self, c: httpx.Client, token: str, key: str, body: dict[str, Any]) -> bool:
        try:
            r = c.post(self.url, json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
        except httpx.HTTPError:
            return False
        if r.status_code in (200, 201):
            with self.lock:
                self.acked[key] = {"body": body, "id": r.json()["id"], "status": r.status_code}
                self.pending.pop(key, None)
            return True
        if r.status_code < 500:
            with self.lock:
                self.refused.append(f"{r.status_code} {r.text[:200]}")
                self.pending.pop(key, None)
            return True
        return False

    def _run(self, enterprise: str, token: str) -> None:
        n = 0
        with httpx.Client(timeout=10) as c:
            while not self.stop.is_set():
                n += 1
                key = f"{enterprise}-{uuid.uuid4().hex[:10]}-{n}"
                body = {"enterprise": enterprise, "period": n % 12 + 1, "output": 1000.0 + n, "capacity": 2000.0 + n}
                with self.lock:
                    self.pending[key] = (token, body)
                while not self.send(c, token, key, body) and not self.stop.is_set():
                    time.sleep(0.05)

    def drain(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=10) as c:
            while self.pending and time.monotonic() < deadline:
                for key, (token, body) in list(self.pending.items()):
                    self.send(c, token, key, body)
                time.sleep(0.1)


@pytest.mark.slow
def test_sigkill_under_report_load_loses_no_acknowledged_report(sqlite_url: str, tmp_path: Path) -> None:
    """Killed three times under load and restarted on the same file: every report the server
    acknowledged is stored exactly once, with the body acknowledged."""
    rng = random.Random(14)
    with serving(sqlite_url, tmp_path) as (server, planner):
        with httpx.Client(base_url=server.base, headers=planner, timeout=60) as c:
            economy = load_economy(c)
            users = enterprise_users(sqlite_url, c, economy["id"], 4)
        with Clients(server.base, economy["id"], users) as clients:
            for _ in range(3):
                seen = len(clients.acked)
                deadline = time.monotonic() + 20
                while len(clients.acked) == seen and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert len(clients.acked) > seen, "no report acknowledged since the server came up"
                time.sleep(rng.uniform(0.0, 1.0))
                server.kill()
                server.start()
            time.sleep(0.5)
        clients.drain()
        assert not clients.pending, f"{len(clients.pending)} reports never answered after the kills"
        assert not clients.refused, clients.refused[:5]
    db = Database(sqlite_url)
    try:
        with db.sessions() as s:
            rows = s.execute(select(Report.idempotency_key, Report.id, Report.enterprise, Report.period,
                                    Report.output, Report.capacity).where(Report.economy_id == economy["id"])).all()
            twice = s.execute(select(Report.user_id, Report.idempotency_key).group_by(
                Report.user_id, Report.idempotency_key).having(func.count() > 1)).all()
    finally:
        db.dispose()
    by_key = {r.idempotency_key: r for r in rows}
    assert len(by_key) == len(rows) and not twice, "a key stored twice"
    assert len(clients.acked) > 20
    missing = [k for k in clients.acked if k not in by_key]
    assert not missing, f"{len(missing)} acknowledged reports lost, e.g. {missing[:3]}"
    for key, a in clients.acked.items():
        r, b = by_key[key], a["body"]
        assert (r.id, r.enterprise, r.period, r.output, r.capacity) == (
            a["id"], b["enterprise"], b["period"], b["output"], b["capacity"]), key
    # Rows nobody heard about are allowed only as retried keys (all retried keys end acknowledged).
    assert set(by_key) <= set(clients.acked)


# --- simultaneous publishes -------------------------------------------------------------------------

def copy_drafts(db_url: str, draft_id: int, n: int) -> list[int]:
    """``n`` drafts with the payload of ``draft_id`` (competing planners' drafts)."""
    db = Database(db_url)
    try:
        with db.session() as s:
            src = s.get(Draft, draft_id)
            new = [Draft(economy_id=src.economy_id, kind=src.kind, summary=dict(src.summary or {}),
                         payload=src.payload) for _ in range(n)]
            s.add_all(new)
            s.flush()
            return [d.id for d in new]
    finally:
        db.dispose()


def race(base: str, headers: dict[str, str], drafts: list[int], base_version: int) -> list[int]:
    """Every draft published against ``base_version`` at once, each from its own open connection."""
    barrier = threading.Barrier(len(drafts))
    statuses = [0] * len(drafts)

    def publish(i: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            c.get("/healthz")
            barrier.wait()
            statuses[i] = c.post(f"{API}/drafts/{drafts[i]}/publish", json={"base_version": base_version}).status_code

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(len(drafts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return statuses


@pytest.mark.slow
def test_twenty_simultaneous_publishes_over_http(db_url: str, tmp_path: Path) -> None:
    """20 publishes of one base version at once, on two server processes: one version, 19
    conflicts, versions gapless, each with the same directives (twice)."""
    with serving(db_url, tmp_path, "--workers", "2") as (server, planner):
        with httpx.Client(base_url=server.base, headers=planner, timeout=60) as c:
            economy = load_economy(c)
            draft = plan_draft(c, economy["id"])
            for base_version in (0, 1):
                statuses = race(server.base, planner, copy_drafts(db_url, draft, 20), base_version)
                assert sorted(statuses) == [201] + [409] * 19, statuses
            r = c.get(f"{API}/economies/{economy['id']}/versions")
            assert [v["version"] for v in r.json()] == [1, 2]
            conflict = c.post(f"{API}/drafts/{draft}/publish", json={"base_version": 1})
            assert conflict.status_code == 409 and "latest" in conflict.text
    db = Database(db_url)
    try:
        with db.sessions() as s:
            per_version = s.execute(select(PlanVersion.version, func.count(Directive.party))
                                    .join(Directive, Directive.version_id == PlanVersion.id)
                                    .where(PlanVersion.economy_id == economy["id"])
                                    .group_by(PlanVersion.version).order_by(PlanVersion.version)).all()
    finally:
        db.dispose()
    assert [v for v, _ in per_version] == [1, 2]
    assert per_version[0][1] == per_version[1][1] > 0


# --- oversized bodies ---------------------------------------------------------------------------------

def test_oversized_bodies_are_refused_with_413(sqlite_url: str, tmp_path: Path) -> None:
    """Bodies over --max-body-mb, announced (Content-Length) or streamed (chunked): 413 with a
    JSON detail, for JSON and multipart endpoints; the server goes on serving."""
    limit = int(0.01 * (1 << 20))
    with serving(sqlite_url, tmp_path, "--max-body-mb", "0.01") as (server, planner):
        big = b'{"enterprise": "' + b"x" * (4 * limit) + b'", "period": 1, "output": 1}'
        headers = {**planner, "Content-Type": "application/json", "Idempotency-Key": "big-1"}

        def chunks() -> Iterator[bytes]:
            for i in range(0, len(big), 1024):
                yield big[i:i + 1024]

        with httpx.Client(base_url=server.base, timeout=30) as c:
            answers = {
                "content-length": c.post(f"{API}/economies/1/reports", content=big, headers=headers),
                "chunked": c.post(f"{API}/economies/1/reports", content=chunks(), headers=headers),
                "multipart": c.post(f"{API}/economies", headers=planner, data={"name": "big"},
                                    files={"file": ("big.zip", b"PK" + b"\0" * (4 * limit), "application/zip")}),
                "no token": c.post(f"{API}/economies/1/reports", content=big,
                                   headers={"Content-Type": "application/json", "Idempotency-Key": "big-2"}),
            }
            for how, r in answers.items():
                assert r.status_code == 413, (how, r.status_code, r.text[:200])
                assert r.headers["content-type"].startswith("application/json"), how
                assert "larger than" in r.json()["detail"], how
            assert "chunked" not in answers["content-length"].request.headers.get("transfer-encoding", "")
            assert answers["chunked"].request.headers.get("transfer-encoding") == "chunked"
            # Under the limit the same endpoint answers as usual, and the server is still up.
            ok = c.post(f"{API}/economies/1/reports", json={"enterprise": "x", "period": 1, "output": 1.0},
                        headers={**planner, "Idempotency-Key": "small-1"})
            assert ok.status_code in (404, 422), ok.text
            assert c.get("/healthz").status_code == 200
        db = Database(sqlite_url)
        try:
            with db.sessions() as s:
                assert s.scalar(select(func.count()).select_from(Report)) == 0
        finally:
            db.dispose()
