"""Enterprises' reports, their aggregation, re-plans and simulations.

``POST /economies/{id}/reports`` stores a report once per ``Idempotency-Key``: the key is
unique per user (``uq_reports_user_key``), the body's hash (SHA-256 of the canonical JSON of
the validated body and the economy) is stored with it. A retry with the same key and body
gets the stored report again (200, ``Idempotent-Replay: true``), the same key with another
body 422. The row is committed before the response is sent, so an acknowledged report
survives the server being killed. Two requests racing with one key: on SQLite the writers
are serialised (``BEGIN IMMEDIATE``) and the second finds the first's row; on PostgreSQL the
second insert waits on the unique index, fails with an integrity error once the first
commits, and the row is read again in a new transaction. Either way: one row, one 201.

``GET /economies/{id}/reports`` lists the reports the caller may see (planner all, a ministry
its enterprises', an enterprise its own); ``GET /economies/{id}/reports/aggregate`` sums them
per ministry and period against the latest published version's enterprise targets.
``POST /economies/{id}/replan`` and ``POST /economies/{id}/simulations`` queue jobs (202).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import zlib
from collections import defaultdict
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, false, func, select, true
from sqlalchemy.exc import IntegrityError

from gosplan.service.api.alerts import utc
from gosplan.service.api.economies import economy_row
from gosplan.service.api.plans import JOB_ERRORS, submit_job, submit_planning_job
from gosplan.service.api.schemas import (BODY_ERRORS, ERRORS, ErrorOut, Id, JobOut, Label, ReplanParams,
                                         SimulateParams)
from gosplan.service.auth import Principal
from gosplan.service.deps import PlannerOnly, get_db, not_found, require
from gosplan.service.models import Directive, EconomyRow, Party, PlanVersion, Report

__all__ = ["router", "ReportIn", "ReportOut", "AggregateRow", "AggregateOut", "report_scope",
           "body_hash", "IDEMPOTENCY_HEADER", "latest_report_ids"]

router = APIRouter(tags=["reports"])

IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F))
_MAX_INT = 2**31 - 1

LabelQuery = Query(min_length=1, max_length=200, pattern=r"^[^\x00]*$")
Quantity = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Reader = Annotated[Principal, require("planner", "ministry", "enterprise")]
Db = Annotated[Any, Depends(get_db)]



class ReportIn(BaseModel):
    """What an enterprise did in a period (its own, or any enterprise's when a planner sends it)."""

    model_config = ConfigDict(extra="forbid")

    enterprise: Label
    period: int = Field(ge=0, le=_MAX_INT)
    output: Quantity = Field(description="gross output made in the period")
    capacity: Quantity | None = Field(None, description="most it could have made")
    stocks: Quantity | None = Field(None, description="stocks of its product at the period's end")
    version: int | None = Field(None, ge=1, le=_MAX_INT, description="the published plan version reported against")


class ReportOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    economy_id: int
    enterprise: str
    ministry: str | None
    period: int
    version: int | None
    output: float
    capacity: float | None
    stocks: float | None
    created_at: dt.datetime


class AggregateRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ministry: str
    period: int
    enterprises: int = Field(description="enterprises of the ministry (parties of the economy)")
    enterprises_reporting: int
    output: float = Field(description="sum of the reporting enterprises' output (latest report per enterprise and period)")
    capacity: float | None = Field(description="sum of the capacities reported (None: none reported)")
    stocks: float | None = Field(description="sum of the stocks reported (None: none reported)")
    target: float | None = Field(description="the reporting enterprises' planned output in the latest version (None: no version)")
    ministry_target: float | None = Field(description="all the ministry's enterprises' planned output in the latest version")
    fulfilment: float | None = Field(description="output / target (None without a positive target)")


class AggregateOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    economy_id: int
    version: int | None = Field(description="the published version the targets come from (None: none published)")
    rows: list[AggregateRow]


def report_json(r: Report) -> dict[str, Any]:
    return {"id": r.id, "economy_id": r.economy_id, "enterprise": r.enterprise, "ministry": r.ministry,
            "period": r.period, "version": r.version, "output": r.output, "capacity": r.capacity,
            "stocks": r.stocks, "created_at": utc(r.created_at)}


def report_scope(p: Principal) -> ColumnElement[bool]:
    """The reports ``p`` may see, as a WHERE clause."""
    if p.role == "planner":
        return true()
    if p.role == "ministry" and p.ministry:
        return Report.ministry == p.ministry
    if p.role == "enterprise" and p.enterprise:
        return Report.enterprise == p.enterprise
    return false()


def body_hash(economy_id: int, body: ReportIn) -> str:
    """SHA-256 of the canonical JSON (sorted keys, defaults filled in) of a validated report."""
    canonical = {"economy_id": economy_id, **body.model_dump()}
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def idempotency_key(request: Request) -> str:
    """The request's ``Idempotency-Key`` (400 naming the header when missing or malformed)."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None or not key.strip():
        raise HTTPException(400, f"the header {IDEMPOTENCY_HEADER} is required: a key of 1 to 200 printable "
                            "characters, the same on every retry of one report")
    key = key.strip()
    if len(key) > 200 or not set(key) <= _KEY_CHARS:
        raise HTTPException(400, f"the header {IDEMPOTENCY_HEADER} must have 1 to 200 printable ASCII characters")
    return key


def _economy(s: Any, economy_id: int) -> EconomyRow:
    e = s.get(EconomyRow, economy_id)
    if e is None:
        raise not_found("economy")
    return e


def _stored(db: Any, user_id: int, key: str) -> Report | None:
    with db.readers() as s:
        return s.scalar(select(Report).where(Report.user_id == user_id, Report.idempotency_key == key))


def _replay(stored: Report, digest: str) -> JSONResponse:
    if stored.body_hash != digest:
        raise HTTPException(422, f"{IDEMPOTENCY_HEADER} reused with a different report: send a new key for a "
                            "new report, or the same body to retry this one")
    body = ReportOut.model_validate(report_json(stored)).model_dump(mode="json")
    return JSONResponse(body, status_code=200, headers={"Idempotent-Replay": "true"})


_KEY_PARAM = {"parameters": [{
    "name": IDEMPOTENCY_HEADER, "in": "header", "required": True,
    "description": "A key chosen by the client, the same on every retry of one report (1 to 200 printable "
                   "characters); stored once per user",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]([ -~]{0,198}[!-~])?$"},
}]}


@router.post(
    "/economies/{economy_id}/reports", status_code=201, response_model=ReportOut,
    summary="Submit an enterprise's report for a period (idempotent by Idempotency-Key)",
    openapi_extra=_KEY_PARAM,
    responses={**BODY_ERRORS,
               200: {"model": ReportOut, "description": "a retry: the report stored under this key before "
                     "(header Idempotent-Replay: true)"},
               400: {"model": ErrorOut, "description": "Idempotency-Key missing or malformed, or a body that "
                     "cannot be parsed"},
               403: {"model": ErrorOut, "description": "not a planner, nor the enterprise reported on"},
               422: {"model": ErrorOut, "description": "an invalid body, an enterprise or version not in this "
                     "economy, or the key reused with a different report"}})
def submit_report(economy_id: Id, body: ReportIn, request: Request, db: Db,
                  p: Annotated[Principal, require("planner", "enterprise")]) -> Any:
    key = idempotency_key(request)
    if p.role == "enterprise" and body.enterprise != p.enterprise:
        raise HTTPException(403, "an enterprise reports only for itself")
    digest = body_hash(economy_id, body)
    stored = _stored(db, p.id, key)
    if stored is not None:
        return _replay(stored, digest)
    try:
        with db.session() as s:
            _economy(s, economy_id)
            # Under SQLite's BEGIN IMMEDIATE this transaction holds the write lock: look again.
            again = s.scalar(select(Report).where(Report.user_id == p.id, Report.idempotency_key == key))
            if again is not None:
                stored = again
            else:
                party = s.get(Party, (economy_id, "enterprise", body.enterprise))
                if party is None:
                    raise HTTPException(422, f"enterprise {body.enterprise!r} is not an enterprise of economy {economy_id}")
                if body.version is not None and s.scalar(select(PlanVersion.id).where(
                        PlanVersion.economy_id == economy_id, PlanVersion.version == body.version)) is None:
                    raise HTTPException(422, f"version {body.version} of economy {economy_id} is not published")
                report = Report(economy_id=economy_id, enterprise=body.enterprise, ministry=party.ministry,
                                period=body.period, version=body.version, output=body.output,
                                capacity=body.capacity, stocks=body.stocks, user_id=p.id,
                                idempotency_key=key, body_hash=digest)
                s.add(report)
                s.flush()
        # committed: the report is acknowledged only now
    except IntegrityError:
        stored = _stored(db, p.id, key)
        if stored is None:  # pragma: no cover - the unique row must exist after the violation
            raise
    if stored is not None:
        return _replay(stored, digest)
    return report_json(report)


@router.get("/economies/{economy_id}/reports", response_model=list[ReportOut], responses=ERRORS,
            summary="Reports the caller may see (planner all, ministry its enterprises', enterprise its own)")
def list_reports(economy_id: Id, p: Reader, db: Db,
                 period: Annotated[int | None, Query(ge=0, le=_MAX_INT)] = None,
                 enterprise: Annotated[str | None, LabelQuery] = None,
                 limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
                 offset: Annotated[int, Query(ge=0, le=_MAX_INT)] = 0) -> list[dict[str, Any]]:
    with db.readers() as s:
        _economy(s, economy_id)
        q = select(Report).where(Report.economy_id == economy_id, report_scope(p))
        if period is not None:
            q = q.where(Report.period == period)
        if enterprise is not None:
            q = q.where(Report.enterprise == enterprise)
        return [report_json(r) for r in s.scalars(q.order_by(Report.id).limit(limit).offset(offset))]


def _directive(body: bytes) -> Any:
    """A directive's stored JSON (tolerating a zlib-compressed body)."""
    if body[:1] == b"\x78":
        try:
            body = zlib.decompress(body)
        except zlib.error:
            pass
    return orjson.loads(body)


def latest_report_ids(economy_id: int, *, ministry: str | list[str] | None = None,
                      enterprise: str | list[str] | None = None, period: int | None = None) -> Any:
    """The ids of the reports that count, as a scalar subquery: the latest (highest id) of each
    enterprise and period, of one ministry or enterprise (or those listed), or period when given
    (a list of enterprises seeks the (economy, enterprise, period) index; a ministry scans it).
    Shared by the aggregate below and the dashboard (``Report.id.in_(latest_report_ids(...))``)."""
    latest = (select(func.max(Report.id)).where(Report.economy_id == economy_id)
              .group_by(Report.enterprise, Report.period))
    if isinstance(ministry, list):
        latest = latest.where(Report.ministry.in_(ministry))
    elif ministry is not None:
        latest = latest.where(Report.ministry == ministry)
    if isinstance(enterprise, list):
        latest = latest.where(Report.enterprise.in_(enterprise))
    elif enterprise is not None:
        latest = latest.where(Report.enterprise == enterprise)
    if period is not None:
        latest = latest.where(Report.period == period)
    return latest.scalar_subquery()


def aggregate(s: Any, economy_id: int, ministry: str | None, period: int | None) -> dict[str, Any]:
    """Per ministry and period: the latest report of each enterprise summed, against the latest version."""
    latest = latest_report_ids(economy_id, ministry=ministry, period=period)
    reports = s.scalars(select(Report).where(Report.id.in_(latest))).all()

    version = s.scalar(select(PlanVersion).where(PlanVersion.economy_id == economy_id)
                       .order_by(PlanVersion.version.desc()).limit(1))
    targets: dict[str, float] = {}
    if version is not None:
        q = select(Directive.party, Directive.body).where(Directive.version_id == version.id,
                                                          Directive.kind == "enterprise")
        if ministry is not None:
            q = q.where(Directive.ministry == ministry)
        for party, blob in s.execute(q):
            t = _directive(blob).get("target")
            if isinstance(t, (int, float)) and math.isfinite(t):
                targets[party] = float(t)
    parties = select(Party.label, Party.ministry).where(Party.economy_id == economy_id, Party.kind == "enterprise")
    if ministry is not None:
        parties = parties.where(Party.ministry == ministry)
    members: dict[str, list[str]] = defaultdict(list)
    for label, m in s.execute(parties):
        members[m or ""].append(label)

    groups: dict[tuple[str, int], list[Report]] = defaultdict(list)
    for r in reports:
        groups[(r.ministry or "", r.period)].append(r)
    rows = []
    for (m, per), rs in sorted(groups.items()):
        output = math.fsum(r.output for r in rs)
        caps = [r.capacity for r in rs if r.capacity is not None]
        stocks = [r.stocks for r in rs if r.stocks is not None]
        target = ministry_target = None
        if version is not None:
            target = math.fsum(targets.get(r.enterprise, 0.0) for r in rs)
            ministry_target = math.fsum(targets.get(e, 0.0) for e in members.get(m, ()))
        rows.append({"ministry": m, "period": per, "enterprises": len(members.get(m, ())),
                     "enterprises_reporting": len({r.enterprise for r in rs}), "output": output,
                     "capacity": math.fsum(caps) if caps else None, "stocks": math.fsum(stocks) if stocks else None,
                     "target": target, "ministry_target": ministry_target,
                     "fulfilment": output / target if target else None})
    return {"economy_id": economy_id, "version": version.version if version is not None else None, "rows": rows}


@router.get("/economies/{economy_id}/reports/aggregate", response_model=AggregateOut,
            summary="Reports summed per ministry and period against the latest published targets",
            responses={**ERRORS, 403: {"model": ErrorOut, "description": "not a planner or ministry"},
                       404: {"model": ErrorOut, "description": "no such economy; for a ministry, another ministry"}})
def aggregate_reports(economy_id: Id, db: Db, p: Annotated[Principal, require("planner", "ministry")],
                      period: Annotated[int | None, Query(ge=0, le=_MAX_INT)] = None,
                      ministry: Annotated[str | None, Query(min_length=1, max_length=200, pattern=r"^[^\x00]*$",
                                                           description="one ministry only")] = None) -> dict[str, Any]:
    with db.readers() as s:
        _economy(s, economy_id)
        if p.role == "ministry":
            if ministry is not None and ministry != p.ministry:
                raise not_found("ministry")
            ministry = p.ministry
        return aggregate(s, economy_id, ministry, period)


@router.post("/economies/{economy_id}/replan", status_code=202, response_model=JobOut, responses=JOB_ERRORS,
             summary="Re-plan from the enterprises' latest reports (a background job; its result becomes a draft)")
def replan(economy_id: Id, params: ReplanParams, request: Request, p: PlannerOnly) -> dict[str, Any]:
    return submit_planning_job(request, economy_id, "replan", params, p.id)


@router.post("/economies/{economy_id}/simulations", status_code=202, response_model=JobOut, responses=JOB_ERRORS,
             summary="Simulate the execution of the economy's plan (a background job)")
def simulate(economy_id: Id, params: SimulateParams, request: Request, p: PlannerOnly) -> dict[str, Any]:
    with request.app.state.db.readers() as s:
        row = economy_row(s, economy_id)
        if params.groups != 1 and "upload" in (row.spec or {}):
            from gosplan.service.models import EconomyFile
            from gosplan.service.store import has_households

            f = s.get(EconomyFile, economy_id)
            if f is not None and has_households(bytes(f.data)):
                raise HTTPException(422, f"economy {row.name!r} has its own household tables: groups applies to "
                                         "economies without them (leave groups at 1 to use its own groups)")
    return submit_job(request, economy_id, "simulate", params.model_dump(mode="json"), p.id)
