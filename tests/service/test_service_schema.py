"""Schemathesis against the bureau's ``/openapi.json``, as every role and without a token.

Each operation of the schema gets generated requests (valid ones, and invalid ones), half of
them aimed at objects that exist (the hand-made economy of :mod:`test_service_reports`, its
published version, job, draft, alerts; the caller's own ministry or enterprise) so that the
requests reach past the 404s. Every response must be no 5xx and conform to the schema: a
documented status code, the documented content type, a body valid against the schema.
Derandomised (the same requests every run) and small (a minute for all five callers).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_service_reports import seed  # noqa: E402

pytestmark = pytest.mark.slow

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
ROLES = {"planner": None, "ministry": "min-food-supply", "enterprise": "bakery-5", "viewer": None, "anonymous": None}
EXAMPLES = 8  # per operation, mode and role


def known_parameters(role: str, ids: dict[str, Any]) -> dict[str, Any]:
    """Path parameters naming objects that exist (the caller's own where it has any)."""
    return {
        "economy_id": ids["economy_id"], "job_id": ids["job_id"], "draft_id": ids["draft_id"], "version": 1,
        "ministry": "min-heavy-industry" if role in ("planner", "viewer", "anonymous") else "min-food-supply",
        "enterprise": "bakery-5" if role != "planner" else "ironworks-7",
        "alert_id": ids["alerts"][("enterprise", "bakery-5")],
    }


def _httpx_files(files: list[tuple[str, tuple]]) -> list[tuple[str, tuple]]:
    """Schemathesis' multipart parts (made for requests) as httpx takes them: contents as bytes or text."""
    out = []
    for name, (filename, content, *rest) in files:
        if not isinstance(content, (bytes, str)):
            content = str(content)
        out.append((name, (filename, content, *rest)))
    return out


def _titles(exc: BaseException) -> str:
    """The failures' titles (schemathesis groups them)."""
    subs = exc.exceptions if isinstance(exc, BaseExceptionGroup) else [exc]
    return "; ".join(getattr(e, "title", type(e).__name__) for e in subs)


def _strategy(op: Any, mode: Any, known: dict[str, Any]) -> Any:
    names = {p.name for p in op.path_parameters}
    fixed = {k: v for k, v in known.items() if k in names}
    unknown = names - fixed.keys()
    assert not unknown, f"{op.label}: no known value for the path parameters {sorted(unknown)}: add them to known_parameters"
    aimed = op.as_strategy(generation_mode=mode, path_parameters=fixed) if fixed else None
    anywhere = op.as_strategy(generation_mode=mode)
    return st.one_of(aimed, anywhere) if aimed is not None else anywhere


@pytest.fixture(scope="module")
def bureau_for_schemathesis(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from fastapi.testclient import TestClient

    from gosplan.service import Settings, create_app
    from gosplan.service.auth import create_user

    url = f"sqlite:///{tmp_path_factory.mktemp('schema') / 'bureau.sqlite'}"
    app = create_app(Settings(db_url=url))
    with TestClient(app) as client:
        ids = seed(app)
        callers: dict[str, dict[str, str]] = {"anonymous": {}}
        with app.state.db.session() as s:
            for role, party in ROLES.items():
                if role != "anonymous":
                    kw = {role: party} if party else {}
                    _, token = create_user(s, f"st-{role}", role, **kw)
                    callers[role] = {"Authorization": f"Bearer {token}"}
        spec = client.get("/openapi.json").json()
        # 500s come back as responses (for the checks to report), not as exceptions in the test.
        answering = TestClient(app, raise_server_exceptions=False)
        yield answering, ids, callers, schemathesis.openapi.from_dict(spec)


@pytest.mark.parametrize("role", list(ROLES))
def test_schema_holds_for_every_role(bureau_for_schemathesis: Any, role: str) -> None:
    client, ids, callers, schema = bureau_for_schemathesis
    auth = callers[role]
    known = known_parameters(role, ids)
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]
    started = time.monotonic()
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            seen: list[str] = []

            @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=_strategy(op, mode, known))
            def run(case: Any) -> None:
                kw = case.as_transport_kwargs(base_url="http://testserver", headers=auth)
                kw.pop("cookies", None)
                if kw.get("files"):
                    kw["files"] = _httpx_files(kw["files"])
                if isinstance(kw.get("data"), (bytes, str)):  # a raw body: httpx calls it content
                    kw["content"] = kw.pop("data")
                if auth:
                    kw["headers"]["Authorization"] = auth["Authorization"]
                else:
                    kw["headers"].pop("Authorization", None)
                response = client.request(**kw, follow_redirects=False)
                response.request.read()  # a multipart body is a stream: the checks read it again
                try:
                    case.validate_response(response, checks=CHECKS, headers=kw["headers"])
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported together
                    if len(seen) < 2:
                        seen.append(f"{op.label} [{mode.value}] as {role}: {response.status_code} "
                                    f"{kw['url'][len('http://testserver'):]} {_titles(exc)} "
                                    f"body={str(kw.get('json', kw.get('data', '')))[:120]} -> {response.text[:200]}")

            try:
                run()
            except Unsatisfiable:
                if mode is GenerationMode.NEGATIVE:
                    continue  # nothing to make invalid: no parameters, no body
                raise
            except Exception as exc:  # noqa: BLE001 - a server exception raised through the client
                seen.append(f"{op.label} [{mode.value}] as {role}: raised {type(exc).__name__}: {str(exc)[:300]}")
            failures.extend(seen)
    elapsed = time.monotonic() - started
    assert not failures, f"{len(failures)} schema failures ({elapsed:.0f} s):\n" + "\n".join(failures)
