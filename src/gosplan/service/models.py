"""The bureau's tables (SQLAlchemy 2 declarative; the schema itself is created by Alembic).

Who works here: :class:`User` (a role, and the ministry or enterprise it speaks for).
What they work on: :class:`EconomyRow` with its :class:`Party` rows (ministries and
enterprises), :class:`Job` (a plan, re-plan or simulation run as a background job),
:class:`Draft` (a finished plan), :class:`PlanVersion` (a published draft, immutable, numbered
1, 2, ... without gaps per economy) and its :class:`Directive` rows, :class:`Report` (what an
enterprise says it did) and :class:`Alert` (Cyberstride's).

Large payloads (plans, directives, results) are stored as zlib-compressed JSON
(:func:`pack` / :func:`unpack`), so a directive read is one indexed row.
"""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base", "User", "EconomyRow", "EconomyFile", "Party", "Job", "Draft", "PlanVersion",
    "Directive", "Report", "Alert", "ROLES", "JOB_KINDS", "JOB_STATES", "pack", "unpack", "utcnow",
]

ROLES = ("planner", "ministry", "enterprise", "viewer")
JOB_KINDS = ("plan", "replan", "simulate")
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def pack(obj: Any) -> bytes:
    """``obj`` as zlib-compressed JSON (numpy scalars and arrays allowed)."""
    return zlib.compress(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY), 3)


def unpack(blob: bytes | None) -> Any:
    return None if blob is None else orjson.loads(zlib.decompress(blob))


Timestamp = DateTime(timezone=True)


class Base(DeclarativeBase):
    pass


class User(Base):
    """A person (or program) of the bureau; only the SHA-256 of its token is stored."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    ministry: Mapped[str | None] = mapped_column(String(200), nullable=True)
    enterprise: Mapped[str | None] = mapped_column(String(200), nullable=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class EconomyRow(Base):
    """An economy loaded into the bureau: a bundled name (with synthetic enterprises) or an upload."""

    __tablename__ = "economies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(20))  # "bundled" | "upload"
    spec: Mapped[dict] = mapped_column(JSON, default=dict)  # how to load it again (see service.store)
    title: Mapped[str] = mapped_column(Text, default="")
    units: Mapped[str] = mapped_column(String(200), default="")
    n_products: Mapped[int] = mapped_column(Integer, default=0)
    n_ministries: Mapped[int] = mapped_column(Integer, default=0)
    n_enterprises: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class EconomyFile(Base):
    """The uploaded economy directory, as the zip that came in (so any server can load it)."""

    __tablename__ = "economy_files"
    economy_id: Mapped[int] = mapped_column(ForeignKey("economies.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Party(Base):
    """A ministry or an enterprise of an economy (what access checks look up)."""

    __tablename__ = "parties"
    economy_id: Mapped[int] = mapped_column(ForeignKey("economies.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)  # "ministry" | "enterprise"
    label: Mapped[str] = mapped_column(String(200), primary_key=True)
    ministry: Mapped[str | None] = mapped_column(String(200), nullable=True)  # an enterprise's ministry
    product: Mapped[str | None] = mapped_column(String(200), nullable=True)  # an enterprise's product
    name: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_parties_ministry", "economy_id", "kind", "ministry"),)


class Job(Base):
    """A plan, re-plan or simulation run in the background (on Dask)."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    economy_id: Mapped[int] = mapped_column(ForeignKey("economies.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # pack()ed
    summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    draft_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the runner (server process) running it
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(Timestamp, nullable=True)  # its owner's last sign of life
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(Timestamp, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(Timestamp, nullable=True)


class Draft(Base):
    """A finished plan, not yet published; ``payload`` is a pack()ed :class:`~gosplan.service.payload.PlanPayload`."""

    __tablename__ = "drafts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    economy_id: Mapped[int] = mapped_column(ForeignKey("economies.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)


class PlanVersion(Base):
    """A published plan: version ``1, 2, ...`` per economy, never changed once written."""

    __tablename__ = "plan_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    economy_id: Mapped[int] = mapped_column(ForeignKey("economies.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"))
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    published_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)

    __table_args__ = (UniqueConstraint("economy_id", "version", name="uq_plan_versions_economy_version"),)


class Directive(Base):
    """What one ministry or enterprise is told by a published version (pre-serialised JSON)."""

    __tablename__ = "directives"
    version_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)  # "ministry" | "enterprise"
    party: Mapped[str] = mapped_column(String(200), primary_key=True)
    ministry: Mapped[str | None] = mapped_column(String(200), nullable=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # JSON bytes, served as they are


class Report(Base):
    """An enterprise's report for one period; ``(user_id, idempotency_key)`` is stored once."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    economy_id: Mapped[int] = mapped_column(ForeignKey("economies.id", ondelete="CASCADE"))
    enterprise: Mapped[str] = mapped_column(String(200))
    ministry: Mapped[str | None] = mapped_column(String(200), nullable=True)
    period: Mapped[int] = mapped_column(Integer)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the plan version reported against
    output: Mapped[float] = mapped_column(Float)
    capacity: Mapped[float | None] = mapped_column(Float, nullable=True)
    stocks: Mapped[float | None] = mapped_column(Float, nullable=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    body_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)

    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_reports_user_key"),
        Index("ix_reports_economy_enterprise_period", "economy_id", "enterprise", "period"),
        Index("ix_reports_economy_ministry", "economy_id", "ministry"),
    )


class Alert(Base):
    """A Cyberstride alert from a simulation job, acknowledged by the level it reached."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    economy_id: Mapped[int] = mapped_column(ForeignKey("economies.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)
    period: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(12))  # "enterprise" | "ministry" | "centre"
    who: Mapped[str] = mapped_column(String(200))  # the enterprise, ministry or "centre" that must act
    enterprise: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ministry: Mapped[str | None] = mapped_column(String(200), nullable=True)
    indicator: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    probability: Mapped[float] = mapped_column(Float)
    raised: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int | None] = mapped_column(Integer, nullable=True)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(Timestamp, nullable=True)
