"""The API's contract: a valid OpenAPI document, every route behind sign-in, no server errors.

schemathesis generates requests from the document itself (valid and invalid ones) and calls
every operation as a signed-in user; the only check is the one that matters for robustness:
no 5xx answer, whatever the input.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error

from mailmatch.users.service import UserView
from tests.web.conftest import bearer

API = "/api/v1"
EXAMPLES = 15  # per operation: ~50 operations stay well under a minute


def api_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every operation the OpenAPI document lists (the document is generated from the routes)."""
    document = client.get(f"{API}/openapi.json").json()
    return [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    ]


def test_the_openapi_document_is_valid(client: TestClient) -> None:
    document = client.get(f"{API}/openapi.json").json()
    validate(document)
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_every_api_route_refuses_an_anonymous_caller(client: TestClient) -> None:
    routes = api_routes(client)
    assert len(routes) > 10
    for method, path in routes:
        if path == f"{API}/openapi.json":
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        answer = client.request(method, url, json={})
        assert answer.status_code == 401, (method, path, answer.status_code)
        assert answer.json()["error"]["code"] == "unauthorized"


def test_a_wrong_token_is_refused_like_none(client: TestClient) -> None:
    for method, path in api_routes(client):
        if path == f"{API}/openapi.json":
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        answer = client.request(method, url, headers={"Authorization": "Bearer mm_forged"})
        assert answer.status_code == 401, (method, path)


def test_no_input_makes_the_api_fail(
    app: FastAPI, alice: UserView, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every operation, fuzzed from the document, as a signed-in user: never a 5xx.

    Mail servers named by fuzzed addresses are unreachable here; a short timeout and a closed
    ISPDB address keep the connection-testing routes quick without leaving them out.
    """
    state = app.state.mailmatch
    monkeypatch.setattr(
        state,
        "settings",
        replace(state.settings, connect_timeout=1.0, ispdb_url="http://127.0.0.1:9/v1.1/"),
    )
    headers = bearer(app, alice)
    schema = schemathesis.openapi.from_asgi(f"{API}/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            fuzz()
        except Exception as exc:  # collect all operations' failures, then report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:800]}")
    assert operations > 10
    assert not failures, "\n\n".join(failures)
