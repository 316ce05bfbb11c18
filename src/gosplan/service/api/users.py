"""Who am I: ``GET /api/v1/me``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gosplan.service.deps import Auth

router = APIRouter(tags=["users"])


@router.get("/me", summary="The user behind the token")
def me(p: Auth) -> dict[str, Any]:
    return p.as_dict()
