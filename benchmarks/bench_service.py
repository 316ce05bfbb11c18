#!/usr/bin/env python
"""The planning bureau under load (issue 14): directive reads and report submissions over
loopback against the real server (uvicorn in a subprocess), on SQLite and PostgreSQL.

    python benchmarks/bench_service.py                                   # sqlite + postgresql, 8..64 conns, 10 s each
    python benchmarks/bench_service.py --db sqlite --connections 8 --duration 5
    python benchmarks/bench_service.py --workers 2 --no-access-log
    python benchmarks/bench_service.py --server uvicorn --loop asyncio --http h11   # uvicorn's pure-Python stack
    python benchmarks/bench_service.py --markdown r.md --json r.json
    python benchmarks/bench_service.py --db sqlite --connections 8 --profile prof/   # py-spy on the server

What runs
---------
The server (``--server``): ``serve`` (default) is ``python -m gosplan serve --db URL`` as a user
runs it (uvicorn with uvloop and httptools when installed, access log on unless
``--no-access-log``, ``--workers`` processes); ``uvicorn`` is ``python -m uvicorn --factory
bench_service:make_app`` (this module's :func:`make_app`, which calls
``gosplan.service.create_app(Settings(db_url=$GOSPLAN_BENCH_DB_URL))``) with ``--loop`` and
``--http`` as given. Loopback, a free port. The server's log is kept in the temporary folder
and searched for the users' tokens afterwards (there must be none: exit status 1 otherwise).

The database: an SQLite file in a temporary folder (WAL, ``synchronous=FULL``), and a fresh
PostgreSQL database created on ``$GOSPLAN_TEST_PG`` (default the ``test`` server at
127.0.0.1:5432) and dropped at the end, when that server is reachable.

The data (``--seed``): ``api`` loads ``us-2022`` with synthetic enterprises (2 per product,
147 enterprises in 17 ministries) through ``POST /economies``, plans it as a job and publishes
the draft as version 1, all through the API (users are added with
``gosplan.service.auth.create_user``, as ``gosplan users create`` does); ``rows`` writes the
same economy's parties, a draft, version 1 and its directives straight into the tables with the
service's models (directive bodies built from the economy's coefficients: target, capacity and
~60 inputs per enterprise, about the size of a real one); ``auto`` (default) uses the API when
the server's plan jobs run and rows otherwise. One enterprise user per enterprise, a ministry
user per ministry, a planner and a viewer.

The load (``--client``): ``wrk`` (when installed) with a Lua script that cycles through the
enterprise users, each asking for its own directive
(``GET /api/v1/economies/{id}/versions/latest/directives/enterprises/{e}``) or submitting a
report for its own enterprise (``POST /api/v1/economies/{id}/reports`` with a unique
``Idempotency-Key`` per request); ``python`` is an asyncio HTTP/1.1 keep-alive generator in a
separate process (same requests). ``wrk`` runs with 2 threads. Each (database, kind,
connections) runs ``--duration`` seconds after a 1 s warm-up at the same concurrency.
Requests/s counts completed responses (any status); errors are non-2xx responses plus socket
errors and timeouts (10 s). p50/p99 are wrk's latency percentiles (from a request's send to its
response on a connection that always has one request outstanding: closed-loop, no correction
for coordinated omission).

Baselines for where the time goes (``--kinds``): ``me`` is ``GET /api/v1/me`` by the same
enterprise users (routing, the token check from the in-memory cache, JSON; no query), and
``healthz`` is ``GET /healthz`` (no token; one ``SELECT 1``).

After each report run the reports in the database are counted: every 2xx answer must be a
stored report (stored >= acknowledged; a few more were committed while wrk stopped).

The machine: CPU model and count, load average before and after; the client and the server
share the same cores (2 on this project's machines), so the figures are what one small box
does serving and loading itself at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as _dt
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PG_ADMIN_URL = os.environ.get("GOSPLAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ENV_DB = "GOSPLAN_BENCH_DB_URL"
API = "/api/v1"
READ_GOAL_RPS, READ_GOAL_P99_MS = 1500.0, 100.0


# --------------------------------------------------------------------------------------------
# the application factory uvicorn imports (kept light: nothing heavy at module import)
# --------------------------------------------------------------------------------------------
def make_app():  # noqa: ANN201
    """``create_app(Settings(db_url=$GOSPLAN_BENCH_DB_URL))``: uvicorn's ``--factory`` target."""
    from gosplan.service import Settings, create_app

    return create_app(Settings(db_url=os.environ[ENV_DB]))


# --------------------------------------------------------------------------------------------
# the machine
# --------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    cpu = platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_start": os.getloadavg(), "wrk": _wrk_version()}


def _wrk_version() -> str | None:
    exe = shutil.which("wrk")
    if not exe:
        return None
    out = subprocess.run([exe, "-v"], capture_output=True, text=True).stdout + ""
    m = re.search(r"wrk\s+(\S+)", out)
    return m.group(1) if m else "wrk"


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("uvicorn", "uvloop", "httptools", "fastapi", "starlette", "pydantic", "sqlalchemy", "psycopg"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    with contextlib.suppress(Exception):
        out["git"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                    capture_output=True, text=True).stdout.strip()
    return out


# --------------------------------------------------------------------------------------------
# databases
# --------------------------------------------------------------------------------------------
def postgres_unreachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(_dsn(PG_ADMIN_URL), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL not reachable at {PG_ADMIN_URL.split('@')[-1]} ({type(exc).__name__})"


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh database URL: an SQLite file in ``folder`` or a new PostgreSQL database (dropped after)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bureau.sqlite'}"
        return
    import psycopg

    name = "gosplan_bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(_dsn(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}"
    finally:
        for _ in range(20):  # the server may be restarting (fault benchmark): try a while
            try:
                with psycopg.connect(_dsn(PG_ADMIN_URL), autocommit=True, connect_timeout=3) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except Exception:  # noqa: BLE001
                time.sleep(1)


# --------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The bureau's server in a subprocess (its own process group).

    ``how="serve"``: ``python -m gosplan serve --db URL`` (the product as users run it: uvicorn
    with its defaults, uvloop and httptools when installed); ``how="uvicorn"``:
    ``python -m uvicorn --factory bench_service:make_app`` with ``loop`` and ``http`` as given.
    """

    def __init__(self, db_url: str, log: Path, *, workers: int = 1, loop: str = "auto", http: str = "auto",
                 access_log: bool = True, port: int | None = None, extra_env: dict[str, str] | None = None,
                 how: str = "serve", max_body_mb: float | None = None):
        self.db_url, self.log_path = db_url, log
        self.workers, self.loop, self.http, self.access_log = workers, loop, http, access_log
        self.port = port or free_port()
        self.extra_env = extra_env or {}
        self.how, self.max_body_mb = how, max_body_mb
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if self.how == "serve":
            cmd = [sys.executable, "-m", "gosplan", "serve", "--db", self.db_url, "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", str(self.workers)]
            if self.max_body_mb is not None:
                cmd += ["--max-body-mb", f"{self.max_body_mb:g}"]
            if not self.access_log:
                cmd.append("--no-access-log")
            return cmd
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "bench_service:make_app", "--app-dir", str(HERE),
               "--host", "127.0.0.1", "--port", str(self.port), "--loop", self.loop, "--http", self.http,
               "--timeout-graceful-shutdown", "5", "--no-server-header"]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        if not self.access_log:
            cmd.append("--no-access-log")
        return cmd

    def start(self, timeout: float = 90.0) -> Server:
        env = {**os.environ, ENV_DB: self.db_url, **self.extra_env}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
        fh = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(self.command(), stdout=fh, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True, cwd=str(ROOT))
        fh.close()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.kill()  # never leave a half-started server behind
            raise
        return self

    def wait_ready(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def pids(self) -> list[int]:
        """The server's process and its children (uvicorn's workers)."""
        if self.proc is None:
            return []
        pids = [self.proc.pid]
        with contextlib.suppress(OSError):
            for p in Path("/proc").iterdir():
                if p.name.isdigit():
                    with contextlib.suppress(OSError):
                        stat = (p / "stat").read_text()
                        if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                            pids.append(int(p.name))
        return pids

    def kill(self) -> None:
        """SIGKILL the whole process group (uvicorn and its workers), no shutdown at all."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# seeding
# --------------------------------------------------------------------------------------------
def _economy():  # noqa: ANN202
    import warnings

    import gosplan
    from gosplan.synth.enterprises import synth_enterprises

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return synth_enterprises(gosplan.load("us-2022"), per_product=2.0, seed=0)


def add_users(db_url: str, enterprises: dict[str, str]) -> dict[str, Any]:
    """A planner, a viewer, one user per ministry and per enterprise (``{enterprise: ministry}``); tokens."""
    from gosplan.service.auth import create_user
    from gosplan.service.db import Database

    db = Database(db_url)
    tag = uuid.uuid4().hex[:6]
    out: dict[str, Any] = {"enterprise": {}, "ministry": {}}
    try:
        with db.session() as s:
            out["planner"] = create_user(s, f"centre-{tag}", "planner")[1]
            out["viewer"] = create_user(s, f"public-{tag}", "viewer")[1]
            for m in sorted(set(enterprises.values())):
                out["ministry"][m] = create_user(s, f"ministry-{m}-{tag}", "ministry", ministry=m)[1]
            for e in enterprises:
                out["enterprise"][e] = create_user(s, f"enterprise-{e}-{tag}", "enterprise", enterprise=e)[1]
    finally:
        db.dispose()
    return out


def seed_rows(db_url: str) -> dict[str, Any]:
    """us-2022 with 147 enterprises, a draft, version 1 and its directives, written with the models."""
    import numpy as np

    from gosplan.service.db import Database, upgrade
    from gosplan.service.models import Directive, Draft, EconomyRow, Party, PlanVersion, pack

    upgrade(db_url)
    eco = _economy()
    h = eco.hierarchy
    products = [str(p) for p in eco.products]
    names = dict(zip(products, (str(n) for n in eco.names))) if eco.names is not None else {}
    ministries = [str(m) for m in h.ministries]
    ent_labels = [f"E{int(e):04d}" for e in h.enterprises]
    ent_min = {e: ministries[int(m)] for e, m in zip(ent_labels, h.enterprise_ministry)}
    ent_prod = {e: products[int(p)] for e, p in zip(ent_labels, h.enterprise_product)}
    cap = {e: float(c) for e, c in zip(ent_labels, h.capacity)}
    A = eco.A.tocsc()
    directives = []
    for e in ent_labels:
        j = products.index(ent_prod[e])
        target = 0.9 * cap[e]
        col = A[:, [j]]
        inputs = [{"input": products[i], "kind": "product", "quantity": float(a * target)}
                  for i, a in zip(col.indices, col.data)]
        inputs.append({"input": "labour", "kind": "resource", "quantity": float(np.asarray(eco.l)[j] * target)})
        directives.append({"enterprise": e, "ministry": ent_min[e], "product": ent_prod[e],
                           "product_name": names.get(ent_prod[e], ent_prod[e]), "target": target,
                           "capacity": cap[e], "inputs": inputs})
    db = Database(db_url)
    try:
        with db.session() as s:
            row = EconomyRow(name="us-2022-bench", source="bundled",
                             spec={"bundled": "us-2022", "enterprises_per_product": 2.0, "ministries": None, "seed": 0},
                             title="us-2022 (benchmark)", n_products=len(products), n_ministries=len(ministries),
                             n_enterprises=len(ent_labels))
            s.add(row)
            s.flush()
            for m in ministries:
                s.add(Party(economy_id=row.id, kind="ministry", label=m, name=m))
            for e in ent_labels:
                s.add(Party(economy_id=row.id, kind="enterprise", label=e, ministry=ent_min[e],
                            product=ent_prod[e], name=e))
            payload = {"kind": "plan", "status": "solved", "message": "benchmark rows", "summary": {},
                       "products": [], "resources": [], "ministries": [], "flows": [],
                       "enterprises": directives, "ministry_directives": [], "years": None}
            draft = Draft(economy_id=row.id, kind="plan", summary={}, payload=pack(payload))
            s.add(draft)
            s.flush()
            version = PlanVersion(economy_id=row.id, version=1, draft_id=draft.id, summary={})
            s.add(version)
            s.flush()
            import orjson

            for d in directives:
                s.add(Directive(version_id=version.id, kind="enterprise", party=d["enterprise"],
                                ministry=d["ministry"], body=orjson.dumps(d)))
            economy_id = row.id
    finally:
        db.dispose()
    users = add_users(db_url, ent_min)
    return {"economy_id": economy_id, "version": 1, "enterprises": ent_min, "tokens": users, "seeded_by": "rows"}


def seed_api(base: str, db_url: str, timeout: float = 600.0) -> dict[str, Any]:
    """The same through the running server's API: load us-2022, plan it as a job, publish version 1."""
    import httpx

    planner = add_users(db_url, {})["planner"]
    h = {"Authorization": f"Bearer {planner}"}
    with httpx.Client(base_url=base + API, headers=h, timeout=60) as c:
        r = c.post("/economies", json={"name": f"us-2022-{uuid.uuid4().hex[:6]}", "bundled": "us-2022",
                                       "enterprises_per_product": 2.0, "ministries": None, "seed": 0})
        if r.status_code != 201:
            raise RuntimeError(f"POST /economies: {r.status_code} {r.text[:300]}")
        economy_id = r.json()["id"]
        r = c.post(f"/economies/{economy_id}/plans", json={})
        if r.status_code != 202:
            raise RuntimeError(f"POST /plans: {r.status_code} {r.text[:300]}")
        job_id, deadline = r.json()["id"], time.monotonic() + timeout
        while True:
            job = c.get(f"/jobs/{job_id}").json()
            if job["state"] in ("done", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"plan job {job_id} still {job['state']} after {timeout} s")
            time.sleep(0.2)
        if job["state"] != "done":
            raise RuntimeError(f"plan job {job_id} {job['state']}: {job.get('message')}")
        r = c.post(f"/drafts/{job['draft_id']}/publish", json={"base_version": 0})
        if r.status_code != 201:
            raise RuntimeError(f"publish: {r.status_code} {r.text[:300]}")
        version = r.json()["version"]
        enterprises: dict[str, str] = {}
        offset = 0
        while True:
            r = c.get(f"/economies/{economy_id}/enterprises", params={"limit": 500, "offset": offset})
            r.raise_for_status()
            page = r.json()
            rows = page if isinstance(page, list) else page.get("items", page.get("enterprises", []))
            for row in rows:
                enterprises[str(row["enterprise"])] = str(row["ministry"])
            if len(rows) < 500:
                break
            offset += len(rows)
    users = add_users(db_url, enterprises)
    users["planner"] = planner
    return {"economy_id": economy_id, "version": version, "enterprises": enterprises, "tokens": users,
            "seeded_by": "api"}


def api_can_plan(base: str) -> bool:
    """Does the server take ``POST /economies`` (the routes exist) and run jobs? Probed without data."""
    import httpx

    with contextlib.suppress(httpx.HTTPError):
        spec = httpx.get(base + "/openapi.json", timeout=10).json()
        paths = spec.get("paths", {})
        return "post" in paths.get(f"{API}/economies", {}) and "post" in paths.get(f"{API}/economies/{{economy_id}}/plans", {}) \
            and "post" in paths.get(f"{API}/drafts/{{draft_id}}/publish", {})
    return False


def count_reports(db_url: str, economy_id: int) -> int:
    from sqlalchemy import func, select

    from gosplan.service.db import Database
    from gosplan.service.models import Report

    db = Database(db_url)
    try:
        with db.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(Report).where(Report.economy_id == economy_id)) or 0)
    finally:
        db.dispose()


# --------------------------------------------------------------------------------------------
# requests: what each connection sends
# --------------------------------------------------------------------------------------------
def other_path(kind: str) -> str:
    return {"me": f"{API}/me", "healthz": "/healthz"}[kind]


def read_path(economy_id: int, enterprise: str) -> str:
    return f"{API}/economies/{economy_id}/versions/latest/directives/enterprises/{urllib.parse.quote(enterprise, safe='')}"


def report_path(economy_id: int) -> str:
    return f"{API}/economies/{economy_id}/reports"


def report_body(enterprise: str, n: int) -> bytes:
    """A report whose content depends on ``n`` (a key is never reused with another body)."""
    return json.dumps({"enterprise": enterprise, "period": n % 12 + 1, "output": 1000.0 + n,
                       "capacity": 2000.0 + n, "stocks": float(n % 7)}, separators=(",", ":")).encode()


def targets(seed: dict[str, Any], kind: str) -> list[tuple[str, str, str]]:
    """(path, token, enterprise) per enterprise user, shuffled."""
    items = []
    for e, token in seed["tokens"]["enterprise"].items():
        path = (read_path(seed["economy_id"], e) if kind == "read" else report_path(seed["economy_id"])
                if kind == "report" else other_path(kind))
        items.append((path, token, e))
    random.Random(0).shuffle(items)
    return items


WRK_LUA = r"""
-- args: targets file (path \t token \t enterprise-json), mode (read|report), run tag
local items, mode, tag = {}, "read", "x"
local idx, counter = 0, 0
local n = 0

function setup(thread)
  n = n + 1
  thread:set("tid", n)
end

function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    local path, token, ent = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
    if path then items[#items + 1] = {path, "Bearer " .. token, ent} end
  end
  f:close()
  mode, tag = args[2], args[3]
  idx = ((tid or 1) * 37) % #items
end

function request()
  idx = idx % #items + 1
  local it = items[idx]
  if mode ~= "report" then
    return wrk.format("GET", it[1], {["Authorization"] = it[2]})
  end
  counter = counter + 1
  local key = tag .. "-" .. (tid or 0) .. "-" .. counter
  local body = string.format('{"enterprise":%s,"period":%d,"output":%.1f,"capacity":%.1f,"stocks":%.1f}',
    it[3], counter % 12 + 1, 1000.0 + counter, 2000.0 + counter, counter % 7)
  return wrk.format("POST", it[1], {["Authorization"] = it[2], ["Idempotency-Key"] = key,
    ["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def run_wrk(base: str, items: list[tuple[str, str, str]], kind: str, connections: int, duration: float,
            folder: Path, threads: int = 2) -> dict[str, Any]:
    script = folder / "load.lua"
    script.write_text(WRK_LUA)
    tfile = folder / f"targets-{kind}.tsv"
    tfile.write_text("".join(f"{p}\t{t}\t{json.dumps(e)}\n" for p, t, e in items))
    tag = uuid.uuid4().hex[:10]
    cmd = ["wrk", "-t", str(min(threads, connections)), "-c", str(connections), "-d", f"{duration:g}s",
           "--timeout", "10s", "-s", str(script), base, "--", str(tfile), kind, tag]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    m = re.search(r"^WRKJSON (.*)$", out.stdout, re.M)
    if not m:
        raise RuntimeError(f"wrk said: {out.stdout}\n{out.stderr}")
    r = json.loads(m.group(1))
    seconds = r["duration_us"] / 1e6
    errors = r["status"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
    return {"requests": r["requests"], "seconds": seconds, "rps": r["requests"] / seconds,
            "ok": r["requests"] - r["status"], "errors": errors, "status_errors": r["status"],
            "socket_errors": errors - r["status"], "p50_ms": r["p50_us"] / 1e3, "p90_ms": r["p90_us"] / 1e3,
            "p99_ms": r["p99_us"] / 1e3, "max_ms": r["max_us"] / 1e3, "mean_ms": r["mean_us"] / 1e3,
            "client": "wrk"}


# the Python load generator (a separate process: ``bench_service.py _client SPEC.json``) ----------
async def _one_connection(host: str, port: int, items: list[tuple[str, str, str]], kind: str, stop: float,
                          start_idx: int, tag: str, lat: list[float], counts: dict[str, int]) -> None:
    reader = writer = None
    idx, n = start_idx, 0
    while time.monotonic() < stop:
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                counts["socket"] += 1
                await asyncio.sleep(0.05)
                continue
        path, token, ent = items[idx % len(items)]
        idx += 1
        if kind != "report":
            req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n").encode()
        else:
            n += 1
            body = report_body(ent, n)
            req = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                   f"Idempotency-Key: {tag}-{start_idx}-{n}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        t0 = time.perf_counter()
        try:
            writer.write(req)
            status, close = await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            counts["socket"] += 1
            writer.close()
            reader = writer = None
            continue
        lat.append(time.perf_counter() - t0)
        counts["requests"] += 1
        if not 200 <= status < 300:
            counts["status"] += 1
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, chunked, close = None, False, False
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k = k.strip().lower()
        if k == "content-length":
            length = int(v)
        elif k == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
        elif k == "connection" and "close" in v.lower():
            close = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length is not None:
        await reader.readexactly(length)
    else:
        await reader.read()
        close = True
    return status, close


def _client_main(spec_file: str) -> None:
    spec = json.loads(Path(spec_file).read_text())
    items = [tuple(x) for x in spec["items"]]
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()

    async def main() -> dict[str, Any]:
        lat: list[float] = []
        counts = {"requests": 0, "status": 0, "socket": 0}
        t0 = time.monotonic()
        stop = t0 + spec["duration"]
        await asyncio.gather(*(_one_connection(spec["host"], spec["port"], items, spec["kind"], stop, i * 37,
                                               spec["tag"], lat, counts) for i in range(spec["connections"])))
        return {"lat": lat, **counts, "seconds": time.monotonic() - t0}

    r = asyncio.run(main())
    print("PYJSON " + json.dumps(r))


def run_python(base: str, items: list[tuple[str, str, str]], kind: str, connections: int, duration: float,
               folder: Path) -> dict[str, Any]:
    u = urllib.parse.urlsplit(base)
    spec = folder / "client.json"
    spec.write_text(json.dumps({"host": u.hostname, "port": u.port, "items": items, "kind": kind,
                                "connections": connections, "duration": duration, "tag": uuid.uuid4().hex[:10]}))
    out = subprocess.run([sys.executable, __file__, "_client", str(spec)], capture_output=True, text=True,
                         timeout=duration + 120)
    m = re.search(r"^PYJSON (.*)$", out.stdout, re.M)
    if not m:
        raise RuntimeError(f"client said: {out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    r = json.loads(m.group(1))
    lat = sorted(r["lat"])

    def q(p: float) -> float:
        return 1e3 * lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

    return {"requests": r["requests"], "seconds": r["seconds"], "rps": r["requests"] / r["seconds"],
            "ok": r["requests"] - r["status"], "errors": r["status"] + r["socket"], "status_errors": r["status"],
            "socket_errors": r["socket"], "p50_ms": q(0.50), "p90_ms": q(0.90), "p99_ms": q(0.99),
            "max_ms": 1e3 * lat[-1] if lat else float("nan"),
            "mean_ms": 1e3 * statistics.fmean(lat) if lat else float("nan"), "client": "python-asyncio"}


def load(client: str, base: str, items: list[tuple[str, str, str]], kind: str, connections: int,
         duration: float, folder: Path) -> dict[str, Any]:
    if client == "wrk":
        return run_wrk(base, items, kind, connections, duration, folder)
    return run_python(base, items, kind, connections, duration, folder)


def check(base: str, seed: dict[str, Any], kinds: list[str]) -> None:
    """One request of each kind by hand before loading (a missing route fails here, clearly)."""
    import httpx

    e, token = next(iter(seed["tokens"]["enterprise"].items()))
    h = {"Authorization": f"Bearer {token}"}
    for kind in kinds:
        if kind == "report":
            continue
        path = read_path(seed["economy_id"], e) if kind == "read" else other_path(kind)
        r = httpx.get(base + path, headers=h, timeout=30)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path} answered {r.status_code}: {r.text[:300]}")
    if "report" not in kinds:
        return
    r = httpx.post(base + report_path(seed["economy_id"]), content=report_body(e, 0),
                   headers={**h, "Idempotency-Key": "check-" + uuid.uuid4().hex, "Content-Type": "application/json"},
                   timeout=30)
    if r.status_code != 201:
        raise RuntimeError(f"report answered {r.status_code}: {r.text[:300]}")


# --------------------------------------------------------------------------------------------
# profiling (py-spy on the server while wrk loads it)
# --------------------------------------------------------------------------------------------
def profile(server: Server, seconds: float, out: Path) -> subprocess.Popen | None:
    """``py-spy record --gil`` on the server (and its workers) for ``seconds``: collapsed stacks in ``out``.

    Only samples holding the GIL are kept, so the shares below are shares of the server's Python
    CPU time. py-spy pauses the process to sample (100 Hz), which costs a few per cent of throughput.
    """
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        print("py-spy not installed (pip install py-spy): no profile", file=sys.stderr)
        return None
    pid = server.proc.pid  # type: ignore[union-attr]
    return subprocess.Popen([exe, "record", "-p", str(pid), "--subprocesses", "--gil", "-d", str(int(seconds)),
                             "-r", "100", "-f", "raw", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


#: Where a sample's time goes: the first pattern found from the innermost frame outwards.
CATEGORIES = [
    ("access log", ("logging/", "uvicorn/logging.py")),
    ("database: driver (sqlite3 / psycopg)", ("sqlite3/", "psycopg/", "psycopg_pool/", "_sqlite")),
    ("database: SQLAlchemy", ("sqlalchemy/",)),
    ("JSON and validation (pydantic, encoders, responses)", ("pydantic/", "pydantic_core", "fastapi/encoders.py",
                                                           "starlette/responses.py", "json/", "orjson")),
    ("auth (token hash, cache)", ("gosplan/service/auth.py", "gosplan/service/deps.py", "hashlib")),
    ("route code (gosplan.service.api)", ("gosplan/service/api/",)),
    ("body limit middleware (gosplan)", ("gosplan/service/app.py",)),
    ("thread pool hand-off (anyio, threading)", ("anyio/", "threading.py", "concurrent/", "queue.py")),
    ("FastAPI / Starlette (routing, dependencies, middleware)", ("fastapi/", "starlette/")),
    ("uvicorn (HTTP parsing, protocol)", ("uvicorn/", "httptools", "h11/")),
    ("event loop (asyncio / uvloop)", ("asyncio/", "uvloop", "selectors.py", "contextvars")),
]


def profile_summary(raw: Path) -> list[tuple[str, float]]:
    """Shares of the samples by :data:`CATEGORIES` (innermost matching frame), and inclusive
    shares of a few functions (``incl:``), from py-spy's collapsed stacks."""
    totals: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    n = 0
    marks = {"incl: get_principal (auth dependency)": "get_principal (", "incl: the route's function": "gosplan/service/api/",
             "incl: TokenCache.lookup DB miss": "sqlalchemy/orm/session.py", "incl: run_in_threadpool / to_thread": "anyio/to_thread.py",
             "incl: serialize_response / jsonable_encoder": "serialize_response ("}
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        frames = stack.split(";")[1:]
        n += c
        cat = "other"
        for frame in reversed(frames):
            hit = next((name for name, pats in CATEGORIES if any(p in frame for p in pats)), None)
            if hit:
                cat = hit
                break
        totals[cat] = totals.get(cat, 0) + c
        for name, pat in marks.items():
            if any(pat in f for f in frames):
                if name.startswith("incl: TokenCache") and not any("TokenCache.lookup" in f for f in frames):
                    continue
                inclusive[name] = inclusive.get(name, 0) + c
    out = sorted(((k, v / n) for k, v in totals.items()), key=lambda kv: -kv[1]) if n else []
    return out + sorted(((k, v / n) for k, v in inclusive.items()), key=lambda kv: -kv[1])


def inprocess(db_url: str, seeded: dict[str, Any], n: int, profile_top: int = 0) -> list[dict[str, Any]]:
    """CPU microseconds per request of the ASGI application alone (no server, no sockets).

    The application is called directly with a request scope, ``n`` times per kind, one request
    at a time, in 10 blocks; ``time.process_time`` counts every thread (the thread pool
    included), and the best block is kept, so the figure depends little on what else the
    machine runs. With ``profile_top``, cProfile's
    most expensive functions (cumulative) for the directive read are printed.
    """
    from gosplan.service import Settings, create_app

    e, token = next(iter(seeded["tokens"]["enterprise"].items()))
    auth = [(b"authorization", f"Bearer {token}".encode())]
    kinds = {"healthz": ("GET", "/healthz", [], b""), "me": ("GET", f"{API}/me", auth, b""),
             "read": ("GET", read_path(seeded["economy_id"], e), auth, b"")}
    app = create_app(Settings(db_url=db_url))

    async def call(method: str, path: str, headers: list, body: bytes) -> int:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": urllib.parse.unquote(path), "raw_path": path.encode(),
                 "query_string": b"", "root_path": "", "headers": [(b"host", b"127.0.0.1"), *headers],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
        status = 0
        sent = False

        async def receive() -> dict:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    async def main() -> list[dict[str, Any]]:
        out = []
        async with app.router.lifespan_context(app):
            for kind, req in kinds.items():
                for _ in range(50):
                    assert await call(*req) == 200, kind
                blocks = []
                for _ in range(10):  # the best of 10 blocks: the machine is shared
                    t0, w0 = time.process_time(), time.perf_counter()
                    for _ in range(max(1, n // 10)):
                        await call(*req)
                    blocks.append(((time.process_time() - t0) / max(1, n // 10),
                                   (time.perf_counter() - w0) / max(1, n // 10)))
                out.append({"kind": kind, "cpu_us": 1e6 * min(c for c, _ in blocks),
                            "wall_us": 1e6 * min(w for _, w in blocks)})
            if profile_top:
                import cProfile
                import pstats

                prof = cProfile.Profile()
                prof.enable()
                for _ in range(n):
                    await call(*kinds["read"])
                prof.disable()
                pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(profile_top)
        return out

    return asyncio.run(main())


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------
def tokens_in_log(log: Path, seed: dict[str, Any]) -> int:
    text = log.read_text(errors="replace") if log.exists() else ""
    tokens = [seed["tokens"]["planner"], seed["tokens"]["viewer"], *seed["tokens"]["enterprise"].values(),
              *seed["tokens"]["ministry"].values()]
    return sum(text.count(t) for t in tokens) + text.count("gsp_")


def bench_db(kind: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with database(kind, folder) as url:
        log = folder / f"server-{kind}.log"
        server = Server(url, log, workers=args.workers, loop=args.loop, http=args.http, access_log=args.access_log,
                        how=args.server)
        with server:
            t0 = time.perf_counter()
            seeded = seed(args.seed, server.base, url)
            seeded["seed_seconds"] = time.perf_counter() - t0
            print(f"[{kind}] seeded by {seeded['seeded_by']} in {seeded['seed_seconds']:.1f} s: economy "
                  f"{seeded['economy_id']}, {len(seeded['enterprises'])} enterprise users", file=sys.stderr)
            check(server.base, seeded, args.kinds)
            for what in args.kinds:
                items = targets(seeded, what)
                for c in args.connections:
                    load(args.client, server.base, items, what, c, 1.0, folder)  # warm-up
                    before = count_reports(url, seeded["economy_id"]) if what == "report" else 0
                    prof = None
                    if args.profile and c == args.connections[0]:
                        args.profile.mkdir(parents=True, exist_ok=True)
                        prof = profile(server, args.duration, args.profile / f"{kind}-{what}-{c}.txt")
                    load_avg = os.getloadavg()[0]
                    r = load(args.client, server.base, items, what, c, args.duration, folder)
                    if prof is not None:
                        prof.wait(60)
                        raw = args.profile / f"{kind}-{what}-{c}.txt"
                        if raw.exists():
                            r["profile"] = profile_summary(raw)
                            print("  profile (share of the server's GIL-holding samples):\n" + "\n".join(
                                f"    {share:6.1%}  {name}" for name, share in r["profile"]), file=sys.stderr)
                    r.update(db=kind, kind=what, connections=c, load_before=load_avg, load_after=os.getloadavg()[0])
                    if what == "report":
                        time.sleep(0.5)
                        r["stored"] = count_reports(url, seeded["economy_id"]) - before
                        r["lost"] = max(0, r["ok"] - r["stored"])
                    rows.append(r)
                    print(f"[{kind}] {what:6s} c={c:3d}: {r['rps']:8.0f} req/s  p50 {r['p50_ms']:7.1f} ms  "
                          f"p99 {r['p99_ms']:7.1f} ms  errors {r['errors']}"
                          + (f"  stored {r['stored']} (ok {r['ok']})" if what == "report" else ""), file=sys.stderr)
        leaked = tokens_in_log(log, seeded)
    return {"db": kind, "rows": rows, "seeded_by": seeded["seeded_by"], "seed_seconds": seeded["seed_seconds"],
            "tokens_in_log": leaked, "log_bytes": log.stat().st_size if log.exists() else 0}


def seed(how: str, base: str, url: str) -> dict[str, Any]:
    """Seed by the API (``api``), by rows (``rows``), or by the API falling back to rows (``auto``)."""
    if how == "rows" or (how == "auto" and not api_can_plan(base)):
        return seed_rows(url)
    try:
        return seed_api(base, url)
    except Exception as exc:  # noqa: BLE001
        if how == "api":
            raise
        print(f"seeding through the API failed ({exc}); writing rows instead", file=sys.stderr)
        return seed_rows(url)


def markdown(results: list[dict[str, Any]], info: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [f"Machine: {info['cpu']}, {info['cores']} cores (client and server share them); Python "
             f"{info['python']}; load average at start {info['load_average_at_start'][0]:.2f}, at end "
             f"{info.get('load_average_at_end', (float('nan'),))[0]:.2f}. Load generator: {args.client_used}. "
             f"Server: {'gosplan serve' if args.server == 'serve' else 'uvicorn --factory'} (uvicorn "
             f"{info['versions'].get('uvicorn', '?')}), workers {args.workers}, loop {args.loop}, "
             f"http {args.http}, access log {'on' if args.access_log else 'off'}; {args.duration:g} s per row.", ""]
    for res in results:
        lines += [f"**{res['db']}** (data seeded by {res['seeded_by']}; tokens found in the server log: "
                  f"{res['tokens_in_log']})", "",
                  "| requests | connections | req/s | p50 ms | p99 ms | max ms | errors | stored |",
                  "|:---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in res["rows"]:
            what = {"read": "directive reads", "report": "report submissions", "me": "GET /me (auth only)",
                    "healthz": "GET /healthz (no auth)"}[r["kind"]]
            lines.append(f"| {what} | {r['connections']} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                         f"{r['max_ms']:.0f} | {r['errors']} | {r.get('stored', '')} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="sqlite,postgresql", help="sqlite,postgresql (postgresql skipped when unreachable)")
    ap.add_argument("--connections", default="8,16,32,64")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per row (default 10)")
    ap.add_argument("--kinds", default="read,report", help="read,report")
    ap.add_argument("--server", default="serve", choices=["serve", "uvicorn"],
                    help="serve: python -m gosplan serve (default); uvicorn: python -m uvicorn --factory with --loop/--http")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"], help="--server uvicorn only")
    ap.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"], help="--server uvicorn only")
    ap.add_argument("--no-access-log", dest="access_log", action="store_false")
    ap.add_argument("--client", default="auto", choices=["auto", "wrk", "python"])
    ap.add_argument("--seed", default="auto", choices=["auto", "api", "rows"])
    ap.add_argument("--profile", type=Path, default=None, help="folder for py-spy profiles (first connections only)")
    ap.add_argument("--markdown", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    args.connections = [int(c) for c in args.connections.split(",")]
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    args.client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "python")
    args.client_used = ("wrk " + (_wrk_version() or "") + " (2 threads, Lua script)") if args.client == "wrk" \
        else "asyncio HTTP/1.1 keep-alive generator in a separate process (uvloop)"
    info = machine()
    info["versions"] = versions()
    info["date"] = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    print(f"{info['cpu']}, {info['cores']} cores shared by client and server; load {info['load_average_at_start']}; "
          f"client {args.client_used}", file=sys.stderr)
    results = []
    for kind in [d.strip() for d in args.db.split(",") if d.strip()]:
        if kind == "postgresql":
            why = postgres_unreachable()
            if why:
                print(f"skipping postgresql: {why}", file=sys.stderr)
                continue
        with tempfile.TemporaryDirectory(prefix="gosplan-bench-service-") as tmp:
            results.append(bench_db(kind, args, Path(tmp)))
    info["load_average_at_end"] = os.getloadavg()
    md = markdown(results, info, args)
    print(md)
    if args.markdown:
        args.markdown.write_text(md + "\n")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "args": {k: str(v) for k, v in vars(args).items()},
                                         "results": results}, indent=1))
    for res in results:
        if res["tokens_in_log"]:
            print(f"ERROR: {res['tokens_in_log']} token(s) found in the {res['db']} server log", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_client":
        _client_main(sys.argv[2])
    else:
        sys.exit(main())
