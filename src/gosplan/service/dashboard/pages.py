"""The dashboard's pages under ``/dashboard`` (server-rendered, Jinja2; charts by plotly.js).

Who sees what follows the API's rules (see :mod:`gosplan.service.api`): every role sees the
economies and their published versions (fulfilment, binding resources, prices, flows between
ministries); a planner sees everything of every party (reports, jobs, alerts); a ministry its own
directive, its enterprises' reports and its alerts; an enterprise its directive, its reports and
its alerts; a viewer the published plan only. What a user may not see is absent from the page
(not hidden by the browser); objects a user may not see are 404, as ones that do not exist.

The browser holds its token in the HttpOnly, SameSite=Strict cookie :data:`~gosplan.service.auth.COOKIE`
set by the login form; pages without a valid one redirect to the login form. plotly.js is served
by the service itself from the installed ``plotly`` package (no CDN, nothing from the internet).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import math
import threading
from collections import OrderedDict, defaultdict
from functools import lru_cache
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import Float, Integer, String, and_, case, column, func, literal, select, update, values

# the API's own rules (who sees which alert, which level acknowledges it): one place, no drift
from gosplan.service.api.alerts import alert_scope, may_acknowledge
from gosplan.service.api.reports import latest_report_ids
from gosplan.service.auth import COOKIE, Principal
from gosplan.service.dashboard import figures
from gosplan.service.models import (
    Alert,
    Directive,
    Draft,
    EconomyRow,
    Job,
    Party,
    PlanVersion,
    Report,
    unpack,
    utcnow,
)

__all__ = ["router"]

router = APIRouter(prefix="/dashboard", include_in_schema=False)

COOKIE_MAX_AGE = 7 * 24 * 3600
PLOTLY_PATH = "/dashboard/static/plotly.min.js"
MAX_TOKEN_CHARS = 500

# ------------------------------------------------------------------------------------------------
# templates and formats


def _num(x: Any, digits: int = 2) -> str:
    """A number for a table: thousands separated, ``digits`` decimals, small ones in 3 significant digits."""
    if x is None or isinstance(x, bool):
        return "—"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(v):
        return "—"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e15:
        return f"{v:.3e}"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 1:
        return f"{v:,.{digits}f}"
    if a >= 1e-3:
        return f"{v:.{max(digits, 3)}g}"
    return f"{v:.3e}"


def _pct(x: Any, digits: int = 1) -> str:
    if x is None or isinstance(x, bool):
        return "—"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "—" if not math.isfinite(v) else f"{100.0 * v:,.{digits}f} %"


def _when(t: Any) -> str:
    return "—" if t is None else t.strftime("%Y-%m-%d %H:%M UTC")


def _json_script(obj: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>`` can close it)."""
    text = orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=PackageLoader("gosplan.service.dashboard", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=_num, pct=_pct, when=_when, json_script=_json_script)
    env.globals["plotly_src"] = PLOTLY_PATH + "?v=" + _plotly()[1][:12]
    env.globals.update(TOP=TOP, SHOW_ALL=SHOW_ALL, ALERTS_PER_PAGE=ALERTS_PER_PAGE)
    return env


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers={
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"})


def _not_found(p: Principal | None, what: str) -> HTMLResponse:
    return _page("error.html", 404, user=p, title="Not found", message=f"{what} not found.")


# ------------------------------------------------------------------------------------------------
# who is asking


def _principal(request: Request) -> Principal | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else ""
    token = token or request.cookies.get(COOKIE) or ""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    return request.app.state.tokens.lookup(request.app.state.db, token)


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    r = RedirectResponse(f"/dashboard/login?next={quote(target, safe='')}", status_code=303)
    if request.cookies.get(COOKIE):
        r.delete_cookie(COOKIE, path="/")
    return r


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this site under /dashboard, else /dashboard."""
    if not target or not target.startswith("/dashboard") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/dashboard"
    return target


def _same_origin(request: Request) -> bool:
    """A form post from this site (SameSite=Strict already keeps the cookie off cross-site posts)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        referer = request.headers.get("referer")
        if not referer:
            return origin is None  # a client that sends neither (a script, a test client)
        origin = referer
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


# ------------------------------------------------------------------------------------------------
# plotly.js, from the installed package


@lru_cache(maxsize=1)
def _plotly() -> tuple[bytes, str, bytes]:
    """plotly.min.js of the installed ``plotly`` package: its bytes, ETag and gzipped bytes."""
    data = (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    etag = hashlib.sha256(data).hexdigest()[:32]
    return data, etag, gzip.compress(data, compresslevel=6, mtime=0)


@router.get("/static/plotly.min.js")
def plotly_js(request: Request) -> Response:
    data, etag, zipped = _plotly()
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "ETag": f'"{etag}"',
               "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    accepts = {e.split(";")[0].strip().lower() for e in request.headers.get("accept-encoding", "").split(",")}
    if "gzip" in accepts:
        headers["Content-Encoding"] = "gzip"
        data = zipped
    return Response(data, media_type="text/javascript; charset=utf-8", headers=headers)


# ------------------------------------------------------------------------------------------------
# login and logout


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:  # noqa: A002
    return _page("login.html", user=_principal(request), next=_safe_next(next), error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    if not _same_origin(request):
        return _page("error.html", 403, user=None, title="Refused", message="A login from another site is refused.")
    form = await request.form()
    token = str(form.get("token") or "").strip()
    target = _safe_next(str(form.get("next") or ""))
    p = None
    if token and len(token) <= MAX_TOKEN_CHARS:
        p = request.app.state.tokens.lookup(request.app.state.db, token)
    if p is None:
        return _page("login.html", 401, user=None, next=target, error="Unknown or disabled token.")
    r = RedirectResponse(target, status_code=303)
    r.set_cookie(COOKIE, token, max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="strict",
                 secure=request.url.scheme == "https")
    return r


@router.post("/logout")
def logout(request: Request) -> Response:
    r = RedirectResponse("/dashboard/login", status_code=303)
    r.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return r


# ------------------------------------------------------------------------------------------------
# pages


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request) -> Response:
    p = _principal(request)
    if p is None:
        return _to_login(request)
    db = request.app.state.db
    with db.readers() as s:
        economies = s.scalars(select(EconomyRow).order_by(EconomyRow.id)).all()
        latest = dict(s.execute(select(PlanVersion.economy_id, func.max(PlanVersion.version))
                                .group_by(PlanVersion.economy_id)).all())
        published = {(e, v): t for e, v, t in s.execute(
            select(PlanVersion.economy_id, PlanVersion.version, PlanVersion.published_at))}
        alerts: dict[int, int] = {}
        if p.role != "viewer":
            alerts = dict(s.execute(select(Alert.economy_id, func.count()).where(
                alert_scope(p), Alert.acknowledged_at.is_(None)).group_by(Alert.economy_id)).all())
        jobs = []
        if p.is_planner:
            jobs = s.scalars(select(Job).where(Job.state.in_(("queued", "running")))
                             .order_by(Job.id.desc()).limit(50)).all()
        rows = [{"id": e.id, "name": e.name, "title": e.title, "units": e.units, "source": e.source,
                 "n_products": e.n_products, "n_ministries": e.n_ministries, "n_enterprises": e.n_enterprises,
                 "version": latest.get(e.id), "published_at": published.get((e.id, latest.get(e.id))),
                 "open_alerts": alerts.get(e.id, 0)} for e in economies]
        names = {e.id: e.name for e in economies}
        jobs = [{"id": j.id, "economy": names.get(j.economy_id, j.economy_id), "kind": j.kind, "state": j.state,
                 "progress": j.progress, "message": j.message, "created_at": j.created_at} for j in jobs]
    return _page("home.html", user=p, economies=rows, jobs=jobs, open_alerts=sum(alerts.values()),
                 title="Planning bureau")


@router.get("/economies/{economy_id}", response_class=HTMLResponse)
def economy(request: Request, economy_id: int, version: int | None = None, notice: str | None = None,
            alerts_page: int = 1) -> Response:
    p = _principal(request)
    if p is None:
        return _to_login(request)
    if not _fits(economy_id) or (version is not None and not _fits(version)):
        return _not_found(p, "Economy")
    ctx = _economy_context(request.app, p, economy_id, version, alerts_page=alerts_page if _fits(alerts_page) else 1)
    if ctx is None:
        return _not_found(p, "Economy or plan version")
    ctx["notice"] = _NOTICES.get(notice or "")
    return _page("economy.html", user=p, **ctx)


_NOTICES = {"acknowledged": ("ok", "Alert acknowledged."),
            "already": ("warn", "That alert was acknowledged already.")}


@router.post("/economies/{economy_id}/alerts/{alert_id}/acknowledge")
def acknowledge(request: Request, economy_id: int, alert_id: int, version: int | None = None,
                alerts_page: int | None = None) -> Response:
    """The acknowledge button: the API's rule (the level the alert reached, or above), then back to the page."""
    p = _principal(request)
    if p is None:
        return _to_login(request)
    if not _same_origin(request):
        return _page("error.html", 403, user=p, title="Refused", message="A form from another site is refused.")
    if not _fits(economy_id) or not _fits(alert_id):
        return _not_found(p, "Alert")
    with request.app.state.db.session() as s:
        a = s.scalar(select(Alert).where(Alert.id == alert_id, Alert.economy_id == economy_id, alert_scope(p)))
        if a is None:
            return _not_found(p, "Alert")
        if not may_acknowledge(p, a):
            return _page("error.html", 403, user=p, title="Not yours to acknowledge",
                         message=f"This alert reached the {a.level} level; it is acknowledged there or above.")
        done = s.execute(update(Alert).where(Alert.id == alert_id, Alert.acknowledged_at.is_(None))
                         .values(acknowledged_at=utcnow(), acknowledged_by=p.id)
                         .execution_options(synchronize_session=False))
        notice = "acknowledged" if done.rowcount == 1 else "already"
    query = f"notice={notice}" + (f"&version={version}" if version is not None and _fits(version) else "")
    query += f"&alerts_page={alerts_page}" if alerts_page is not None and 1 < alerts_page < 2**31 else ""
    return RedirectResponse(f"/dashboard/economies/{economy_id}?{query}#alerts", status_code=303)


# ------------------------------------------------------------------------------------------------
# the economy page's data


def _fits(i: int) -> bool:
    return -(2**63) <= i < 2**63


class _PayloadCache:
    """Unpacked draft payloads by draft id (drafts never change), the last few."""

    def __init__(self, size: int = 8):
        self.size = size
        self._items: OrderedDict[int, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, s: Any, draft_id: int) -> Any:
        with self._lock:
            if draft_id in self._items:
                self._items.move_to_end(draft_id)
                return self._items[draft_id]
        blob = s.scalar(select(Draft.payload).where(Draft.id == draft_id))
        payload = unpack(blob) if blob is not None else None
        with self._lock:
            self._items[draft_id] = payload
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return payload


_cache_lock = threading.Lock()


def _payloads(app: Any) -> _PayloadCache:
    with _cache_lock:
        cache = getattr(app.state, "dashboard_payloads", None)
        if cache is None or getattr(cache, "db", None) is not app.state.db:
            cache = _PayloadCache()
            cache.db = app.state.db  # type: ignore[attr-defined]
            app.state.dashboard_payloads = cache
        return cache


def _body(blob: bytes) -> Any:
    """A directive's body: JSON bytes (or, tolerated, pack()ed JSON)."""
    try:
        return orjson.loads(blob)
    except orjson.JSONDecodeError:
        return unpack(blob)


def _economy_context(app: Any, p: Principal, economy_id: int, version: int | None, *,
                     alerts_page: int = 1) -> dict[str, Any] | None:
    db = app.state.db
    with db.readers() as s:
        eco = s.get(EconomyRow, economy_id)
        if eco is None:
            return None
        versions = s.execute(select(PlanVersion.version, PlanVersion.id, PlanVersion.draft_id,
                                    PlanVersion.published_at, PlanVersion.summary)
                             .where(PlanVersion.economy_id == economy_id)
                             .order_by(PlanVersion.version.desc())).all()
        ctx: dict[str, Any] = {
            "economy": eco, "units": eco.units, "title": eco.name,
            "versions": [{"version": v.version, "published_at": v.published_at} for v in versions],
            "version": None, "plan": None,
        }
        ministry_names = {label: name for label, name in s.execute(
            select(Party.label, Party.name).where(Party.economy_id == economy_id, Party.kind == "ministry"))}
        ctx["ministry_names"] = ministry_names
        chosen = None
        if version is None:
            chosen = versions[0] if versions else None
        else:
            chosen = next((v for v in versions if v.version == version), None)
            if chosen is None:
                return None
        payload = _payloads(app).get(s, chosen.draft_id) if chosen is not None else None
        if chosen is not None:
            ctx["version"] = {"version": chosen.version, "published_at": chosen.published_at,
                              "summary": chosen.summary or {}, "latest": chosen.version == versions[0].version}
        if payload is not None:
            ctx["plan"] = _plan_view(payload, ministry_names, eco.units)
        if p.role == "viewer":
            return ctx
        ctx.update(_alerts(s, p, economy_id, alerts_page, ministry_names))
        version_ids = {v.version: v.id for v in versions}
        if p.is_planner:
            ctx["jobs"] = s.scalars(select(Job).where(Job.economy_id == economy_id)
                                    .order_by(Job.id.desc()).limit(10)).all()
            ctx["execution"] = _execution(s, economy_id, payload, chosen, version_ids, ministry_names,
                                          eco.units, scope="planner")
        elif p.role == "ministry":
            ctx["execution"] = _execution(s, economy_id, payload, chosen, version_ids, ministry_names,
                                          eco.units, scope="ministry", ministry=p.ministry)
            ctx["ministry_directive"] = _ministry_directive(s, chosen, payload, p.ministry)
        elif p.role == "enterprise":
            ctx["enterprise"] = _enterprise_view(s, economy_id, chosen, payload, p.enterprise, ministry_names)
            ctx["execution"] = _execution(s, economy_id, payload, chosen, version_ids, ministry_names,
                                          eco.units, scope="enterprise", enterprise=p.enterprise)
        return ctx


def _plan_view(payload: dict[str, Any], ministry_names: dict[str, str], units: str) -> dict[str, Any]:
    products = payload.get("products") or []
    resources = payload.get("resources") or []
    flows = payload.get("flows") or []
    ministries = [m["ministry"] for m in payload.get("ministries") or []]
    groups = figures.fulfilment_by_group(products)
    with_target = [r for r in products if isinstance(r.get("target"), (int, float)) and r["target"] > 0]
    final = sum(float(r.get("final") or 0.0) for r in with_target)
    target = sum(float(r["target"]) for r in with_target)
    short_all = sorted((r for r in with_target if r.get("fulfilment") is not None and r["fulfilment"] < 1 - 1e-6),
                       key=lambda r: (r["fulfilment"], str(r["product"])))
    summary = payload.get("summary") or {}
    # ministries below 100 %: the furthest from plan first; the chart shows the TOP of them only
    behind = sorted((g for g in groups if g["fulfilment"] < 1 - 1e-6),
                    key=lambda g: (g["fulfilment"], -(g["target"] - g["final"]), g["group"]))
    fulfilment_of = {g["group"]: g for g in groups}
    ministry_rows = [{**m, "fulfilment": fulfilment_of.get(m["ministry"], {}).get("fulfilment"),
                      "short": fulfilment_of.get(m["ministry"], {}).get("short", 0)}
                     for m in payload.get("ministries") or []]
    # fulfilment to one part in a million: the solver's 100 % differ in the last digits
    ministry_rows.sort(key=lambda m: (m["fulfilment"] is None,
                                      min(round(m["fulfilment"], 6), 1.0) if m["fulfilment"] is not None else 0.0,
                                      -float(m.get("gross_output") or 0.0), str(m["ministry"])))
    per_labour = figures.labour_price(resources)
    labour_unit = str(summary.get("labour_unit") or "labour")
    top = [{**r, "per_labour": float(r["price"]) / per_labour if per_labour else None}
           for r in figures.top_prices(products, 15)]
    return {
        "kind": payload.get("kind"), "status": payload.get("status"), "message": payload.get("message"),
        "summary": summary,
        "n_products": len(products),
        "n_targets": len(with_target),
        "fulfilment": final / target if target > 0 else None,
        "n_short": sum(1 for r in with_target if float(r.get("final") or 0.0) < float(r["target"]) * (1 - 1e-6)),
        "gross_output": sum(float(r.get("gross_output") or 0.0) for r in products),
        "groups": groups,
        "n_groups": len(groups),
        "behind": behind,
        "lowest": min((g["fulfilment"] for g in groups), default=None),
        "short": short_all[:12],
        "n_short_listed": len(short_all),
        "resources": [{**r, "per_labour": float(r["price"]) / per_labour
                       if per_labour and isinstance(r.get("price"), (int, float)) else None} for r in resources],
        "n_binding": sum(1 for r in resources if r.get("binding")),
        "top_prices": top,
        "labour_price": per_labour,
        "labour_unit": labour_unit,
        "sankey_nodes": SANKEY_NODES,
        "ministries": ministry_rows,
        "years": payload.get("years"),
        "figures": {
            "fulfilment": figures.fulfilment_figure(behind[:TOP], names=ministry_names, units=units)
            if behind else None,
            "resources": figures.resources_figure(resources, units=units)
            if any(r.get("available") for r in resources) else None,
            "prices": figures.prices_figure(products, units=units, per_labour=per_labour, labour_unit=labour_unit)
            if figures.top_prices(products, 1) else None,
            "sankey": figures.sankey_figure(flows, ministries=ministries or None, names=ministry_names,
                                            units=units, min_share=0.001, max_nodes=SANKEY_NODES) if flows else None,
        },
    }


def _targets_of(s: Any, version_id: int, where: list[Any]) -> dict[str, float]:
    rows = s.execute(select(Directive.party, Directive.body).where(
        Directive.version_id == version_id, Directive.kind == "enterprise", *where)).all()
    out = {}
    for party, blob in rows:
        body = _body(blob)
        if isinstance(body, dict) and body.get("target") is not None:
            out[party] = float(body["target"])
    return out


#: Rows of a table or bars of a chart shown before "show all"; "show all" lists at most SHOW_ALL.
TOP = 20
SHOW_ALL = 1000
#: Alerts per page of the alerts table.
ALERTS_PER_PAGE = 25
#: Ministries drawn in the share-of-plan chart (the furthest behind in the last period).
RATIO_LINES = 10
#: Ministries drawn one by one in the Sankey (the others merged into one node).
SANKEY_NODES = 25
_VALUES_CHUNK = 2000
_ENTERPRISES_LISTED = 5000  # a ministry's enterprises named in a query (else its reports are scanned)  # (enterprise, version, delta) rows per query (3 bound parameters each)


def report_series(s: Any, economy_id: int, groups: dict[str, str], targets: dict[int, dict[str, float]], *,
                  version: int, by: str = "ministry", ministry: str | None = None, enterprise: str | None = None,
                  period: int | None = None, load: Callable[[int], dict[str, float] | None] | None = None,
                  only: list[str] | None = None) -> dict[str, dict[str, list[Any]]]:
    """:func:`figures.plan_vs_reported`'s series, summed by the database.

    The same numbers as that loop over every report (its docstring says what they are), but the
    database reads only the latest report of each enterprise and period
    (:func:`~gosplan.service.api.reports.latest_report_ids`, as the API's aggregate) and returns sums
    per group (``by``: the reports' ``ministry`` or ``enterprise``; None: one group of them all), period
    and version named: the page's work grows with groups × periods, not with the reports. ``period``
    keeps one period, ``only`` the groups listed (by ``ministry`` or ``enterprise``). ``groups`` maps each enterprise in
    scope to its group (for the planned side: every enterprise of a group is planned, reporting or not);
    ``targets[v][e]`` are the targets of each version the reports may name, ``version`` the one held to
    by default; ``load(v)`` gives (and ``targets`` keeps) those of a version named by the reports and
    not in ``targets`` (None: not known, held to ``version``). Reports naming another version whose
    targets differ are corrected by a second sum, joined in the database to the (enterprise, version,
    target - default target) rows.
    """
    if only is not None and by == "ministry" and ministry is None:
        ministry = list(only)
    if enterprise is None and ministry is not None:
        # the latest reports of those ministries' enterprises: by the (economy, enterprise, period) index
        wanted = {ministry} if isinstance(ministry, str) else set(ministry)
        members = sorted(e for e, g in groups.items() if g in wanted or (by == "enterprise" and g == e))
        if 0 < len(members) <= _ENTERPRISES_LISTED:
            enterprise = members
    latest = latest_report_ids(economy_id, ministry=ministry, enterprise=enterprise, period=period)
    key = {"ministry": Report.ministry, "enterprise": Report.enterprise, None: literal("all")}[by]
    where = [Report.id.in_(latest)]
    if only is not None and by is not None:
        where.append(key.in_(only))
        groups = {e: g for e, g in groups.items() if g in set(only)}
    rows = s.execute(select(key, Report.period, Report.version, func.count(), func.sum(Report.output),
                            func.sum(Report.capacity), func.count(Report.capacity))
                     .where(*where).group_by(key, Report.period, Report.version)).all()
    base = targets.get(version, {})
    planned_base: dict[str, float] = defaultdict(float)
    for e, g in groups.items():
        planned_base[g] += float(base.get(e, 0.0))
    sums: dict[tuple[str, int], list[Any]] = {}
    named: set[int] = set()
    for g, per, v, n, output, capacity, n_capacity in rows:
        acc = sums.setdefault((g or "—", per), [0, 0.0, None])
        acc[0] += n
        acc[1] += float(output or 0.0)
        if n_capacity:
            acc[2] = (acc[2] or 0.0) + float(capacity)
        if v is not None and v != version:
            if v not in targets and load is not None:
                known = load(v)
                if known is not None:
                    targets[v] = known
            if v in targets:
                named.add(v)
    adjust: dict[tuple[str, int], float] = defaultdict(float)
    deltas = [(e, v, float(t) - float(base.get(e, 0.0))) for v in sorted(named) for e, t in targets[v].items()
              if e in groups and float(t) != float(base.get(e, 0.0))]
    for i in range(0, len(deltas), _VALUES_CHUNK):
        held = values(column("enterprise", String), column("version", Integer), column("delta", Float),
                      name="held").data(deltas[i:i + _VALUES_CHUNK]).cte()
        q = (select(key, Report.period, func.sum(held.c.delta)).select_from(Report)
             .join(held, and_(held.c.enterprise == Report.enterprise, held.c.version == Report.version))
             .where(*where).group_by(key, Report.period))
        for g, per, d in s.execute(q):
            adjust[(g or "—", per)] += float(d or 0.0)
    periods = sorted({per for _, per in sums})
    out: dict[str, dict[str, list[Any]]] = {}
    for g in sorted(set(groups.values()) | {g for g, _ in sums}):
        series: dict[str, list[Any]] = {"period": [], "planned": [], "reported": [], "capacity": [], "reporting": []}
        for per in periods:
            n, output, capacity = sums.get((g, per), (0, 0.0, None))
            series["period"].append(per)
            series["planned"].append(planned_base.get(g, 0.0) + adjust.get((g, per), 0.0))
            series["reported"].append(output)
            series["capacity"].append(capacity)
            series["reporting"].append(n)
        out[g] = series
    return out


def _worst_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with ``planned``/``reported``/``ratio`` ordered furthest behind plan first: lowest share of
    the plan, then the largest shortfall; rows without a plan last."""
    return sorted(rows, key=lambda r: (r["ratio"] is None, r["ratio"] if r["ratio"] is not None else 0.0,
                                       -(r["planned"] - r["reported"]), str(r.get("group") or r.get("enterprise"))))


def _execution(s: Any, economy_id: int, payload: Any, chosen: Any, version_ids: dict[int, int],
               ministry_names: dict[str, str], units: str, *, scope: str, ministry: str | None = None,
               enterprise: str | None = None) -> dict[str, Any] | None:
    """Planned targets against reported output per period, for the asker's scope only."""
    parties = select(Party.label, Party.ministry, Party.name).where(Party.economy_id == economy_id,
                                                                   Party.kind == "enterprise")
    dir_where: list[Any] = []
    if scope == "ministry":
        if not ministry:
            return None
        parties = parties.where(Party.ministry == ministry)
        dir_where = [Directive.ministry == ministry]
    elif scope == "enterprise":
        if not enterprise:
            return None
        parties = parties.where(Party.label == enterprise)
        dir_where = [Directive.party == enterprise]
    owner: dict[str, str | None] = {}
    names: dict[str, str] = {}
    for label, m, name in s.execute(parties):
        owner[label] = m
        names[label] = name or ""
    if scope == "planner":
        groups = {e: (m or "—") for e, m in owner.items()}
    elif scope == "ministry":
        groups = {e: ministry for e in owner}
    else:
        groups = {enterprise: enterprise}
    by = "enterprise" if scope == "enterprise" else "ministry"
    where = {"ministry": ministry if scope == "ministry" else None,
             "enterprise": enterprise if scope == "enterprise" else None}
    if chosen is None:
        return {"series": {}, "figure": None, "ratio_figure": None, "rows": []}
    targets: dict[int, dict[str, float]] = {}
    if payload is not None:
        targets[chosen.version] = {str(d["enterprise"]): float(d.get("target") or 0.0)
                                   for d in payload.get("enterprises") or [] if str(d["enterprise"]) in groups}

    def load(v: int) -> dict[str, float] | None:
        return _targets_of(s, version_ids[v], dir_where) if v in version_ids else None

    common: dict[str, Any] = {"version": chosen.version, "load": load, **where}
    if scope == "planner":
        # the totals per period; per ministry the last period only, and the furthest behind over time
        series = report_series(s, economy_id, dict.fromkeys(groups, "all"), targets, by=None, **common)
        periods = series.get("all", {}).get("period", [])
    else:
        series = report_series(s, economy_id, groups, targets, by=by, **common)
        periods = sorted({x for sr in series.values() for x in sr["period"]})
    out: dict[str, Any] = {"series": series, "periods": periods, "names": names,
                           "figure": None, "ratio_figure": None, "rows": []}
    if not periods:
        return out
    title = {"planner": "all ministries", "ministry": f"ministry {_name_code(ministry, ministry_names)}",
             "enterprise": f"enterprise {_name_code(enterprise, names)}"}[scope]
    out["figure"] = figures.plan_vs_reported_figure(series, title=f"Planned and reported output, {title}",
                                                    units=units, show_capacity=scope == "enterprise")
    last = periods[-1]
    if scope == "planner":
        series = report_series(s, economy_id, groups, targets, by="ministry", period=last, **common)
    members: dict[str, int] = defaultdict(int)
    for g in groups.values():
        members[g] += 1
    rows = []
    for g, sr in series.items():
        if last not in sr["period"]:
            continue
        i = sr["period"].index(last)
        planned, reported = sr["planned"][i], sr["reported"][i]
        rows.append({"group": g, "name": names.get(g, "") if scope == "enterprise" else ministry_names.get(g, ""),
                     "period": last, "planned": planned, "reported": reported,
                     "ratio": reported / planned if planned > 0 else None,
                     "reporting": sr["reporting"][i], "members": members.get(g, 0)})
    out["rows"] = _worst_first(rows)
    out["n_behind"] = sum(1 for r in rows if r["ratio"] is not None and r["ratio"] < 1 - 1e-6)
    out["n_silent"] = sum(1 for r in rows if r["reporting"] == 0)
    if scope == "planner" and len(rows) > 1:
        worst = [r["group"] for r in out["rows"][:RATIO_LINES]]
        lines = report_series(s, economy_id, groups, targets, by="ministry", only=worst, **common)
        out["ratio_figure"] = figures.execution_ratio_figure(lines, names=ministry_names, order=worst)
        out["ratio_lines"] = len(worst)
    if scope == "ministry":
        # one row per enterprise of the ministry: its latest report of the last period against its target
        per = report_series(s, economy_id, {e: e for e in groups}, targets, version=chosen.version,
                            by="enterprise", ministry=ministry, period=last, load=load)
        ent_rows = []
        for e, sr in per.items():
            if e not in groups or last not in sr["period"]:
                continue
            i = sr["period"].index(last)
            planned, reported = sr["planned"][i], sr["reported"][i]
            ent_rows.append({"enterprise": e, "name": names.get(e, ""), "planned": planned, "reported": reported,
                             "reported_now": bool(sr["reporting"][i]),
                             "ratio": reported / planned if planned > 0 else None})
        out["enterprise_rows"] = _worst_first(ent_rows)
    return out


def _name_code(code: str | None, names: dict[str, str], n: int | None = None) -> str:
    """``Name (code)``, or the code alone when it has no other name; the name cut to ``n`` characters."""
    name = names.get(code or "")
    if name and n and len(name) > n:
        name = name[: n - 1].rstrip() + "…"
    return f"{name} ({code})" if name and name != code else str(code)


def _ministry_directive(s: Any, chosen: Any, payload: Any, ministry: str | None) -> Any:
    if chosen is None or not ministry:
        return None
    blob = s.scalar(select(Directive.body).where(Directive.version_id == chosen.id, Directive.kind == "ministry",
                                                 Directive.party == ministry))
    if blob is not None:
        return _body(blob)
    for d in (payload or {}).get("ministry_directives") or []:
        if d.get("ministry") == ministry:
            return d
    return None


def _enterprise_view(s: Any, economy_id: int, chosen: Any, payload: Any, enterprise: str | None,
                     ministry_names: dict[str, str]) -> dict[str, Any] | None:
    if not enterprise:
        return None
    party = s.scalar(select(Party).where(Party.economy_id == economy_id, Party.kind == "enterprise",
                                         Party.label == enterprise))
    directive = None
    if chosen is not None:
        blob = s.scalar(select(Directive.body).where(Directive.version_id == chosen.id,
                                                     Directive.kind == "enterprise", Directive.party == enterprise))
        if blob is not None:
            directive = _body(blob)
        else:
            directive = next((d for d in (payload or {}).get("enterprises") or []
                              if str(d.get("enterprise")) == enterprise), None)
    if party is None and directive is None:
        return {"label": enterprise, "party": None, "directive": None}
    names = {r["product"]: r.get("name") or r["product"] for r in (payload or {}).get("products") or []}
    prices = {r["product"]: r.get("price") for r in (payload or {}).get("products") or []}
    inputs = []
    fig = None
    if directive is not None:
        inputs = [{**r, "name": names.get(r["input"], r["input"]) if r.get("kind") == "product" else r["input"],
                   "price": prices.get(r["input"]) if r.get("kind") == "product" else None}
                  for r in directive.get("inputs") or []]
        inputs.sort(key=lambda r: -float(r.get("quantity") or 0.0))
        if inputs:
            fig = figures.directive_inputs_figure(inputs, names=names)
    return {"label": enterprise, "party": party, "directive": directive, "inputs": inputs, "figure": fig,
            "ministry_name": ministry_names.get(party.ministry or "", "") if party is not None else "",
            "product_name": names.get(party.product or "", party.product) if party is not None else ""}


#: Alerts in the order they need attention: open ones first, the highest level first, the newest first.
LEVEL_RANK = {"centre": 0, "ministry": 1, "enterprise": 2}


def _alerts(s: Any, p: Principal, economy_id: int, page: int, ministry_names: dict[str, str]) -> dict[str, Any]:
    """One page of the alerts ``p`` may see (:data:`ALERTS_PER_PAGE`), named, and their counts."""
    scope = [Alert.economy_id == economy_id, alert_scope(p)]
    counts = {"open": {}, "acknowledged": 0, "total": 0}
    for level, acknowledged, n in s.execute(
            select(Alert.level, Alert.acknowledged_at.is_not(None), func.count()).where(*scope)
            .group_by(Alert.level, Alert.acknowledged_at.is_not(None))):
        counts["total"] += n
        if acknowledged:
            counts["acknowledged"] += n
        else:
            counts["open"][level] = counts["open"].get(level, 0) + n
    n_open = sum(counts["open"].values())
    pages = max(1, math.ceil(counts["total"] / ALERTS_PER_PAGE))
    page = min(max(1, page), pages)
    rank = case(LEVEL_RANK, value=Alert.level, else_=len(LEVEL_RANK))
    rows = s.scalars(select(Alert).where(*scope)
                     .order_by(Alert.acknowledged_at.is_not(None), rank, Alert.period.desc(), Alert.id.desc())
                     .limit(ALERTS_PER_PAGE).offset((page - 1) * ALERTS_PER_PAGE)).all()
    labels = {a.who for a in rows if a.level == "enterprise"} | {a.enterprise for a in rows if a.enterprise}
    names = dict(s.execute(select(Party.label, Party.name).where(
        Party.economy_id == economy_id, Party.kind == "enterprise", Party.label.in_(sorted(labels)))).all()) if labels else {}
    return {"alerts": [_alert_row(a, p, names, ministry_names) for a in rows], "open_alerts": n_open,
            "alert_counts": {**counts, "open_by_level": sorted(counts["open"].items(),
                                                               key=lambda x: LEVEL_RANK.get(x[0], 9))},
            "alerts_page": page, "alerts_pages": pages, "alerts_first": (page - 1) * ALERTS_PER_PAGE + 1}


def _alert_row(a: Alert, p: Principal, enterprise_names: dict[str, str] | None = None,
               ministry_names: dict[str, str] | None = None) -> dict[str, Any]:
    enterprise_names, ministry_names = enterprise_names or {}, ministry_names or {}
    if a.level == "enterprise":
        who = _name_code(a.who, enterprise_names, 40)
    elif a.level == "ministry":
        who = _name_code(a.who, ministry_names, 40)
    else:
        who = "the centre" if a.who == "centre" else a.who
    return {"id": a.id, "period": a.period, "level": a.level, "who": a.who, "who_name": who,
            "enterprise": a.enterprise,
            "enterprise_name": _name_code(a.enterprise, enterprise_names, 40) if a.enterprise else None,
            "ministry": a.ministry, "indicator": a.indicator, "kind": a.kind, "probability": a.probability,
            "raised": a.raised, "resolved": a.resolved, "acknowledged_at": a.acknowledged_at,
            "may_acknowledge": a.acknowledged_at is None and may_acknowledge(p, a)}
