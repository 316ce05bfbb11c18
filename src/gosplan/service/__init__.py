"""The planning bureau: a web service and dashboard on one database (the ``service`` extra).

:func:`create_app` builds the FastAPI application; ``gosplan serve`` runs it with uvicorn.
Layers: :mod:`~gosplan.service.models` and :mod:`~gosplan.service.db` (tables, SQLite/PostgreSQL,
Alembic migrations) -> :mod:`~gosplan.service.jobs` (plans, re-plans and simulations on Dask,
calling the library) -> :mod:`~gosplan.service.api` (JSON under ``/api/v1``) and
:mod:`~gosplan.service.dashboard` (server-rendered pages). See docs/service.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from gosplan.service.app import create_app
    from gosplan.service.settings import Settings

__all__ = ["create_app", "Settings"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from gosplan.service.app import create_app

        return create_app
    if name == "Settings":
        from gosplan.service.settings import Settings

        return Settings
    raise AttributeError(name)
