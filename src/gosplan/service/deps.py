"""FastAPI dependencies: the database, who is asking, and role checks.

They are ``async`` and do no I/O on the event loop: FastAPI runs a plain ``def`` dependency in
its thread pool, and that hand-off (twice per request, for the token and the role check) cost
more than the rest of an authenticated request (py-spy, benchmarks/bench_service.py). Only a
token cache miss reads the database, in the thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from gosplan.service.auth import COOKIE, Principal

__all__ = ["get_db", "get_principal", "Auth", "require", "PlannerOnly", "not_found", "forbidden"]


async def get_db(request: Request) -> Any:
    return request.app.state.db


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HTTPException(401, "Authorization must be 'Bearer TOKEN'",
                                headers={"WWW-Authenticate": "Bearer"})
        return value.strip()
    return request.cookies.get(COOKIE)


async def get_principal(request: Request) -> Principal:
    """The user behind the request's bearer token (or the dashboard's cookie); 401 otherwise."""
    token = _token(request)
    if not token:
        raise HTTPException(401, "missing token: send 'Authorization: Bearer TOKEN'",
                            headers={"WWW-Authenticate": "Bearer"})
    tokens = request.app.state.tokens
    p = tokens.cached(token)
    if p is tokens.MISS:
        p = await run_in_threadpool(tokens.lookup, request.app.state.db, token)
    if p is None:
        raise HTTPException(401, "unknown or disabled token", headers={"WWW-Authenticate": "Bearer"})
    return p


Auth = Annotated[Principal, Depends(get_principal)]


def require(*roles: str):  # noqa: ANN201
    """A dependency admitting only ``roles`` (403 for the others)."""

    async def check(p: Auth) -> Principal:
        if p.role not in roles:
            raise HTTPException(403, f"this needs the role {' or '.join(roles)}; you are {p.role}")
        return p

    return Depends(check)


PlannerOnly = Annotated[Principal, require("planner")]


def not_found(what: str) -> HTTPException:
    """404 for what does not exist *or* what the asker may not see (nothing is revealed)."""
    return HTTPException(404, f"{what} not found")


def forbidden(why: str) -> HTTPException:
    return HTTPException(403, why)
