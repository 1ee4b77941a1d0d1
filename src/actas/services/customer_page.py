"""The customer page's sign-in, through the application: never a customer password.

The application (with its credential) asks for a one-time code for one of its subjects and
says whether that person administers the account; the customer's browser brings the code to
the broker within a minute, and gets the page's own cookie in exchange. Everything the page
then does is done as that subject of that application, through the same services the
application's API calls (``consent``, ``access_codes``, ``customer_policy``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from actas.domain.audit import Actor, AuditEvent
from actas.domain.customer_page import (
    PAGE_CODE_PREFIX,
    PAGE_HANDOFF_TTL,
    PAGE_SESSION_PREFIX,
    PAGE_SESSION_TTL,
    CustomerPageSession,
    PageSignInFailed,
)
from actas.domain.subjects import Application
from actas.domain.tokens import looks_like, new_token, token_hash
from actas.services import consent
from actas.services.context import ServiceContext

#: Where the customer's browser brings the code (served by ``console/customer_page.py``).
ENTER_PATH = "/customer/page/enter"


@dataclass(frozen=True)
class IssuedPageCode:
    code: str
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class Visitor:
    """A signed-in customer on the page."""

    visit: CustomerPageSession
    application: Application
    #: The subject's display name, when the application gave one.
    name: str
    #: The actor for the audit log: the subject, on behalf of the application.
    actor: Actor


def _event(type_: str, visit: CustomerPageSession, by: Actor, **data: object) -> AuditEvent:
    return AuditEvent(
        type=type_,
        actor=by.id,
        subject=visit.subject_id,
        account=visit.account_id,
        ip=by.ip,
        user_agent=by.user_agent,
        data={"application": visit.application_id, "visit": visit.id, **data},
    )


def issue_code(
    ctx: ServiceContext, *, app: Application, subject_id: str, account_admin: bool, by: Actor
) -> IssuedPageCode:
    """A one-time code (and the URL to send the customer's browser to) for ``subject_id``."""
    code = new_token(PAGE_CODE_PREFIX)
    with ctx.uow() as uow:
        subject = consent.load_subject(uow, app, subject_id)
        now = ctx.clock()
        visit = CustomerPageSession(
            id=str(uuid.uuid4()),
            application_id=app.id,
            subject_id=subject.id,
            account_id=subject.account_id,
            account_admin=account_admin,
            issued_at=now,
            code_expires_at=now + PAGE_HANDOFF_TTL,
        )
        uow.customer_pages.add(visit, code_hash=token_hash(code))
        uow.audit.record(_event("customer_page.code_issued", visit, by, admin=account_admin))
    url = f"{ctx.public_url.rstrip('/')}{ENTER_PATH}?{urlencode({'code': code})}"
    return IssuedPageCode(code=code, url=url, expires_at=visit.code_expires_at)


def sign_in(ctx: ServiceContext, *, code: str, by: Actor) -> tuple[CustomerPageSession, str]:
    """Swap a one-time code for the page's session cookie value (returned once, stored hashed).
    An unknown, used or expired code fails the same way; nothing is written then."""
    if not looks_like(code, PAGE_CODE_PREFIX):
        raise PageSignInFailed("this sign-in link cannot be used; open the page from the app again")
    cookie = new_token(PAGE_SESSION_PREFIX)
    with ctx.uow() as uow:
        now = ctx.clock()
        visit = uow.customer_pages.redeem(
            code_hash=token_hash(code),
            cookie_hash=token_hash(cookie),
            at=now,
            expires_at=now + PAGE_SESSION_TTL,
        )
        if visit is None:
            raise PageSignInFailed(
                "this sign-in link cannot be used; open the page from the app again"
            )
        actor = Actor(id=f"subject:{visit.subject_id}", ip=by.ip, user_agent=by.user_agent)
        uow.audit.record(_event("customer_page.signed_in", visit, actor))
    return visit, cookie


def visitor(ctx: ServiceContext, cookie: str, *, by: Actor) -> Visitor:
    """The live visit the cookie belongs to, or :class:`PageSignInFailed`."""
    failed = PageSignInFailed("your visit has ended; open the page from the app again")
    if not looks_like(cookie, PAGE_SESSION_PREFIX):
        raise failed
    with ctx.read() as uow:
        visit = uow.customer_pages.by_cookie_hash(token_hash(cookie))
        if visit is None or not visit.live_at(ctx.clock()):
            raise failed
        app = uow.applications.by_id(visit.application_id)
        subject = uow.subjects.get(visit.application_id, visit.subject_id)
        # The subject may have moved account since the code was issued: the visit is for the
        # account it was issued for, and only while the subject still belongs to it (and the
        # application is still enabled).
        if (
            app is None
            or app.disabled_at is not None
            or subject is None
            or subject.account_id != visit.account_id
        ):
            raise failed
    actor = Actor(id=f"subject:{visit.subject_id}", ip=by.ip, user_agent=by.user_agent)
    return Visitor(visit=visit, application=app, name=subject.display_name or "", actor=actor)


def sign_out(ctx: ServiceContext, who: Visitor) -> None:
    with ctx.uow() as uow:
        if uow.customer_pages.end(who.visit.id, at=ctx.clock()):
            uow.audit.record(_event("customer_page.signed_out", who.visit, who.actor))
