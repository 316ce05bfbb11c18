"""Plans: plan jobs, drafts, publishing, immutable versions, their tables and directives.

* ``POST /economies/{id}/plans`` (planner): check the parameters against the economy, queue a
  job (202); the job runner turns it into a draft.
* ``GET /economies/{id}/drafts``, ``GET /drafts/{id}`` (planner).
* ``POST /drafts/{id}/publish`` (planner) ``{base_version}``: the next version of the economy's
  plan, in one transaction, when ``base_version`` is the latest; 409 otherwise. The
  ``(economy_id, version)`` uniqueness decides between concurrent publishes (SQLite's
  ``BEGIN IMMEDIATE`` serialises them; on PostgreSQL the loser's insert fails), so versions
  are gapless and never duplicated. No endpoint changes or deletes a version.
* ``GET /economies/{id}/versions[/{v}]`` and the version's products, resources, ministries and
  flows (every role; ``latest`` names the latest version).
* ``GET .../versions/{v}/directives/ministries/{m}`` (planner, ministry ``m``) and
  ``.../directives/enterprises/{e}`` (planner, the ministry of ``e``, enterprise ``e``): one
  indexed read of the stored JSON, served as it is.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Annotated, Any

import orjson
from fastapi.concurrency import run_in_threadpool
from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from gosplan.service.api.economies import economy_row, load_economy
from gosplan.service.api.jobs import job_json
from gosplan.service.api.schemas import (
    BODY_ERRORS,
    ERRORS,
    ConflictOut,
    DraftDetailOut,
    DraftOut,
    EnterpriseDirectiveOut,
    ErrorOut,
    FlowRowOut,
    Id,
    JobOut,
    Label,
    MinistryDirectiveOut,
    MinistryRowOut,
    PlanParams,
    ProductRowOut,
    PublishIn,
    ResourceRowOut,
    VersionOut,
)
from gosplan.service.deps import Auth, PlannerOnly, forbidden, not_found
from gosplan.service.models import Directive, Draft, Job, PlanVersion, unpack, utcnow

__all__ = ["router", "directive_rows", "check_labels", "draft_payload", "submit_job", "submit_planning_job", "JOB_ERRORS"]

router = APIRouter(tags=["plans"])

#: ``latest`` or a version number (1, 2, ...).
VersionRef = Annotated[str, Path(pattern=r"^(latest|[1-9][0-9]{0,8})$",
                                 description="a version number or 'latest'")]


# --- payloads of drafts (immutable: cached by id) -------------------------------------------------------

_payloads: weakref.WeakKeyDictionary[Any, OrderedDict[int, dict[str, Any]]] = weakref.WeakKeyDictionary()
_payload_lock = threading.Lock()
_PAYLOADS_KEPT = 4


def draft_payload(db: Any, draft_id: int) -> dict[str, Any]:
    """The unpacked :class:`~gosplan.service.payload.PlanPayload` of a draft of ``db`` (the last few kept)."""
    with _payload_lock:
        kept = _payloads.setdefault(db, OrderedDict())
        if draft_id in kept:
            kept.move_to_end(draft_id)
            return kept[draft_id]
    with db.readers() as s:
        blob = s.scalar(select(Draft.payload).where(Draft.id == draft_id))
    if blob is None:
        raise not_found(f"draft {draft_id}")
    payload = unpack(blob)
    with _payload_lock:
        kept[draft_id] = payload
        while len(kept) > _PAYLOADS_KEPT:
            kept.popitem(last=False)
    return payload


# --- plan jobs ----------------------------------------------------------------------------------------

def _listed(labels: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(x) for x in labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


def check_labels(economy: Any, params: PlanParams) -> None:
    """422 naming the labels of ``params`` that are not products (or resources) of ``economy``."""
    products = {str(p) for p in economy.products}
    resources = {str(r) for r in economy.resources}
    problems = []
    for field in ("targets", "capacities", "priorities", "weights"):
        given = getattr(params, field) or {}
        if not isinstance(given, dict):
            continue
        unknown = [k for k in given if k not in products]
        if unknown:
            problems.append(f"unknown products in {field}: {_listed(unknown)}")
    unknown = [k for k in (params.resources or {}) if k not in resources]
    if unknown:
        problems.append(f"unknown resources in resources: {_listed(unknown)} "
                        f"(resources of this economy: {_listed(sorted(resources))})")
    if problems:
        raise HTTPException(422, "; ".join(problems))


def submit_job(request: Request, economy_id: int, kind: str, params: dict[str, Any], user_id: int) -> dict[str, Any]:
    """Insert a queued job, commit, hand it to the runner; the job's JSON."""
    db = request.app.state.db
    with db.session() as s:
        job = Job(economy_id=economy_id, kind=kind, params=params, state="queued", created_by=user_id)
        s.add(job)
        s.flush()
    try:
        request.app.state.runner.submit(job.id)
    except Exception as exc:  # noqa: BLE001 - the job is recorded as failed, the client told why
        with db.session() as s:
            s.execute(update(Job).where(Job.id == job.id).values(
                state="failed", message=f"the job runner refused the job: {type(exc).__name__}: {exc}",
                finished_at=utcnow()))
        raise HTTPException(503, f"the job runner cannot take jobs now ({type(exc).__name__}); "
                                 f"job {job.id} marked failed") from None
    with db.readers() as s:
        return job_json(s.get(Job, job.id) or job)


#: What a job submission may answer besides 202 (OpenAPI).
JOB_ERRORS: dict[int | str, dict[str, Any]] = {
    **BODY_ERRORS, 503: {"model": ErrorOut, "description": "the job runner is unavailable"}}


def submit_planning_job(request: Request, economy_id: int, kind: str, params: PlanParams, user_id: int) -> dict[str, Any]:
    """A plan or re-plan job, its labels checked against the economy first (422 naming them)."""
    with request.app.state.db.readers() as s:
        row = economy_row(s, economy_id)
    check_labels(load_economy(request, row), params)
    return submit_job(request, economy_id, kind, params.model_dump(mode="json"), user_id)


@router.post("/economies/{economy_id}/plans", status_code=202, response_model=JobOut, responses=JOB_ERRORS,
             summary="Plan an economy (a background job; its result becomes a draft)")
def submit_plan(economy_id: Id, params: PlanParams, request: Request, p: PlannerOnly) -> dict[str, Any]:
    return submit_planning_job(request, economy_id, "plan", params, p.id)


# --- drafts -------------------------------------------------------------------------------------------

def draft_json(d: Draft) -> dict[str, Any]:
    return {"id": d.id, "economy_id": d.economy_id, "job_id": d.job_id, "kind": d.kind,
            "summary": d.summary or {}, "created_at": d.created_at}


@router.get("/economies/{economy_id}/drafts", response_model=list[DraftOut], responses=ERRORS,
            summary="An economy's drafts (finished plans, published or not)")
def list_drafts(economy_id: Id, request: Request, p: PlannerOnly) -> list[dict[str, Any]]:
    with request.app.state.db.readers() as s:
        economy_row(s, economy_id)
        drafts = s.scalars(select(Draft).where(Draft.economy_id == economy_id).order_by(Draft.id)).all()
    return [draft_json(d) for d in drafts]


@router.get("/drafts/{draft_id}", response_model=DraftDetailOut, responses=ERRORS,
            summary="A draft with its product and resource tables")
def get_draft(draft_id: Id, request: Request, p: PlannerOnly) -> dict[str, Any]:
    db = request.app.state.db
    with db.readers() as s:
        d = s.get(Draft, draft_id)
        if d is None:
            raise not_found(f"draft {draft_id}")
    payload = draft_payload(db, draft_id)
    return {**draft_json(d), "status": str(payload.get("status", "")), "message": str(payload.get("message", "")),
            "products": payload.get("products") or [], "resources": payload.get("resources") or []}


# --- publishing ---------------------------------------------------------------------------------------

def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)


def directive_rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``directives`` rows of a plan payload (without ``version_id``): one per ministry and enterprise."""
    rows = [{"kind": "ministry", "party": str(m["ministry"]), "ministry": str(m["ministry"]), "body": _dumps(m)}
            for m in payload.get("ministry_directives") or []]
    rows += [{"kind": "enterprise", "party": str(e["enterprise"]),
              "ministry": None if e.get("ministry") is None else str(e["ministry"]), "body": _dumps(e)}
             for e in payload.get("enterprises") or []]
    return rows


class _Stale(Exception):
    def __init__(self, latest: int):
        self.latest = latest


def _conflict(base: int, latest: int) -> JSONResponse:
    return JSONResponse(status_code=409, content={
        "detail": f"base version {base} is not the latest (latest is {latest}): publish against version {latest}",
        "latest": latest})


def version_json(v: PlanVersion) -> dict[str, Any]:
    return {"economy_id": v.economy_id, "version": v.version, "draft_id": v.draft_id,
            "published_at": v.published_at, "summary": v.summary or {}}


@router.post("/drafts/{draft_id}/publish", status_code=201, response_model=VersionOut,
             responses={**BODY_ERRORS, 409: {"model": ConflictOut, "description": "base_version is not the latest version"}},
             summary="Publish a draft as the economy's next plan version (409 unless base_version is the latest)")
def publish(draft_id: Id, body: PublishIn, request: Request, p: PlannerOnly) -> Any:
    db = request.app.state.db
    with db.readers() as s:
        draft = s.get(Draft, draft_id)
        if draft is None:
            raise not_found(f"draft {draft_id}")
    rows = directive_rows(draft_payload(db, draft_id))  # serialised outside the transaction
    economy_id = draft.economy_id
    try:
        with db.session() as s:
            latest = s.scalar(select(func.coalesce(func.max(PlanVersion.version), 0))
                              .where(PlanVersion.economy_id == economy_id)) or 0
            if body.base_version != latest:
                raise _Stale(latest)
            version = PlanVersion(economy_id=economy_id, version=latest + 1, draft_id=draft_id,
                                  summary={**(draft.summary or {}), "kind": draft.kind}, published_by=p.id)
            s.add(version)
            s.flush()  # the unique (economy_id, version) decides a race here (PostgreSQL)
            if rows:
                s.execute(insert(Directive), [{"version_id": version.id, **r} for r in rows])
    except _Stale as stale:
        return _conflict(body.base_version, stale.latest)
    except IntegrityError:
        with db.readers() as s:
            latest = s.scalar(select(func.coalesce(func.max(PlanVersion.version), 0))
                              .where(PlanVersion.economy_id == economy_id)) or 0
        return _conflict(body.base_version, latest)
    return version_json(version)


# --- versions -----------------------------------------------------------------------------------------

def _version(session: Any, economy_id: int, ref: str) -> PlanVersion:
    stmt = select(PlanVersion).where(PlanVersion.economy_id == economy_id)
    if ref == "latest":
        stmt = stmt.order_by(PlanVersion.version.desc()).limit(1)
    else:
        stmt = stmt.where(PlanVersion.version == int(ref))
    v = session.scalar(stmt)
    if v is None:
        economy_row(session, economy_id)
        raise not_found(f"version {ref} of economy {economy_id}" if ref != "latest"
                        else f"a published version of economy {economy_id}")
    return v


@router.get("/economies/{economy_id}/versions", response_model=list[VersionOut], responses=ERRORS,
            summary="An economy's published plan versions")
def list_versions(economy_id: Id, request: Request, p: Auth) -> list[dict[str, Any]]:
    with request.app.state.db.readers() as s:
        economy_row(s, economy_id)
        versions = s.scalars(select(PlanVersion).where(PlanVersion.economy_id == economy_id)
                             .order_by(PlanVersion.version)).all()
    return [version_json(v) for v in versions]


@router.get("/economies/{economy_id}/versions/{version}", response_model=VersionOut, responses=ERRORS,
            summary="A published plan version ('latest' for the latest)")
def get_version(economy_id: Id, version: VersionRef, request: Request, p: Auth) -> dict[str, Any]:
    with request.app.state.db.readers() as s:
        return version_json(_version(s, economy_id, version))


def _table(request: Request, economy_id: int, version: str, key: str) -> list[dict[str, Any]]:
    db = request.app.state.db
    with db.readers() as s:
        draft_id = _version(s, economy_id, version).draft_id
    return draft_payload(db, draft_id).get(key) or []


@router.get("/economies/{economy_id}/versions/{version}/products", response_model=list[ProductRowOut],
            responses=ERRORS, summary="A published version's products: output, targets, fulfilment, prices")
def version_products(economy_id: Id, version: VersionRef, request: Request, p: Auth) -> list[dict[str, Any]]:
    return _table(request, economy_id, version, "products")


@router.get("/economies/{economy_id}/versions/{version}/resources", response_model=list[ResourceRowOut],
            responses=ERRORS, summary="A published version's resources: use, shadow prices, binding")
def version_resources(economy_id: Id, version: VersionRef, request: Request, p: Auth) -> list[dict[str, Any]]:
    return _table(request, economy_id, version, "resources")


@router.get("/economies/{economy_id}/versions/{version}/ministries", response_model=list[MinistryRowOut],
            responses=ERRORS, summary="A published version's ministries: output, labour, sizes")
def version_ministries(economy_id: Id, version: VersionRef, request: Request, p: Auth) -> list[dict[str, Any]]:
    return _table(request, economy_id, version, "ministries")


@router.get("/economies/{economy_id}/versions/{version}/flows", response_model=list[FlowRowOut],
            responses=ERRORS, summary="A published version's flows between ministries")
def version_flows(economy_id: Id, version: VersionRef, request: Request, p: Auth) -> list[dict[str, Any]]:
    return _table(request, economy_id, version, "flows")


# --- directives: one indexed read, served as stored ------------------------------------------------------

def _directive_sql(sqlite: bool, latest: bool) -> str:
    ph = (lambda n: f":{n}") if sqlite else (lambda n: f"%({n})s")
    version = (f"(SELECT max(version) FROM plan_versions WHERE economy_id = {ph('e')})" if latest else ph("v"))
    return ("SELECT d.body, d.ministry FROM directives d JOIN plan_versions pv ON pv.id = d.version_id "
            f"WHERE pv.economy_id = {ph('e')} AND pv.version = {version} "
            f"AND d.kind = {ph('k')} AND d.party = {ph('p')}")


_SQL = {(sqlite, latest): _directive_sql(sqlite, latest) for sqlite in (True, False) for latest in (True, False)}


def _directive(request: Request, economy_id: int, version: str, kind: str, party: str) -> tuple[bytes, str | None] | None:
    """(body, ministry) of a directive, or ``None``: one statement on a pooled connection.

    A plain DB-API cursor without a transaction of its own: on SQLite a read in WAL mode needs
    no ``BEGIN IMMEDIATE`` (which would queue every reader behind the writers).
    """
    db = request.app.state.db
    params = {"e": economy_id, "k": kind, "p": party}
    if version != "latest":
        params["v"] = int(version)
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        try:
            cur.execute(_SQL[(db.sqlite, version == "latest")], params)
            row = cur.fetchone()
        finally:
            cur.close()
        if not db.sqlite:
            raw.rollback()
    finally:
        raw.close()
    return None if row is None else (bytes(row[0]), row[1])


async def _directive_async(request: Request, economy_id: int, version: str, kind: str,
                           party: str) -> tuple[bytes, str | None] | None:
    """:func:`_directive` on the event loop for SQLite (a WAL read of one row by its index never
    waits: about 25 us, less than the hand-off to a thread), in the thread pool for PostgreSQL."""
    if request.app.state.db.sqlite:
        return _directive(request, economy_id, version, kind, party)
    return await run_in_threadpool(_directive, request, economy_id, version, kind, party)


def _what(economy_id: int, version: str, kind: str, party: str) -> str:
    v = "the latest version" if version == "latest" else f"version {version}"
    return f"directive of {kind} {party!r} in {v} of economy {economy_id}"


@router.get("/economies/{economy_id}/versions/{version}/directives/ministries/{ministry}",
            response_model=MinistryDirectiveOut, responses=ERRORS,
            summary="A ministry's directive of a published version (planner, that ministry)")
async def ministry_directive(economy_id: Id, version: VersionRef, ministry: Label, request: Request,
                             p: Auth) -> Response:
    if p.role not in ("planner", "ministry"):
        raise forbidden(f"a {p.role} does not read ministries' directives")
    what = _what(economy_id, version, "ministry", ministry)
    if p.role == "ministry" and p.ministry != ministry:
        raise not_found(what)
    hit = await _directive_async(request, economy_id, version, "ministry", ministry)
    if hit is None:
        raise not_found(what)
    return Response(content=hit[0], media_type="application/json")


@router.get("/economies/{economy_id}/versions/{version}/directives/enterprises/{enterprise}",
            response_model=EnterpriseDirectiveOut, responses=ERRORS,
            summary="An enterprise's directive of a published version (planner, its ministry, the enterprise)")
async def enterprise_directive(economy_id: Id, version: VersionRef, enterprise: Label, request: Request,
                               p: Auth) -> Response:
    if p.role == "viewer":
        raise forbidden("viewers do not read directives")
    what = _what(economy_id, version, "enterprise", enterprise)
    if p.role == "enterprise" and p.enterprise != enterprise:
        raise not_found(what)
    hit = await _directive_async(request, economy_id, version, "enterprise", enterprise)
    if hit is None or (p.role == "ministry" and hit[1] != p.ministry):
        raise not_found(what)
    return Response(content=hit[0], media_type="application/json")
