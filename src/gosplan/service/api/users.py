"""Who am I: ``GET /api/v1/me``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from gosplan.service.api.schemas import ErrorOut
from gosplan.service.deps import Auth

router = APIRouter(tags=["users"])


class MeOut(BaseModel):
    """The user behind the token: its role and the ministry or enterprise it speaks for."""

    model_config = ConfigDict(extra="forbid")
    id: int
    name: str
    role: str
    ministry: str | None
    enterprise: str | None


@router.get("/me", response_model=MeOut, summary="The user behind the token",
            responses={401: {"model": ErrorOut, "description": "missing or unknown token"}})
def me(p: Auth) -> dict[str, Any]:
    return p.as_dict()
