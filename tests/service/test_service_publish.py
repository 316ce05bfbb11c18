"""Publishing drafts: immutable, gapless plan versions (one winner among concurrent publishes), their
tables and directives, and who may read them. Drafts are written here directly from a small
hand-made payload (the job runner's drafts are tested in test_service_plans.py)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from gosplan.service.models import Directive, Draft, Party, PlanVersion, pack

API = "/api/v1"


def hand_payload(bureau: Any, economy_id: int) -> dict[str, Any]:
    """A PlanPayload over the economy's own parties: enterprise ``k`` (in label order) is told to make ``k + 1``."""
    with bureau.app.state.db.sessions() as s:
        parties = s.scalars(select(Party).where(Party.economy_id == economy_id)).all()
    ministries = sorted(p.label for p in parties if p.kind == "ministry")
    ents = sorted((p for p in parties if p.kind == "enterprise"), key=lambda p: p.label)
    enterprises = [{"enterprise": e.label, "ministry": e.ministry, "product": e.product, "product_name": e.name,
                    "target": float(k + 1), "capacity": float(2 * (k + 1)),
                    "inputs": [{"input": "labour", "kind": "resource", "quantity": 0.5 * (k + 1)}]}
                   for k, e in enumerate(ents)]
    products: dict[str, dict[str, Any]] = {}
    for e in enterprises:
        row = products.setdefault(e["product"], {"product": e["product"], "name": e["product_name"],
                                                 "ministry": e["ministry"], "gross_output": 0.0, "final": 0.0,
                                                 "target": None, "fulfilment": None, "price": 1.0})
        row["gross_output"] += e["target"]
        row["final"] += e["target"] / 2
    directives = []
    for m in ministries:
        mine = [e for e in enterprises if e["ministry"] == m]
        directives.append({
            "ministry": m, "gross_output": sum(e["target"] for e in mine),
            "products": [r for r in products.values() if r["ministry"] == m],
            "enterprises": [{k: e[k] for k in ("enterprise", "product", "target", "capacity")} for e in mine],
            "inputs": [{"input": "labour", "kind": "resource", "quantity": sum(e["inputs"][0]["quantity"] for e in mine)}],
        })
    return {
        "kind": "plan", "status": "solved", "message": "hand-made", "summary": {"objective": "fulfilment"},
        "products": list(products.values()),
        "resources": [{"resource": "labour", "name": "Compensation of employees", "unit": "million USD of compensation",
                       "available": None, "used": 1.0, "price": 0.0, "binding": False}],
        "ministries": [{"ministry": d["ministry"], "gross_output": d["gross_output"], "labour": 1.0,
                        "n_products": len(d["products"]), "n_enterprises": len(d["enterprises"])} for d in directives],
        "flows": [{"source": ministries[0], "target": ministries[-1], "value": 2.5}],
        "enterprises": enterprises, "ministry_directives": directives, "years": None,
    }


def make_draft(bureau: Any, economy_id: int, payload: dict[str, Any] | None = None) -> int:
    payload = payload or hand_payload(bureau, economy_id)
    with bureau.app.state.db.session() as s:
        d = Draft(economy_id=economy_id, job_id=None, kind="plan", summary={"status": "solved", "hand": True},
                  payload=pack(payload))
        s.add(d)
        s.flush()
        return d.id


@pytest.fixture
def published(bureau: Any) -> dict[str, Any]:
    """An economy (us-2022, one enterprise a product) with one published version of a hand-made draft."""
    eco = bureau.load_economy("us-2022", enterprises_per_product=1.0)
    payload = hand_payload(bureau, eco["id"])
    draft_id = make_draft(bureau, eco["id"], payload)
    version = bureau.publish(draft_id, 0)
    return {"economy": eco, "payload": payload, "draft_id": draft_id, "version": version}


def _versions(bureau: Any, economy_id: int) -> list[int]:
    r = bureau.client.get(f"{API}/economies/{economy_id}/versions", headers=bureau.viewer)
    assert r.status_code == 200, r.text
    return [v["version"] for v in r.json()]


# --- versions --------------------------------------------------------------------------------------------

def test_publish_numbers_versions_and_refuses_stale_bases(bureau: Any) -> None:
    eco = bureau.load_economy("us-2022", enterprises_per_product=1.0)
    eid = eco["id"]
    draft = make_draft(bureau, eid)
    v1 = bureau.publish(draft, 0)
    assert (v1["economy_id"], v1["version"], v1["draft_id"]) == (eid, 1, draft)
    assert v1["summary"]["hand"] is True and v1["published_at"]

    r = bureau.client.post(f"{API}/drafts/{draft}/publish", json={"base_version": 0}, headers=bureau.planner)
    assert r.status_code == 409
    assert r.json()["latest"] == 1 and "base version 0 is not the latest (latest is 1)" in r.json()["detail"]
    r = bureau.client.post(f"{API}/drafts/{draft}/publish", json={"base_version": 5}, headers=bureau.planner)
    assert r.status_code == 409 and r.json()["latest"] == 1

    draft2 = make_draft(bureau, eid)
    assert bureau.publish(draft2, 1)["version"] == 2
    assert _versions(bureau, eid) == [1, 2]
    r = bureau.client.get(f"{API}/economies/{eid}/versions/latest", headers=bureau.viewer)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["draft_id"] == draft2
    r = bureau.client.get(f"{API}/economies/{eid}/versions/1", headers=bureau.viewer)
    assert r.status_code == 200 and r.json() == {**v1, "published_at": r.json()["published_at"]}
    r = bureau.client.get(f"{API}/economies", headers=bureau.viewer)
    assert {e["id"]: e["latest_version"] for e in r.json()}[eid] == 2
    # another economy numbers its own versions from 1
    other = bureau.load_economy("us-2022", enterprises_per_product=None)
    assert bureau.publish(make_draft(bureau, other["id"]), 0)["version"] == 1


def test_concurrent_publishes_of_one_base_give_one_version(bureau: Any) -> None:
    """20 simultaneous publishes of the same base: 1 created, 19 conflicts; gapless over rounds."""
    eid = bureau.load_economy("us-2022", enterprises_per_product=1.0)["id"]
    draft = make_draft(bureau, eid)
    headers = bureau.planner
    rounds, n = 3, 20
    for base in range(rounds):
        barrier = threading.Barrier(n)
        codes: list[int] = []
        bodies: list[dict[str, Any]] = []
        lock = threading.Lock()

        def publish() -> None:
            barrier.wait()
            r = bureau.client.post(f"{API}/drafts/{draft}/publish", json={"base_version": base}, headers=headers)
            with lock:
                codes.append(r.status_code)
                bodies.append(r.json())

        threads = [threading.Thread(target=publish) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert Counter(codes) == {201: 1, 409: n - 1}, Counter(codes)
        assert all(b["latest"] == base + 1 for b, c in zip(bodies, codes) if c == 409)
        assert [b["version"] for b, c in zip(bodies, codes) if c == 201] == [base + 1]
    assert _versions(bureau, eid) == list(range(1, rounds + 1))
    with bureau.app.state.db.sessions() as s:
        n_versions = s.scalar(select(func.count()).select_from(PlanVersion).where(PlanVersion.economy_id == eid))
        per_version = s.execute(select(Directive.version_id, func.count()).group_by(Directive.version_id)).all()
    assert n_versions == rounds
    assert len({c for _, c in per_version}) == 1  # every version got all its directives, none twice


def test_versions_are_immutable(published: dict[str, Any], bureau: Any) -> None:
    eid = published["economy"]["id"]
    for method in ("put", "patch", "delete"):
        r = bureau.client.request(method.upper(), f"{API}/economies/{eid}/versions/1", headers=bureau.planner)
        assert r.status_code == 405, (method, r.status_code)
        r = bureau.client.request(method.upper(), f"{API}/economies/{eid}/versions/1/directives/ministries/x",
                                  headers=bureau.planner)
        assert r.status_code == 405


def test_publish_bad_input(published: dict[str, Any], bureau: Any) -> None:
    d = published["draft_id"]
    url = f"{API}/drafts/{d}/publish"
    for body in ({}, {"base_version": -1}, {"base_version": "one"}, {"base_version": 1, "force": True}, []):
        r = bureau.client.post(url, json=body, headers=bureau.planner)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"]
    r = bureau.client.post(url, content=b"{not json", headers={**bureau.planner, "content-type": "application/json"})
    assert r.status_code == 422
    r = bureau.client.post(f"{API}/drafts/999999/publish", json={"base_version": 1}, headers=bureau.planner)
    assert r.status_code == 404 and "draft 999999" in r.json()["detail"]
    r = bureau.client.post(f"{API}/drafts/0/publish", json={"base_version": 1}, headers=bureau.planner)
    assert r.status_code == 422
    r = bureau.client.post(f"{API}/drafts/99999999999999999999/publish", json={"base_version": 1},
                           headers=bureau.planner)
    assert r.status_code == 422


# --- tables of a version -------------------------------------------------------------------------------------

@pytest.mark.parametrize("table", ["products", "resources", "ministries", "flows"])
def test_version_tables_for_every_role(published: dict[str, Any], bureau: Any, table: str) -> None:
    eco, payload = published["economy"], published["payload"]
    m = payload["ministry_directives"][0]["ministry"]
    e = payload["enterprises"][0]["enterprise"]
    people = {"planner": bureau.planner, "viewer": bureau.viewer,
              "ministry": bureau.user("min", "ministry", ministry=m),
              "enterprise": bureau.user("ent", "enterprise", enterprise=e)}
    for role, headers in people.items():
        r = bureau.client.get(f"{API}/economies/{eco['id']}/versions", headers=headers)
        assert r.status_code == 200 and [v["version"] for v in r.json()] == [1], role
        r = bureau.client.get(f"{API}/economies/{eco['id']}/versions/latest", headers=headers)
        assert r.status_code == 200 and r.json() == published["version"], role
        for ref in ("1", "latest"):
            r = bureau.client.get(f"{API}/economies/{eco['id']}/versions/{ref}/{table}", headers=headers)
            assert r.status_code == 200, (role, r.text)
            assert r.json() == payload[table]
    r = bureau.client.get(f"{API}/economies/{eco['id']}/versions/2/{table}", headers=bureau.viewer)
    assert r.status_code == 404 and "version 2" in r.json()["detail"]
    r = bureau.client.get(f"{API}/economies/{eco['id']}/versions/first/{table}", headers=bureau.viewer)
    assert r.status_code == 422
    r = bureau.client.get(f"{API}/economies/999999/versions/1/{table}", headers=bureau.viewer)
    assert r.status_code == 404 and "economy 999999" in r.json()["detail"]
    r = bureau.client.get(f"{API}/economies/{eco['id']}/versions/1/{table}")
    assert r.status_code == 401


def test_no_version_yet(bureau: Any) -> None:
    eid = bureau.load_economy("us-2022", enterprises_per_product=None)["id"]
    assert _versions(bureau, eid) == []
    r = bureau.client.get(f"{API}/economies/{eid}/versions/latest", headers=bureau.viewer)
    assert r.status_code == 404 and "published version" in r.json()["detail"]
    r = bureau.client.get(f"{API}/economies/{eid}/versions/latest/directives/ministries/x", headers=bureau.planner)
    assert r.status_code == 404


# --- directives ---------------------------------------------------------------------------------------------

def test_directives_are_the_payloads(published: dict[str, Any], bureau: Any) -> None:
    eid, payload = published["economy"]["id"], published["payload"]
    for d in payload["ministry_directives"]:
        r = bureau.client.get(f"{API}/economies/{eid}/versions/1/directives/ministries/{d['ministry']}",
                              headers=bureau.planner)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert r.json() == d
    for e in payload["enterprises"][:10]:
        r = bureau.client.get(f"{API}/economies/{eid}/versions/latest/directives/enterprises/{e['enterprise']}",
                              headers=bureau.planner)
        assert r.status_code == 200 and r.json() == e
    with bureau.app.state.db.sessions() as s:
        kinds = Counter(s.scalars(select(Directive.kind)))
        body = s.scalar(select(Directive.body).where(Directive.kind == "enterprise").limit(1))
    assert kinds == {"ministry": len(payload["ministry_directives"]), "enterprise": len(payload["enterprises"])}
    assert isinstance(orjson.loads(body), dict)


def test_directive_access_by_role(published: dict[str, Any], bureau: Any) -> None:
    """planner: all; ministry M: M's and its enterprises'; enterprise E: its own; viewer: 403; others: 404."""
    eid, payload = published["economy"]["id"], published["payload"]
    ents = payload["enterprises"]
    m1 = ents[0]["ministry"]
    e1 = ents[0]["enterprise"]
    outside = next(e for e in ents if e["ministry"] != m1)
    m2, e2 = outside["ministry"], outside["enterprise"]
    base = f"{API}/economies/{eid}/versions/1/directives"
    mu = bureau.user("min1", "ministry", ministry=m1)
    eu = bureau.user("ent1", "enterprise", enterprise=e1)
    stranger_m = bureau.user("min-none", "ministry", ministry="no such ministry")
    expected = {
        # (user, url): status
        ("planner", f"{base}/ministries/{m1}"): 200,
        ("planner", f"{base}/enterprises/{e2}"): 200,
        ("ministry", f"{base}/ministries/{m1}"): 200,
        ("ministry", f"{base}/ministries/{m2}"): 404,
        ("ministry", f"{base}/enterprises/{e1}"): 200,
        ("ministry", f"{base}/enterprises/{e2}"): 404,
        ("stranger", f"{base}/ministries/{m1}"): 404,
        ("stranger", f"{base}/enterprises/{e1}"): 404,
        ("enterprise", f"{base}/enterprises/{e1}"): 200,
        ("enterprise", f"{base}/enterprises/{e2}"): 404,
        ("enterprise", f"{base}/ministries/{m1}"): 403,
        ("viewer", f"{base}/ministries/{m1}"): 403,
        ("viewer", f"{base}/enterprises/{e1}"): 403,
        ("anonymous", f"{base}/enterprises/{e1}"): 401,
    }
    headers = {"planner": bureau.planner, "ministry": mu, "enterprise": eu, "viewer": bureau.viewer,
               "stranger": stranger_m, "anonymous": {}}
    not_found_bodies = {}
    for (who, url), status in expected.items():
        r = bureau.client.get(url, headers=headers[who])
        assert r.status_code == status, (who, url, r.status_code, r.text)
        if status != 200:
            assert r.json()["detail"]
        if status == 404:
            not_found_bodies[(who, url)] = r.json()
            assert "not found" in r.json()["detail"]
    # a ministry's 404 on another ministry's enterprise says the same as the planner's on a missing one
    r_plan = bureau.client.get(f"{base}/enterprises/{e2}-missing", headers=bureau.planner)
    assert r_plan.status_code == 404
    assert not_found_bodies[("ministry", f"{base}/enterprises/{e2}")]["detail"].replace(e2, "X") == \
        r_plan.json()["detail"].replace(f"{e2}-missing", "X")


def test_drafts_are_the_planners(published: dict[str, Any], bureau: Any) -> None:
    eid, d = published["economy"]["id"], published["draft_id"]
    payload = published["payload"]
    r = bureau.client.get(f"{API}/economies/{eid}/drafts", headers=bureau.planner)
    assert r.status_code == 200 and [x["id"] for x in r.json()] == [d]
    r = bureau.client.get(f"{API}/drafts/{d}", headers=bureau.planner)
    assert r.status_code == 200
    body = r.json()
    assert body["products"] == payload["products"] and body["resources"] == payload["resources"]
    assert body["status"] == "solved"
    m = payload["ministries"][0]["ministry"]
    e = payload["enterprises"][0]["enterprise"]
    others = [bureau.viewer, bureau.user("m", "ministry", ministry=m), bureau.user("e", "enterprise", enterprise=e)]
    for headers in others:
        assert bureau.client.get(f"{API}/economies/{eid}/drafts", headers=headers).status_code == 403
        assert bureau.client.get(f"{API}/drafts/{d}", headers=headers).status_code == 403
        r = bureau.client.post(f"{API}/drafts/{d}/publish", json={"base_version": 1}, headers=headers)
        assert r.status_code == 403 and "planner" in r.json()["detail"]
    assert bureau.client.get(f"{API}/drafts/424242", headers=bureau.planner).status_code == 404
    assert bureau.client.get(f"{API}/economies/424242/drafts", headers=bureau.planner).status_code == 404
    assert _versions(bureau, eid) == [1]
