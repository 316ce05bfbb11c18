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
from collections import OrderedDict
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import func, select, update

# the API's own rules (who sees which alert, which level acknowledges it): one place, no drift
from gosplan.service.api.alerts import alert_scope, may_acknowledge
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
def economy(request: Request, economy_id: int, version: int | None = None, notice: str | None = None) -> Response:
    p = _principal(request)
    if p is None:
        return _to_login(request)
    if not _fits(economy_id) or (version is not None and not _fits(version)):
        return _not_found(p, "Economy")
    ctx = _economy_context(request.app, p, economy_id, version)
    if ctx is None:
        return _not_found(p, "Economy or plan version")
    ctx["notice"] = _NOTICES.get(notice or "")
    return _page("economy.html", user=p, **ctx)


_NOTICES = {"acknowledged": ("ok", "Alert acknowledged."),
            "already": ("warn", "That alert was acknowledged already.")}


@router.post("/economies/{economy_id}/alerts/{alert_id}/acknowledge")
def acknowledge(request: Request, economy_id: int, alert_id: int, version: int | None = None) -> Response:
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


def _economy_context(app: Any, p: Principal, economy_id: int, version: int | None) -> dict[str, Any] | None:
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
        ctx["alerts"] = [_alert_row(a, p) for a in s.scalars(
            select(Alert).where(Alert.economy_id == economy_id, alert_scope(p))
            .order_by(Alert.acknowledged_at.is_not(None), Alert.id.desc()).limit(500))]
        ctx["open_alerts"] = s.scalar(select(func.count()).select_from(Alert).where(
            Alert.economy_id == economy_id, alert_scope(p), Alert.acknowledged_at.is_(None)))
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
    short = sorted((r for r in with_target if r.get("fulfilment") is not None and r["fulfilment"] < 1 - 1e-6),
                   key=lambda r: r["fulfilment"])[:12]
    summary = payload.get("summary") or {}
    return {
        "kind": payload.get("kind"), "status": payload.get("status"), "message": payload.get("message"),
        "summary": summary,
        "n_products": len(products),
        "n_targets": len(with_target),
        "fulfilment": final / target if target > 0 else None,
        "n_short": sum(1 for r in with_target if float(r.get("final") or 0.0) < float(r["target"]) * (1 - 1e-6)),
        "gross_output": sum(float(r.get("gross_output") or 0.0) for r in products),
        "groups": groups,
        "short": short,
        "resources": resources,
        "n_binding": sum(1 for r in resources if r.get("binding")),
        "top_prices": figures.top_prices(products, 15),
        "ministries": payload.get("ministries") or [],
        "years": payload.get("years"),
        "figures": {
            "fulfilment": figures.fulfilment_figure(groups, names=ministry_names, units=units) if groups else None,
            "resources": figures.resources_figure(resources, units=units)
            if any(r.get("available") for r in resources) else None,
            "prices": figures.prices_figure(products, units=units) if figures.top_prices(products, 1) else None,
            "sankey": figures.sankey_figure(flows, ministries=ministries or None, names=ministry_names,
                                            units=units, min_share=0.001) if flows else None,
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


def _execution(s: Any, economy_id: int, payload: Any, chosen: Any, version_ids: dict[int, int],
               ministry_names: dict[str, str], units: str, *, scope: str, ministry: str | None = None,
               enterprise: str | None = None) -> dict[str, Any] | None:
    """Planned targets against reported output per period, for the asker's scope only."""
    parties = select(Party.label, Party.ministry).where(Party.economy_id == economy_id, Party.kind == "enterprise")
    rq = select(Report.id, Report.enterprise, Report.period, Report.output, Report.version, Report.capacity,
                Report.ministry).where(Report.economy_id == economy_id)
    dir_where: list[Any] = []
    if scope == "ministry":
        if not ministry:
            return None
        parties = parties.where(Party.ministry == ministry)
        rq = rq.where(Report.ministry == ministry)
        dir_where = [Directive.ministry == ministry]
    elif scope == "enterprise":
        if not enterprise:
            return None
        parties = parties.where(Party.label == enterprise)
        rq = rq.where(Report.enterprise == enterprise)
        dir_where = [Directive.party == enterprise]
    owner = dict(s.execute(parties).all())
    reports = [figures.ReportPoint(r.id, r.enterprise, r.period, r.output, r.version, r.capacity)
               for r in s.execute(rq)]
    if scope == "planner":
        groups = {e: (m or "—") for e, m in owner.items()}
    elif scope == "ministry":
        groups = {e: ministry for e in owner}
    else:
        groups = {e: e for e in owner}
    # enterprises that reported but are not parties (should not happen) still count in their scope
    for r in reports:
        if r.enterprise not in groups and scope != "ministry":
            groups[r.enterprise] = r.enterprise if scope == "enterprise" else "—"
    if chosen is None:
        return {"series": {}, "figure": None, "ratio_figure": None, "rows": [], "n_reports": len(reports)}
    targets: dict[int, dict[str, float]] = {}
    if payload is not None:
        targets[chosen.version] = {str(d["enterprise"]): float(d.get("target") or 0.0)
                                   for d in payload.get("enterprises") or [] if str(d["enterprise"]) in groups}
    for v in sorted({r.version for r in reports if r.version is not None} - set(targets)):
        if v in version_ids:
            targets[v] = _targets_of(s, version_ids[v], dir_where)
    series = figures.plan_vs_reported(targets, reports, groups, version=chosen.version)
    periods = sorted({x for sr in series.values() for x in sr["period"]})
    out: dict[str, Any] = {"series": series, "n_reports": len(reports), "periods": periods,
                           "figure": None, "ratio_figure": None, "rows": []}
    if periods:
        title = {"planner": "all ministries", "ministry": f"ministry {ministry}",
                 "enterprise": f"enterprise {enterprise}"}[scope]
        out["figure"] = figures.plan_vs_reported_figure(series, title=f"Planned and reported output, {title}",
                                                        units=units, show_capacity=scope == "enterprise")
        if scope == "planner" and len(series) > 1:
            out["ratio_figure"] = figures.execution_ratio_figure(series, names=ministry_names)
        last = periods[-1]
        for g, sr in series.items():
            i = sr["period"].index(last)
            planned, reported = sr["planned"][i], sr["reported"][i]
            out["rows"].append({"group": g, "name": ministry_names.get(g, "") if scope == "planner" else "",
                                "period": last, "planned": planned, "reported": reported,
                                "ratio": reported / planned if planned > 0 else None,
                                "reporting": sr["reporting"][i],
                                "members": sum(1 for m in groups.values() if m == g)})
        if scope == "ministry":
            # one row per enterprise of the ministry: its latest report against its target
            per = figures.plan_vs_reported(targets, reports, {e: e for e in groups}, version=chosen.version)
            out["enterprise_rows"] = []
            for e, sr in per.items():
                if last in sr["period"]:
                    i = sr["period"].index(last)
                    out["enterprise_rows"].append({
                        "enterprise": e, "planned": sr["planned"][i], "reported": sr["reported"][i],
                        "reported_now": bool(sr["reporting"][i]),
                        "ratio": sr["reported"][i] / sr["planned"][i] if sr["planned"][i] > 0 else None})
            out["enterprise_rows"].sort(key=lambda r: (r["ratio"] is None, r["ratio"] or 0.0, r["enterprise"]))
    return out


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


def _alert_row(a: Alert, p: Principal) -> dict[str, Any]:
    return {"id": a.id, "period": a.period, "level": a.level, "who": a.who, "enterprise": a.enterprise,
            "ministry": a.ministry, "indicator": a.indicator, "kind": a.kind, "probability": a.probability,
            "raised": a.raised, "resolved": a.resolved, "acknowledged_at": a.acknowledged_at,
            "may_acknowledge": a.acknowledged_at is None and may_acknowledge(p, a)}
