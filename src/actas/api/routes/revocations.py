"""``GET /v1/revocations``: the feed through which every SDK hears that a session has ended.

As server-sent events (the default): first the catch-up from the database (every current
revocation, or those after ``Last-Event-ID`` / ``?after=``), then a ``: ready`` comment, then
live events as they commit on any replica. Each event is ``event: revocation``, ``data:`` the
revocation's JSON and ``id:`` its ``seq``.

The ``id`` is the stream's resume point, so it only ever grows: a revocation whose ``seq`` was
taken before another's but that committed after it (two concurrent transactions) is still
sent, at once, but without an ``id``, so that a reconnect resumes after the highest ``seq``
delivered and nothing is repeated.

As JSON (``Accept: application/json`` or ``?format=json``): ``{"revocations": [...],
"last_seq": N}`` for a client catching up; ``N`` is where to resume from.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from actas.api.deps import AppDep, ServicesDep, SettingsDep
from actas.domain.access import Revocation
from actas.domain.errors import InvalidInput, Unavailable
from actas.services import revocations as revocation_service
from actas.services.context import ServiceContext

log = logging.getLogger("actas.revocation")

router = APIRouter(prefix="/v1", tags=["revocations"])

#: A client that takes longer than this to accept one event is cut off; it will reconnect.
SEND_TIMEOUT_SECONDS = 30
#: What the stream tells EventSource clients to wait before reconnecting (milliseconds).
RETRY_MS = 1000
#: How far below the highest ``seq`` sent a stream still remembers what it sent.
STREAM_WINDOW = 4096
MAX_SEQ = 2**63 - 1


class StreamCursor:
    """What one stream has sent: no ``seq`` twice, and an ``id`` that only grows."""

    def __init__(self, after: int) -> None:
        self.highest = after
        self._sent: set[int] = set()

    def event(self, revocation: Revocation) -> ServerSentEvent | None:
        """The event to send for ``revocation``, or None if this stream already sent it."""
        seq = revocation.seq
        if seq in self._sent or seq <= self.highest - STREAM_WINDOW:
            return None
        self._sent.add(seq)
        advances = seq > self.highest
        if advances:
            self.highest = seq
            if len(self._sent) > 2 * STREAM_WINDOW:
                floor = seq - STREAM_WINDOW
                self._sent = {s for s in self._sent if s > floor}
        return ServerSentEvent(
            data=revocation.payload(),
            event="revocation",
            id=str(seq) if advances else None,
        )


def _parse_seq(raw: str, name: str) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_SEQ:
        raise InvalidInput(f"{name} {raw[:40]!r} is not a revocation sequence number")
    return int(text)


def _wants_json(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "json"
    accepted = {
        part.split(";", 1)[0].strip().lower()
        for part in request.headers.get("accept", "").split(",")
    }
    return "application/json" in accepted and "text/event-stream" not in accepted


def _as_json(revocation: Revocation) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(revocation.payload())
    return loaded


def _check_known(ctx: ServiceContext, after: int) -> None:
    if after > revocation_service.latest_seq(ctx):
        raise InvalidInput(
            f"revocation {after} is not known here: reconnect without Last-Event-ID "
            "for a full snapshot"
        )


async def _events(ctx: ServiceContext, application_id: str, after: int) -> AsyncIterator[Any]:
    # Subscribe first, read the backlog second: a revocation committed in between arrives
    # both ways and the cursor sends it once.
    with revocation_service.subscribe(ctx, application_id) as subscription:
        cursor = StreamCursor(after)
        try:
            caught_up = await run_in_threadpool(
                revocation_service.backlog,
                ctx,
                after_seq=after,
                application_id=application_id,
            )
        except Unavailable:
            log.warning("revocation catch-up failed; ending the stream so the client retries")
            return
        for revocation in caught_up:
            if (event := cursor.event(revocation)) is not None:
                yield event
        yield ServerSentEvent(comment="ready", retry=RETRY_MS)
        async for revocation in subscription:
            if (event := cursor.event(revocation)) is not None:
                yield event
        if subscription.dropped:
            yield ServerSentEvent(comment="too far behind: reconnect with Last-Event-ID")


@router.get(
    "/revocations",
    summary="Ended sessions, as a server-sent event stream or a catch-up list "
    "(application credential)",
    response_model=None,
    responses={
        200: {
            "description": "An event stream (text/event-stream), or with Accept: "
            "application/json the list of current revocations and the seq to resume from.",
            "content": {"text/event-stream": {}, "application/json": {}},
        }
    },
)
async def get_revocations(
    request: Request,
    caller: AppDep,
    ctx: ServicesDep,
    settings: SettingsDep,
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_SEQ, description="Only revocations after this seq"),
    ] = None,
    fmt: Annotated[
        Literal["json", "sse"] | None,
        Query(
            alias="format",
            description="json for the catch-up list; sse (default) for the stream",
        ),
    ] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    application_id = caller.application.id
    start = after or 0
    if last_event_id and last_event_id.strip():  # a reconnect: it wins over the original URL
        start = _parse_seq(last_event_id, "Last-Event-ID")
    await run_in_threadpool(_check_known, ctx, start)

    if _wants_json(request, fmt):
        found = await run_in_threadpool(
            revocation_service.backlog, ctx, after_seq=start, application_id=application_id
        )
        last = max([start, *(r.seq for r in found)])
        return JSONResponse(
            {"revocations": [_as_json(r) for r in found], "last_seq": last},
            headers={"Cache-Control": "no-store"},
        )
    return EventSourceResponse(
        _events(ctx, application_id, start),
        ping=settings.revocation_ping_seconds,
        send_timeout=SEND_TIMEOUT_SECONDS,
    )
