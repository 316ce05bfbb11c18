"""Where the bureau keeps its data and what it accepts (``gosplan serve``'s options)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Settings", "data_dir", "default_db_url"]

MiB = 1 << 20


def data_dir() -> Path:
    """``$GOSPLAN_DATA_DIR``, else ``$XDG_DATA_HOME/gosplan``, else ``~/.local/share/gosplan``."""
    if os.environ.get("GOSPLAN_DATA_DIR"):
        return Path(os.environ["GOSPLAN_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base).expanduser() / "gosplan"


def default_db_url() -> str:
    """``$GOSPLAN_DB``, else an SQLite file ``bureau.sqlite`` in :func:`data_dir`."""
    if os.environ.get("GOSPLAN_DB"):
        return os.environ["GOSPLAN_DB"]
    return f"sqlite:///{data_dir() / 'bureau.sqlite'}"


@dataclass(frozen=True)
class Settings:
    """The service's settings.

    Attributes
    ----------
    db_url:
        SQLAlchemy URL: ``sqlite:///PATH`` (WAL; the default, :func:`default_db_url`) or
        ``postgresql+psycopg://USER@HOST:PORT/DB``.
    scheduler:
        Address of a Dask scheduler for the jobs; ``None`` runs them in-process
        (a ``distributed`` client with threads, ``jobs_threads`` of them).
    max_body_bytes:
        Largest request body (an uploaded zip included); larger ones get 413.
    max_unzipped_bytes, max_zip_members, max_zip_ratio:
        Limits on an uploaded economy's zip (zip bombs get 400 before anything is extracted).
    auth_cache_seconds:
        How long a token's user is remembered between database lookups (a disabled user is
        refused at most this much later).
    """

    db_url: str = field(default_factory=default_db_url)
    scheduler: str | None = None
    jobs_threads: int = 1
    max_body_bytes: int = 64 * MiB
    max_unzipped_bytes: int = 512 * MiB
    max_zip_members: int = 1000
    max_zip_ratio: float = 200.0
    auth_cache_seconds: float = 2.0
    migrate: bool = True
