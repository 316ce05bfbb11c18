"""Jobs (planner only): ``GET /jobs``, ``GET /jobs/{id}``, ``POST /jobs/{id}/cancel``, ``GET /jobs/{id}/result``.

A job is a plan, re-plan or simulation run by the job runner (:mod:`gosplan.service.jobs`); its
row carries its state (queued, running, done, failed, cancelled), progress (0..1) and message.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import select

from gosplan.service.api.schemas import ERRORS, DraftOut, ErrorOut, Id, JobOut, SimulationOut
from gosplan.service.deps import PlannerOnly, not_found
from gosplan.service.models import FINISHED, Draft, Job, unpack

__all__ = ["router", "job_json"]

router = APIRouter(tags=["jobs"])


def job_json(j: Job) -> dict[str, Any]:
    return {"id": j.id, "economy_id": j.economy_id, "kind": j.kind, "params": j.params or {}, "state": j.state,
            "progress": float(j.progress or 0.0), "message": j.message or "", "draft_id": j.draft_id,
            "summary": j.summary, "created_at": j.created_at, "started_at": j.started_at,
            "finished_at": j.finished_at}


def _job(session: Any, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise not_found(f"job {job_id}")
    return job


@router.get("/jobs", response_model=list[JobOut], responses=ERRORS, summary="Jobs, newest first")
def list_jobs(request: Request, p: PlannerOnly,
              economy_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
              state: Literal["queued", "running", "done", "failed", "cancelled"] | None = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[dict[str, Any]]:
    stmt = select(Job).order_by(Job.id.desc()).limit(limit).offset(offset)
    if economy_id is not None:
        stmt = stmt.where(Job.economy_id == economy_id)
    if state is not None:
        stmt = stmt.where(Job.state == state)
    with request.app.state.db.readers() as s:
        return [job_json(j) for j in s.scalars(stmt)]


@router.get("/jobs/{job_id}", response_model=JobOut, responses=ERRORS, summary="A job's state and progress")
def get_job(job_id: Id, request: Request, p: PlannerOnly) -> dict[str, Any]:
    with request.app.state.db.readers() as s:
        return job_json(_job(s, job_id))


@router.post("/jobs/{job_id}/cancel", status_code=202, response_model=JobOut,
             responses={**ERRORS, 409: {"model": ErrorOut, "description": "the job has finished"}},
             summary="Ask a job to stop (cancelled once it has stopped)")
def cancel_job(job_id: Id, request: Request, p: PlannerOnly) -> dict[str, Any]:
    db = request.app.state.db
    with db.readers() as s:
        job = _job(s, job_id)
    if job.state in FINISHED or not request.app.state.runner.cancel(job_id):
        with db.readers() as s:
            state = _job(s, job_id).state
        raise HTTPException(409, f"job {job_id} has finished ({state}); only queued or running jobs can be cancelled")
    with db.readers() as s:
        return job_json(_job(s, job_id))


@router.get("/jobs/{job_id}/result", response_model=SimulationOut | DraftOut,
            responses={**ERRORS, 409: {"model": ErrorOut, "description": "the job has no result (yet)"}},
            summary="A finished job's result: a simulation's tables, or a plan's draft")
def job_result(job_id: Id, request: Request, p: PlannerOnly) -> dict[str, Any]:
    with request.app.state.db.readers() as s:
        job = _job(s, job_id)
        if job.state != "done":
            why = f": {job.message}" if job.message else ""
            raise HTTPException(409, f"job {job_id} is {job.state}{why}; a result comes with state done")
        if job.kind == "simulate":
            if job.result is None:
                raise HTTPException(409, f"job {job_id} finished without a result")
            return unpack(job.result)
        draft = s.get(Draft, job.draft_id) if job.draft_id is not None else None
        if draft is None:
            raise HTTPException(409, f"job {job_id} finished without a draft")
        return {"id": draft.id, "economy_id": draft.economy_id, "job_id": draft.job_id, "kind": draft.kind,
                "summary": draft.summary or {}, "created_at": draft.created_at}
