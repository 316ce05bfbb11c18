"""The bureau's JSON API under ``/api/v1`` (one module per resource)."""

from __future__ import annotations

from fastapi import APIRouter

from gosplan.service.api import alerts, economies, jobs, plans, reports, users

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")
for _module in (users, economies, jobs, plans, reports, alerts):
    router.include_router(_module.router)
