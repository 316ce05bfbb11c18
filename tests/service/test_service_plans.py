"""Plan jobs through the API: parameters checked against the economy, jobs run by the runner into
drafts, drafts published, and the published tables and directives checked against the library
called directly (gosplan.plan) and against the accounting identities of a breakdown."""

from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

import gosplan

API = "/api/v1"


def _people(bureau: Any, ministry: str = "11", enterprise: str = "0") -> dict[str, dict[str, str]]:
    return {"viewer": bureau.viewer, "ministry": bureau.user("min", "ministry", ministry=ministry),
            "enterprise": bureau.user("ent", "enterprise", enterprise=enterprise)}


def test_plan_equals_the_library(bureau: Any) -> None:
    """A published plan's product and resource tables equal gosplan.plan on the same economy."""
    eco = bureau.load_economy("us-2022", enterprises_per_product=None)
    targets = {"111CA": 2.0e5, "311FT": 1.0e6}
    job = bureau.plan(eco["id"], targets=targets, objective="fulfilment")
    assert job["progress"] == 1.0 and job["draft_id"] and job["finished_at"]
    version = bureau.publish(job["draft_id"], 0)
    assert version["version"] == 1

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        economy = gosplan.load("us-2022")
    ref = gosplan.plan(economy, targets=targets, objective="fulfilment")
    ref.raise_for_status()
    products = bureau.client.get(f"{API}/economies/{eco['id']}/versions/1/products", headers=bureau.viewer).json()
    assert [p["product"] for p in products] == [str(p) for p in economy.products]
    x = np.array([p["gross_output"] for p in products])
    np.testing.assert_allclose(x, ref.gross_output, rtol=1e-6, atol=1e-6 * np.abs(ref.gross_output).max())
    assert products[0]["name"] == economy.name_of(economy.products[0])
    given = {p["product"]: p["target"] for p in products if p["target"] is not None}
    assert given == pytest.approx(targets)
    # net output is (I - A) x of the economy's own technology
    final = np.array([p["final"] for p in products])
    np.testing.assert_allclose(final, x - economy.A @ x, atol=1e-6 * np.abs(x).max())
    resources = bureau.client.get(f"{API}/economies/{eco['id']}/versions/latest/resources",
                                  headers=bureau.viewer).json()
    assert [r["resource"] for r in resources] == [str(r) for r in economy.resources]
    assert [r["name"] for r in resources] == [economy.meta.resource_name(r) for r in economy.resources]
    assert resources[2]["name"] == "Gross operating surplus" and resources[2]["unit"] == "million USD"
    assert resources[0]["unit"] == economy.meta.labour_unit
    np.testing.assert_allclose([r["used"] for r in resources], economy.primary @ x,
                               rtol=1e-6, atol=1e-6 * np.abs(economy.primary @ x).max())
    # ministries: BEA's grouping, the gross output of their products
    h = economy.hierarchy
    ministries = bureau.client.get(f"{API}/economies/{eco['id']}/versions/1/ministries", headers=bureau.viewer).json()
    by_ministry = {m["ministry"]: m["gross_output"] for m in ministries}
    expected = np.bincount(h.product_ministry, weights=x, minlength=h.n_ministries)
    assert by_ministry == pytest.approx(dict(zip(map(str, h.ministries), expected)), rel=1e-9)


def test_harmony_weights_reach_the_plan(sqlite_bureau: Any) -> None:
    """A harmony plan job with weights 'value' (or a mapping) is gosplan.plan with those weights."""
    bureau = sqlite_bureau
    eco = bureau.load_economy("us-2022", enterprises_per_product=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        economy = gosplan.load("us-2022")
    published = {}
    for version, weights in enumerate(("value", {"111CA": 3.0, "311FT": 0.5}), start=1):
        job = bureau.plan(eco["id"], objective="harmony", weights=weights, method="highs")
        assert job["params"]["weights"] == weights
        bureau.publish(job["draft_id"], version - 1)
        ref = gosplan.plan(economy, objective="harmony", weights=weights, method="highs")
        ref.raise_for_status()
        products = bureau.client.get(f"{API}/economies/{eco['id']}/versions/{version}/products",
                                     headers=bureau.viewer).json()
        x = np.array([p["gross_output"] for p in products])
        np.testing.assert_allclose(x, ref.gross_output, rtol=1e-6, atol=1e-6 * np.abs(ref.gross_output).max())
        published[version] = products
    # value weights meet every target in about the same proportion (labour the only limit: within the
    # tangent cuts' precision); weight 1 gives some targets nothing
    ratio = [p["final"] / p["target"] for p in published[1] if p["target"]]
    assert min(ratio) > 0.99 and max(ratio) < 1.01
    unit = gosplan.plan(economy, objective="harmony", method="highs")
    assert min(unit.net_output[unit.target > 0] / unit.target[unit.target > 0]) < 1e-6


def test_breakdown_to_enterprises_adds_up(sqlite_bureau: Any) -> None:
    """Enterprise directives: targets sum per product to the plan's gross output; their product inputs
    sum to A x (gross minus net output); their labour to the labour used; ministry directives hold
    their enterprises."""
    bureau = sqlite_bureau
    eco = bureau.load_economy("us-2022", enterprises_per_product=2.0)
    job = bureau.plan(eco["id"])
    bureau.publish(job["draft_id"], 0)
    eid = eco["id"]
    products = bureau.client.get(f"{API}/economies/{eid}/versions/1/products", headers=bureau.planner).json()
    resources = bureau.client.get(f"{API}/economies/{eid}/versions/1/resources", headers=bureau.planner).json()
    enterprises = []
    offset = 0
    while True:
        page = bureau.client.get(f"{API}/economies/{eid}/enterprises?limit=50&offset={offset}", headers=bureau.planner)
        assert page.status_code == 200
        if not page.json():
            break
        enterprises += page.json()
        offset += 50
    assert len(enterprises) == eco["n_enterprises"]
    targets: dict[str, float] = defaultdict(float)
    inputs: dict[str, float] = defaultdict(float)
    labour = 0.0
    by_ministry: dict[str, set[str]] = defaultdict(set)
    for e in enterprises:
        r = bureau.client.get(f"{API}/economies/{eid}/versions/1/directives/enterprises/{e['enterprise']}",
                              headers=bureau.planner)
        assert r.status_code == 200, r.text
        d = r.json()
        assert (d["enterprise"], d["product"], d["ministry"]) == (e["enterprise"], e["product"], e["ministry"])
        assert 0 <= d["target"] <= d["capacity"] * (1 + 1e-9)
        targets[d["product"]] += d["target"]
        by_ministry[d["ministry"]].add(d["enterprise"])
        for row in d["inputs"]:
            if row["kind"] == "product":
                inputs[row["input"]] += row["quantity"]
            elif row["input"] == "labour":
                labour += row["quantity"]
    scale = max(p["gross_output"] for p in products)
    for p in products:
        assert targets[p["product"]] == pytest.approx(p["gross_output"], abs=1e-9 * scale), p["product"]
        assert inputs[p["product"]] == pytest.approx(p["gross_output"] - p["final"], abs=1e-7 * scale), p["product"]
    used = next(r["used"] for r in resources if r["resource"] == "labour")
    assert labour == pytest.approx(used, rel=1e-9)
    for m, members in by_ministry.items():
        r = bureau.client.get(f"{API}/economies/{eid}/versions/1/directives/ministries/{m}", headers=bureau.planner)
        assert r.status_code == 200
        md = r.json()
        assert {e["enterprise"] for e in md["enterprises"]} == members
        assert md["gross_output"] == pytest.approx(sum(targets[p["product"]] for p in md["products"]), rel=1e-9)


def test_plan_parameters_are_checked(sqlite_bureau: Any) -> None:
    bureau = sqlite_bureau
    eid = bureau.load_economy("us-2022", enterprises_per_product=None)["id"]
    url = f"{API}/economies/{eid}/plans"

    def refused(body: Any, *words: str, status: int = 422) -> None:
        r = bureau.client.post(url, json=body, headers=bureau.planner)
        assert r.status_code == status, (body, r.text)
        text = str(r.json()["detail"])
        for w in words:
            assert w in text, (w, text)

    refused({"targets": {"X": 1, "Y": 2, "111CA": 3}}, "unknown products in targets: 'X', 'Y'")
    refused({"capacities": {"nope": 1}}, "unknown products in capacities: 'nope'")
    refused({"priorities": {"nope": 1}}, "unknown products in priorities: 'nope'")
    refused({"resources": {"coal": 1}}, "unknown resources in resources: 'coal'", "labour")
    refused({"targets": {"111CA": -1}}, "targets")
    refused({"targets": {"111CA": "lots"}}, "targets")
    refused({"objective": "profit"}, "objective")
    refused({"kind": "ten-year"}, "kind")
    refused({"tol": 1.0}, "tol")
    refused({"tol": 1e-12}, "tol")
    refused({"years": 5}, "years is for kind 'five-year'")
    refused({"rule": "lottery"}, "rule")
    refused({"method": "guess"}, "method")
    refused({"time_limit": -1}, "time_limit")
    refused({"colour": "red"}, "colour")
    refused({"weights": "value"}, "weights weigh objective 'harmony', not 'fulfilment'")
    refused({"objective": "harmony", "kind": "five-year", "weights": "value"}, "kinds 'plan' and 'two-level'")
    refused({"objective": "harmony", "weights": {"111CA": 0}}, "weights")
    refused({"objective": "harmony", "weights": "labour"}, "weights")
    refused({"objective": "harmony", "weights": {"nope": 2}}, "unknown products in weights: 'nope'")
    refused([1, 2], "")
    r = bureau.client.post(url, content=b"{", headers={**bureau.planner, "content-type": "application/json"})
    assert r.status_code == 422
    r = bureau.client.post(f"{API}/economies/424242/plans", json={}, headers=bureau.planner)
    assert r.status_code == 404 and "economy 424242" in r.json()["detail"]
    r = bureau.client.post(f"{API}/economies/0/plans", json={}, headers=bureau.planner)
    assert r.status_code == 422
    r = bureau.client.get(f"{API}/jobs", headers=bureau.planner)
    assert r.status_code == 200 and r.json() == []  # nothing refused was queued


def test_plan_jobs_are_the_planners(sqlite_bureau: Any) -> None:
    """Every role but the planner: 403 on submitting plans and on every job endpoint; anonymous: 401."""
    bureau = sqlite_bureau
    eid = bureau.load_economy("us-2022", enterprises_per_product=None)["id"]
    job = bureau.plan(eid)
    calls = [("POST", f"{API}/economies/{eid}/plans", {}), ("GET", f"{API}/jobs", None),
             ("GET", f"{API}/jobs/{job['id']}", None), ("POST", f"{API}/jobs/{job['id']}/cancel", None),
             ("GET", f"{API}/jobs/{job['id']}/result", None)]
    for role, headers in _people(bureau).items():
        for method, url, body in calls:
            r = bureau.client.request(method, url, json=body, headers=headers)
            assert r.status_code == 403, (role, method, url, r.text)
            assert "planner" in r.json()["detail"]
    for method, url, body in calls:
        assert bureau.client.request(method, url, json=body).status_code == 401


def test_jobs_list_get_result(sqlite_bureau: Any) -> None:
    bureau = sqlite_bureau
    eid = bureau.load_economy("us-2022", enterprises_per_product=None)["id"]
    job = bureau.plan(eid, objective="fulfilment")
    assert job["state"] == "done" and job["kind"] == "plan" and job["params"]["objective"] == "fulfilment"
    assert job["created_at"].endswith(("Z", "+00:00"))
    r = bureau.client.get(f"{API}/jobs", params={"economy_id": eid, "state": "done"}, headers=bureau.planner)
    assert [j["id"] for j in r.json()] == [job["id"]]
    r = bureau.client.get(f"{API}/jobs", params={"state": "failed"}, headers=bureau.planner)
    assert r.json() == []
    r = bureau.client.get(f"{API}/jobs", params={"state": "sleeping"}, headers=bureau.planner)
    assert r.status_code == 422
    r = bureau.client.get(f"{API}/jobs/{job['id']}/result", headers=bureau.planner)
    assert r.status_code == 200 and r.json()["id"] == job["draft_id"] and r.json()["economy_id"] == eid
    r = bureau.client.get(f"{API}/drafts/{job['draft_id']}", headers=bureau.planner)
    assert r.status_code == 200 and r.json()["job_id"] == job["id"] and len(r.json()["products"]) == 73
    r = bureau.client.post(f"{API}/jobs/{job['id']}/cancel", headers=bureau.planner)
    assert r.status_code == 409 and "finished (done)" in r.json()["detail"]
    for url in (f"{API}/jobs/424242", f"{API}/jobs/424242/result"):
        r = bureau.client.get(url, headers=bureau.planner)
        assert r.status_code == 404 and "job 424242" in r.json()["detail"]
    assert bureau.client.post(f"{API}/jobs/424242/cancel", headers=bureau.planner).status_code == 404


def test_cancel_a_queued_job(sqlite_bureau: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    bureau = sqlite_bureau
    eid = bureau.load_economy("us-2022", enterprises_per_product=None)["id"]
    monkeypatch.setattr(bureau.app.state.runner, "submit", lambda job_id: None)  # it stays queued
    r = bureau.client.post(f"{API}/economies/{eid}/plans", json={}, headers=bureau.planner)
    assert r.status_code == 202 and r.json()["state"] == "queued"
    job_id = r.json()["id"]
    r = bureau.client.get(f"{API}/jobs/{job_id}/result", headers=bureau.planner)
    assert r.status_code == 409 and "queued" in r.json()["detail"]
    r = bureau.client.post(f"{API}/jobs/{job_id}/cancel", headers=bureau.planner)
    assert r.status_code == 202 and r.json()["state"] == "cancelled"
    assert bureau.wait(job_id)["state"] == "cancelled"
    r = bureau.client.post(f"{API}/jobs/{job_id}/cancel", headers=bureau.planner)
    assert r.status_code == 409


def test_runner_refusing_a_job(sqlite_bureau: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    bureau = sqlite_bureau
    eid = bureau.load_economy("us-2022", enterprises_per_product=None)["id"]

    def broken(job_id: int) -> None:
        raise RuntimeError("scheduler unreachable")

    monkeypatch.setattr(bureau.app.state.runner, "submit", broken)
    r = bureau.client.post(f"{API}/economies/{eid}/plans", json={}, headers=bureau.planner)
    assert r.status_code == 503 and "marked failed" in r.json()["detail"]
    jobs = bureau.client.get(f"{API}/jobs", headers=bureau.planner).json()
    assert jobs[0]["state"] == "failed" and "scheduler unreachable" in jobs[0]["message"]


def test_two_level_plan_publishes(sqlite_bureau: Any) -> None:
    bureau = sqlite_bureau
    eco = bureau.load_economy("us-2022", enterprises_per_product=1.0)
    job = bureau.plan(eco["id"], kind="two-level")
    assert job["summary"]["kind"] == "two-level"
    v = bureau.publish(job["draft_id"], 0)
    assert v["summary"]["kind"] == "two-level"
    products = bureau.client.get(f"{API}/economies/{eco['id']}/versions/1/products", headers=bureau.viewer).json()
    assert len(products) == 73 and all(p["gross_output"] >= -1e-6 for p in products)
