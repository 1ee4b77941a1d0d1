"""Liveness, readiness and the public key set."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse

from actas.api.deps import ServicesDep
from actas.api.responses.system import JwksOut, StatusOut
from actas.domain.errors import Unavailable
from actas.http.problems import problem
from actas.services import keys as key_service
from actas.services import system as system_service

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="The process is up", response_model=StatusOut)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers", response_model=None)
def readyz(ctx: ServicesDep) -> dict[str, str] | JSONResponse:
    try:
        system_service.ready(ctx)
    except Unavailable:
        return problem(503, "the database is not reachable", code="not_ready")
    return {"status": "ready"}


@router.get(
    "/.well-known/jwks.json", summary="Public keys that verify actor tokens", response_model=JwksOut
)
def jwks(ctx: ServicesDep) -> JSONResponse:
    body = key_service.jwks(ctx)
    # Short cache: SDKs refetch on an unknown kid anyway, and rotation publishes keys early.
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})
