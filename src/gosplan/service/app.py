"""The planning bureau's web application (FastAPI): ``create_app(settings)``.

Routes: ``GET /healthz``; the JSON API under ``/api/v1`` (:mod:`gosplan.service.api`); the
dashboard under ``/dashboard`` (:mod:`gosplan.service.dashboard`); OpenAPI at ``/openapi.json``.
The application holds no planning logic: jobs call the library (:mod:`gosplan.service.jobs`).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from gosplan._version import __version__
from gosplan.service.auth import TokenCache
from gosplan.service.db import Database, upgrade
from gosplan.service.settings import Settings

__all__ = ["create_app"]

log = logging.getLogger("gosplan.service")


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether announced or streamed.

    An announced ``Content-Length`` over the limit is refused before the application runs. A
    streamed (chunked) body is counted as the application reads it; once over the limit the 413
    is sent at once, the application is told the client went away (``http.disconnect``), and
    whatever it answers or raises after that is dropped (FastAPI would otherwise turn the
    interrupted read into a 400 "error parsing the body").
    """

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    return await _reject(send, self.limit)
        seen = 0
        started = rejected = False

        async def counted() -> dict:
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    if started:  # too late for a 413: the response is under way
                        raise _TooLarge()
                    rejected = True
                    await _reject(send, self.limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: dict) -> None:
            nonlocal started
            if rejected:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not rejected:
                raise


class _TooLarge(Exception):
    pass


async def _reject(send: Any, limit: int) -> None:
    import orjson

    body = orjson.dumps({"detail": f"request body larger than {limit:,} bytes"})
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _flattened(router: Any) -> list[tuple[Any, str]]:
    """``router``'s sub-routers, each with ``router``'s prefix: included one level less deep.

    FastAPI (0.16x) matches an included router's routes once to choose it and again to
    dispatch, at every level of nesting; the API router holding one router per resource made a
    directive read try some 54 route patterns (about 60 us of 350 us of CPU in the application,
    benchmarks/bench_service.py). Same paths, operations and OpenAPI document. Anything but
    plain inclusions (routes of its own, include options) keeps ``router`` whole.
    """
    subs = []
    for route in router.routes:
        inner, ctx = getattr(route, "original_router", None), getattr(route, "include_context", None)
        plain = ctx is not None and ctx.prefix == router.prefix and not ctx.tags and not ctx.dependencies \
            and not ctx.responses and not ctx.callbacks and ctx.deprecated is None and ctx.include_in_schema
        if inner is None or not plain or inner.dependencies or inner.prefix:
            return [(router, "")]
        subs.append((inner, router.prefix))
    return subs


def _json_safe(value: Any) -> bool:
    import json

    try:
        json.dumps(value, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False


async def _invalid_request(request: Any, exc: Any) -> JSONResponse:
    """422 naming every field at fault; the offending input is echoed only when it is plain JSON
    (FastAPI's own handler fails with 500 on a body holding NaN or Infinity)."""
    from fastapi.encoders import jsonable_encoder

    errors = []
    for e in exc.errors():
        e = {k: v for k, v in e.items() if k != "url"}
        if "ctx" in e:
            e["ctx"] = {k: str(v) for k, v in e["ctx"].items()}
        if "input" in e and not _json_safe(jsonable_encoder(e["input"])):
            e["input"] = repr(e["input"])[:200]
        errors.append(jsonable_encoder(e))
    return JSONResponse({"detail": errors}, status_code=422)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The bureau's application for ``settings`` (migrations applied on start unless ``migrate=False``)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        db = Database(settings.db_url)
        if settings.migrate:
            upgrade(settings.db_url, engine=db.engine)
        from gosplan.service.jobs.runner import JobRunner

        runner = JobRunner(db, settings)
        runner.start()
        app.state.db, app.state.runner = db, runner
        app.state.tokens = TokenCache(settings.auth_cache_seconds)
        app.state.settings = settings
        try:
            yield
        finally:
            runner.close()
            db.dispose()

    app = FastAPI(
        title="gosplan planning bureau",
        version=__version__,
        description="The centre, ministries and enterprises working on one plan: economies, plan "
        "jobs, immutable plan versions, directives, reports, re-plans, simulations and alerts.",
        lifespan=lifespan,
    )

    @app.get("/healthz", tags=["service"], summary="Liveness and database check")
    def healthz() -> dict[str, Any]:
        db = app.state.db
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            ok = True
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            log.warning("health check: database unreachable: %s", type(exc).__name__)
            ok = False
        body = {"status": "ok" if ok else "degraded", "database": "ok" if ok else "unreachable",
                "version": __version__, "jobs": app.state.runner.describe()}
        if not ok:
            return JSONResponse(body, status_code=503)  # type: ignore[return-value]
        return body

    from gosplan.service.api import router as api_router
    from gosplan.service.dashboard import router as dashboard_router

    for router, prefix in _flattened(api_router):
        app.include_router(router, prefix=prefix)
    app.include_router(dashboard_router)
    from fastapi.exceptions import RequestValidationError

    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app
