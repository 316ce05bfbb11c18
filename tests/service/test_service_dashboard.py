"""The dashboard: figures against hand-computed values, pages per role, plotly.js served locally.

The economy is seeded with direct rows (a hand-made plan payload of three ministries, two plan
versions, directives, reports and alerts), so that every number on a page is known here.
:func:`seed` is reused by the browser test (test_service_browser.py).
"""

from __future__ import annotations

import importlib.resources
import json
import re
from typing import Any

import pytest
from sqlalchemy import select

pytest.importorskip("fastapi", reason="the service extra is not installed (pip install '.[service]')")

from gosplan.service.auth import COOKIE, create_user  # noqa: E402
from gosplan.service.dashboard import figures  # noqa: E402
from gosplan.service.models import (  # noqa: E402
    Alert,
    Directive,
    Draft,
    EconomyRow,
    Party,
    PlanVersion,
    Report,
    User,
    pack,
    utcnow,
)

# ------------------------------------------------------------------------------------------------
# a hand-made economy: three ministries, six products, six enterprises

UNITS = "million roubles"
MINISTRIES = {"AGR": "Agriculture", "IND": "Heavy industry", "SRV": "Services"}
#              product  name                           ministry gross   final  target  price
PRODUCTS = [("111CA", "Farms", "AGR", 120.0, 80.0, 80.0, 1.25),
            ("113FF", "Forestry and fishing", "AGR", 50.0, 30.0, 40.0, 0.9),
            ("331", "Primary metals", "IND", 200.0, 90.0, 100.0, 2.5),
            ("22", "Utilities", "IND", 90.0, 45.0, 45.0, 0.4),
            ("52", "Finance and insurance", "SRV", 70.0, 60.0, 50.0, 0.75),
            ("PROF", "Professional services", "SRV", 40.0, 20.0, None, 0.6)]
#             enterprise   ministry product target v1, target v2, capacity
ENTERPRISES = [("kolkhoz-7", "AGR", "111CA", 70.0, 75.0, 90.0),
               ("kolkhoz-9", "AGR", "113FF", 50.0, 45.0, 60.0),
               ("zavod-1", "IND", "331", 120.0, 130.0, 150.0),
               ("zavod-2", "IND", "22", 90.0, 80.0, 100.0),
               ("kontora-1", "SRV", "52", 70.0, 72.0, 80.0),
               ("kontora-2", "SRV", "PROF", 40.0, 41.0, 50.0)]
FLOWS = [("AGR", "AGR", 10.0), ("AGR", "IND", 40.0), ("AGR", "SRV", 5.0),
         ("IND", "AGR", 20.0), ("IND", "IND", 60.0), ("IND", "SRV", 30.0),
         ("SRV", "AGR", 8.0), ("SRV", "IND", 15.0), ("SRV", "SRV", 0.0)]
RESOURCES = [{"resource": "labour", "available": 1000.0, "used": 1000.0, "price": 0.8, "binding": True},
             {"resource": "capital", "name": "Fixed capital", "unit": "machine-hours", "available": 500.0, "used": 300.0, "price": 0.0, "binding": False},
             {"resource": "land", "available": None, "used": 50.0, "price": None, "binding": False}]
#          enterprise  period version output  capacity
REPORTS = [("kolkhoz-7", 1, 1, 68.0, 90.0), ("kolkhoz-9", 1, 1, 49.0, 60.0), ("zavod-1", 1, 1, 110.0, 150.0),
           ("zavod-2", 1, 1, 91.0, None), ("kontora-1", 1, 1, 70.0, 80.0), ("kontora-2", 1, 1, 35.0, 50.0),
           ("kolkhoz-7", 2, 1, 71.0, 88.0), ("kolkhoz-9", 2, 1, 44.0, 60.0), ("zavod-1", 2, 1, 125.0, 150.0),
           ("zavod-2", 2, 1, 85.0, 100.0), ("kontora-1", 2, None, 66.0, 80.0),
           ("kolkhoz-7", 3, 2, 74.0, 90.0), ("zavod-1", 3, 2, 101.0, 140.0), ("zavod-2", 3, 2, 80.0, 100.0),
           ("kontora-1", 3, 2, 72.0, 80.0), ("kontora-2", 3, 2, 41.0, 50.0),
           ("zavod-1", 3, 2, 103.5, 140.0)]  # a corrected report: the later one counts
#          level         who          enterprise   ministry
ALERTS = [("enterprise", "kolkhoz-7", "kolkhoz-7", "AGR"),
          ("ministry", "IND", None, "IND"),
          ("centre", "centre", None, "AGR"),
          ("enterprise", "zavod-1", "zavod-1", "IND")]


def _inputs(product: str, target: float) -> list[dict[str, Any]]:
    others = [p[0] for p in PRODUCTS if p[0] != product][:2]
    return ([{"input": o, "kind": "product", "quantity": round(0.1 * (i + 1) * target, 3)} for i, o in enumerate(others)]
            + [{"input": "labour", "kind": "resource", "quantity": round(0.3 * target, 3)}])


def make_payload(version: int) -> dict[str, Any]:
    """The PlanPayload of version 1 or 2 (version 2 changes the enterprises' targets)."""
    col = 3 if version == 1 else 4
    products = [{"product": c, "name": n, "ministry": m, "gross_output": g, "final": f, "target": t,
                 "fulfilment": None if t is None else f / t, "price": pr} for c, n, m, g, f, t, pr in PRODUCTS]
    names = {p[0]: p[1] for p in PRODUCTS}
    enterprises = [{"enterprise": e[0], "ministry": e[1], "product": e[2], "product_name": names[e[2]],
                    "target": e[col], "capacity": e[5], "inputs": _inputs(e[2], e[col])} for e in ENTERPRISES]
    ministries = [{"ministry": m, "gross_output": sum(p[3] for p in PRODUCTS if p[2] == m), "labour": 10.0 * (i + 1),
                   "n_products": 2, "n_enterprises": 2} for i, m in enumerate(MINISTRIES)]
    ministry_directives = [{
        "ministry": m, "gross_output": sum(p[3] for p in PRODUCTS if p[2] == m),
        "products": [{"product": p[0], "name": p[1], "gross_output": p[3], "final": p[4], "target": p[5], "price": p[6]}
                     for p in PRODUCTS if p[2] == m],
        "enterprises": [{"enterprise": d["enterprise"], "product": d["product"], "target": d["target"],
                         "capacity": d["capacity"]} for d in enterprises if d["ministry"] == m],
        "inputs": []} for m in MINISTRIES]
    return {"kind": "plan", "status": "solved", "message": "", "summary": {"objective": "fulfilment"},
            "products": products, "resources": RESOURCES, "ministries": ministries,
            "flows": [{"source": s, "target": t, "value": v} for s, t, v in FLOWS],
            "enterprises": enterprises, "ministry_directives": ministry_directives, "years": None}


def seed(db: Any, name: str = "hand-made") -> dict[str, Any]:
    """Insert the hand-made economy, two published versions, directives, reports, alerts and users.

    Returns ``{"economy_id", "tokens": {user: token}, "alerts": {(level, who): id}}``.
    """
    out: dict[str, Any] = {"tokens": {}, "alerts": {}}
    with db.session() as s:
        users = {}
        for uname, role, kw in [("centre", "planner", {}), ("public", "viewer", {}),
                                ("min-agr", "ministry", {"ministry": "AGR"}),
                                ("min-ind", "ministry", {"ministry": "IND"}),
                                ("ent-k7", "enterprise", {"enterprise": "kolkhoz-7"}),
                                ("ent-z1", "enterprise", {"enterprise": "zavod-1"})]:
            u, token = create_user(s, uname, role, **kw)
            users[uname] = u
            out["tokens"][uname] = token
        eco = EconomyRow(name=name, source="bundled", spec={"bundled": "hand-made"},
                         title="A hand-made economy of three ministries", units=UNITS, n_products=len(PRODUCTS),
                         n_ministries=len(MINISTRIES), n_enterprises=len(ENTERPRISES))
        s.add(eco)
        s.flush()
        out["economy_id"] = eco.id
        s.add_all([Party(economy_id=eco.id, kind="ministry", label=m, name=n) for m, n in MINISTRIES.items()])
        s.add_all([Party(economy_id=eco.id, kind="enterprise", label=e[0], ministry=e[1], product=e[2],
                         name=f"{e[0]} ({e[2]})") for e in ENTERPRISES])
        for v in (1, 2):
            payload = make_payload(v)
            draft = Draft(economy_id=eco.id, kind="plan", summary={"version": v}, payload=pack(payload))
            s.add(draft)
            s.flush()
            pv = PlanVersion(economy_id=eco.id, version=v, draft_id=draft.id, summary={"status": "solved"},
                             published_by=users["centre"].id)
            s.add(pv)
            s.flush()
            for d in payload["enterprises"]:
                s.add(Directive(version_id=pv.id, kind="enterprise", party=d["enterprise"], ministry=d["ministry"],
                                body=json.dumps(d).encode()))
            for d in payload["ministry_directives"]:
                s.add(Directive(version_id=pv.id, kind="ministry", party=d["ministry"], ministry=d["ministry"],
                                body=json.dumps(d).encode()))
        ministry_of = {e[0]: e[1] for e in ENTERPRISES}
        for i, (e, period, version, output, capacity) in enumerate(REPORTS):
            s.add(Report(economy_id=eco.id, enterprise=e, ministry=ministry_of[e], period=period, version=version,
                         output=output, capacity=capacity, user_id=users["centre"].id,
                         idempotency_key=f"k{i}", body_hash="0" * 64))
            s.flush()  # ids in the order of REPORTS
        for i, (level, who, ent, ministry) in enumerate(ALERTS):
            a = Alert(economy_id=eco.id, period=2 + i, level=level, who=who, enterprise=ent, ministry=ministry,
                      indicator="output" if ent else "shortage", kind="trend", probability=0.9 - 0.1 * i,
                      raised=1 + i, resolved=None)
            s.add(a)
            s.flush()
            out["alerts"][(level, who)] = a.id
    return out


# ------------------------------------------------------------------------------------------------
# figures against hand-computed values


def test_sankey_nodes_and_links_from_a_three_ministry_flow_table() -> None:
    flows = [{"source": s, "target": t, "value": v} for s, t, v in FLOWS]
    fig = figures.sankey_figure(flows, ministries=["AGR", "IND", "SRV"], names=MINISTRIES, units=UNITS)
    (trace,) = fig["data"]
    assert trace["type"] == "sankey"
    labels = ["Agriculture (AGR)", "Heavy industry (IND)", "Services (SRV)"]
    assert trace["node"]["label"] == labels + labels  # suppliers 0..2, users 3..5
    # every positive flow, in the table's order; SRV -> SRV (0) cannot be drawn
    assert trace["link"]["source"] == [0, 0, 0, 1, 1, 1, 2, 2]
    assert trace["link"]["target"] == [3, 4, 5, 3, 4, 5, 3, 4]
    assert trace["link"]["value"] == [10.0, 40.0, 5.0, 20.0, 60.0, 30.0, 8.0, 15.0]
    # a negative flow is left out, unknown ministries too; small flows by share
    more = flows + [{"source": "IND", "target": "AGR", "value": -3.0}, {"source": "XX", "target": "AGR", "value": 9.0}]
    trace = figures.sankey_figure(more, ministries=["AGR", "IND", "SRV"], min_share=0.05)["data"][0]
    total = 188.0
    kept = [(s, t, v) for s, t, v in FLOWS if v > 0 and v >= 0.05 * total]
    assert trace["link"]["value"] == [v for _, _, v in kept]
    # without an order: the labels met, sorted
    trace = figures.sankey_figure([{"source": "b", "target": "a", "value": 1.0}])["data"][0]
    assert trace["node"]["label"] == ["a", "b", "a", "b"]
    assert (trace["link"]["source"], trace["link"]["target"]) == ([1], [2])


def test_plan_vs_reported_series_against_a_plain_loop() -> None:
    targets = {1: {e[0]: e[3] for e in ENTERPRISES}, 2: {e[0]: e[4] for e in ENTERPRISES}}
    reports = [figures.ReportPoint(i + 1, e, p, out, v, cap) for i, (e, p, v, out, cap) in enumerate(REPORTS)]
    ministry_of = {e[0]: e[1] for e in ENTERPRISES}
    series = figures.plan_vs_reported(targets, reports, ministry_of, version=2)

    expected: dict[str, dict[str, list[Any]]] = {}
    for m in sorted(MINISTRIES):
        exp: dict[str, list[Any]] = {"period": [], "planned": [], "reported": [], "capacity": [], "reporting": []}
        for period in (1, 2, 3):
            planned = reported = 0.0
            capacity = None
            reporting = 0
            for e in [x[0] for x in ENTERPRISES if x[1] == m]:
                mine = [r for r in reports if r.enterprise == e and r.period == period]
                last = max(mine, key=lambda r: r.id) if mine else None
                v = last.version if last is not None and last.version is not None else 2
                planned += targets[v][e]
                if last is not None:
                    reporting += 1
                    reported += last.output
                    if last.capacity is not None:
                        capacity = (capacity or 0.0) + last.capacity
            for k, x in zip(exp, (period, planned, reported, capacity, reporting)):
                exp[k].append(x)
        expected[m] = exp
    assert series == expected
    # spot checks by hand: IND in period 1 planned 120 + 90 (version 1), reported 110 + 91, capacity 150 only
    assert (series["IND"]["planned"][0], series["IND"]["reported"][0], series["IND"]["capacity"][0]) == (210.0, 201.0, 150.0)
    # IND in period 3 (version 2): the corrected report 103.5 counts, not 101
    assert (series["IND"]["planned"][2], series["IND"]["reported"][2]) == (210.0, 183.5)
    # AGR in period 3: kolkhoz-9 did not report, still planned (version 2 by default): 75 + 45
    assert (series["AGR"]["planned"][2], series["AGR"]["reported"][2], series["AGR"]["reporting"][2]) == (120.0, 74.0, 1)
    # SRV period 2: kontora-1 named no version -> version 2's 72; kontora-2 silent -> 41
    assert series["SRV"]["planned"][1] == 72.0 + 41.0

    fig = figures.plan_vs_reported_figure(series, units=UNITS)
    bars, line = fig["data"][:2]
    assert bars["x"] == [1, 2, 3] and line["x"] == [1, 2, 3]
    assert bars["y"] == pytest.approx([sum(series[m]["reported"][i] for m in series) for i in range(3)])
    assert line["y"] == pytest.approx([sum(series[m]["planned"][i] for m in series) for i in range(3)])
    ratio = figures.execution_ratio_figure(series, names=MINISTRIES)
    assert [t["y"][0] for t in ratio["data"]] == pytest.approx(
        [100 * series[m]["reported"][0] / series[m]["planned"][0] for m in sorted(series)])
    # an enterprise's own view: only its reports, with its capacity
    own = figures.plan_vs_reported(targets, reports, {"zavod-2": "zavod-2"}, version=2)
    assert own == {"zavod-2": {"period": [1, 2, 3], "planned": [90.0, 90.0, 80.0], "reported": [91.0, 85.0, 80.0],
                               "capacity": [None, 100.0, 100.0], "reporting": [1, 1, 1]}}
    cap = figures.plan_vs_reported_figure(own, show_capacity=True)["data"][2]
    assert cap["y"] == [None, 100.0, 100.0]


def test_fulfilment_resources_and_prices() -> None:
    products = make_payload(1)["products"]
    groups = {g["group"]: g for g in figures.fulfilment_by_group(products)}
    assert list(groups) == ["AGR", "IND", "SRV"]
    assert groups["AGR"]["fulfilment"] == pytest.approx((80 + 30) / (80 + 40))
    assert (groups["AGR"]["short"], groups["AGR"]["n"], groups["AGR"]["lowest"]) == (1, 2, pytest.approx(0.75))
    assert groups["IND"]["fulfilment"] == pytest.approx(135 / 145)
    assert (groups["SRV"]["fulfilment"], groups["SRV"]["n"], groups["SRV"]["short"]) == (pytest.approx(1.2), 1, 0)
    fig = figures.fulfilment_figure(list(groups.values()), names=MINISTRIES)
    # the lowest on top: last in plotly's order
    assert fig["data"][0]["y"] == ["Services (SRV)", "Heavy industry (IND)", "Agriculture (AGR)"]
    assert fig["data"][0]["x"] == pytest.approx([120.0, 100 * 135 / 145, 100 * 110 / 120])

    res = figures.resources_figure(RESOURCES)["data"][0]
    assert res["x"] == ["labour", "Fixed capital"]  # by name where the row has one; land is unlimited
    assert res["y"] == pytest.approx([100.0, 60.0])
    assert [c[2] for c in res["customdata"]] == [0.8, 0.0]

    top = figures.prices_figure(products, n=3)["data"][0]
    assert top["x"] == [0.9, 1.25, 2.5]  # highest on top (last in plotly's order)
    assert top["y"] == ["Forestry and fishing", "Farms", "Primary metals"]


# ------------------------------------------------------------------------------------------------
# pages


def _get(bureau: Any, path: str, who: str | None, seeded: dict[str, Any], **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {seeded['tokens'][who]}"} if who else {}
    return bureau.client.get(path, headers=headers, follow_redirects=False, **kw)


def _figure(html: str, fig_id: str) -> dict[str, Any] | None:
    m = re.search(rf'<script type="application/json" id="{fig_id}-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1)) if m else None


@pytest.fixture
def seeded(sqlite_bureau: Any) -> dict[str, Any]:
    return seed(sqlite_bureau.app.state.db)


@pytest.fixture
def seeded_both(bureau: Any) -> dict[str, Any]:
    """The hand-made economy on SQLite and (when reachable) PostgreSQL."""
    return seed(bureau.app.state.db)


def test_login_sets_a_strict_httponly_cookie_and_logout_clears_it(sqlite_bureau: Any, seeded: dict[str, Any]) -> None:
    c = sqlite_bureau.client
    r = c.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/login?next=%2Fdashboard"
    r = c.get(f"/dashboard/economies/{seeded['economy_id']}?version=1", follow_redirects=False)
    assert r.status_code == 303 and "next=%2Fdashboard%2Feconomies" in r.headers["location"]
    form = c.get("/dashboard/login")
    assert form.status_code == 200 and 'name="token"' in form.text
    r = c.post("/dashboard/login", data={"token": "gsp_wrong", "next": "/dashboard"}, follow_redirects=False)
    assert r.status_code == 401 and "Unknown or disabled token" in r.text and COOKIE not in r.headers.get("set-cookie", "")
    token = seeded["tokens"]["min-agr"]
    r = c.post("/dashboard/login", data={"token": token, "next": "//evil.example/x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"  # no open redirect
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Path=/" in cookie
    r = c.get("/dashboard")
    assert r.status_code == 200 and "hand-made" in r.text and "min-agr" in r.text
    assert token not in r.text  # the token never comes back in a page
    r = c.post("/dashboard/login", data={"token": token, "next": f"/dashboard/economies/{seeded['economy_id']}"},
               follow_redirects=False)
    assert r.headers["location"] == f"/dashboard/economies/{seeded['economy_id']}"
    r = c.post("/dashboard/logout", follow_redirects=False)
    assert r.status_code == 303 and f'{COOKIE}=""' in r.headers["set-cookie"]
    c.cookies.clear()
    assert c.get("/dashboard", follow_redirects=False).status_code == 303
    # a login posted from another site is refused
    r = c.post("/dashboard/login", data={"token": token}, headers={"Origin": "http://evil.example"},
               follow_redirects=False)
    assert r.status_code == 403


def test_home_lists_economies_jobs_and_open_alerts(sqlite_bureau: Any, seeded: dict[str, Any]) -> None:
    r = _get(sqlite_bureau, "/dashboard", "centre", seeded)
    assert r.status_code == 200
    assert "hand-made" in r.text and "version 2" in r.text and "Running jobs" in r.text
    assert "4 open alerts" in r.text
    r = _get(sqlite_bureau, "/dashboard", "min-agr", seeded)
    assert "2 open alerts" in r.text and "Running jobs" not in r.text  # AGR: kolkhoz-7's and the centre's
    r = _get(sqlite_bureau, "/dashboard", "public", seeded)
    assert "alert" not in r.text.lower() and "version 2" in r.text


def test_an_economy_without_a_published_plan(sqlite_bureau: Any, seeded: dict[str, Any]) -> None:
    with sqlite_bureau.app.state.db.session() as s:
        eco = EconomyRow(name="empty", source="bundled", spec={}, title="", units="")
        s.add(eco)
        s.flush()
        eid = eco.id
    for who in seeded["tokens"]:
        r = _get(sqlite_bureau, f"/dashboard/economies/{eid}", who, seeded)
        assert r.status_code == 200 and "No plan has been published" in r.text, who
        assert _get(sqlite_bureau, f"/dashboard/economies/{eid}?version=1", who, seeded).status_code == 404
    assert "none published" in _get(sqlite_bureau, "/dashboard", "public", seeded).text


def test_planner_sees_the_whole_plan_and_every_ministry(sqlite_bureau: Any, seeded: dict[str, Any]) -> None:
    eid = seeded["economy_id"]
    html = _get(sqlite_bureau, f"/dashboard/economies/{eid}", "centre", seeded).text
    for section in ("fulfilment", "resources", "prices", "flows", "execution", "alerts"):
        assert f'id="{section}"' in html, section
    sankey = _figure(html, "fig-sankey")
    assert sankey["data"][0]["link"]["value"] == [10.0, 40.0, 5.0, 20.0, 60.0, 30.0, 8.0, 15.0]
    ex = _figure(html, "fig-execution")
    assert ex["data"][0]["y"] == pytest.approx([68 + 49 + 110 + 91 + 70 + 35, 71 + 44 + 125 + 85 + 66, 74 + 103.5 + 80 + 72 + 41])
    ratio = _figure(html, "fig-ratio")
    assert len(ratio["data"]) == 3
    assert "Primary metals" in html and "Farms" in html  # prices by name, not bare codes
    assert "million roubles" in html and "1,000" in html  # units, formatted numbers
    assert "Fixed capital" in html and "machine-hours" in html  # resources by name, with their unit
    assert html.count("Acknowledge</button>") == 4
    # an older version by ?version=, a missing one is 404
    v1 = _get(sqlite_bureau, f"/dashboard/economies/{eid}?version=1", "centre", seeded)
    assert v1.status_code == 200 and '<span class="current">1</span>' in v1.text
    assert _get(sqlite_bureau, f"/dashboard/economies/{eid}?version=7", "centre", seeded).status_code == 404
    assert _get(sqlite_bureau, "/dashboard/economies/999", "centre", seeded).status_code == 404
    assert _get(sqlite_bureau, f"/dashboard/economies/{2**70}", "centre", seeded).status_code in (404, 422)


OTHER_ENTERPRISES = {"AGR": ["zavod-1", "zavod-2", "kontora-1", "kontora-2"],
                     "IND": ["kolkhoz-7", "kolkhoz-9", "kontora-1", "kontora-2"]}


@pytest.mark.parametrize(("who", "ministry"), [("min-agr", "AGR"), ("min-ind", "IND")])
def test_a_ministry_sees_only_its_own_reports_directive_and_alerts(
        bureau: Any, seeded_both: dict[str, Any], who: str, ministry: str) -> None:
    seeded = seeded_both
    html = _get(bureau, f"/dashboard/economies/{seeded['economy_id']}", who, seeded).text
    mine = [e[0] for e in ENTERPRISES if e[1] == ministry]
    for e in mine:
        assert e in html
    for e in OTHER_ENTERPRISES[ministry]:
        assert e not in html, e
    ex = _figure(html, "fig-execution")
    targets = {1: {e[0]: e[3] for e in ENTERPRISES}, 2: {e[0]: e[4] for e in ENTERPRISES}}
    reports = [figures.ReportPoint(i + 1, e, p, out, v, cap) for i, (e, p, v, out, cap) in enumerate(REPORTS)]
    own = figures.plan_vs_reported(targets, reports, {e: ministry for e in mine}, version=2)[ministry]
    assert ex["data"][0]["y"] == own["reported"] and ex["data"][1]["y"] == own["planned"]
    assert _figure(html, "fig-ratio") is None
    # the alerts of its ministry, any level; acknowledge buttons only where its level reached
    rows = re.findall(r'<tr data-alert="(\d+)">', html)
    expected = [seeded["alerts"][(level, w)] for level, w, _, m in ALERTS if m == ministry]
    assert sorted(map(int, rows)) == sorted(expected)
    # its directive, not the other ministry's
    assert f"Directive for ministry {MINISTRIES[ministry]}" in html
    other = "IND" if ministry == "AGR" else "AGR"
    assert f"Directive for ministry {MINISTRIES[other]}" not in html


def test_an_enterprise_sees_its_directive_and_only_its_own_reports(sqlite_bureau: Any, seeded: dict[str, Any]) -> None:
    html = _get(sqlite_bureau, f"/dashboard/economies/{seeded['economy_id']}", "ent-k7", seeded).text
    assert "Directive for enterprise kolkhoz-7" in html
    assert "<strong>75.00</strong>" in html  # its target in version 2, capacity 90
    assert "90.00" in html and "Input allocations" in html
    for e in ("kolkhoz-9", "zavod-1", "zavod-2", "kontora-1", "kontora-2"):
        assert e not in html, e
    ex = _figure(html, "fig-execution")
    assert ex["data"][0]["y"] == [68.0, 71.0, 74.0] and ex["data"][1]["y"] == [70.0, 70.0, 75.0]
    assert ex["data"][2]["y"] == [90.0, 88.0, 90.0]  # its reported capacity
    rows = re.findall(r'<tr data-alert="(\d+)">', html)
    assert rows == [str(seeded["alerts"][("enterprise", "kolkhoz-7")])]
    assert "Directive for ministry" not in html


def test_a_viewer_sees_the_published_plan_and_prices_only(sqlite_bureau: Any, seeded: dict[str, Any]) -> None:
    html = _get(sqlite_bureau, f"/dashboard/economies/{seeded['economy_id']}", "public", seeded).text
    for section in ("fulfilment", "resources", "prices", "flows"):
        assert f'id="{section}"' in html
    for section in ("execution", "alerts", "directive", "jobs"):
        assert f'id="{section}"' not in html
    for e in ENTERPRISES:
        assert e[0] not in html


def test_acknowledge_follows_the_level_the_alert_reached(bureau: Any, seeded_both: dict[str, Any]) -> None:
    seeded = seeded_both
    eid, ids, c = seeded["economy_id"], seeded["alerts"], bureau.client

    def ack(who: str, alert: int) -> Any:
        return c.post(f"/dashboard/economies/{eid}/alerts/{alert}/acknowledge",
                      headers={"Authorization": f"Bearer {seeded['tokens'][who]}"}, follow_redirects=False)

    # not visible: another ministry's alert, another enterprise's, anything for a viewer -> 404
    assert ack("min-agr", ids[("ministry", "IND")]).status_code == 404
    assert ack("ent-k7", ids[("enterprise", "zavod-1")]).status_code == 404
    assert ack("public", ids[("enterprise", "kolkhoz-7")]).status_code == 404
    # visible but above the caller's level -> 403 (the centre's alert about AGR)
    assert ack("min-agr", ids[("centre", "centre")]).status_code == 403
    html = _get(bureau, f"/dashboard/economies/{eid}", "min-agr", seeded).text
    row = re.search(rf'<tr data-alert="{ids[("centre", "centre")]}">.*?</tr>', html, re.S).group(0)
    assert "Acknowledge</button>" not in row and "centre acknowledges" in row
    # the enterprise's own alert, by the enterprise; twice says so
    r = ack("ent-k7", ids[("enterprise", "kolkhoz-7")])
    assert r.status_code == 303 and r.headers["location"].endswith("notice=acknowledged#alerts")
    assert ack("ent-k7", ids[("enterprise", "kolkhoz-7")]).headers["location"].endswith("notice=already#alerts")
    page = _get(bureau, f"/dashboard/economies/{eid}?notice=acknowledged", "ent-k7", seeded).text
    assert "Alert acknowledged." in page and "acknowledged</span>" in page
    # the ministry acknowledges its enterprise's alert and its own; the planner the centre's
    assert ack("min-ind", ids[("enterprise", "zavod-1")]).status_code == 303
    assert ack("min-ind", ids[("ministry", "IND")]).status_code == 303
    assert ack("centre", ids[("centre", "centre")]).status_code == 303
    with bureau.app.state.db.sessions() as s:
        assert all(a.acknowledged_at is not None for a in s.query(Alert))
    # a form posted from another site is refused
    r = c.post(f"/dashboard/economies/{eid}/alerts/{ids[('centre', 'centre')]}/acknowledge",
               headers={"Authorization": f"Bearer {seeded['tokens']['centre']}", "Origin": "http://evil.example"},
               follow_redirects=False)
    assert r.status_code == 403


def test_no_page_refers_to_another_host(sqlite_bureau: Any, seeded: dict[str, Any]) -> None:
    eid = seeded["economy_id"]
    pages = [("/dashboard/login", None)]
    for who in seeded["tokens"]:
        pages += [("/dashboard", who), (f"/dashboard/economies/{eid}", who), (f"/dashboard/economies/{eid}?version=1", who),
                  ("/dashboard/economies/999", who)]
    for path, who in pages:
        r = _get(sqlite_bureau, path, who, seeded)
        assert r.status_code in (200, 404), (path, who)
        assert r.headers["content-type"].startswith("text/html")
        hosts = re.findall(r"(?:https?:)?//([A-Za-z0-9.-]+\.[A-Za-z]{2,}|localhost|[\d.]+)(?=[:/\"' ])", r.text)
        assert hosts == [], (path, who, hosts)
        assert not re.search(r"https?://", r.text), (path, who)
        assert "/dashboard/static/plotly.min.js" in r.text or "economies/" not in path or r.status_code == 404


def test_plotly_is_served_by_the_service(sqlite_bureau: Any) -> None:
    c = sqlite_bureau.client
    local = (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    r = c.get("/dashboard/static/plotly.min.js")  # no login needed; httpx asks for gzip and unpacks it
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["content-encoding"] == "gzip" and int(r.headers["content-length"]) < len(local) / 2
    assert r.content == local and len(r.content) > 1_000_000
    assert "max-age=31536000" in r.headers["cache-control"] and r.headers["etag"]
    plain = c.get("/dashboard/static/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and int(plain.headers["content-length"]) == len(local)
    again = c.get("/dashboard/static/plotly.min.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


# ------------------------------------------------------------------------------------------------
# at scale: sums in the database, caps, worst first, names, prices in labour


def _latest_loop(reports: list[tuple[int, str, str, int, int | None, float, float | None]],
                 groups: dict[str, str], targets: dict[int, dict[str, float]], version: int,
                 period: int | None = None) -> dict[str, dict[str, list[Any]]]:
    """The series by a plain loop over (id, enterprise, ministry, period, version, output, capacity)."""
    latest: dict[tuple[str, int], tuple] = {}
    for r in reports:
        if r[1] in groups and (period is None or r[3] == period):
            if (r[1], r[3]) not in latest or r[0] > latest[(r[1], r[3])][0]:
                latest[(r[1], r[3])] = r
    periods = sorted({p for _, p in latest})
    out = {}
    for g in sorted(set(groups.values())):
        series: dict[str, list[Any]] = {"period": [], "planned": [], "reported": [], "capacity": [], "reporting": []}
        for p in periods:
            planned = reported = 0.0
            capacity, reporting = None, 0
            for e in [e for e, x in groups.items() if x == g]:
                r = latest.get((e, p))
                v = r[4] if r is not None and r[4] in targets else version
                planned += targets[v].get(e, targets[version].get(e, 0.0))
                if r is not None:
                    reporting += 1
                    reported += r[5]
                    if r[6] is not None:
                        capacity = (capacity or 0.0) + r[6]
            for k, x in zip(series, (p, planned, reported, capacity, reporting)):
                series[k].append(x)
        out[g] = series
    return out


def _approx_series(got: dict[str, dict[str, list[Any]]], want: dict[str, dict[str, list[Any]]]) -> None:
    assert list(got) == list(want)
    for g in want:
        assert got[g]["period"] == want[g]["period"] and got[g]["reporting"] == want[g]["reporting"], g
        for k in ("planned", "reported"):
            assert got[g][k] == pytest.approx(want[g][k], rel=1e-12, abs=1e-9), (g, k)
        assert [c is None for c in got[g]["capacity"]] == [c is None for c in want[g]["capacity"]], g
        assert [c or 0.0 for c in got[g]["capacity"]] == pytest.approx([c or 0.0 for c in want[g]["capacity"]])


def test_report_sums_in_the_database_against_a_plain_loop(bureau: Any, seeded_both: dict[str, Any]) -> None:
    import random

    from gosplan.service.dashboard import pages

    db, eid = bureau.app.state.db, seeded_both["economy_id"]
    rng = random.Random(7)
    ministry_of = {e[0]: e[1] for e in ENTERPRISES}
    with db.session() as s:
        uid = s.scalar(select(User.id).where(User.name == "centre"))
        for i in range(400):  # more periods, corrections, versions 1, 2 and none
            e = rng.choice(ENTERPRISES)[0]
            cap = None if rng.random() < 0.3 else rng.uniform(50, 150)
            s.add(Report(economy_id=eid, enterprise=e, ministry=ministry_of[e], period=rng.randint(0, 12),
                         version=rng.choice([1, 2, None]), output=rng.uniform(0, 140), capacity=cap,
                         user_id=uid, idempotency_key=f"x{i}", body_hash="0" * 64))
    with db.sessions() as s:
        rows = [(r.id, r.enterprise, r.ministry, r.period, r.version, r.output, r.capacity)
                for r in s.scalars(select(Report).where(Report.economy_id == eid))]
        targets = {1: {e[0]: e[3] for e in ENTERPRISES}, 2: {e[0]: e[4] for e in ENTERPRISES}}
        for version in (1, 2):
            # by ministry, as the planner
            got = pages.report_series(s, eid, ministry_of, {version: targets[version]}, version=version,
                                      load=lambda v: targets.get(v))
            _approx_series(got, _latest_loop(rows, ministry_of, targets, version))
            # all together, one period, some ministries only
            everyone = dict.fromkeys(ministry_of, "all")
            got = pages.report_series(s, eid, everyone, dict(targets), version=version, by=None)
            _approx_series(got, _latest_loop(rows, everyone, targets, version))
            got = pages.report_series(s, eid, ministry_of, dict(targets), version=version, period=3)
            _approx_series(got, _latest_loop(rows, ministry_of, targets, version, period=3))
            got = pages.report_series(s, eid, ministry_of, dict(targets), version=version, only=["IND", "SRV"])
            _approx_series(got, _latest_loop(rows, {e: m for e, m in ministry_of.items() if m != "AGR"},
                                             targets, version))
            # one ministry's enterprises, as its ministry
            agr = {e: e for e, m in ministry_of.items() if m == "AGR"}
            got = pages.report_series(s, eid, agr, dict(targets), version=version, by="enterprise", ministry="AGR")
            _approx_series(got, _latest_loop(rows, agr, targets, version))
        # a version whose targets are not known is held to the default one
        got = pages.report_series(s, eid, ministry_of, {2: targets[2]}, version=2)
        _approx_series(got, _latest_loop(rows, ministry_of, {2: targets[2]}, 2))
        # the sums against figures.plan_vs_reported, the loop the page used before
        points = [figures.ReportPoint(r[0], r[1], r[3], r[5], r[4], r[6]) for r in rows]
        _approx_series(pages.report_series(s, eid, ministry_of, dict(targets), version=2),
                       figures.plan_vs_reported(targets, points, ministry_of, version=2))


WIDE = 40  # ministries, one product and one enterprise each


def seed_wide(db: Any, n_alerts: int = 60) -> dict[str, Any]:
    """An economy of WIDE ministries: ministry i's product is fulfilled to 100 % for even i, to
    (50 + i) % for odd i; its enterprise reports (60 + i) % of its target in period 1 (none for i % 7 == 3);
    alerts at the three levels in rotation, one in five acknowledged."""
    out: dict[str, Any] = {"tokens": {}}
    with db.session() as s:
        planner, token = create_user(s, "wide-centre", "planner")
        out["tokens"]["centre"] = token
        eco = EconomyRow(name="wide", source="bundled", spec={}, title="", units="roubles",
                         n_products=WIDE, n_ministries=WIDE, n_enterprises=WIDE)
        s.add(eco)
        s.flush()
        out["economy_id"] = eid = eco.id
        products, enterprises = [], []
        for i in range(WIDE):
            m, final = f"M{i:02d}", (100.0 if i % 2 == 0 else 50.0 + i)
            s.add(Party(economy_id=eid, kind="ministry", label=m, name=f"Ministry of things {i}"))
            s.add(Party(economy_id=eid, kind="enterprise", label=str(500 + i), ministry=m, product=f"P{i}",
                        name=f"Oilseed farming #{i + 1}"))
            products.append({"product": f"P{i}", "name": f"Product {i}", "ministry": m, "gross_output": 100.0 + i,
                             "final": final, "target": 100.0, "fulfilment": final / 100.0, "price": 0.01 * (i + 1)})
            enterprises.append({"enterprise": str(500 + i), "ministry": m, "product": f"P{i}", "target": 100.0,
                                "capacity": 120.0, "inputs": []})
        payload = {"kind": "plan", "status": "optimal", "message": "", "summary": {"labour_unit": "hours"},
                   "products": products, "enterprises": enterprises, "flows": [],
                   "resources": [{"resource": "labour", "available": 10.0, "used": 10.0, "price": 0.02,
                                  "binding": True}],
                   "ministries": [{"ministry": f"M{i:02d}", "gross_output": 100.0 + i, "labour": 1.0,
                                   "n_products": 1, "n_enterprises": 1} for i in range(WIDE)]}
        draft = Draft(economy_id=eid, kind="plan", summary={}, payload=pack(payload))
        s.add(draft)
        s.flush()
        s.add(PlanVersion(economy_id=eid, version=1, draft_id=draft.id, summary={}))
        for i in range(WIDE):
            if i % 7 != 3:
                s.add(Report(economy_id=eid, enterprise=str(500 + i), ministry=f"M{i:02d}", period=1, version=1,
                             output=60.0 + i, capacity=None, user_id=planner.id, idempotency_key=f"w{i}",
                             body_hash="0" * 64))
        levels = ("enterprise", "ministry", "centre")
        for k in range(n_alerts):
            i, level = k % WIDE, levels[k % 3]
            who = {"enterprise": str(500 + i), "ministry": f"M{i:02d}", "centre": "centre"}[level]
            s.add(Alert(economy_id=eid, period=k // 3, level=level, who=who,
                        enterprise=str(500 + i) if level == "enterprise" else None, ministry=f"M{i:02d}",
                        indicator="output", kind="step", probability=0.9, raised=k // 3, resolved=None,
                        acknowledged_at=utcnow() if k % 5 == 0 else None))
    return out


def _cells(html: str, table_id: str, col: int = 0) -> list[str]:
    m = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S)
    if m is None:
        return []
    rows = re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S)
    return [re.sub(r"<[^>]+>", "", re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)[col]).strip() for r in rows]


def test_a_wide_economy_shows_the_worst_first_capped_with_the_rest_reachable(sqlite_bureau: Any) -> None:
    from gosplan.service.dashboard import pages

    seeded = seed_wide(sqlite_bureau.app.state.db)
    eid = seeded["economy_id"]
    html = _get(sqlite_bureau, f"/dashboard/economies/{eid}", "centre", seeded).text
    # period 1 by ministry: the lowest share of plan first (silent ones at 0 %, the largest plan... all 100)
    silent = [i for i in range(WIDE) if i % 7 == 3]
    order = sorted(range(WIDE), key=lambda i: (0.0 if i in silent else (60.0 + i) / 100.0, i))
    shown = _cells(html, "execution-groups") + _cells(html, "execution-groups-more")
    assert shown == [f"Ministry of things {i} (M{i:02d})" + (" no report" if i in silent else "") for i in order]
    assert len(_cells(html, "execution-groups")) == pages.TOP
    assert f"Show all {WIDE} ministries" in html
    assert f"{WIDE} of {WIDE} ministries below plan, {len(silent)} of them without any report for period 1" in html
    # the share-of-plan chart: the RATIO_LINES furthest behind, in that order
    ratio = _figure(html, "fig-ratio")
    assert [t["name"] for t in ratio["data"]] == [f"Ministry of things {i} (M{i:02d})" for i in order[:pages.RATIO_LINES]]
    # fulfilment: only the ministries below 100 %, the lowest on top, at most TOP of them
    behind = [i for i in range(WIDE) if i % 2 == 1]
    fig = _figure(html, "fig-fulfilment")
    assert fig["data"][0]["y"] == [f"Ministry of things {i} (M{i:02d})" for i in behind[:pages.TOP]][::-1]
    assert f"{len(behind)} of {WIDE} ministries below 100 %" in html
    ministries = _cells(html, "ministries-table") + _cells(html, "ministries-table-more")
    assert ministries == [f"Ministry of things {i} (M{i:02d})" for i in behind + [i for i in range(WIDE) if i % 2 == 0][::-1]]
    # alerts: 25 a page, open first, centre > ministry > enterprise, newest first; names, not codes
    with sqlite_bureau.app.state.db.sessions() as s:
        alerts = s.scalars(select(Alert).where(Alert.economy_id == eid)).all()
        rank = {"centre": 0, "ministry": 1, "enterprise": 2}
        want = [a.id for a in sorted(alerts, key=lambda a: (a.acknowledged_at is not None, rank[a.level],
                                                            -a.period, -a.id))]
    got: list[int] = []
    for page in (1, 2, 3):
        h = _get(sqlite_bureau, f"/dashboard/economies/{eid}?alerts_page={page}", "centre", seeded).text
        got += [int(x) for x in re.findall(r'<tr data-alert="(\d+)">', h)]
        assert f"page {page} of 3" in h
    assert got == want and len(re.findall(r'<tr data-alert="', html)) == pages.ALERTS_PER_PAGE
    n_open = sum(1 for a in alerts if a.acknowledged_at is None)
    assert f"{n_open} open" in html and "12 acknowledged" in html
    # the last page is shown for a page beyond it
    assert "page 3 of 3" in _get(sqlite_bureau, f"/dashboard/economies/{eid}?alerts_page=99", "centre", seeded).text
    rows = re.findall(r'<tr data-alert="\d+">(.*?)</tr>', html, re.S)
    centre = [r for r in rows if ">centre<" in r]
    assert centre and all("the centre" in r for r in centre)
    ent_page = _get(sqlite_bureau, f"/dashboard/economies/{eid}?alerts_page=3", "centre", seeded).text
    ent = next(r for r in re.findall(r'<tr data-alert="\d+">(.*?)</tr>', ent_page, re.S) if ">enterprise<" in r)
    who = re.sub(r"<[^>]+>", "", re.search(r'<td class="who">(.*?)</td>', ent, re.S).group(1))
    assert re.fullmatch(r"Oilseed farming #\d+ \(5\d\d\)", who.strip()), who
    assert "Ministry of things" in re.findall(r"<td[^>]*>(.*?)</td>", ent, re.S)[4]  # the ministry by name
    # acknowledging from page 2 comes back to page 2
    h2 = _get(sqlite_bureau, f"/dashboard/economies/{eid}?alerts_page=2", "centre", seeded).text
    first = re.search(r'<tr data-alert="(\d+)">', h2).group(1)
    r = sqlite_bureau.client.post(f"/dashboard/economies/{eid}/alerts/{first}/acknowledge?alerts_page=2",
                                  headers={"Authorization": f"Bearer {seeded['tokens']['centre']}"},
                                  follow_redirects=False)
    assert r.headers["location"].endswith("notice=acknowledged&alerts_page=2#alerts")


def test_every_ministry_at_its_targets_is_one_line(sqlite_bureau: Any, seeded: dict[str, Any]) -> None:
    db = sqlite_bureau.app.state.db
    payload = make_payload(2)
    for r in payload["products"]:
        if r["target"]:
            r["final"], r["fulfilment"] = r["target"], 1.0
    with db.session() as s:
        draft = Draft(economy_id=seeded["economy_id"], kind="plan", summary={}, payload=pack(payload))
        s.add(draft)
        s.flush()
        s.add(PlanVersion(economy_id=seeded["economy_id"], version=3, draft_id=draft.id, summary={}))
    html = _get(sqlite_bureau, f"/dashboard/economies/{seeded['economy_id']}", "centre", seeded).text
    assert "All 3 ministries with targets meet them" in html and _figure(html, "fig-fulfilment") is None


def test_prices_relative_to_labour(sqlite_bureau: Any, seeded: dict[str, Any]) -> None:
    products = make_payload(2)["products"]
    assert figures.labour_price(RESOURCES) == 0.8
    assert figures.labour_price([{"resource": "labour", "price": 0.0}]) is None
    fig = figures.prices_figure(products, n=3, per_labour=0.8, labour_unit="hours")["data"][0]
    assert fig["x"] == pytest.approx([0.9 / 0.8, 1.25 / 0.8, 2.5 / 0.8])  # 1.125, 1.5625, 3.125 hours a unit
    assert [c[3] for c in fig["customdata"]] == [0.9, 1.25, 2.5]  # the raw duals, in the hover
    html = _get(sqlite_bureau, f"/dashboard/economies/{seeded['economy_id']}", "centre", seeded).text
    assert _figure(html, "fig-prices")["data"][0]["x"][-1] == pytest.approx(3.125)
    assert "labour per unit of product" in html and "Labour per unit" in html
    table = re.search(r'<section id="prices".*?</section>', html, re.S).group(0)
    first = re.findall(r"<td[^>]*>(.*?)</td>", re.search(r"<tbody><tr>(.*?)</tr>", table, re.S).group(1), re.S)
    assert first[0].startswith("Primary metals") and "Heavy industry" in first[1]
    assert (first[2], first[3]) == ("3.125", "2.5000")  # per labour, raw
    res = re.search(r'<section id="resources".*?</section>', html, re.S).group(0)
    assert "÷ labour" in res and ">1.000<" in res  # labour itself: 1
    # an enterprise's inputs in labour too
    page = _get(sqlite_bureau, f"/dashboard/economies/{seeded['economy_id']}", "ent-k7", seeded).text
    assert "Labour per unit" in page and f"{1.25 / 0.8:.3f}"[:4] in page
    # labour not priced: raw duals only, said so
    payload = make_payload(2)
    payload["resources"] = [{**RESOURCES[0], "price": 0.0, "binding": False}]
    with sqlite_bureau.app.state.db.session() as s:
        draft = Draft(economy_id=seeded["economy_id"], kind="plan", summary={}, payload=pack(payload))
        s.add(draft)
        s.flush()
        s.add(PlanVersion(economy_id=seeded["economy_id"], version=3, draft_id=draft.id, summary={}))
    html = _get(sqlite_bureau, f"/dashboard/economies/{seeded['economy_id']}", "centre", seeded).text
    assert "Labour per unit" not in html and "labour's shadow price is zero here" in html


def test_sankey_draws_the_largest_ministries_and_merges_the_rest() -> None:
    flows = [{"source": f"M{i}", "target": f"M{(i + 1) % 30}", "value": float(i + 1)} for i in range(30)]
    trace = figures.sankey_figure(flows, max_nodes=6)["data"][0]
    labels = trace["node"]["label"]
    assert len(labels) == 12 and labels[5] == "25 other ministries"
    # the five with the largest flows in and out: M29 (30 + 29), M28 (29 + 28), ..., M25
    assert set(labels[:5]) == {"M25", "M26", "M27", "M28", "M29"}
    assert sum(trace["link"]["value"]) == pytest.approx(sum(range(1, 31)))
