"""The served OpenAPI document states every status an operation can answer (finding 13), each
error with the RFC 9457 problem schema, so that clients and the fuzzer can hold the broker to it.

Which statuses apply is derived from the routes themselves, not restated by hand: any operation
can meet the body limit (400, 413), validation (422) and an unreachable database (503); one that
authenticates its caller can answer 401, 403 (role or ownership), 404 and 409 (the domain
errors its services raise); sign-in adds 423 (a locked account) and 429 (the throttle)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from actas.api.deps import current_application, current_staff
from actas.http.problems import PROBLEM, TITLES

ALWAYS = frozenset({400, 413, 422, 503})
AUTHENTICATED = frozenset({401, 403, 404, 409})
SIGN_IN = frozenset({401, 423, 429})


class Problem(BaseModel):
    """RFC 9457 problem details; validation problems add ``errors``."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What was wrong, for a person")


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def statuses(route: APIRoute) -> frozenset[int]:
    """The error statuses ``route`` can answer."""
    found = set(ALWAYS)
    calls = set(_calls(route.dependant))
    if calls & {current_staff, current_application}:
        found |= AUTHENTICATED
    if route.path_format.endswith("/auth/login"):
        found |= SIGN_IN
    if "{" in route.path_format:
        found.add(404)
    found |= set(getattr(route.endpoint, "actas_statuses", ()))
    return frozenset(found)


def answers(*codes: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare statuses a route answers beyond what its dependencies imply."""

    def mark(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        endpoint.actas_statuses = codes  # type: ignore[attr-defined]
        return endpoint

    return mark


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": TITLES.get(status, "Error"),
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def install(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Replace the app's ``openapi()`` with one that documents the errors of the operations
    of ``routers`` (the routers as declared: their routes carry their dependencies)."""
    routes = [r for router in routers for r in router.routes if isinstance(r, APIRoute)]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for route in routes:
            if not route.include_in_schema or route.path_format not in schema["paths"]:
                continue
            for method in route.methods or ():
                operation = schema["paths"][route.path_format].get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status in sorted(statuses(route)):
                    responses[str(status)] = _problem_response(status)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
