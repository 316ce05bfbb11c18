"""Cyberstride's alerts in the bureau: ``GET /economies/{id}/alerts``, ``POST /alerts/{id}/acknowledge``.

Alerts are written by simulation jobs (one row per raising and per escalation, with the
level it reached: ``enterprise``, ``ministry`` or ``centre``). Who sees them: planners all;
a ministry those whose ``ministry`` is its own (any level); an enterprise those about itself;
viewers none (403). An alert is acknowledged by the level it reached: level ``enterprise`` by
that enterprise, its ministry or a planner; level ``ministry`` by that ministry or a planner;
level ``centre`` by a planner only. An alert the caller may not see is 404, as one that does
not exist; acknowledging twice is 409 (one conditional update, so two racing
acknowledgements give one 200 and one 409).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, false, select, true, update

from gosplan.service.api.schemas import ERRORS, ErrorOut, Id
from gosplan.service.auth import Principal
from gosplan.service.deps import get_db, not_found, require
from gosplan.service.models import Alert, EconomyRow, utcnow

__all__ = ["router", "AlertOut", "alert_scope", "alert_json"]

router = APIRouter(tags=["alerts"])

Level = Literal["enterprise", "ministry", "centre"]
Reader = Annotated[Principal, require("planner", "ministry", "enterprise")]



class AlertOut(BaseModel):
    """One alert row: raised at ``period`` (of the change probability), reached ``level``."""

    id: int
    economy_id: int
    job_id: int | None
    period: int
    level: str
    who: str
    enterprise: str | None
    ministry: str | None
    indicator: str
    kind: str
    probability: float
    raised: int
    resolved: int | None
    acknowledged: bool
    acknowledged_by: int | None
    acknowledged_at: dt.datetime | None


def utc(d: dt.datetime | None) -> dt.datetime | None:
    """``d`` as an aware UTC time (SQLite gives back naive times, in UTC)."""
    if d is None or d.tzinfo is not None:
        return d
    return d.replace(tzinfo=dt.timezone.utc)


def alert_json(a: Alert) -> dict[str, Any]:
    return {"id": a.id, "economy_id": a.economy_id, "job_id": a.job_id, "period": a.period,
            "level": a.level, "who": a.who, "enterprise": a.enterprise, "ministry": a.ministry,
            "indicator": a.indicator, "kind": a.kind, "probability": a.probability, "raised": a.raised,
            "resolved": a.resolved, "acknowledged": a.acknowledged_at is not None,
            "acknowledged_by": a.acknowledged_by, "acknowledged_at": utc(a.acknowledged_at)}


def alert_scope(p: Principal) -> ColumnElement[bool]:
    """The alerts ``p`` may see, as a WHERE clause."""
    if p.role == "planner":
        return true()
    if p.role == "ministry" and p.ministry:
        return Alert.ministry == p.ministry
    if p.role == "enterprise" and p.enterprise:
        return Alert.enterprise == p.enterprise
    return false()


def may_acknowledge(p: Principal, a: Alert) -> bool:
    """The level the alert reached acknowledges it (and the levels above it)."""
    if p.role == "planner":
        return True
    if a.level == "enterprise":
        if p.role == "enterprise":
            return a.enterprise is not None and a.enterprise == p.enterprise
        if p.role == "ministry":
            return a.ministry is not None and a.ministry == p.ministry
        return False
    if a.level == "ministry":
        return p.role == "ministry" and a.ministry is not None and a.ministry == p.ministry
    return False


@router.get("/economies/{economy_id}/alerts", summary="Alerts of an economy the caller may see",
            response_model=list[AlertOut], responses=ERRORS)
def list_alerts(economy_id: Id, p: Reader, db: Annotated[Any, Depends(get_db)],
                open: Annotated[bool | None, Query(description="true: unacknowledged only; false: acknowledged only")] = None,  # noqa: A002
                level: Annotated[Level | None, Query(description="only alerts that reached this level")] = None,
                period: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
                limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
                offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> list[dict[str, Any]]:
    with db.session() as s:
        if s.get(EconomyRow, economy_id) is None:
            raise not_found("economy")
        q = select(Alert).where(Alert.economy_id == economy_id, alert_scope(p))
        if open is not None:
            q = q.where(Alert.acknowledged_at.is_(None) if open else Alert.acknowledged_at.is_not(None))
        if level is not None:
            q = q.where(Alert.level == level)
        if period is not None:
            q = q.where(Alert.period == period)
        rows = s.scalars(q.order_by(Alert.id).limit(limit).offset(offset)).all()
        return [alert_json(a) for a in rows]


@router.post("/alerts/{alert_id}/acknowledge", summary="Acknowledge an alert (by the level it reached)",
             response_model=AlertOut,
             responses={**ERRORS,
                        403: {"model": ErrorOut, "description": "a viewer, or the alert reached a level above the caller's"},
                        409: {"model": ErrorOut, "description": "already acknowledged"}})
def acknowledge(alert_id: Id, p: Reader, db: Annotated[Any, Depends(get_db)]) -> dict[str, Any]:
    with db.session() as s:
        a = s.scalar(select(Alert).where(Alert.id == alert_id, alert_scope(p)))
        if a is None:
            raise not_found("alert")
        if not may_acknowledge(p, a):
            raise HTTPException(403, f"this alert reached the {a.level} level: it is acknowledged there "
                                "(or above), not by you")
        now = utcnow()
        done = s.execute(update(Alert).where(and_(Alert.id == alert_id, Alert.acknowledged_at.is_(None)))
                         .values(acknowledged_at=now, acknowledged_by=p.id)
                         .execution_options(synchronize_session=False))
        if done.rowcount != 1:
            raise HTTPException(409, "this alert is acknowledged already")
        s.refresh(a)
        return alert_json(a)
