#!/usr/bin/env python
"""The planning bureau under faults (issue 14): the server killed with SIGKILL under report load,
PostgreSQL restarted under load, and simultaneous publishes of one base version.

    python benchmarks/bench_service_faults.py                          # all three parts
    python benchmarks/bench_service_faults.py --parts kill --kills 20 --clients 8
    python benchmarks/bench_service_faults.py --parts pg-restart       # restarts the local PostgreSQL!
    python benchmarks/bench_service_faults.py --parts publish --rounds 5 --publishers 20 --db sqlite,postgresql
    python benchmarks/bench_service_faults.py --markdown faults.md

Parts (``--parts``, default ``kill,pg-restart,publish``):

``kill``
    The server (``gosplan serve`` on an SQLite file in a temporary folder) under report load from
    ``--clients`` concurrent clients (asyncio + httpx, each an enterprise user, one connection
    each) is killed with SIGKILL ``--kills`` times, each at a random moment 0-2 s after its
    first acknowledgement since it came up, and restarted at once on the same file and port. Every client keeps the
    (Idempotency-Key, body) pairs it got a 2xx for; a submission without an answer (connection
    refused or reset, a timeout, a 5xx) is kept pending and sent again, with the same key and body,
    until it is answered. At the end every pending report is resent until answered, and the
    database is read directly: every acknowledged key must be there exactly once with the body
    acknowledged (output, period, ...), and no (user, key) twice. Counts are printed: submitted,
    acknowledged first time (201), acknowledged on a retry as a replay (200: the first attempt
    had been committed but its answer lost), rows, missing, duplicates, mismatched.

``pg-restart``
    The server on a fresh PostgreSQL database of the local server (``$GOSPLAN_TEST_PG``), under
    report submissions and directive reads, while ``pg_ctlcluster --skip-systemctl-redirect
    VERSION main restart`` restarts PostgreSQL (VERSION from ``/etc/postgresql``). Measured: the
    restart command's seconds, the outage seen by clients (first failure to first success after
    the last failure) and the time from PostgreSQL being back to the first success, per kind;
    goal < 10 s without restarting the service. Then every acknowledged report must be in the
    database once. PostgreSQL is started again whatever happens (``try/finally``). This part
    restarts the machine's shared PostgreSQL: other sessions' connections are cut for a few
    seconds. It is not run by the test suite for that reason.

``publish``
    One draft per publisher is prepared (copies of a real plan's draft), then ``--publishers``
    clients, each on its own open keep-alive connection, publish against the same base version
    at once (a barrier releases them together) over real HTTP: exactly one 201 and
    ``publishers - 1`` 409s per round, for ``--rounds`` rounds; afterwards the versions
    ``1..rounds`` (+ the seed's) are gapless, and each has its directives. On SQLite and
    (when reachable) PostgreSQL, with ``--workers`` uvicorn processes (default 2: the race is
    then between processes too).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_service as bs  # noqa: E402

API = bs.API


# --------------------------------------------------------------------------------------------
# report clients that remember what was acknowledged
# --------------------------------------------------------------------------------------------
class Ledger:
    """What the clients sent and what the server acknowledged."""

    def __init__(self) -> None:
        self.acked: dict[str, dict[str, Any]] = {}  # key -> {"body", "token", "status", "id"}
        self.pending: dict[str, tuple[str, bytes]] = {}  # key -> (token, body) not yet answered
        self.submitted = 0
        self.first_201 = 0
        self.replayed = 0  # 200 on a retry: committed before, answer lost
        self.failures = 0  # attempts without a 2xx
        self.unexpected: list[str] = []  # 4xx other than the expected ones
        self.times: list[tuple[float, bool]] = []  # (monotonic, ok) per attempt

    def summary(self) -> dict[str, Any]:
        return {"submitted": self.submitted, "acknowledged": len(self.acked), "first_201": self.first_201,
                "replayed_200": self.replayed, "failed_attempts": self.failures, "pending": len(self.pending),
                "unexpected": self.unexpected[:10]}


async def report_client(base: str, economy_id: int, enterprise: str, token: str, ledger: Ledger,
                        stop: asyncio.Event, *, timeout: float = 10.0, tag: str = "") -> None:
    """Submit reports until ``stop``; an unanswered one is retried with the same key and body."""
    import httpx

    own: list[str] = []  # this client's pending keys, oldest first
    n = 0
    url = base + bs.report_path(economy_id)
    async with httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=1)) as c:
        while not stop.is_set():
            if own:
                key = own[0]
                _, body = ledger.pending[key]
            else:
                n += 1
                key = f"{tag}{enterprise}-{uuid.uuid4().hex[:12]}-{n}"
                body = bs.report_body(enterprise, n)
                ledger.pending[key] = (token, body)
                ledger.submitted += 1
                own.append(key)
            ok = await _send(c, url, token, key, body, ledger)
            if ok:
                own.pop(0)
            else:
                await asyncio.sleep(0.05)


async def _send(c: Any, url: str, token: str, key: str, body: bytes, ledger: Ledger) -> bool:
    import httpx

    try:
        r = await c.post(url, content=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key,
                                                     "Content-Type": "application/json"})
    except (httpx.HTTPError, OSError):
        ledger.failures += 1
        ledger.times.append((time.monotonic(), False))
        return False
    if r.status_code in (200, 201):
        data = r.json()
        ledger.acked[key] = {"body": json.loads(body), "token": token, "status": r.status_code, "id": data.get("id")}
        ledger.pending.pop(key, None)
        if r.status_code == 201:
            ledger.first_201 += 1
        else:
            ledger.replayed += 1
        ledger.times.append((time.monotonic(), True))
        return True
    ledger.failures += 1
    ledger.times.append((time.monotonic(), False))
    if 400 <= r.status_code < 500:
        ledger.unexpected.append(f"{r.status_code} {r.text[:120]}")
        ledger.pending.pop(key, None)  # a 4xx will not get better: do not retry it
        return True
    return False


async def drain(base: str, economy_id: int, ledger: Ledger, deadline: float = 120.0) -> None:
    """Resend every pending report (same key, same body) until answered."""
    import httpx

    url = base + bs.report_path(economy_id)
    end = time.monotonic() + deadline
    async with httpx.AsyncClient(timeout=10) as c:
        while ledger.pending and time.monotonic() < end:
            for key, (token, body) in list(ledger.pending.items()):
                await _send(c, url, token, key, body, ledger)
            if ledger.pending:
                await asyncio.sleep(0.2)


def verify(db_url: str, economy_id: int, ledger: Ledger) -> dict[str, Any]:
    """Every acknowledged report in the database once, with the body acknowledged; no key twice."""
    from sqlalchemy import func, select

    from gosplan.service.db import Database
    from gosplan.service.models import Report

    db = Database(db_url)
    try:
        with db.sessions() as s:
            rows = s.execute(select(Report.idempotency_key, Report.user_id, Report.enterprise, Report.period,
                                    Report.output, Report.capacity, Report.stocks, Report.id)
                             .where(Report.economy_id == economy_id)).all()
            dup = s.execute(select(Report.user_id, Report.idempotency_key, func.count())
                            .group_by(Report.user_id, Report.idempotency_key).having(func.count() > 1)).all()
    finally:
        db.dispose()
    by_key: dict[str, list[Any]] = {}
    for r in rows:
        by_key.setdefault(r.idempotency_key, []).append(r)
    missing = [k for k in ledger.acked if k not in by_key]
    twice = [k for k, v in by_key.items() if len(v) > 1]
    mismatched = []
    for k, a in ledger.acked.items():
        got = by_key.get(k)
        if not got:
            continue
        r, b = got[0], a["body"]
        if (r.enterprise, r.period, r.output, r.capacity, r.stocks) != (b["enterprise"], b["period"], b["output"],
                                                                       b.get("capacity"), b.get("stocks")) \
                or (a["id"] is not None and a["id"] != r.id):
            mismatched.append(k)
    unacked_rows = [k for k in by_key if k not in ledger.acked]
    return {"rows": len(rows), "missing": len(missing), "duplicate_keys": len(twice) + len(dup),
            "mismatched": len(mismatched), "rows_never_acknowledged": len(unacked_rows),
            "ok": not missing and not twice and not dup and not mismatched}


# --------------------------------------------------------------------------------------------
# (1) SIGKILL under report load
# --------------------------------------------------------------------------------------------
def part_kill(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    url = f"sqlite:///{folder / 'bureau.sqlite'}"
    server = bs.Server(url, folder / "server-kill.log", workers=args.workers, access_log=False, how=args.server)
    server.start()
    seeded = bs.seed(args.seed, server.base, url)
    ents = list(seeded["tokens"]["enterprise"].items())[: args.clients]
    ledger = Ledger()
    kills: list[dict[str, Any]] = []
    rng = random.Random(args.random_seed)

    async def main() -> None:
        stop = asyncio.Event()
        clients = [asyncio.create_task(report_client(server.base, seeded["economy_id"], e, t, ledger, stop))
                   for e, t in ents]
        try:
            for i in range(args.kills):
                # under load: wait for the restarted server's first acknowledgement, then a random moment
                seen, t_wait = len(ledger.acked), time.monotonic()
                while len(ledger.acked) == seen and time.monotonic() - t_wait < 15:
                    await asyncio.sleep(0.02)
                await asyncio.sleep(rng.uniform(0.0, 2.0))
                acked_before = len(ledger.acked)
                t0 = time.monotonic()
                server.kill()
                killed = time.monotonic()
                await asyncio.to_thread(server.start)
                up = time.monotonic()
                kills.append({"kill": i + 1, "acked_before": acked_before, "restart_s": up - killed,
                              "kill_s": killed - t0})
                print(f"  kill {i + 1:2d}: {acked_before} acknowledged so far, server back in {up - killed:.1f} s",
                      file=sys.stderr)
            await asyncio.sleep(1.0)
        finally:
            stop.set()
            await asyncio.gather(*clients, return_exceptions=True)
        await drain(server.base, seeded["economy_id"], ledger)

    try:
        asyncio.run(main())
    finally:
        server.stop()
    check = verify(url, seeded["economy_id"], ledger)
    out = {"part": "kill", "kills": len(kills), "clients": len(ents), **ledger.summary(), **check,
           "restart_s_mean": sum(k["restart_s"] for k in kills) / max(1, len(kills)),
           "restart_s_max": max((k["restart_s"] for k in kills), default=0.0)}
    return out


# --------------------------------------------------------------------------------------------
# (2) PostgreSQL restarted under load
# --------------------------------------------------------------------------------------------
def pg_version() -> str:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir() if p.name.replace(".", "").isdigit())
    if not versions:
        raise RuntimeError("no cluster under /etc/postgresql")
    return versions[-1]


def pg_ctl(action: str, version: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
                          capture_output=True, text=True, timeout=timeout)


def pg_running(version: str) -> bool:
    return pg_ctl("status", version, 30).returncode == 0


async def read_client(base: str, path: str, token: str, log: list[tuple[float, bool]], stop: asyncio.Event) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=1)) as c:
        while not stop.is_set():
            try:
                r = await c.get(base + path, headers={"Authorization": f"Bearer {token}"})
                ok = r.status_code == 200
            except (httpx.HTTPError, OSError):
                ok = False
            log.append((time.monotonic(), ok))
            if not ok:
                await asyncio.sleep(0.05)


def outage(times: list[tuple[float, bool]], back: float) -> dict[str, float | None]:
    """First failure -> first success after the last failure; PostgreSQL back -> that success."""
    times = sorted(times)
    fails = [t for t, ok in times if not ok]
    if not fails:
        return {"failed_requests": 0, "outage_s": 0.0, "after_pg_back_s": 0.0}
    last_fail = fails[-1]
    first_ok = next((t for t, ok in times if ok and t > last_fail), None)
    return {"failed_requests": len(fails),
            "outage_s": None if first_ok is None else first_ok - fails[0],
            "after_pg_back_s": None if first_ok is None else max(0.0, first_ok - back)}


def part_pg_restart(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    why = bs.postgres_unreachable()
    if why:
        return {"part": "pg-restart", "skipped": why}
    version = pg_version()
    with bs.database("postgresql", folder) as url:
        server = bs.Server(url, folder / "server-pg.log", workers=args.workers, access_log=False, how=args.server)
        server.start()
        try:
            seeded = bs.seed(args.seed, server.base, url)
            ents = list(seeded["tokens"]["enterprise"].items())
            ledger = Ledger()
            reads: list[tuple[float, bool]] = []
            timing: dict[str, float] = {}

            async def main() -> None:
                stop = asyncio.Event()
                tasks = [asyncio.create_task(report_client(server.base, seeded["economy_id"], e, t, ledger, stop))
                         for e, t in ents[: args.clients]]
                tasks += [asyncio.create_task(read_client(server.base, bs.read_path(seeded["economy_id"], e), t,
                                                          reads, stop)) for e, t in ents[-args.clients:]]
                try:
                    await asyncio.sleep(3.0)
                    timing["restart_begin"] = time.monotonic()
                    r = await asyncio.to_thread(pg_ctl, "restart", version)
                    timing["restart_end"] = time.monotonic()
                    timing["rc"] = r.returncode
                    if r.returncode != 0:
                        print(f"pg_ctlcluster restart: {r.returncode} {r.stderr.strip()}", file=sys.stderr)
                    await asyncio.sleep(args.after)
                finally:
                    stop.set()
                    await asyncio.gather(*tasks, return_exceptions=True)
                await drain(server.base, seeded["economy_id"], ledger)

            try:
                asyncio.run(main())
            finally:
                if not pg_running(version):
                    print("PostgreSQL not running: starting it again", file=sys.stderr)
                    pg_ctl("start", version)
            alive = server.proc is not None and server.proc.poll() is None  # never restarted by us
        finally:
            server.stop()
        check = verify(url, seeded["economy_id"], ledger)
    back = timing.get("restart_end", time.monotonic())
    return {"part": "pg-restart", "postgresql": version, "restart_command_s": back - timing.get("restart_begin", back),
            "server_alive_throughout": alive, "reports": outage(ledger.times, back), "reads": outage(reads, back),
            "reads_total": len(reads), **ledger.summary(), **check}


# --------------------------------------------------------------------------------------------
# (3) simultaneous publishes of one base version
# --------------------------------------------------------------------------------------------
def copy_drafts(db_url: str, economy_id: int, n: int) -> list[int]:
    """``n`` new drafts with the payload of the economy's first draft (what a re-plan would leave)."""
    from sqlalchemy import select

    from gosplan.service.db import Database
    from gosplan.service.models import Draft

    db = Database(db_url)
    try:
        with db.session() as s:
            src = s.scalars(select(Draft).where(Draft.economy_id == economy_id).order_by(Draft.id)).first()
            new = [Draft(economy_id=economy_id, job_id=None, kind=src.kind, summary=dict(src.summary or {}),
                         payload=src.payload) for _ in range(n)]
            s.add_all(new)
            s.flush()
            return [d.id for d in new]
    finally:
        db.dispose()


def publish_race(base: str, token: str, drafts: list[int], base_version: int) -> list[int]:
    """All ``drafts`` published against ``base_version`` at once, each from its own thread and connection."""
    import httpx

    barrier = threading.Barrier(len(drafts))
    statuses: list[int] = [0] * len(drafts)

    def one(i: int) -> None:
        with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as c:
            c.get("/healthz")  # the connection is open before the race
            barrier.wait()
            try:
                statuses[i] = c.post(f"{API}/drafts/{drafts[i]}/publish", json={"base_version": base_version}).status_code
            except httpx.HTTPError:
                statuses[i] = -1

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(drafts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def versions_of(base: str, token: str, economy_id: int) -> list[int]:
    import httpx

    r = httpx.get(f"{base}{API}/economies/{economy_id}/versions", headers={"Authorization": f"Bearer {token}"},
                  timeout=30)
    r.raise_for_status()
    return [v["version"] for v in r.json()]


def directive_counts(db_url: str, economy_id: int) -> dict[int, int]:
    from sqlalchemy import func, select

    from gosplan.service.db import Database
    from gosplan.service.models import Directive, PlanVersion

    db = Database(db_url)
    try:
        with db.sessions() as s:
            rows = s.execute(select(PlanVersion.version, func.count(Directive.party))
                             .join(Directive, Directive.version_id == PlanVersion.id, isouter=True)
                             .where(PlanVersion.economy_id == economy_id).group_by(PlanVersion.version)).all()
        return {int(v): int(n) for v, n in rows}
    finally:
        db.dispose()


def part_publish(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    out = []
    for kind in args.db:
        if kind == "postgresql" and bs.postgres_unreachable():
            out.append({"part": "publish", "db": kind, "skipped": bs.postgres_unreachable()})
            continue
        with bs.database(kind, folder) as url:
            server = bs.Server(url, folder / f"server-publish-{kind}.log", workers=args.publish_workers,
                               access_log=False, how=args.server)
            server.start()
            try:
                seeded = bs.seed(args.seed, server.base, url)
                planner, eid = seeded["tokens"]["planner"], seeded["economy_id"]
                rounds = []
                for rnd in range(args.rounds):
                    latest = max(versions_of(server.base, planner, eid), default=0)
                    drafts = copy_drafts(url, eid, args.publishers)
                    statuses = publish_race(server.base, planner, drafts, latest)
                    rounds.append({"round": rnd + 1, "base": latest, "created": statuses.count(201),
                                   "conflicts": statuses.count(409),
                                   "other": sorted(s for s in statuses if s not in (201, 409))})
                    print(f"  [{kind}] round {rnd + 1}: base {latest}: {statuses.count(201)} created, "
                          f"{statuses.count(409)} conflicts, other {rounds[-1]['other']}", file=sys.stderr)
                versions = versions_of(server.base, planner, eid)
                counts = directive_counts(url, eid)
            finally:
                server.stop()
        gapless = versions == list(range(1, len(versions) + 1))
        ok = all(r["created"] == 1 and r["conflicts"] == args.publishers - 1 for r in rounds) and gapless \
            and len(versions) == 1 + args.rounds and len(set(counts.values())) == 1
        out.append({"part": "publish", "db": kind, "workers": args.publish_workers, "publishers": args.publishers,
                    "rounds": rounds, "versions": versions, "gapless": gapless,
                    "directives_per_version": counts, "ok": ok})
    return out


# --------------------------------------------------------------------------------------------
def markdown(results: list[dict[str, Any]], info: dict[str, Any]) -> str:
    lines = [f"Machine: {info['cpu']}, {info['cores']} cores; {info['date']}; load average at start "
             f"{info['load_average_at_start'][0]:.2f}.", ""]
    for r in results:
        if r.get("skipped"):
            lines += [f"**{r['part']}**: skipped ({r['skipped']})", ""]
        elif r["part"] == "kill":
            lines += ["**SIGKILL under report load** (SQLite)", "",
                      "| kills | clients | submitted | acknowledged | of which replays (200) | failed attempts | rows in DB | missing | duplicate keys | mismatched | restart s (mean / max) |",
                      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
                      f"| {r['kills']} | {r['clients']} | {r['submitted']:,} | {r['acknowledged']:,} | {r['replayed_200']} | "
                      f"{r['failed_attempts']} | {r['rows']:,} | {r['missing']} | {r['duplicate_keys']} | {r['mismatched']} | "
                      f"{r['restart_s_mean']:.1f} / {r['restart_s_max']:.1f} |", ""]
        elif r["part"] == "pg-restart":
            def f(x: Any) -> str:
                return "never" if x is None else f"{x:.1f}"

            lines += [f"**PostgreSQL {r['postgresql']} restarted under load** (restart command {r['restart_command_s']:.1f} s; "
                      f"the service kept running, not restarted: {'yes' if r['server_alive_throughout'] else 'NO'})", "",
                      "| requests | failed | outage seen by clients, s | after PostgreSQL was back, s |", "|:---|---:|---:|---:|",
                      f"| report submissions | {r['reports']['failed_requests']} | {f(r['reports']['outage_s'])} | {f(r['reports']['after_pg_back_s'])} |",
                      f"| directive reads | {r['reads']['failed_requests']} | {f(r['reads']['outage_s'])} | {f(r['reads']['after_pg_back_s'])} |",
                      "", f"Reports: {r['acknowledged']:,} acknowledged, {r['rows']:,} rows, {r['missing']} missing, "
                      f"{r['duplicate_keys']} duplicate keys, {r['mismatched']} mismatched.", ""]
        elif r["part"] == "publish":
            lines += [f"**{r['publishers']} simultaneous publishes of one base version** ({r['db']}, {r['workers']} "
                      f"uvicorn workers)", "", "| round | base version | created | conflicts (409) | other |",
                      "|---:|---:|---:|---:|:---|"]
            lines += [f"| {x['round']} | {x['base']} | {x['created']} | {x['conflicts']} | {x['other'] or ''} |"
                      for x in r["rounds"]]
            lines += ["", f"Versions after: {r['versions']} (gapless: {'yes' if r['gapless'] else 'NO'}); directives per "
                      f"version: {sorted(set(r['directives_per_version'].values()))}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="kill,pg-restart,publish")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--clients", type=int, default=8, help="report (and read) clients")
    ap.add_argument("--after", type=float, default=12.0, help="seconds of load after PostgreSQL's restart")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--publishers", type=int, default=20)
    ap.add_argument("--db", default="sqlite,postgresql", help="databases of the publish part")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers (kill, pg-restart)")
    ap.add_argument("--publish-workers", type=int, default=2, help="uvicorn workers (publish)")
    ap.add_argument("--server", default="serve", choices=["serve", "uvicorn"])
    ap.add_argument("--seed", default="auto", choices=["auto", "api", "rows"])
    ap.add_argument("--random-seed", type=int, default=14)
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    args.db = [d.strip() for d in args.db.split(",") if d.strip()]
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    info = bs.machine()
    info["date"] = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    results: list[dict[str, Any]] = []
    for part in parts:
        print(f"[{part}]", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix=f"gosplan-faults-{part}-") as tmp:
            if part == "kill":
                results.append(part_kill(args, Path(tmp)))
            elif part == "pg-restart":
                results.append(part_pg_restart(args, Path(tmp)))
            elif part == "publish":
                results.extend(part_publish(args, Path(tmp)))
            else:
                ap.error(f"unknown part {part!r}")
        print(json.dumps({k: v for k, v in results[-1].items() if k != "rounds"}, default=str), file=sys.stderr)
    md = markdown(results, info)
    print(md)
    if args.markdown:
        args.markdown.write_text(md + "\n")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=1, default=str))
    bad = [r for r in results if not r.get("skipped") and not r.get("ok", True)]
    pg = [r for r in results if r["part"] == "pg-restart" and not r.get("skipped")]
    for r in pg:
        for what in ("reports", "reads"):
            o = r[what]["outage_s"]
            if o is None or o >= 10:
                print(f"GOAL MISSED: {what} outage {o} s after the PostgreSQL restart", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
