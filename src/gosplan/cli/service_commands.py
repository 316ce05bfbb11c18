"""``gosplan serve``, ``gosplan db upgrade`` and ``gosplan users ...``: the planning bureau's commands.

They need the service extra (``pip install '.[service]'`` in a clone) and import it only when run.
"""

# no `from __future__ import annotations`: typer would then eval every annotation string
# (compile + eval, ~50 ms for all commands) on each start-up (docs/cli.md, "Start-up")

import enum
import json
import os
import sys
from typing import Annotated, Any, Optional

import typer

from gosplan.cli.app import _fail, app
from gosplan.cli.group import GosplanGroup

__all__ = ["serve", "db_app", "users_app"]

DB_HELP = (
    "Database URL: sqlite:///PATH (the default: bureau.sqlite under $GOSPLAN_DATA_DIR, else "
    "$XDG_DATA_HOME/gosplan or ~/.local/share/gosplan; $GOSPLAN_DB overrides) or "
    "postgresql+psycopg://USER@HOST:PORT/DB."
)
DbOption = Annotated[Optional[str], typer.Option("--db", metavar="URL", help=DB_HELP, show_default=False)]

db_app = typer.Typer(cls=GosplanGroup, help="The bureau's database: migrations.", no_args_is_help=True, add_completion=False)
users_app = typer.Typer(cls=GosplanGroup, help="The bureau's users and their tokens.", no_args_is_help=True, add_completion=False)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")

ENV_SETTINGS = "GOSPLAN_SERVE_SETTINGS"

#: The bureau's roles (the same tuple as ``gosplan.service.models.ROLES``, kept here so that
#: ``gosplan --help`` need not import SQLAlchemy; a test checks they agree).
Role = enum.Enum("Role", {r: r for r in ("planner", "ministry", "enterprise", "viewer")}, type=str)


def _service() -> Any:
    """The service package, or exit 1 saying how to install it."""
    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401

        import gosplan.service.app as service_app
    except ImportError as exc:
        raise _fail(f"the bureau service needs its extra: pip install '.[service]' in a clone of gosplan ({exc})")
    return service_app


def _url(db: str | None) -> str:
    from gosplan.service.settings import default_db_url

    return db or default_db_url()


def _where(url: str) -> str:
    """``url`` without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _database(url: str) -> Any:
    _service()
    from gosplan.service.db import Database, upgrade

    try:
        upgrade(url)
        return Database(url)
    except Exception as exc:  # noqa: BLE001 - one line, named database
        raise _fail(f"cannot open the database {_where(url)}: {type(exc).__name__}: {exc}")


def app_from_env() -> Any:
    """The application for uvicorn's workers (``--workers N``): settings from the environment."""
    from gosplan.service.app import create_app
    from gosplan.service.settings import Settings

    return create_app(Settings(**json.loads(os.environ[ENV_SETTINGS])))


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=0, max=65535)] = 8000,
    economy: Annotated[
        Optional[list[str]],
        typer.Option(
            "--economy", "-e", metavar="NAME",
            help="Load this bundled economy into the bureau at start, if it is not there yet (repeatable), "
            "with synthetic enterprises (--enterprises-per-product).",
        ),
    ] = None,
    enterprises_per_product: Annotated[
        float, typer.Option("--enterprises-per-product", min=0.0, help="Synthetic enterprises per product for --economy (0: ministries only).")
    ] = 2.0,
    scheduler: Annotated[
        Optional[str],
        typer.Option("--scheduler", metavar="ADDRESS", help="Dask scheduler for the jobs (tcp://HOST:PORT); default: in-process.", show_default=False),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Web worker processes (uvicorn).")] = 1,
    jobs_threads: Annotated[int, typer.Option("--jobs-threads", min=1, help="Threads running jobs in-process.")] = 1,
    max_body_mb: Annotated[float, typer.Option("--max-body-mb", min=0.001, help="Largest request body (uploads included), MiB.")] = 64.0,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="Log one line per request (method, path, status; never headers or tokens).")] = True,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn's log level.")] = "info",
) -> None:
    """Run the planning bureau: the web API under /api/v1 and the dashboard under /dashboard.

    Applies the database's migrations, loads --economy if asked, then serves until
    interrupted. Create users (and their tokens) with 'gosplan users create'.
    """
    _service()
    import uvicorn

    from gosplan.service.settings import MiB, Settings

    url = _url(db)
    _warnings_as_log_lines()
    database = _database(url)
    try:
        for name in economy or ():
            _ensure_economy(database, name, enterprises_per_product)
        from sqlalchemy import func, select

        from gosplan.service.models import User

        with database.session() as s:
            n_users = s.scalar(select(func.count(User.id)))
    finally:
        database.dispose()
    settings = Settings(db_url=url, scheduler=scheduler, jobs_threads=jobs_threads,
                        max_body_bytes=int(max_body_mb * MiB), migrate=False)
    sys.stderr.write(f"gosplan bureau: database {_where(url)}; http://{host}:{port}/dashboard, API http://{host}:{port}/api/v1\n")
    if not n_users:
        sys.stderr.write("no users yet: create one with  gosplan users create NAME --role planner" +
                         (f" --db '{_where(url)}'" if db else "") + "\n")
    common = dict(host=host, port=port, access_log=access_log, log_level=log_level, proxy_headers=False,
                  server_header=False, date_header=True)
    if workers == 1:
        from gosplan.service.app import create_app

        uvicorn.run(create_app(settings), **common)
    else:
        os.environ[ENV_SETTINGS] = json.dumps(settings.__dict__)
        uvicorn.run("gosplan.cli.service_commands:app_from_env", factory=True, workers=workers, **common)


def _warnings_as_log_lines() -> None:
    """The library's warnings (a table's data quality, say) as one log line each, not source dumps."""
    import logging
    import warnings

    log = logging.getLogger("gosplan.service")
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)

    def show(message: Any, category: Any, filename: Any, lineno: Any, file: Any = None, line: Any = None) -> None:
        log.warning("%s: %s", category.__name__, " ".join(str(message).split()))

    warnings.showwarning = show


def _ensure_economy(database: Any, name: str, per_product: float) -> None:
    """Load the bundled economy ``name`` into the bureau unless it is there already."""
    from fastapi import HTTPException
    from sqlalchemy import select

    from gosplan.service.api.economies import store_economy
    from gosplan.service.models import EconomyRow
    from gosplan.service.settings import Settings

    with database.sessions() as s:
        row = s.scalar(select(EconomyRow).where(EconomyRow.name == name))
    if row is not None:
        info, words = {"n_products": row.n_products, "n_ministries": row.n_ministries, "n_enterprises": row.n_enterprises}, "already in the bureau:"
    else:
        spec = {"bundled": name, "enterprises_per_product": per_product or None, "ministries": None, "seed": 0}
        try:
            info, words = store_economy(database, Settings(db_url=database.url), name, spec, None, None), "loaded"
        except HTTPException as exc:
            raise _fail(f"cannot load economy {name!r}: {exc.detail}")
    sys.stderr.write(f"{words} {name} ({info['n_products']:,} products, {info['n_ministries']:,} ministries, "
                     f"{info['n_enterprises']:,} enterprises)\n")


@db_app.command("upgrade")
def db_upgrade(
    db: DbOption = None,
    revision: Annotated[str, typer.Option("--revision", help="Alembic revision to upgrade to.")] = "head",
) -> None:
    """Apply the database's migrations (Alembic) up to REVISION; the server also does this on start."""
    _service()
    from gosplan.service.db import upgrade

    url = _url(db)
    try:
        now = upgrade(url, revision)
    except Exception as exc:  # noqa: BLE001
        raise _fail(f"cannot upgrade {_where(url)}: {type(exc).__name__}: {exc}")
    sys.stdout.write(f"{_where(url)}: at revision {now}\n")


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The user's name (unique).")],
    role: Annotated[Role, typer.Option("--role", help="What the user may see and do (docs/service.md).")],
    ministry: Annotated[Optional[str], typer.Option("--ministry", metavar="M", help="The ministry a ministry user speaks for.")] = None,
    enterprise: Annotated[Optional[str], typer.Option("--enterprise", metavar="E", help="The enterprise an enterprise user speaks for.")] = None,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the user and token as JSON.")] = False,
) -> None:
    """Create a user and print its token once (only a hash of it is stored: keep it safe)."""
    database = _database(_url(db))
    from gosplan.service.auth import create_user

    try:
        with database.session() as s:
            user, token = create_user(s, name, role.value, ministry=ministry, enterprise=enterprise)
            out = {"id": user.id, "name": user.name, "role": user.role, "ministry": user.ministry,
                   "enterprise": user.enterprise, "token": token}
    except ValueError as exc:
        raise _fail(str(exc))
    finally:
        database.dispose()
    if as_json:
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        scope = f" for {ministry or enterprise}" if (ministry or enterprise) else ""
        sys.stdout.write(f"created {role.value} {name!r}{scope}; its token (shown once):\n{token}\n")


@users_app.command("list")
def users_list(db: DbOption = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the bureau's users (never their tokens)."""
    database = _database(_url(db))
    from sqlalchemy import select

    from gosplan.service.models import User

    try:
        with database.session() as s:
            rows = [{"id": u.id, "name": u.name, "role": u.role, "ministry": u.ministry,
                     "enterprise": u.enterprise, "disabled": u.disabled}
                    for u in s.scalars(select(User).order_by(User.id))]
    finally:
        database.dispose()
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    for r in rows:
        scope = r["ministry"] or r["enterprise"] or ""
        sys.stdout.write(f"{r['id']:>5}  {r['name']:<24} {r['role']:<10} {scope}{'  (disabled)' if r['disabled'] else ''}\n")


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(metavar="NAME", help="The user's name.")], db: DbOption = None) -> None:
    """Disable a user: its token is refused from now on (within the server's auth cache, 2 s)."""
    database = _database(_url(db))
    from sqlalchemy import update

    from gosplan.service.models import User

    try:
        with database.session() as s:
            n = s.execute(update(User).where(User.name == name).values(disabled=True)).rowcount
    finally:
        database.dispose()
    if not n:
        raise _fail(f"no user named {name!r}")
    sys.stdout.write(f"disabled {name!r}\n")
