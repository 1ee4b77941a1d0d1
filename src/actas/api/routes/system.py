"""Liveness, readiness and the public key set."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse

from actas.api.deps import BrokerDep
from actas.api.problems import problem

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers", response_model=None)
def readyz(broker: BrokerDep) -> dict[str, str] | JSONResponse:
    try:
        with broker.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return problem(503, "the database is not reachable", code="not_ready")
    return {"status": "ready"}


@router.get("/.well-known/jwks.json", summary="Public keys that verify actor tokens")
def jwks(broker: BrokerDep) -> JSONResponse:
    body = broker.keys.ring().jwks(broker.clock())
    # Short cache: SDKs refetch on an unknown kid anyway, and rotation publishes keys early.
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})
