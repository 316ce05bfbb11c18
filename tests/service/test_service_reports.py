"""Reports (idempotent by key, scoped by party, aggregated per ministry), re-plan and simulation
jobs queued, and alerts acknowledged by the level they reached.

The economy here is a hand-made one written straight into the tables (:func:`seed`): two
ministries, three enterprises, a published version whose directives give each enterprise a
target. The other service tests (access, schema) use the same fixture data.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import defaultdict
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from gosplan.service.models import (Alert, Directive, Draft, EconomyRow, Job, Party, PlanVersion, Report,
                                    pack)

REPORTS = "/api/v1/economies/{}/reports"

#: The hand-made economy: ministry -> enterprises (label, product, planned target).
MINISTRIES = {
    "min-heavy-industry": [("ironworks-7", "iron", 1234.5), ("colliery-3", "coal", 678.25)],
    "min-food-supply": [("bakery-5", "bread", 4321.75)],
}
PRODUCTS = {"iron": "min-heavy-industry", "coal": "min-heavy-industry", "bread": "min-food-supply",
            "corn": "min-food-supply"}


def ministry_output(m: str) -> float:
    """A ministry directive's gross output (its enterprises' and more: a number of its own)."""
    return 1.25 * sum(t for _, _, t in MINISTRIES[m])


def _payload() -> dict[str, Any]:
    enterprises = [{"enterprise": e, "ministry": m, "product": prod, "product_name": prod.title(),
                    "target": t, "capacity": 2 * t,
                    "inputs": [{"input": "labour", "kind": "resource", "quantity": t / 7}]}
                   for m, es in MINISTRIES.items() for e, prod, t in es]
    products = [{"product": prod, "name": prod.title(), "ministry": m, "gross_output": 100.0 + i,
                 "final": 50.0 + i, "target": 40.0, "fulfilment": 1.0, "price": 1.5}
                for i, (prod, m) in enumerate(PRODUCTS.items())]
    ministry_directives = [{
        "ministry": m, "gross_output": ministry_output(m),
        "products": [{"product": p, "name": p.title(), "gross_output": 100.0, "final": 50.0, "target": 40.0,
                      "price": 1.5} for p, pm in PRODUCTS.items() if pm == m],
        "enterprises": [{"enterprise": e, "product": prod, "target": t, "capacity": 2 * t} for e, prod, t in es],
        "inputs": [{"input": "labour", "kind": "resource", "quantity": 11.0}],
    } for m, es in MINISTRIES.items()]
    return {
        "kind": "plan", "status": "solved", "message": "", "summary": {"objective": "fulfilment"},
        "products": products,
        "resources": [{"resource": "labour", "available": 1000.0, "used": 900.0, "price": 0.0, "binding": False}],
        "ministries": [{"ministry": m, "gross_output": 10.0, "labour": 2.0, "n_products": 2,
                        "n_enterprises": len(es)} for m, es in MINISTRIES.items()],
        "flows": [{"source": "min-heavy-industry", "target": "min-food-supply", "value": 3.0},
                  {"source": "min-food-supply", "target": "min-heavy-industry", "value": 1.0}],
        "enterprises": enterprises,
        "ministry_directives": ministry_directives,
        "years": None,
    }


def seed(app: Any, *, name: str | None = None, publish: bool = True, alerts: bool = True) -> dict[str, Any]:
    """Write the hand-made economy (parties, a draft, version 1 and its directives, alerts) into
    the bureau's tables; returns the ids written."""
    db = app.state.db
    payload = _payload()
    out: dict[str, Any] = {}
    with db.session() as s:
        eco = EconomyRow(name=name or f"toy-{uuid.uuid4().hex[:6]}", source="bundled",
                         spec={"bundled": "cockshott-example", "enterprises_per_product": None,
                               "ministries": None, "seed": 0},
                         title="A hand-made economy", units="units", n_products=len(PRODUCTS),
                         n_ministries=len(MINISTRIES), n_enterprises=sum(map(len, MINISTRIES.values())))
        s.add(eco)
        s.flush()
        out["economy_id"] = eco.id
        for m, es in MINISTRIES.items():
            s.add(Party(economy_id=eco.id, kind="ministry", label=m, name=m.replace("-", " ")))
            for e, prod, _ in es:
                s.add(Party(economy_id=eco.id, kind="enterprise", label=e, ministry=m, product=prod, name=e))
        job = Job(economy_id=eco.id, kind="plan", params={}, state="done", progress=1.0)
        s.add(job)
        s.flush()
        out["job_id"] = job.id
        draft = Draft(economy_id=eco.id, job_id=job.id, kind="plan", summary=payload["summary"], payload=pack(payload))
        s.add(draft)
        s.flush()
        job.draft_id = out["draft_id"] = draft.id
        if publish:
            v = PlanVersion(economy_id=eco.id, version=1, draft_id=draft.id, summary=payload["summary"])
            s.add(v)
            s.flush()
            out["version_id"] = v.id
            for d in payload["enterprises"]:
                s.add(Directive(version_id=v.id, kind="enterprise", party=d["enterprise"], ministry=d["ministry"],
                                body=orjson.dumps(d)))
            for d in payload["ministry_directives"]:
                s.add(Directive(version_id=v.id, kind="ministry", party=d["ministry"], ministry=d["ministry"],
                                body=orjson.dumps(d)))
        out["alerts"] = {}
        if alerts:
            for i, (level, who, ent, m) in enumerate([
                ("enterprise", "ironworks-7", "ironworks-7", "min-heavy-industry"),
                ("ministry", "min-heavy-industry", "colliery-3", "min-heavy-industry"),
                ("centre", "centre", "ironworks-7", "min-heavy-industry"),
                ("enterprise", "bakery-5", "bakery-5", "min-food-supply"),
                ("ministry", "min-food-supply", "bakery-5", "min-food-supply"),
                ("centre", "centre", "bakery-5", "min-food-supply"),
            ]):
                a = Alert(economy_id=eco.id, job_id=job.id, period=3 + i, level=level, who=who, enterprise=ent,
                          ministry=m, indicator="output", kind="step", probability=0.9, raised=4 + i)
                s.add(a)
                s.flush()
                out["alerts"][(level, ent)] = a.id
    return out


def headers(bureau: Any, role: str, party: str | None = None) -> dict[str, str]:
    """A user of ``role`` speaking for ``party`` (ministry or enterprise label)."""
    if role == "planner":
        return bureau.planner
    if role == "viewer":
        return bureau.viewer
    kw = {role: party}
    return bureau.user(f"{role}-{party}", role, **kw)


def post_report(bureau: Any, eco: int, body: dict, who: dict, key: str | None) -> Any:
    h = dict(who)
    if key is not None:
        h["Idempotency-Key"] = key
    return bureau.client.post(REPORTS.format(eco), json=body, headers=h)


def count_reports(bureau: Any) -> int:
    with bureau.app.state.db.session() as s:
        return s.scalar(select(func.count()).select_from(Report))


# --- idempotency -------------------------------------------------------------------------------

def test_report_stored_once_per_key(bureau: Any) -> None:
    eco = seed(bureau.app)["economy_id"]
    me = headers(bureau, "enterprise", "ironworks-7")
    body = {"enterprise": "ironworks-7", "period": 2, "output": 1200.0, "capacity": 1500.0, "stocks": 10.0}
    first = post_report(bureau, eco, body, me, "rep-1")
    assert first.status_code == 201, first.text
    stored = first.json()
    assert stored["ministry"] == "min-heavy-industry"  # from the party row, not the body
    assert "Idempotent-Replay" not in first.headers

    again = post_report(bureau, eco, body, me, "rep-1")
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replay"] == "true"
    assert again.json() == stored
    # The same body with its defaults spelt out is the same report.
    explicit = post_report(bureau, eco, {**body, "version": None}, me, "rep-1")
    assert explicit.status_code == 200 and explicit.json()["id"] == stored["id"]
    assert count_reports(bureau) == 1

    other = post_report(bureau, eco, {**body, "output": 1199.0}, me, "rep-1")
    assert other.status_code == 422
    assert "Idempotency-Key reused with a different report" in other.json()["detail"]
    assert count_reports(bureau) == 1

    # A new key is a new report (a correction of the same period), and keys are per user.
    assert post_report(bureau, eco, {**body, "output": 1199.0}, me, "rep-2").status_code == 201
    assert post_report(bureau, eco, body, bureau.planner, "rep-1").status_code == 201
    assert count_reports(bureau) == 3


@pytest.mark.parametrize("key", [None, "", " ", "x" * 201, "caf\u00e9"])
def test_idempotency_key_required(sqlite_bureau: Any, key: str | None) -> None:
    eco = seed(sqlite_bureau.app)["economy_id"]
    body = {"enterprise": "bakery-5", "period": 0, "output": 1.0}
    h = dict(sqlite_bureau.planner)
    if key is not None:
        h["Idempotency-Key"] = key
    r = sqlite_bureau.client.post(REPORTS.format(eco), json=body,
                                  headers={k: v.encode("utf-8") if k == "Idempotency-Key" else v for k, v in h.items()})
    assert r.status_code == 400, r.text
    assert "Idempotency-Key" in r.json()["detail"]
    assert count_reports(sqlite_bureau) == 0


def test_concurrent_retries_store_one_row(bureau: Any) -> None:
    eco = seed(bureau.app)["economy_id"]
    me = headers(bureau, "enterprise", "bakery-5")
    bureau.client.get("/api/v1/me", headers=me)  # the token cached before the race
    n = 8
    results: list[Any] = []
    for round_ in range(3):
        body = {"enterprise": "bakery-5", "period": round_, "output": 40.0 + round_}
        gate = threading.Barrier(n)
        statuses: list[int] = []
        ids: list[int] = []
        lock = threading.Lock()

        def retry() -> None:
            gate.wait()
            r = post_report(bureau, eco, body, me, f"race-{round_}")
            with lock:
                statuses.append(r.status_code)
                if r.status_code in (200, 201):
                    ids.append(r.json()["id"])

        threads = [threading.Thread(target=retry) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        results.append(statuses)
        assert sorted(statuses) == [200] * (n - 1) + [201], statuses
        assert len(set(ids)) == 1
    assert count_reports(bureau) == 3


def test_integrity_error_path_replays(bureau: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row that appears between the first look and the insert is found, not duplicated."""
    from gosplan.service.api import reports as api

    eco = seed(bureau.app)["economy_id"]
    me = headers(bureau, "enterprise", "colliery-3")
    body = {"enterprise": "colliery-3", "period": 1, "output": 5.0}
    assert post_report(bureau, eco, body, me, "k").status_code == 201
    calls = []
    real = api._stored

    def blind_first(db: Any, user_id: int, key: str) -> Any:
        calls.append(key)
        return None if len(calls) == 1 else real(db, user_id, key)

    monkeypatch.setattr(api, "_stored", blind_first)
    r = post_report(bureau, eco, body, me, "k")
    assert r.status_code == 200 and r.headers["Idempotent-Replay"] == "true"
    assert post_report(bureau, eco, {**body, "output": 6.0}, me, "k").status_code == 422
    assert count_reports(bureau) == 1


# --- validation and who may report -------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    {"period": -1}, {"output": -0.5}, {"output": "NaN"}, {"capacity": -1},
    {"stocks": "Infinity"},
    {"enterprise": ""}, {"version": 0}, {"colour": "red"}, {"period": 2**40},
])
def test_bad_report_bodies(sqlite_bureau: Any, bad: dict) -> None:
    b = sqlite_bureau
    eco = seed(b.app)["economy_id"]
    body = {"enterprise": "bakery-5", "period": 0, "output": 1.0, **bad}
    payload = orjson.dumps(body).replace(b'"NaN"', b"NaN").replace(b'"Infinity"', b"Infinity")
    r = b.client.post(REPORTS.format(eco), content=payload,
                      headers={**b.planner, "Idempotency-Key": "x", "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert count_reports(b) == 0


def test_nul_in_labels_refused(bureau: Any) -> None:
    """PostgreSQL refuses NUL in text: a 422, not a 500, on both databases."""
    b = bureau
    eco = seed(b.app)["economy_id"]
    r = post_report(b, eco, {"enterprise": "bakery\x00-5", "period": 0, "output": 1.0}, b.planner, "nul")
    assert r.status_code == 422, r.text
    assert b.client.get(REPORTS.format(eco), params={"enterprise": "a\x00"}, headers=b.planner).status_code == 422
    assert b.client.get(f"{REPORTS.format(eco)}/aggregate", params={"ministry": "\x00"},
                        headers=b.planner).status_code == 422
    assert count_reports(b) == 0


def test_who_may_report(sqlite_bureau: Any) -> None:
    b = sqlite_bureau
    ids = seed(b.app)
    eco = ids["economy_id"]
    body = {"enterprise": "bakery-5", "period": 0, "output": 1.0}
    assert post_report(b, eco, body, headers(b, "enterprise", "ironworks-7"), "a").status_code == 403
    assert post_report(b, eco, body, headers(b, "ministry", "min-food-supply"), "a").status_code == 403
    assert post_report(b, eco, body, b.viewer, "a").status_code == 403
    assert post_report(b, eco, body, {}, "a").status_code == 401
    assert post_report(b, eco + 999, body, b.planner, "a").status_code == 404
    unknown = post_report(b, eco, {**body, "enterprise": "nowhere-1"}, b.planner, "a")
    assert unknown.status_code == 422 and "nowhere-1" in unknown.json()["detail"]
    assert post_report(b, eco, {**body, "version": 2}, b.planner, "a").status_code == 422
    assert count_reports(b) == 0
    ok = post_report(b, eco, {**body, "version": 1}, headers(b, "enterprise", "bakery-5"), "a")
    assert ok.status_code == 201 and ok.json()["version"] == 1
    # An enterprise of another economy with the same label reports only there.
    other = seed(b.app)["economy_id"]
    assert post_report(b, other, body, headers(b, "enterprise", "bakery-5"), "b").status_code == 201


# --- reading and aggregating -----------------------------------------------------------------

def _write_reports(b: Any, eco: int, seed_: int = 5) -> list[dict]:
    rng = random.Random(seed_)
    written = []
    for m, es in MINISTRIES.items():
        for e, _, _ in es:
            me = headers(b, "enterprise", e)
            for period in range(3):
                for correction in range(rng.randint(1, 2)):
                    body = {"enterprise": e, "period": period, "output": round(rng.uniform(0, 2000), 3)}
                    if rng.random() < 0.7:
                        body["capacity"] = round(rng.uniform(1000, 3000), 3)
                    if rng.random() < 0.5:
                        body["stocks"] = round(rng.uniform(0, 50), 3)
                    r = post_report(b, eco, body, me, f"{e}-{period}-{correction}")
                    assert r.status_code == 201, r.text
                    written.append({**r.json()})
    return written


def _expected_aggregate(written: list[dict], ministry: str | None = None) -> list[dict]:
    latest: dict[tuple[str, int], dict] = {}
    for r in written:  # in the order written: the last one of an enterprise and period counts
        latest[(r["enterprise"], r["period"])] = r
    target = {e: t for es in MINISTRIES.values() for e, _, t in es}
    groups: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for r in latest.values():
        if ministry is None or r["ministry"] == ministry:
            groups[(r["ministry"], r["period"])].append(r)
    rows = []
    for (m, period), rs in sorted(groups.items()):
        out = sum(r["output"] for r in rs)
        caps = [r["capacity"] for r in rs if r["capacity"] is not None]
        stocks = [r["stocks"] for r in rs if r["stocks"] is not None]
        t = sum(target[r["enterprise"]] for r in rs)
        rows.append({"ministry": m, "period": period, "enterprises": len(MINISTRIES[m]),
                     "enterprises_reporting": len(rs), "output": out,
                     "capacity": sum(caps) if caps else None, "stocks": sum(stocks) if stocks else None,
                     "target": t, "ministry_target": sum(t for _, _, t in MINISTRIES[m]), "fulfilment": out / t})
    return rows


def _close(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.keys() == w.keys()
        for k, v in w.items():
            if isinstance(v, float):
                assert g[k] == pytest.approx(v, rel=1e-12), (k, g, w)
            else:
                assert g[k] == v, (k, g, w)


def test_aggregate_against_a_loop(bureau: Any) -> None:
    b = bureau
    eco = seed(b.app)["economy_id"]
    written = _write_reports(b, eco)
    r = b.client.get(f"{REPORTS.format(eco)}/aggregate", headers=b.planner)
    assert r.status_code == 200, r.text
    agg = r.json()
    assert agg["version"] == 1
    _close(agg["rows"], _expected_aggregate(written))

    for m in MINISTRIES:
        mine = b.client.get(f"{REPORTS.format(eco)}/aggregate", headers=headers(b, "ministry", m))
        assert mine.status_code == 200
        _close(mine.json()["rows"], _expected_aggregate(written, m))
        other = next(x for x in MINISTRIES if x != m)
        assert other not in mine.text
        # Asking for another ministry's aggregate: as if it did not exist.
        assert b.client.get(f"{REPORTS.format(eco)}/aggregate", params={"ministry": other},
                            headers=headers(b, "ministry", m)).status_code == 404
    one = b.client.get(f"{REPORTS.format(eco)}/aggregate", params={"period": 1, "ministry": "min-food-supply"},
                       headers=b.planner).json()
    _close(one["rows"], [row for row in _expected_aggregate(written, "min-food-supply") if row["period"] == 1])
    for who in (headers(b, "enterprise", "bakery-5"), b.viewer):
        assert b.client.get(f"{REPORTS.format(eco)}/aggregate", headers=who).status_code == 403


def test_aggregate_without_a_published_version(sqlite_bureau: Any) -> None:
    b = sqlite_bureau
    eco = seed(b.app, publish=False)["economy_id"]
    assert post_report(b, eco, {"enterprise": "bakery-5", "period": 0, "output": 3.0}, b.planner, "z").status_code == 201
    agg = b.client.get(f"{REPORTS.format(eco)}/aggregate", headers=b.planner).json()
    assert agg["version"] is None
    assert agg["rows"] == [{"ministry": "min-food-supply", "period": 0, "enterprises": 1, "enterprises_reporting": 1,
                            "output": 3.0, "capacity": None, "stocks": None, "target": None,
                            "ministry_target": None, "fulfilment": None}]


def test_reports_scoped_per_role(bureau: Any) -> None:
    b = bureau
    eco = seed(b.app)["economy_id"]
    written = _write_reports(b, eco, seed_=9)
    url = REPORTS.format(eco)

    def ids(r: Any) -> set[int]:
        assert r.status_code == 200, r.text
        return {x["id"] for x in r.json()}

    assert ids(b.client.get(url, headers=b.planner)) == {r["id"] for r in written}
    for m, es in MINISTRIES.items():
        want = {r["id"] for r in written if r["ministry"] == m}
        assert ids(b.client.get(url, headers=headers(b, "ministry", m))) == want
        for e, _, _ in es:
            want_e = {r["id"] for r in written if r["enterprise"] == e}
            assert ids(b.client.get(url, headers=headers(b, "enterprise", e))) == want_e
            # Filtering for another enterprise gives nothing, not its reports.
            other = "bakery-5" if e != "bakery-5" else "ironworks-7"
            assert ids(b.client.get(url, params={"enterprise": other}, headers=headers(b, "enterprise", e))) == set()
    assert b.client.get(url, headers=b.viewer).status_code == 403
    assert b.client.get(url, headers={}).status_code == 401
    assert b.client.get(REPORTS.format(eco + 999), headers=b.planner).status_code == 404
    p1 = b.client.get(url, params={"period": 1, "enterprise": "colliery-3"}, headers=b.planner).json()
    assert {r["id"] for r in p1} == {r["id"] for r in written if r["period"] == 1 and r["enterprise"] == "colliery-3"}
    page = b.client.get(url, params={"limit": 2, "offset": 1}, headers=b.planner).json()
    assert [r["id"] for r in page] == sorted(r["id"] for r in written)[1:3]


# --- re-plans and simulations queued -----------------------------------------------------------

def test_replan_and_simulation_jobs_queued(sqlite_bureau: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    b = sqlite_bureau
    eco = seed(b.app)["economy_id"]
    submitted: list[int] = []
    monkeypatch.setattr(b.app.state.runner, "submit", submitted.append)
    r = b.client.post(f"/api/v1/economies/{eco}/replan", json={"objective": "harmony", "period": 2}, headers=b.planner)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "replan" and job["state"] == "queued" and job["economy_id"] == eco
    assert job["params"]["period"] == 2 and job["params"]["objective"] == "harmony"
    r = b.client.post(f"/api/v1/economies/{eco}/simulations", json={"regime": "liberman", "periods": 6},
                      headers=b.planner)
    assert r.status_code == 202, r.text
    sim = r.json()
    assert sim["kind"] == "simulate" and sim["params"]["periods"] == 6
    assert submitted == [job["id"], sim["id"]]
    with b.app.state.db.session() as s:
        assert {j.kind for j in s.scalars(select(Job).where(Job.id.in_(submitted)))} == {"replan", "simulate"}

    for who in (headers(b, "ministry", "min-food-supply"), headers(b, "enterprise", "bakery-5"), b.viewer):
        assert b.client.post(f"/api/v1/economies/{eco}/replan", json={}, headers=who).status_code == 403
        assert b.client.post(f"/api/v1/economies/{eco}/simulations", json={}, headers=who).status_code == 403
    assert b.client.post(f"/api/v1/economies/{eco}/replan", json={"period": -1}, headers=b.planner).status_code == 422
    unknown = b.client.post(f"/api/v1/economies/{eco}/replan", json={"targets": {"unobtainium": 1.0}},
                            headers=b.planner)
    assert unknown.status_code == 422 and "unobtainium" in unknown.text
    assert b.client.post(f"/api/v1/economies/{eco}/simulations", json={"periods": 0},
                         headers=b.planner).status_code == 422
    assert b.client.post(f"/api/v1/economies/{eco + 99}/simulations", json={}, headers=b.planner).status_code == 404
    assert len(submitted) == 2


# --- alerts ----------------------------------------------------------------------------------

ALERTS = "/api/v1/economies/{}/alerts"


def test_alerts_scoped_per_role(bureau: Any) -> None:
    b = bureau
    ids = seed(b.app)
    eco, alerts = ids["economy_id"], ids["alerts"]

    def got(who: dict, **params: Any) -> set[int]:
        r = b.client.get(ALERTS.format(eco), params=params, headers=who)
        assert r.status_code == 200, r.text
        return {a["id"] for a in r.json()}

    assert got(b.planner) == set(alerts.values())
    heavy = {a for (lvl, e), a in alerts.items() if e in ("ironworks-7", "colliery-3")}
    assert got(headers(b, "ministry", "min-heavy-industry")) == heavy
    assert got(headers(b, "enterprise", "ironworks-7")) == {alerts[("enterprise", "ironworks-7")],
                                                             alerts[("centre", "ironworks-7")]}
    assert got(b.planner, level="centre") == {alerts[("centre", "ironworks-7")], alerts[("centre", "bakery-5")]}
    assert b.client.get(ALERTS.format(eco), headers=b.viewer).status_code == 403
    assert b.client.get(ALERTS.format(eco + 99), headers=b.planner).status_code == 404
    assert b.client.get(ALERTS.format(eco), params={"level": "galaxy"}, headers=b.planner).status_code == 422


def test_alerts_acknowledged_by_the_level_reached(bureau: Any) -> None:
    b = bureau
    ids = seed(b.app)
    eco, alerts = ids["economy_id"], ids["alerts"]
    ack = "/api/v1/alerts/{}/acknowledge"
    iron, bakery = headers(b, "enterprise", "ironworks-7"), headers(b, "enterprise", "bakery-5")
    heavy, food = headers(b, "ministry", "min-heavy-industry"), headers(b, "ministry", "min-food-supply")

    # Not visible: 404, whatever the level.
    assert b.client.post(ack.format(alerts[("enterprise", "bakery-5")]), headers=iron).status_code == 404
    assert b.client.post(ack.format(alerts[("ministry", "colliery-3")]), headers=food).status_code == 404
    assert b.client.post(ack.format(10**30), headers=b.planner).status_code == 422  # not an id
    assert b.client.post(ack.format(alerts[("enterprise", "bakery-5")]), headers=b.viewer).status_code == 403
    # Visible but above the caller's level: 403.
    assert b.client.post(ack.format(alerts[("centre", "ironworks-7")]), headers=iron).status_code == 403
    assert b.client.post(ack.format(alerts[("centre", "ironworks-7")]), headers=heavy).status_code == 403
    assert b.client.post(ack.format(alerts[("ministry", "bakery-5")]), headers=bakery).status_code == 403

    r = b.client.post(ack.format(alerts[("enterprise", "ironworks-7")]), headers=iron)
    assert r.status_code == 200, r.text
    assert r.json()["acknowledged"] and r.json()["acknowledged_at"]
    assert b.client.post(ack.format(alerts[("enterprise", "ironworks-7")]), headers=heavy).status_code == 409
    assert b.client.post(ack.format(alerts[("enterprise", "bakery-5")]), headers=food).status_code == 200
    assert b.client.post(ack.format(alerts[("ministry", "colliery-3")]), headers=heavy).status_code == 200
    assert b.client.post(ack.format(alerts[("centre", "bakery-5")]), headers=b.planner).status_code == 200
    assert b.client.post(ack.format(alerts[("centre", "bakery-5")]), headers=b.planner).status_code == 409

    still_open = b.client.get(ALERTS.format(eco), params={"open": "true"}, headers=b.planner).json()
    assert {a["id"] for a in still_open} == {alerts[("centre", "ironworks-7")], alerts[("ministry", "bakery-5")]}
    done = b.client.get(ALERTS.format(eco), params={"open": "false"}, headers=b.planner).json()
    assert len(done) == 4 and all(a["acknowledged"] for a in done)


def test_racing_acknowledgements(bureau: Any) -> None:
    b = bureau
    ids = seed(b.app)
    target = ids["alerts"][("enterprise", "bakery-5")]
    whos = [b.planner, headers(b, "ministry", "min-food-supply"), headers(b, "enterprise", "bakery-5")] * 2
    for w in whos:
        b.client.get("/api/v1/me", headers=w)
    gate = threading.Barrier(len(whos))
    statuses: list[int] = []

    def go(w: dict) -> None:
        gate.wait()
        statuses.append(b.client.post(f"/api/v1/alerts/{target}/acknowledge", headers=w).status_code)

    threads = [threading.Thread(target=go, args=(w,)) for w in whos]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * (len(whos) - 1)
