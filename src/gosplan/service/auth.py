"""Users, tokens and who may see what.

A token is ``gsp_`` followed by 43 random URL-safe characters (256 bits), printed once by
``gosplan users create``; the database keeps only its SHA-256 (a salted slow hash buys nothing
for random 256-bit secrets, and a lookup by hash stays one indexed read). Requests carry it as
``Authorization: Bearer TOKEN``; the dashboard keeps it in an HttpOnly, SameSite=Strict cookie.
Tokens never appear in URLs, logs or error messages.

Roles: ``planner`` (everything in the bureau), ``ministry`` (its ministry's plans, enterprises,
reports and alerts), ``enterprise`` (its own directives, reports and alerts; submits reports),
``viewer`` (published plans and prices).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from gosplan.service.models import ROLES, User

__all__ = ["Principal", "new_token", "hash_token", "create_user", "TokenCache", "COOKIE"]

TOKEN_PREFIX = "gsp_"
COOKIE = "gosplan_token"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user's id, name, role and the ministry or enterprise it speaks for."""

    id: int
    name: str
    role: str
    ministry: str | None = None
    enterprise: str | None = None

    @property
    def is_planner(self) -> bool:
        return self.role == "planner"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role,
                "ministry": self.ministry, "enterprise": self.enterprise}


def create_user(session: Any, name: str, role: str, *, ministry: str | None = None,
                enterprise: str | None = None) -> tuple[User, str]:
    """Add a user; returns it and its token (shown once, never stored)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if role == "ministry" and not ministry:
        raise ValueError("a ministry user needs --ministry M")
    if role == "enterprise" and not enterprise:
        raise ValueError("an enterprise user needs --enterprise E")
    if role != "ministry" and ministry:
        raise ValueError(f"--ministry is for role ministry, not {role}")
    if role != "enterprise" and enterprise:
        raise ValueError(f"--enterprise is for role enterprise, not {role}")
    if not name or len(name) > 200:
        raise ValueError("a user's name must have 1 to 200 characters")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise ValueError(f"a user named {name!r} exists already")
    token = new_token()
    user = User(name=name, role=role, ministry=ministry, enterprise=enterprise, token_hash=hash_token(token))
    session.add(user)
    session.flush()
    return user, token


class TokenCache:
    """token hash -> :class:`Principal` (or ``None``), each remembered ``ttl`` seconds.

    :meth:`cached` answers from memory only (no I/O: safe on the event loop);
    :meth:`lookup` reads the database on a miss (call it from a worker thread).
    """

    MISS: Any = object()

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> Principal | None | Any:
        """The remembered principal (``None``: an unknown or disabled token), or :attr:`MISS`."""
        hit = self._entries.get(hash_token(token))
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return self.MISS

    def lookup(self, db: Any, token: str) -> Principal | None:
        digest = hash_token(token)
        now = time.monotonic()
        hit = self._entries.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        with db.readers() as s:
            u = s.scalar(select(User).where(User.token_hash == digest))
            p = None if u is None or u.disabled else Principal(u.id, u.name, u.role, u.ministry, u.enterprise)
        with self._lock:
            if len(self._entries) > 100_000:
                self._entries.clear()
            self._entries[digest] = (now + self.ttl, p)
        return p
