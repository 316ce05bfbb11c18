"""Every endpoint refuses other parties' objects, and no response carries another party's data.

:data:`ROUTES` is an explicit table of every route of the application (the JSON API, the
dashboard, FastAPI's own pages) with what each kind of caller gets when it asks for objects
that belong to another party: another enterprise's directive, report or alert, another
ministry's directive or aggregate, drafts and jobs (planners' only). A route added to the
application without a line here fails :func:`test_every_route_is_in_the_table`, so a new
endpoint cannot ship without its access rule being written down and tested.

Callers: ``viewer``; ``ministry`` (min-food-supply, asking for min-heavy-industry's objects);
``enterprise`` (bakery-5, of another ministry, asking for ironworks-7's); ``neighbour``
(colliery-3, of ironworks-7's own ministry); ``anonymous`` (no token). Every response, whatever
its status, is searched for the labels and numbers of the parties the caller may not see.

Also here: tokens never appear in any log record or response body, on success, on failed
logins, and on requests that end in a 500.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from test_service_reports import MINISTRIES, headers, ministry_output, post_report, seed

ACTORS = ("viewer", "ministry", "enterprise", "neighbour", "anonymous")
REFUSED = frozenset({403, 404})
OK = frozenset({200})
TO_LOGIN = frozenset({303})  # the dashboard sends people without a token to its login page
ORIGIN = {"Origin": "http://testserver"}

#: Numbers written for each enterprise (report output, capacity); directive targets come from MINISTRIES.
REPORTED = {"ironworks-7": (9876.125, 11111.5), "colliery-3": (7777.625, 8888.5), "bakery-5": (5555.375, 6666.5)}


def _forms(v: float) -> list[str]:
    """How a number may be written in JSON or on a page."""
    return sorted({repr(v), f"{v:,.2f}", f"{v:,.0f}", f"{v:.2f}"})


def secrets_of(enterprise: str) -> set[str]:
    target = next(t for es in MINISTRIES.values() for e, _, t in es if e == enterprise)
    out = {enterprise}
    for v in (target, 2 * target, *REPORTED[enterprise]):
        out.update(_forms(v))
    return out


MINISTRY_SECRETS = {m: set(_forms(ministry_output(m))) for m in MINISTRIES}
ALL_ENTERPRISES = [e for es in MINISTRIES.values() for e, _, _ in es]


_NUMBER = re.compile(r"[\d.,]+")


def shows(text: str, secret: str) -> bool:
    """``secret`` in ``text``: a number only where it stands alone, not inside a longer run of
    digits or letters (a response's content hash or timestamp carries "678", colliery-3's target
    rounded, one time in a few dozen), a name anywhere."""
    if not _NUMBER.fullmatch(secret):
        return secret in text
    return re.search(rf"(?<![0-9A-Za-z.,]){re.escape(secret)}(?![0-9A-Za-z]|[.,]\d)", text) is not None


def forbidden_strings(actor: str) -> set[str]:
    """What ``actor`` must never be shown."""
    visible_enterprises = {"ministry": {"bakery-5"}, "enterprise": {"bakery-5"}, "neighbour": {"colliery-3"}}.get(actor, set())
    visible_ministries = {"ministry": {"min-food-supply"}}.get(actor, set())
    out: set[str] = set()
    for e in ALL_ENTERPRISES:
        if e not in visible_enterprises:
            out |= secrets_of(e)
    for m, s in MINISTRY_SECRETS.items():
        if m not in visible_ministries:
            out |= s
    return out


# --- the table -----------------------------------------------------------------------------------

def rule(viewer: frozenset[int], ministry: frozenset[int], enterprise: frozenset[int],
         neighbour: frozenset[int] | None = None, anonymous: frozenset[int] = frozenset({401}), *,
         json: Any = None, query: dict | None = None, headers: dict | None = None,
         check: bool = True) -> dict[str, Any]:
    return {"status": {"viewer": viewer, "ministry": ministry, "enterprise": enterprise,
                       "neighbour": enterprise if neighbour is None else neighbour, "anonymous": anonymous},
            "json": json, "query": query or {}, "headers": headers or {}, "check": check}


def everyone(statuses: frozenset[int], **kw: Any) -> dict[str, Any]:
    return rule(statuses, statuses, statuses, **kw)


def planner_only(**kw: Any) -> dict[str, Any]:
    return rule(frozenset({403}), frozenset({403}), frozenset({403}), **kw)


def public(**kw: Any) -> dict[str, Any]:
    """Served to anyone (no party's objects involved): any status below 500, nothing leaked."""
    anything = frozenset(range(200, 500))
    return rule(anything, anything, anything, anonymous=anything, **kw)


def page(statuses: frozenset[int] = OK, **kw: Any) -> dict[str, Any]:
    return rule(statuses, statuses, statuses, anonymous=TO_LOGIN, **kw)


V = "/api/v1/economies/{economy_id}/versions/{version}"
REPORT_BODY = {"enterprise": "ironworks-7", "period": 0, "output": 1.0}

ROUTES: dict[tuple[str, str], dict[str, Any]] = {
    # FastAPI's and the service's own
    ("GET", "/openapi.json"): public(),
    ("GET", "/docs"): public(),
    ("GET", "/docs/oauth2-redirect"): public(),
    ("GET", "/redoc"): public(),
    ("GET", "/healthz"): public(),
    # users
    ("GET", "/api/v1/me"): everyone(OK),
    # economies (public to every logged-in user; enterprises scoped)
    ("GET", "/api/v1/economies"): everyone(OK),
    ("POST", "/api/v1/economies"): planner_only(json={"name": "mine", "bundled": "us-2022"}),
    ("GET", "/api/v1/economies/{economy_id}"): everyone(OK),
    ("GET", "/api/v1/economies/{economy_id}/enterprises"): rule(frozenset({403}), OK, OK),
    # plans, jobs, drafts: planners only
    ("POST", "/api/v1/economies/{economy_id}/plans"): planner_only(json={}),
    ("GET", "/api/v1/jobs"): planner_only(),
    ("GET", "/api/v1/jobs/{job_id}"): planner_only(),
    ("POST", "/api/v1/jobs/{job_id}/cancel"): planner_only(),
    ("GET", "/api/v1/jobs/{job_id}/result"): planner_only(),
    ("GET", "/api/v1/economies/{economy_id}/drafts"): planner_only(),
    ("GET", "/api/v1/drafts/{draft_id}"): planner_only(),
    ("POST", "/api/v1/drafts/{draft_id}/publish"): planner_only(json={"base_version": 1}),
    # published versions: public tables, scoped directives
    ("GET", "/api/v1/economies/{economy_id}/versions"): everyone(OK),
    ("GET", V): everyone(OK),
    ("GET", V + "/products"): everyone(OK),
    ("GET", V + "/resources"): everyone(OK),
    ("GET", V + "/ministries"): everyone(OK),
    ("GET", V + "/flows"): everyone(OK),
    ("GET", V + "/directives/ministries/{ministry}"): everyone(REFUSED),
    ("GET", V + "/directives/enterprises/{enterprise}"): everyone(REFUSED),
    # reports
    ("POST", "/api/v1/economies/{economy_id}/reports"): everyone(frozenset({403}), json=REPORT_BODY,
                                                                  headers={"Idempotency-Key": "other-party"}),
    ("GET", "/api/v1/economies/{economy_id}/reports"): rule(frozenset({403}), OK, OK),
    ("GET", "/api/v1/economies/{economy_id}/reports/aggregate"): rule(frozenset({403}), OK, frozenset({403})),
    ("POST", "/api/v1/economies/{economy_id}/replan"): planner_only(json={}),
    ("POST", "/api/v1/economies/{economy_id}/simulations"): planner_only(json={}),
    # alerts
    ("GET", "/api/v1/economies/{economy_id}/alerts"): rule(frozenset({403}), OK, OK),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): rule(frozenset({403}), REFUSED, REFUSED),
    # dashboard
    ("GET", "/dashboard/static/plotly.min.js"): public(check=False),  # a constant file (its digits match ours)
    ("GET", "/dashboard/login"): public(),
    ("POST", "/dashboard/login"): public(),
    ("POST", "/dashboard/logout"): public(),
    ("GET", "/dashboard"): page(),
    ("GET", "/dashboard/"): page(),
    ("GET", "/dashboard/economies/{economy_id}"): page(),
    ("POST", "/dashboard/economies/{economy_id}/alerts/{alert_id}/acknowledge"): page(REFUSED, headers=ORIGIN),
}

#: Extra cases of one route: query strings that name another party's objects (answered with the
#: route's statuses, or refused).
EXTRA_QUERIES: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("GET", "/api/v1/economies/{economy_id}/reports"): [{"enterprise": "ironworks-7"}],
    ("GET", "/api/v1/economies/{economy_id}/reports/aggregate"): [{"ministry": "min-heavy-industry"}],
    ("GET", "/api/v1/economies/{economy_id}/alerts"): [{"level": "enterprise"}, {"open": "true"}],
    ("GET", "/api/v1/economies/{economy_id}/enterprises"): [{"limit": 1000}],
}


def app_routes(app: Any) -> set[tuple[str, str]]:
    """``(method, path)`` of every route of ``app``, included routers opened (FastAPI >= 0.16x keeps
    them nested in ``app.routes``); a mount or websocket shows as ``("?", path)`` (not testable here)."""
    try:
        from fastapi.routing import iter_route_contexts

        routes = [(rc.original_route, rc.path, rc.methods) for rc in iter_route_contexts(app.routes)]
    except ImportError:  # older FastAPI: app.routes is flat
        routes = [(r, getattr(r, "path", repr(r)), getattr(r, "methods", None)) for r in app.routes]
    found = set()
    for route, path, methods in routes:
        if isinstance(route, (APIRoute, Route)):
            found.update((m, path) for m in methods or () if m != "HEAD")
        else:
            found.add(("?", path or repr(route)))
    return found


@pytest.fixture
def world(sqlite_bureau: Any) -> dict[str, Any]:
    b = sqlite_bureau
    ids = seed(b.app)
    for e, (output, capacity) in REPORTED.items():
        r = post_report(b, ids["economy_id"], {"enterprise": e, "period": 1, "output": output, "capacity": capacity},
                        b.planner, f"seed-{e}")
        assert r.status_code == 201, r.text
    who = {"viewer": b.viewer, "ministry": headers(b, "ministry", "min-food-supply"),
           "enterprise": headers(b, "enterprise", "bakery-5"), "neighbour": headers(b, "enterprise", "colliery-3"),
           "anonymous": {}}
    return {"bureau": b, "ids": ids, "who": who}


def fill(path: str, ids: dict[str, Any]) -> str:
    """``path`` with its parameters naming objects of another party (for every caller here)."""
    values = {
        "economy_id": ids["economy_id"],
        "job_id": ids["job_id"],
        "draft_id": ids["draft_id"],
        "version": 1,
        "ministry": "min-heavy-industry",
        "enterprise": "ironworks-7",
        # enterprise-level alert of ironworks-7: seen only by it, its ministry and planners
        "alert_id": ids["alerts"][("enterprise", "ironworks-7")],
    }

    def one(m: re.Match) -> str:
        name = m.group(1).split(":")[0]
        if name not in values:
            raise AssertionError(f"{path}: no value for the path parameter {name!r}: teach fill() whose it is")
        return str(values[name])

    return re.sub(r"\{([^}]+)\}", one, path)


def test_every_route_is_in_the_table(sqlite_bureau: Any) -> None:
    routes = app_routes(sqlite_bureau.app)
    unknown = sorted(routes - ROUTES.keys())
    assert not unknown, f"routes without an access rule in ROUTES (add them, with who may see what): {unknown}"
    gone = sorted(ROUTES.keys() - routes)
    assert not gone, f"ROUTES names routes the application no longer has: {gone}"


def test_no_route_serves_other_parties_objects(world: dict[str, Any]) -> None:
    b, ids, who = world["bureau"], world["ids"], world["who"]
    routes = app_routes(b.app)
    failures = []
    checked = 0
    for key, r in ROUTES.items():
        if key not in routes:
            continue  # reported by test_every_route_is_in_the_table
        method, path = key
        url = fill(path, ids)
        for actor in ACTORS:
            for i, query in enumerate([r["query"], *EXTRA_QUERIES.get(key, [])]):
                h = {**who[actor], **r["headers"]}
                resp = b.client.request(method, url, params=query, json=r["json"], headers=h, follow_redirects=False)
                checked += 1
                allowed = r["status"][actor] | (REFUSED if i and actor != "anonymous" else frozenset())
                # What the caller sent (a label in the URL, say) may come back in an error message.
                asked = str(resp.request.url) + (resp.request.content or b"").decode("utf-8", "replace")
                forbidden = forbidden_strings(actor) if r["check"] else set()
                if resp.status_code not in allowed:
                    failures.append(f"{method} {url} {query or ''} as {actor}: {resp.status_code} not in "
                                    f"{sorted(allowed)[:6]}: {resp.text[:200]}")
                leaked = sorted(s for s in forbidden if shows(resp.text, s) and not shows(asked, s))
                if leaked:
                    failures.append(f"{method} {url} {query or ''} as {actor}: response shows {leaked[:5]}")
    assert not failures, "\n".join(failures)
    assert checked >= 5 * len(ROUTES)


def test_own_objects_are_served(world: dict[str, Any]) -> None:
    """The refusals above are not a broken route: each party gets its own objects."""
    b, ids, who = world["bureau"], world["ids"], world["who"]
    eco = ids["economy_id"]
    routes = app_routes(b.app)
    d = f"/api/v1/economies/{eco}/versions/1/directives"
    if ("GET", V + "/directives/enterprises/{enterprise}") in routes:
        r = b.client.get(f"{d}/enterprises/bakery-5", headers=who["enterprise"])
        assert r.status_code == 200 and "4321.75" in r.text, r.text
        r = b.client.get(f"{d}/enterprises/bakery-5", headers=who["ministry"])
        assert r.status_code == 200, r.text
        r = b.client.get(f"{d}/enterprises/ironworks-7", headers=b.planner)
        assert r.status_code == 200 and "1234.5" in r.text, r.text
    if ("GET", V + "/directives/ministries/{ministry}") in routes:
        r = b.client.get(f"{d}/ministries/min-food-supply", headers=who["ministry"])
        assert r.status_code == 200 and "bakery-5" in r.text, r.text
    r = b.client.get(f"/api/v1/economies/{eco}/reports", headers=who["neighbour"])
    assert r.status_code == 200 and "7777.625" in r.text
    r = b.client.post(f"/api/v1/alerts/{ids['alerts'][('enterprise', 'bakery-5')]}/acknowledge",
                      headers=who["enterprise"])
    assert r.status_code == 200, r.text
    alert = ids["alerts"][("ministry", "bakery-5")]
    r = b.client.post(f"/dashboard/economies/{eco}/alerts/{alert}/acknowledge", headers={**who["ministry"], **ORIGIN},
                      follow_redirects=False)
    assert r.status_code in (200, 303), r.text


# --- tokens never logged -------------------------------------------------------------------------

#: The test's own HTTP client logs what it receives (a login's Set-Cookie too); it is not the server.
CLIENT_LOGGERS = ("httpx", "httpcore")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(sqlite_url: str) -> Any:
    """The application behind a real uvicorn server (its own logging left to the test's capture)."""
    import uvicorn

    from gosplan.service import Settings, create_app

    app = create_app(Settings(db_url=sqlite_url))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="debug",
                                           access_log=True))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def test_tokens_never_logged(served: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from gosplan.service.api import reports as api
    from gosplan.service.auth import create_user

    app, base = served
    names = ["", "gosplan", "gosplan.service", "uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy",
             "sqlalchemy.engine", "sqlalchemy.pool", "fastapi", "starlette", "alembic", "distributed"]
    for n in names:
        logging.getLogger(n).setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        with app.state.db.session() as s:
            _, planner = create_user(s, "centre", "planner")
            _, bakery = create_user(s, "bakery", "enterprise", enterprise="bakery-5")
        ids = seed(app)
        eco = ids["economy_id"]
        bodies: list[str] = []
        statuses: list[int] = []
        wrong = "gsp_" + "Q" * 43
        with httpx.Client(base_url=base, timeout=30) as c:
            def go(method: str, url: str, token: str | None, scheme: str = "Bearer", **kw: Any) -> None:
                h = {"Connection": "close", **kw.pop("headers", {})}  # uvicorn drops a connection after a 500
                if token is not None:
                    h["Authorization"] = f"{scheme} {token}"
                r = c.request(method, url, headers=h, **kw)
                statuses.append(r.status_code)
                # (a login's Set-Cookie carries the token on purpose: HttpOnly, to that browser only)
                bodies.append(r.text + "\n" + "\n".join(f"{k}: {v}" for k, v in r.headers.items()
                                                          if k.lower() != "set-cookie"))

            for token in (planner, bakery):
                go("GET", "/api/v1/me", token)
                go("GET", f"/api/v1/economies/{eco}/reports", token)
                go("GET", f"/api/v1/economies/{eco}/alerts", token)
                go("POST", f"/api/v1/economies/{eco}/reports", token,
                   json={"enterprise": "bakery-5", "period": 0, "output": 2.0}, headers={"Idempotency-Key": "k"})
                go("GET", f"/dashboard/economies/{eco}", token)
                go("GET", "/api/v1/me", token, scheme="Basic")  # malformed scheme
                go("GET", "/api/v1/me", None, headers={"Cookie": f"gosplan_token={token}"})
                go("POST", "/dashboard/login", None, data={"token": token, "next": "/dashboard"})
                # A token in a body the server refuses (validation errors echo the input, not headers).
                go("GET", "/api/v1/me", token + "x")
            go("GET", "/api/v1/me", wrong)
            go("POST", "/dashboard/login", None, data={"token": wrong, "next": "/dashboard"})

            def boom(*a: Any, **k: Any) -> Any:
                raise RuntimeError("aggregation broke")

            monkeypatch.setattr(api, "aggregate", boom)
            go("GET", f"/api/v1/economies/{eco}/reports/aggregate", planner)
            go("GET", f"/api/v1/economies/{eco}/reports/aggregate", None, headers={"Cookie": f"gosplan_token={planner}"})
    finally:
        for n in names:
            logging.getLogger(n).setLevel(logging.NOTSET if n else logging.WARNING)
    assert 500 in statuses and 401 in statuses and 200 in statuses and 201 in statuses, statuses
    assert any(rec.name.startswith("uvicorn") for rec in caplog.records)
    assert any(rec.name.startswith("sqlalchemy") for rec in caplog.records), "SQL not logged: the check saw nothing"
    for token in (planner, bakery, wrong, planner + "x"):
        secret = token[len("gsp_"):]
        for rec in caplog.records:
            if rec.name.split(".")[0] in CLIENT_LOGGERS:
                continue
            text = rec.getMessage() + repr(rec.args) + (rec.exc_text or "") + repr(getattr(rec, "scope", ""))
            if rec.exc_info:
                text += logging.Formatter().formatException(rec.exc_info)
            assert secret not in text, f"a token in the log ({rec.name}, {rec.levelname}): {rec.getMessage()[:200]}"
        for body in bodies:
            assert secret not in body, "a token in a response"
