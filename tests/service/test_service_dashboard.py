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

pytest.importorskip("fastapi", reason="the service extra is not installed (pip install 'gosplan[service]')")

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
    pack,
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
             {"resource": "capital", "available": 500.0, "used": 300.0, "price": 0.0, "binding": False},
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
    assert res["x"] == ["labour", "capital"]  # land is unlimited
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
