"""The dashboard in a real browser: Playwright driving Debian's Chromium against a live server.

A uvicorn server runs in a thread on a free port with a temporary SQLite database. The economy
is a real planned one, made through the API as a client would: us-2022 with synthetic
enterprises loaded, planned as a job, published; enterprises' reports for three periods; a
simulation job for Cyberstride's alerts, plus one alert inserted for the acknowledge button.
Then each role logs in through the form and looks at its pages. Screenshots go to ``tmp_path``
(and to ``$GOSPLAN_SCREENSHOTS`` when set).

Chromium: ``$GOSPLAN_CHROMIUM``, else ``chromium`` on the PATH (``.ci/run`` installs Debian's
when it can); without one, or without the ``playwright`` package, these tests are skipped
saying so.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service extra is not installed (pip install '.[service]')")
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    path = os.environ.get("GOSPLAN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return path if path and os.access(path, os.X_OK) else None


# ------------------------------------------------------------------------------------------------
# a live server with a real planned economy


class Live:
    """The running server: its base URL, the application, and the seeded data."""

    def __init__(self, base: str, app: Any):
        self.base, self.app = base, app
        self.tokens: dict[str, str] = {}
        self.data: dict[str, Any] = {}

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def _serve(app: Any) -> tuple[str, Any, threading.Thread]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="uvicorn")
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def _seed(live: Live) -> None:
    import httpx

    from gosplan.service.auth import create_user
    from gosplan.service.models import Alert

    db = live.app.state.db
    with db.session() as s:
        for name, role, kw in [("centre", "planner", {}), ("public", "viewer", {})]:
            live.tokens[name] = create_user(s, name, role, **kw)[1]
    with httpx.Client(base_url=live.base, timeout=120) as c:
        planner = live.headers("centre")

        def wait(job_id: int) -> dict[str, Any]:
            deadline = time.monotonic() + 300
            while True:
                job = c.get(f"/api/v1/jobs/{job_id}", headers=planner).json()
                if job["state"] in ("done", "failed", "cancelled"):
                    assert job["state"] == "done", job
                    return job
                assert time.monotonic() < deadline, job
                time.sleep(0.1)

        r = c.post("/api/v1/economies", headers=planner, json={
            "name": "us-2022-browser", "bundled": "us-2022", "enterprises_per_product": 2.0, "seed": 0})
        assert r.status_code == 201, r.text
        eco = r.json()
        r = c.post(f"/api/v1/economies/{eco['id']}/plans", headers=planner, json={"objective": "fulfilment"})
        assert r.status_code == 202, r.text
        job = wait(r.json()["id"])
        r = c.post(f"/api/v1/drafts/{job['draft_id']}/publish", headers=planner, json={"base_version": 0})
        assert r.status_code == 201, r.text
        version = r.json()["version"]
        enterprises = c.get(f"/api/v1/economies/{eco['id']}/enterprises", headers=planner,
                            params={"limit": 10_000}).json()
        targets = {}
        for e in enterprises:
            d = c.get(f"/api/v1/economies/{eco['id']}/versions/{version}/directives/enterprises/{e['enterprise']}",
                      headers=planner)
            assert d.status_code == 200, d.text
            targets[e["enterprise"]] = d.json()
        # reports: periods 1-3, every enterprise but a few, output around the target
        reports = []
        for period in (1, 2, 3):
            for i, e in enumerate(enterprises):
                if (i + period) % 11 == 0:
                    continue  # some enterprises do not report
                t = targets[e["enterprise"]]["target"]
                body = {"enterprise": e["enterprise"], "period": period, "version": version,
                        "output": round(t * (0.85 + 0.2 * (0.5 + 0.5 * math.sin(i + 2 * period))), 3),
                        "capacity": round(targets[e["enterprise"]]["capacity"], 3)}
                r = c.post(f"/api/v1/economies/{eco['id']}/reports", json=body,
                           headers={**planner, "Idempotency-Key": uuid.uuid4().hex})
                assert r.status_code == 201, r.text
                reports.append(body)
        r = c.post(f"/api/v1/economies/{eco['id']}/simulations", headers=planner,
                   json={"regime": "command", "periods": 6, "seed": 0})
        assert r.status_code == 202, r.text
        wait(r.json()["id"])
    # the users of two ministries and one enterprise of the first
    by_ministry: dict[str, list[str]] = defaultdict(list)
    for e in enterprises:
        by_ministry[e["ministry"]].append(e["enterprise"])
    m1, m2 = sorted(by_ministry, key=lambda m: (-len(by_ministry[m]), m))[:2]
    firm = by_ministry[m1][0]
    with db.session() as s:
        live.tokens["ministry-1"] = create_user(s, "ministry-1", "ministry", ministry=m1)[1]
        live.tokens["ministry-2"] = create_user(s, "ministry-2", "ministry", ministry=m2)[1]
        live.tokens["firm"] = create_user(s, "firm", "enterprise", enterprise=firm)[1]
        alert = Alert(economy_id=eco["id"], period=3, level="enterprise", who=by_ministry[m1][1],
                      enterprise=by_ministry[m1][1], ministry=m1, indicator="output", kind="trend",
                      probability=0.97, raised=3, resolved=None)
        s.add(alert)
        s.flush()
        alert_id = alert.id
    live.data = {"economy": eco, "version": version, "enterprises": enterprises, "targets": targets,
                 "reports": reports, "by_ministry": by_ministry, "m1": m1, "m2": m2, "firm": firm,
                 "alert": alert_id}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    if chromium_path() is None:
        if os.environ.get("GOSPLAN_CHROMIUM"):
            pytest.skip(f"GOSPLAN_CHROMIUM={os.environ['GOSPLAN_CHROMIUM']} is not an executable file")
        pytest.skip("no Chromium: install Debian's (apt-get install chromium; .ci/run does when it is root) "
                    "or set GOSPLAN_CHROMIUM to a Chromium binary")
    from gosplan.service import Settings, create_app

    db = tmp_path_factory.mktemp("browser") / "bureau.sqlite"
    app = create_app(Settings(db_url=f"sqlite:///{db}"))
    base, server, thread = _serve(app)
    try:
        live = Live(base, app)
        _seed(live)
        yield live
    finally:
        server.should_exit = True
        thread.join(60)


@pytest.fixture(scope="module")
def browser(live: Live) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


class Tab:
    """A page in a fresh browser context, recording every request and console error."""

    def __init__(self, browser: Any, live: Live, shots: Path):
        self.live, self.shots = live, shots
        self.context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=live.base)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def login(self, who: str, start: str = "/dashboard", shot: str | None = None) -> None:
        page = self.page
        page.goto(start)
        assert "/dashboard/login" in page.url  # not logged in yet: sent to the form
        page.fill("#token", self.live.tokens[who])
        if shot:
            self.shot(shot)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url.startswith(self.live.base + start), page.url

    def charts(self, n: int) -> None:
        self.page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {n}", timeout=30_000)

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        extra = os.environ.get("GOSPLAN_SCREENSHOTS")
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(extra) / path.name)
        return path

    def close(self) -> None:
        # nothing but this server was asked for anything, and no script failed
        foreign = [u for u in self.requests if not u.startswith(self.live.base + "/")]
        assert foreign == [], foreign
        assert self.errors == [], self.errors
        self.context.close()


@pytest.fixture
def tab(browser: Any, live: Live, tmp_path: Path) -> Iterator[Any]:
    opened: list[Tab] = []

    def make() -> Tab:
        t = Tab(browser, live, tmp_path)
        opened.append(t)
        return t

    yield make
    for t in opened:
        t.close()


def all_charts(page: Any) -> int:
    """How many charts the page has (each drawn by plotly.js once loaded)."""
    return page.locator("[data-figure]").count()


def _plot_data(page: Any, div: str) -> list[dict[str, Any]]:
    return page.evaluate(f"Array.from(document.getElementById('{div}').data).map(t => ({{x: t.x, y: t.y}}))")


# ------------------------------------------------------------------------------------------------


def test_planner_sees_the_plan_overview_with_its_charts(tab: Any, live: Live) -> None:
    t = tab()
    t.login("centre")
    page = t.page
    assert page.locator("text=us-2022-browser").count() >= 1
    t.shot("planner-home")
    with page.expect_navigation():
        page.click("text=us-2022-browser")
    # resources, prices, Sankey, plan against reports, share by ministry; fulfilment by ministry as a
    # chart of those below 100 %, or one line when every ministry meets its targets
    t.charts(all_charts(page))
    for div in ("fig-resources", "fig-prices", "fig-sankey", "fig-execution", "fig-ratio"):
        assert page.locator(f"#{div}.js-plotly-plot").count() == 1, div
    assert page.locator("#fig-fulfilment.js-plotly-plot, #fulfilment-all").count() == 1
    links = page.evaluate("document.getElementById('fig-sankey').data[0].link.value.length")
    assert links > 17
    page.wait_for_selector("#fig-sankey .sankey-link", state="attached")
    assert page.locator("#fig-sankey .sankey-link").count() == links
    linked = page.evaluate("(l => new Set(l.source.concat(l.target)).size)(document.getElementById('fig-sankey').data[0].link)")
    assert 17 < linked <= 2 * 17
    assert page.locator("#fig-sankey .sankey-node").count() == linked  # every ministry with a flow drawn
    # the totals drawn are the reports' sums
    ex = _plot_data(page, "fig-execution")
    reported = defaultdict(float)
    for r in live.data["reports"]:
        reported[r["period"]] += r["output"]
    assert ex[0]["x"] == [1, 2, 3]
    assert ex[0]["y"] == pytest.approx([reported[p] for p in (1, 2, 3)], rel=1e-9)
    planned = sum(d["target"] for d in live.data["targets"].values())
    assert ex[1]["y"] == pytest.approx([planned] * 3, rel=1e-9)
    # prices by products' names
    assert page.locator("#prices table tbody tr").count() == 15
    assert page.locator("#alerts tr[data-alert]").count() >= 1
    t.shot("planner-overview")


def test_a_ministry_sees_only_its_own_data(tab: Any, live: Live) -> None:
    d = live.data
    eid = d["economy"]["id"]
    t = tab()
    t.login("ministry-1", f"/dashboard/economies/{eid}")
    page = t.page
    t.charts(all_charts(page))
    assert all_charts(page) >= 4
    assert page.locator("#fig-ratio").count() == 0  # no other ministry's line
    mine = set(d["by_ministry"][d["m1"]])
    ex = _plot_data(page, "fig-execution")
    reported = defaultdict(float)
    for r in d["reports"]:
        if r["enterprise"] in mine:
            reported[r["period"]] += r["output"]
    assert ex[0]["y"] == pytest.approx([reported[p] for p in (1, 2, 3)], rel=1e-9)
    assert ex[1]["y"] == pytest.approx([sum(d["targets"][e]["target"] for e in mine)] * 3, rel=1e-9)
    # the enterprises listed are its own
    # (the first ones in the table, the rest behind "show all"), by name
    shown = page.eval_on_selector_all(
        "#execution-enterprises tbody td[data-enterprise], #execution-enterprises-more tbody td[data-enterprise]",
        "cells => cells.map(c => c.dataset.enterprise)")
    assert shown and set(shown) <= mine and len(shown) == len(mine)
    assert page.locator("#execution-enterprises tbody tr").count() <= 20
    names = page.eval_on_selector_all("#execution-enterprises tbody td[data-enterprise]",
                                      "cells => cells.map(c => c.textContent)")
    assert all("#" in n for n in names), names  # "Product name #k (label)", not a bare label
    listed = page.eval_on_selector_all("#directive-enterprises tbody td[data-enterprise]",
                                       "cells => cells.map(c => c.dataset.enterprise)")
    assert set(listed) == mine
    # the alerts are those the API gives it
    import httpx

    api = httpx.get(f"{live.base}/api/v1/economies/{eid}/alerts", headers=live.headers("ministry-1")).json()
    rows = page.eval_on_selector_all("#alerts tr[data-alert]", "rows => rows.map(r => +r.dataset.alert)")
    assert sorted(rows) == sorted(a["id"] for a in api) and all(a["ministry"] == d["m1"] for a in api)
    t.shot("ministry-overview")
    # the other ministry's page shows other numbers
    t2 = tab()
    t2.login("ministry-2", f"/dashboard/economies/{eid}")
    t2.charts(all_charts(t2.page))
    other = set(d["by_ministry"][d["m2"]])
    ex2 = _plot_data(t2.page, "fig-execution")
    assert ex2[1]["y"] == pytest.approx([sum(d["targets"][e]["target"] for e in other)] * 3, rel=1e-9)
    assert ex2[1]["y"] != ex[1]["y"]


def test_the_acknowledge_button(tab: Any, live: Live) -> None:
    import httpx

    d = live.data
    eid = d["economy"]["id"]
    t = tab()
    t.login("ministry-1", f"/dashboard/economies/{eid}")
    page = t.page
    row = page.locator(f'tr[data-alert="{d["alert"]}"]')
    assert row.locator("button", has_text="Acknowledge").count() == 1
    with page.expect_navigation():
        row.locator("button", has_text="Acknowledge").click()
    assert "notice=acknowledged" in page.url
    assert page.locator(".notice.ok", has_text="Alert acknowledged.").count() == 1
    row = page.locator(f'tr[data-alert="{d["alert"]}"]')
    assert row.locator("button").count() == 0 and "acknowledged" in row.inner_text()
    api = httpx.get(f"{live.base}/api/v1/economies/{eid}/alerts", headers=live.headers("centre")).json()
    (mine,) = [a for a in api if a["id"] == d["alert"]]
    assert mine["acknowledged"]


def test_an_enterprise_sees_its_directive_and_its_reports(tab: Any, live: Live) -> None:
    d = live.data
    t = tab()
    t.login("firm", f"/dashboard/economies/{d['economy']['id']}")
    page = t.page
    t.charts(all_charts(page))  # its inputs, its reports, and the published plan's three or four
    assert all_charts(page) >= 5
    assert "Directive for enterprise" in page.inner_text("#directive")
    ex = _plot_data(page, "fig-execution")
    own = [r for r in d["reports"] if r["enterprise"] == d["firm"]]
    assert ex[0]["x"] == [r["period"] for r in own]
    assert ex[0]["y"] == pytest.approx([r["output"] for r in own])
    assert ex[2]["y"] == pytest.approx([r["capacity"] for r in own])  # its reported capacity
    assert page.locator("#fig-ratio").count() == 0
    t.shot("enterprise-overview")


def test_a_viewer_sees_the_plan_without_reports_or_alerts(tab: Any, live: Live) -> None:
    t = tab()
    t.login("public", f"/dashboard/economies/{live.data['economy']['id']}", shot="login")
    page = t.page
    t.charts(all_charts(page))
    assert all_charts(page) >= 3
    for section in ("execution", "alerts", "directive"):
        assert page.locator(f"#{section}").count() == 0
    # logging out ends the session
    with page.expect_navigation():
        page.click("text=Log out")
    assert "/dashboard/login" in page.url
    page.goto("/dashboard")
    assert "/dashboard/login" in page.url
