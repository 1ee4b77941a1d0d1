"""What the host application calls with its credential: the handoff, token refreshes, the
SDK's audit events and the banner's End."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field

from actas.api.deps import AppDep, ServicesDep
from actas.api.responses.access import SessionOut, session_out
from actas.api.responses.customer import AppEventsOut, TokenOut
from actas.api.routes.access import one_of
from actas.api.schemas import URL_PATTERN, Strict
from actas.domain.access import APP_EVENT_KINDS, AppEvent
from actas.services import app_events as app_events_service
from actas.services import handoff as handoff_service

router = APIRouter(prefix="/v1", tags=["host application"])


class RedeemIn(Strict):
    code: str = Field(min_length=1, max_length=200)
    handoff_url: str = Field(min_length=1, max_length=2000, pattern=URL_PATTERN)


class RefreshIn(Strict):
    refresh_handle: str = Field(min_length=1, max_length=200)


def _token_out(redeemed: handoff_service.Redeemed, now: datetime) -> dict[str, Any]:
    return {
        "access_token": redeemed.token.token,
        "token_type": "Bearer",
        "issued_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "expires_in": max(0, int((redeemed.token.expires_at - now).total_seconds())),
        "expires_at": redeemed.token.expires_at,
        "session": redeemed.session.id,
        "session_expires_at": redeemed.session.expires_at,
        **({"refresh_handle": redeemed.refresh_handle} if redeemed.refresh_handle else {}),
        **({"actor_name": redeemed.actor_name} if redeemed.actor_name else {}),
        **({"subject_name": redeemed.subject_name} if redeemed.subject_name else {}),
    }


@router.post(
    "/handoff/redeem",
    summary="Exchange a handoff code for an actor token (app)",
    response_model=TokenOut,
    response_model_exclude_unset=True,
)
def redeem(body: RedeemIn, caller: AppDep, ctx: ServicesDep) -> dict[str, Any]:
    redeemed = handoff_service.redeem_handoff(
        ctx,
        app=caller.application,
        code=body.code,
        handoff_url=body.handoff_url,
        by=caller.actor,
    )
    return _token_out(redeemed, ctx.clock())


@router.post(
    "/sessions/{session_id}/refresh",
    summary="A fresh actor token (app)",
    response_model=TokenOut,
    response_model_exclude_unset=True,
)
def refresh(session_id: str, body: RefreshIn, caller: AppDep, ctx: ServicesDep) -> dict[str, Any]:
    redeemed = handoff_service.refresh_session(
        ctx,
        app=caller.application,
        session_id=session_id,
        refresh_handle=body.refresh_handle,
        by=caller.actor,
    )
    return _token_out(redeemed, ctx.clock())


class AppEventIn(Strict):
    id: str = Field(min_length=8, max_length=36, pattern=r"^[A-Za-z0-9-]+$")
    session: str = Field(min_length=1, max_length=36)
    kind: str = Field(pattern=one_of(APP_EVENT_KINDS))
    at: datetime
    method: str | None = Field(default=None, pattern="^[A-Z]{3,7}$")
    route: str | None = Field(default=None, max_length=300)
    status: int | None = Field(default=None, ge=100, le=599)
    resource: str | None = Field(default=None, max_length=200)
    detail: str | None = Field(default=None, max_length=300)
    suppressed: dict[Annotated[str, Field(max_length=40)], Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, max_length=20
    )


class AppEventsIn(Strict):
    events: list[AppEventIn] = Field(min_length=1, max_length=app_events_service.MAX_APP_EVENTS)


@router.post(
    "/audit/app-events",
    summary="Events the host app's SDK saw (app credential)",
    response_model=AppEventsOut,
)
def app_events(body: AppEventsIn, caller: AppDep, ctx: ServicesDep) -> dict[str, int]:
    events = [
        AppEvent(
            id=e.id,
            session_id=e.session,
            kind=e.kind,
            at=e.at,
            method=e.method,
            route=e.route,
            status=e.status,
            resource=e.resource,
            detail=e.detail,
            suppressed=tuple(sorted(e.suppressed.items())),
        )
        for e in body.events
    ]
    appended = app_events_service.ingest_app_events(
        ctx, app=caller.application, events=events, by=caller.actor
    )
    return {"received": len(events), "appended": appended}


@router.post(
    "/sessions/{session_id}/app-end",
    summary="The banner's End button (app)",
    response_model=SessionOut,
)
def app_end(session_id: str, body: RefreshIn, caller: AppDep, ctx: ServicesDep) -> dict[str, Any]:
    session = handoff_service.end_by_app(
        ctx,
        app=caller.application,
        session_id=session_id,
        refresh_handle=body.refresh_handle,
        by=caller.actor,
    )
    return session_out(session)
