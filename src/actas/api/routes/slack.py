"""Slack's interactions endpoint: Approve, Deny and Revoke buttons.

The signature is checked over the raw body before anything is parsed; the Slack user must map
to an active staff member entitled to act; a repeated delivery changes nothing twice (the
services' state machine and the unique approval per approver see to that); high-risk requests
are never approved here (the button only links to the console, where a TOTP code is asked).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from actas.api.deps import ServicesDep, SettingsDep
from actas.api.openapi import answers
from actas.api.responses.system import SlackReplyOut
from actas.domain.audit import Actor
from actas.domain.errors import ActasError, AuthenticationFailed, InvalidInput, NotFound
from actas.http.callers import request_actor
from actas.notify.slack import Interaction, parse_interaction, verify_interaction
from actas.services import requests as requests_service
from actas.services import sessions as sessions_service
from actas.services import staff as staff_service
from actas.services.context import ServiceContext

router = APIRouter(prefix="/v1/slack", tags=["slack"])


def _reply(text: str) -> JSONResponse:
    return JSONResponse({"response_type": "ephemeral", "replace_original": False, "text": text})


def _act(services: ServiceContext, interaction: Interaction, actor: Actor) -> str:
    staff = staff_service.staff_for_slack(services, interaction.user_id)
    if staff is None:
        return "Your Slack account is not linked to an active actas staff member; nothing changed."
    by = Actor(id=staff.id, ip=actor.ip, user_agent="slack")
    if interaction.action_id in {"approve", "deny"}:
        approve = interaction.action_id == "approve"
        if approve:
            request = requests_service.approve_request(
                services,
                approver=staff,
                request_id=interaction.value,
                comment="approved in Slack",
                via="slack",
                code=None,
                by=by,
            )
        else:
            request = requests_service.deny_request(
                services,
                approver=staff,
                request_id=interaction.value,
                comment="denied in Slack",
                via="slack",
                by=by,
            )
        return f"Request {request.id[:8]} is now {request.state.value.replace('_', ' ')}."
    if interaction.action_id == "revoke":
        session = sessions_service.revoke_session(
            services, staff=staff, session_id=interaction.value, reason="revoked in Slack", by=by
        )
        return f"Session {session.id[:8]} revoked."
    return "Nothing to do for this button."


@router.post(
    "/interactions", summary="Slack button clicks (signed by Slack)", response_model=SlackReplyOut
)
@answers(401, 403, 404, 409)  # unsigned, a refused approver, Slack not configured, a race
async def interactions(request: Request, ctx: ServicesDep, settings: SettingsDep) -> Any:
    secret = settings.slack.signing_secret
    if secret is None:
        raise NotFound("Slack is not configured on this broker")
    body = await request.body()
    if not verify_interaction(
        request.headers, body, secret.value, now=lambda: ctx.clock().timestamp()
    ):
        raise AuthenticationFailed("the Slack signature is missing, wrong or stale")
    try:
        interaction = parse_interaction(body)
    except ValueError as exc:
        raise InvalidInput(f"the Slack payload is malformed: {exc}") from None
    actor = request_actor(request, None)
    try:
        text = await run_in_threadpool(_act, ctx, interaction, actor)
    except ActasError as exc:
        # Slack shows the reply to the person who clicked; nothing changed.
        text = f"Nothing changed: {exc.detail}"
    return _reply(text)
