"""Single sign-on through the company's OpenID provider.

A sign-in starts with a random ``state`` (kept by the browser in a cookie and by the broker as
a hash, with the nonce and PKCE verifier) and ends at the callback, which takes that state
once, redeems the code and validates the ID token. Staff are found by (issuer, sub), never by
email: an IdP may let people edit their email, and two IdPs may both claim one address. Roles
come from the IdP's groups through ``[oidc.roles]`` at every sign-in, so a group removed at
the provider is a role gone at the next sign-in; a person whose groups map to no role is
refused.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from actas.domain.audit import Actor, AuditEvent
from actas.domain.errors import InvalidInput
from actas.domain.identity import (
    NO_PASSWORD,
    SSO_LOGIN_TTL,
    IdTokenClaims,
    SsoLogin,
    SsoRefused,
    roles_for_groups,
)
from actas.domain.identity_ports import OidcClient
from actas.domain.ports import UnitOfWork
from actas.domain.roles import Role
from actas.domain.staff import Staff, normalise_email
from actas.domain.tokens import same, token_hash
from actas.services import sign_in
from actas.services.context import ServiceContext
from actas.services.sign_in import SignedIn


@dataclass(frozen=True)
class SsoStart:
    #: Where to send the browser.
    url: str
    #: The value the browser keeps in a cookie until the callback.
    state: str


def _client(ctx: ServiceContext) -> OidcClient:
    if ctx.oidc is None:
        raise InvalidInput("single sign-on is not configured on this broker")
    return ctx.oidc


def begin(ctx: ServiceContext, *, next_url: str) -> SsoStart:
    client = _client(ctx)
    state = secrets.token_urlsafe(32)
    login = SsoLogin(
        nonce=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(64),
        next_url=next_url[:500],
        expires_at=ctx.clock() + SSO_LOGIN_TTL,
    )
    url = client.authorization_url(
        state=state, nonce=login.nonce, code_verifier=login.code_verifier
    )
    with ctx.uow() as uow:
        uow.identity.add_sso_login(token_hash(state), login)
    return SsoStart(url=url, state=state)


def finish(
    ctx: ServiceContext, *, state: str, browser_state: str, code: str, by: Actor
) -> tuple[SignedIn, str]:
    """Complete a sign-in; returns the staff session and where to go next.

    The state must be the one this browser was given (its cookie: a callback link from
    someone else's sign-in cannot log this browser in as them) and one the broker issued and
    has not seen back yet.
    """
    client = _client(ctx)
    try:
        if not state or not browser_state or not same(state, browser_state):
            raise SsoRefused("state_mismatch")
        with ctx.uow() as uow:
            login = uow.identity.take_sso_login(token_hash(state[:200]), now=ctx.clock())
        if login is None:
            raise SsoRefused("state_unknown")
        if not code or len(code) > 2048:
            raise SsoRefused("no_code")
        claims = client.sign_in(code=code, code_verifier=login.code_verifier, nonce=login.nonce)
        with ctx.uow() as uow:
            staff = _staff_for(ctx, uow, claims, by)
            token, session = sign_in.open_staff_session(ctx, uow, staff, method="oidc", by=by)
    except SsoRefused as exc:
        sign_in.refused(ctx, type_="staff.sso_failed", staff_id=None, reason=exc.reason, by=by)
        raise
    return SignedIn(token=token, session=session, staff=staff), login.next_url


def _staff_for(ctx: ServiceContext, uow: UnitOfWork, claims: IdTokenClaims, by: Actor) -> Staff:
    roles = roles_for_groups(claims.groups, ctx.identity.role_map)
    staff_id = uow.identity.staff_for_subject(claims.issuer, claims.subject)
    member = uow.staff.by_id(staff_id) if staff_id else None
    if member is None:
        if not ctx.identity.sso_creates_staff or not roles:
            raise SsoRefused("unknown_subject" if roles else "no_role")
        return _create(ctx, uow, claims, roles, by)
    if not member.active:
        raise SsoRefused("disabled")
    if not roles:
        raise SsoRefused("no_role")
    if roles != member.roles:
        uow.staff.set_roles(member.id, roles)
        uow.audit.record(
            AuditEvent(
                type="staff.roles_changed",
                actor=member.id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={
                    "staff": member.id,
                    "from": sorted(r.value for r in member.roles),
                    "to": sorted(r.value for r in roles),
                    "via": "oidc",
                },
            )
        )
        member = uow.staff.by_id(member.id) or member
    return member


def _create(
    ctx: ServiceContext, uow: UnitOfWork, claims: IdTokenClaims, roles: frozenset[Role], by: Actor
) -> Staff:
    if claims.email is None:
        raise SsoRefused("no_verified_email")
    try:
        email = normalise_email(claims.email)
    except InvalidInput:
        raise SsoRefused("bad_email") from None
    if uow.staff.by_email(email) is not None:
        # Never merged by email: an admin links the existing account (enrollment link) instead.
        raise SsoRefused("email_taken")
    member = Staff(
        id=str(uuid.uuid4()),
        email=email,
        display_name=(claims.name or email).strip()[:200] or email,
        roles=roles,
        password_hash=NO_PASSWORD,
        # A seed nobody has seen: TOTP step-up needs enrolling one (or a passkey).
        totp_secret=ctx.totp.new_secret(),
        totp_last_step=None,
        disabled_at=None,
        created_at=ctx.clock(),
    )
    uow.staff.add(member)
    uow.identity.link_subject(claims.issuer, claims.subject, member.id, at=ctx.clock())
    uow.audit.record(
        AuditEvent(
            type="staff.added",
            actor=member.id,
            ip=by.ip,
            user_agent=by.user_agent,
            data={"staff": member.id, "roles": sorted(r.value for r in roles), "via": "oidc"},
        )
    )
    return member
