"""Economies: ``GET/POST /economies``, ``GET /economies/{id}``, ``GET /economies/{id}/enterprises``.

A planner loads an economy by a bundled name (JSON) or as an uploaded zip of an economy directory
(multipart: ``name``, ``file``). The library builds it (:func:`gosplan.service.store.economy_from_spec`)
outside any transaction; then the economy row, its uploaded file and its parties (ministries and
enterprises) are written in one transaction.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from gosplan.service.api.schemas import (
    ERRORS,
    EconomyDetailOut,
    EconomyIn,
    EconomyOut,
    EnterpriseOut,
    ErrorOut,
    Id,
)
from gosplan.service.deps import Auth, PlannerOnly, forbidden, not_found
from gosplan.service.models import EconomyFile, EconomyRow, Party, PlanVersion
from gosplan.service.store import BadEconomy, describe, economy_from_spec, parties_of

__all__ = ["router", "economy_row", "load_economy", "economy_json"]

router = APIRouter(tags=["economies"])

_LABEL_MAX = 200


# --- helpers shared with the plan endpoints ---------------------------------------------------------

def economy_row(session: Any, economy_id: int) -> EconomyRow:
    """The economy row, or 404 (every role may see every economy)."""
    row = session.get(EconomyRow, economy_id)
    if row is None:
        raise not_found(f"economy {economy_id}")
    return row


def load_economy(request: Request, row: EconomyRow) -> Any:
    """The library's :class:`~gosplan.Economy` of ``row`` (cached by the store)."""
    db = request.app.state.db
    data = None
    if row.source == "upload":
        with db.readers() as s:
            data = s.scalar(select(EconomyFile.data).where(EconomyFile.economy_id == row.id))
    try:
        return economy_from_spec(row.spec, data, request.app.state.settings)
    except BadEconomy as exc:  # a stored economy that no longer loads (a library change)
        raise HTTPException(422, f"economy {row.id} cannot be loaded: {exc}") from None


def latest_versions(session: Any, economy_ids: list[int] | None = None) -> dict[int, int]:
    stmt = select(PlanVersion.economy_id, func.max(PlanVersion.version)).group_by(PlanVersion.economy_id)
    if economy_ids is not None:
        stmt = stmt.where(PlanVersion.economy_id.in_(economy_ids))
    return {e: v for e, v in session.execute(stmt)}


def economy_json(row: EconomyRow, latest: int) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "source": row.source, "title": row.title, "units": row.units,
            "n_products": row.n_products, "n_ministries": row.n_ministries, "n_enterprises": row.n_enterprises,
            "created_at": row.created_at, "latest_version": latest}


# --- reading ------------------------------------------------------------------------------------------

@router.get("/economies", response_model=list[EconomyOut], responses=ERRORS, summary="The bureau's economies")
def list_economies(request: Request, p: Auth) -> list[dict[str, Any]]:
    with request.app.state.db.readers() as s:
        rows = s.scalars(select(EconomyRow).order_by(EconomyRow.id)).all()
        latest = latest_versions(s)
    return [economy_json(r, latest.get(r.id, 0)) for r in rows]


@router.get("/economies/{economy_id}", response_model=EconomyDetailOut, responses=ERRORS,
            summary="An economy, its spec and its ministries")
def get_economy(economy_id: Id, request: Request, p: Auth) -> dict[str, Any]:
    with request.app.state.db.readers() as s:
        row = economy_row(s, economy_id)
        latest = latest_versions(s, [economy_id]).get(economy_id, 0)
        ministries = s.execute(
            select(Party.label, Party.name).where(Party.economy_id == economy_id, Party.kind == "ministry")
            .order_by(Party.label)).all()
        counts = dict(s.execute(
            select(Party.ministry, func.count()).where(Party.economy_id == economy_id, Party.kind == "enterprise")
            .group_by(Party.ministry)).all())
    out = economy_json(row, latest)
    spec = {k: v for k, v in (row.spec or {}).items()}
    out["spec"] = spec
    out["ministries"] = [{"ministry": m, "name": n, "n_enterprises": int(counts.get(m, 0))} for m, n in ministries]
    return out


@router.get("/economies/{economy_id}/enterprises", response_model=list[EnterpriseOut], responses=ERRORS,
            summary="An economy's enterprises (planner: all; a ministry: its own; an enterprise: itself)")
def list_enterprises(economy_id: Id, request: Request, response: Response, p: Auth,
                     limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
                     offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[dict[str, Any]]:
    if p.role == "viewer":
        raise forbidden("viewers do not see an economy's enterprises")
    with request.app.state.db.readers() as s:
        economy_row(s, economy_id)
        where = [Party.economy_id == economy_id, Party.kind == "enterprise"]
        if p.role == "ministry":
            where.append(Party.ministry == p.ministry)
        elif p.role == "enterprise":
            where.append(Party.label == p.enterprise)
        total = s.scalar(select(func.count()).select_from(Party).where(*where)) or 0
        rows = s.execute(select(Party.label, Party.ministry, Party.product, Party.name).where(*where)
                         .order_by(Party.ministry, Party.product, Party.label).limit(limit).offset(offset)).all()
    response.headers["X-Total-Count"] = str(total)
    return [{"enterprise": e, "ministry": m, "product": pr, "name": n} for e, m, pr, n in rows]


# --- loading ------------------------------------------------------------------------------------------

_UPLOAD_SCHEMA = {
    "type": "object",
    "required": ["name", "file"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": _LABEL_MAX},
        "file": {"type": "string", "format": "binary",
                 "description": "a zip of an economy directory (docs/economy-format.md)"},
    },
}


def _request_body_doc() -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": EconomyIn.model_json_schema(ref_template="#/components/schemas/{model}")},
        "multipart/form-data": {"schema": _UPLOAD_SCHEMA},
    }}}


def _validation_detail(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())


async def _read_body(request: Request) -> tuple[str, dict[str, Any], bytes | None]:
    """(name, spec, zip bytes or None) from a JSON or multipart request."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(422, f"the body is not valid JSON: {exc}") from None
        try:
            params = EconomyIn.model_validate(body)
        except ValidationError as exc:
            raise HTTPException(422, _validation_detail(exc)) from None
        spec = {"bundled": params.bundled, "enterprises_per_product": params.enterprises_per_product,
                "ministries": params.ministries, "seed": params.seed}
        return params.name, spec, None
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.form(max_files=1, max_fields=10)
        except HTTPException as exc:
            raise HTTPException(400, f"malformed multipart body: {exc.detail}") from None
        except Exception as exc:  # noqa: BLE001 - a malformed body is the client's
            raise HTTPException(400, f"malformed multipart body: {exc}") from None
        extra = sorted(set(form.keys()) - {"name", "file"})
        if extra:
            raise HTTPException(422, f"unknown form fields: {', '.join(map(repr, extra))} (expected name and file)")
        name, upload = form.get("name"), form.get("file")
        if not isinstance(name, str) or not 1 <= len(name) <= _LABEL_MAX or "\x00" in name:
            raise HTTPException(422, f"form field 'name' must be text of 1 to {_LABEL_MAX} characters (no NUL)")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, "form field 'file' must be a file (a zip of an economy directory)")
        data = await upload.read()
        filename = (upload.filename or "economy.zip").replace("\x00", "")[:_LABEL_MAX] or "economy.zip"
        return name, {"upload": filename, "sha256": hashlib.sha256(data).hexdigest()}, data
    raise HTTPException(415, "send the economy as application/json (a bundled name) or multipart/form-data "
                             "(fields name and file, a zip)")


def _check_labels(parties: list[dict[str, Any]]) -> None:
    seen: set[tuple[str, str]] = set()
    for row in parties:
        label = row["label"]
        if not 1 <= len(label) <= _LABEL_MAX:
            raise BadEconomy(f"{row['kind']} label {label[:50]!r} must have 1 to {_LABEL_MAX} characters")
        key = (row["kind"], label)
        if key in seen:
            raise BadEconomy(f"two {row['kind']}s are labelled {label!r} (as text)")
        seen.add(key)
        for col in ("ministry", "product"):
            if row[col] is not None and len(row[col]) > _LABEL_MAX:
                raise BadEconomy(f"{col} label {row[col][:50]!r} must have at most {_LABEL_MAX} characters")


def store_economy(db: Any, settings: Any, name: str, spec: dict[str, Any], data: bytes | None,
                  user_id: int | None) -> dict[str, Any]:
    """Load the economy ``spec`` describes (outside any transaction), then store it and its parties
    in one transaction; its JSON. HTTPException 409 when ``name`` is taken, 400/422 for a bad economy.
    (Also used by ``gosplan serve --economy``.)"""
    with db.readers() as s:
        if s.scalar(select(EconomyRow.id).where(EconomyRow.name == name)) is not None:
            raise HTTPException(409, f"an economy named {name!r} exists already")
    try:
        economy = economy_from_spec(spec, data, settings)
        parties = parties_of(economy)
        _check_labels(parties)
        info = describe(economy)
    except BadEconomy as exc:
        raise HTTPException(exc.status, str(exc)) from None
    try:
        with db.session() as s:
            row = EconomyRow(name=name, source="upload" if data is not None else "bundled", spec=spec,
                             created_by=user_id, **info)
            s.add(row)
            s.flush()
            if data is not None:
                s.add(EconomyFile(economy_id=row.id, sha256=spec["sha256"], data=data))
            if parties:
                s.execute(insert(Party), [{"economy_id": row.id, **p} for p in parties])
    except IntegrityError as exc:
        with db.readers() as s:
            taken = s.scalar(select(EconomyRow.id).where(EconomyRow.name == name)) is not None
        if taken:  # a concurrent load of the same name won
            raise HTTPException(409, f"an economy named {name!r} exists already") from None
        first = str(exc.orig).strip().splitlines()[0][:300] if exc.orig is not None else "a constraint failed"
        raise HTTPException(409, f"economy {name!r} could not be stored: {first}") from None
    return economy_json(row, 0)


@router.post("/economies", status_code=201, response_model=EconomyOut,
             responses={**ERRORS, 400: {"model": ErrorOut, "description": "an upload that is not a safe zip"},
                        409: {"model": ErrorOut, "description": "the name is taken"},
                        413: {"model": ErrorOut, "description": "the body is too large"},
                        415: {"model": ErrorOut, "description": "neither JSON nor multipart"}},
             openapi_extra=_request_body_doc(),
             summary="Load an economy: a bundled name (JSON) or an uploaded economy directory (multipart zip)")
async def create_economy(request: Request, p: PlannerOnly) -> dict[str, Any]:
    name, spec, data = await _read_body(request)
    return await run_in_threadpool(store_economy, request.app.state.db, request.app.state.settings, name, spec, data, p.id)
