"""Finding 13: the OpenAPI document listed only 200 and 422. It now declares, for each
operation, every error status it can answer, each with the problem schema, and the answers
the broker gives stay inside what it declares."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"
METHODS = {"get", "post", "put", "delete", "patch"}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_every_operation_declares_its_errors_with_the_problem_schema(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
    ]
    operations = _operations(doc)
    assert len(operations) > 30
    for path, method, op in operations:
        declared = {int(s) for s in op["responses"] if s[0] in "45"}
        where = f"{method.upper()} {path}"
        assert {400, 413, 422, 503} <= declared, where
        secured = path.startswith("/v1/") and not path.startswith(
            ("/v1/auth/login", "/v1/slack", "/v1/revocations")
        )
        if secured:
            assert {401, 403, 404, 409} <= declared, where
        if "{" in path:
            assert 404 in declared, where
        for status in declared:
            content = op["responses"][str(status)]["content"]
            assert list(content) == [PROBLEM], (where, status)
            assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
    login = doc["paths"]["/v1/auth/login"]["post"]["responses"]
    assert {"401", "423"} <= set(login)


def test_no_validation_schema_of_fastapi_remains(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "HTTPValidationError" not in str(doc)


def test_what_the_fuzzer_found_undocumented_is_declared(client: TestClient) -> None:
    """Regressions from `make fuzz`: Slack without a configuration answers 404 (unsigned: 401),
    and the directory's upserts answer 201 when they create."""
    doc = client.get("/openapi.json").json()
    slack = doc["paths"]["/v1/slack/interactions"]["post"]["responses"]
    assert {"401", "404"} <= set(slack)
    assert client.post("/v1/slack/interactions").status_code in {int(s) for s in slack}
    for path in ("/v1/accounts/{account_id}", "/v1/subjects/{subject_id}"):
        assert "201" in doc["paths"][path]["put"]["responses"], path


#: Success bodies that are not JSON objects: a download, an event stream, an empty answer.
NOT_JSON_BODIES = {
    ("get", "/v1/audit/export"),
    ("get", "/v1/revocations"),
    ("get", "/readyz"),
}


def _typed(schema: dict[str, Any]) -> bool:
    """A schema names a model (a ``$ref``), or is a list of them."""
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return _typed(schema.get("items", {}))
    return False


def test_every_success_body_has_a_model(client: TestClient) -> None:
    """Issue 9.13: cases, sessions, requests, decisions, tokens and the rest were
    ``dict[str, Any]`` (an empty schema), so the fuzzer could not check what the broker answers.
    Every JSON success body now names a model."""
    doc = client.get("/openapi.json").json()
    untyped = []
    for path, method, op in _operations(doc):
        for status, response in op["responses"].items():
            if not status.startswith("2") or status == "204":
                continue
            if (method, path) in NOT_JSON_BODIES:
                continue
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            if not _typed(schema):
                untyped.append(f"{method.upper()} {path} {status}")
    assert untyped == [], "\n".join(untyped)
