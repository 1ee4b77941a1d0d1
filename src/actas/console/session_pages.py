"""Live sessions: the list with countdowns, one session, End, Revoke and Extend."""

from __future__ import annotations

from starlette.responses import Response

from actas.console.web import Page, can_revoke, path, staff_names
from actas.domain.errors import ActasError, InvalidInput
from actas.services import directory
from actas.services import requests as requests_service
from actas.services import sessions as sessions_service


def sessions(page: Page, *, status: int = 200) -> Response:
    live = sorted(sessions_service.live_sessions(page.ctx), key=lambda s: s.expires_at)
    page.shown_at = path("sessions")
    return page.render(
        "sessions.html",
        status=status,
        title="Live sessions",
        sessions=live,
        cards=directory.subject_cards(page.ctx, [(s.application_id, s.subject_id) for s in live]),
        names=staff_names(page.ctx),
        revoker=can_revoke(page.staff),
    )


def session(page: Page, *, status: int = 200) -> Response:
    found = sessions_service.get_session(page.ctx, page.param("session"))
    page.shown_at = path("sessions", found.id)
    cards = directory.subject_cards(page.ctx, [(found.application_id, found.subject_id)])
    return page.render(
        "session.html",
        status=status,
        title="Session",
        session=found,
        card=cards.get((found.application_id, found.subject_id)),
        names=staff_names(page.ctx),
        live=found.live_at(page.now()),
        mine=found.staff_id == page.staff.id,
        revoker=can_revoke(page.staff),
    )


def _back(page: Page, status: int) -> Response:
    if page.text("back", limit=20) == "session":
        return session(page, status=status)
    return sessions(page, status=status)


def end(page: Page) -> Response:
    try:
        sessions_service.end_session(
            page.ctx, staff=page.staff, session_id=page.param("session"), by=page.me.actor
        )
    except ActasError as exc:
        return _back(page, page.failed(exc))
    return page.redirect(path("sessions"), done="ended")


def revoke(page: Page) -> Response:
    try:
        sessions_service.revoke_session(
            page.ctx,
            staff=page.staff,
            session_id=page.param("session"),
            reason=page.text("reason"),
            by=page.me.actor,
        )
    except ActasError as exc:
        return _back(page, page.failed(exc))
    return page.redirect(path("sessions"), done="revoked")


def reopen(page: Page) -> Response:
    """A new one-time link for the staff member's own live session, after a fresh code."""
    try:
        started = sessions_service.reopen(
            page.ctx,
            staff=page.staff,
            session_id=page.param("session"),
            code=page.text("code", limit=16).strip() or None,
            by=page.me.actor,
        )
    except ActasError as exc:
        return session(page, status=page.failed(exc))
    assert started.redirect_url is not None
    page.shown_at = path("sessions", started.session.id)  # a reload reads, never posts
    return page.render(
        "started.html",
        title="Session opened again",
        session=started.session,
        redirect_url=started.redirect_url,
    )


def extend(page: Page) -> Response:
    session_id = page.param("session")
    try:
        found = sessions_service.get_session(page.ctx, session_id)
        raw = page.text("minutes", limit=10).strip()
        if not (raw.isascii() and raw.isdigit()):  # "²" passes isdigit(), not int()
            raise InvalidInput(f"minutes must be a whole number, got {raw[:10]!r}")
        request = requests_service.request_access(
            page.ctx,
            staff=page.staff,
            case_id=found.case_id,
            kind=found.kind,
            scopes=frozenset(found.scopes),
            minutes=int(raw),
            extends_session_id=found.id,
            extension_reason=page.text("reason"),
            by=page.me.actor,
        )
    except ActasError as exc:
        return session(page, status=page.failed(exc))
    return page.redirect(path("requests", request.id))
