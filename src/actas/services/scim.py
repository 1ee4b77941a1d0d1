"""SCIM 2.0 provisioning (RFC 7643/7644) of staff by the company's IdP.

Each IdP holds its own bearer token (stored as a hash; revocable). The IdP sees and changes
only the staff it provisioned: a local break-glass admin is out of its reach. Deactivating a
member (``active: false``, or DELETE) is ``staff.disable_staff``: every staff session and
every support session of theirs ends at once, revoked on every SDK through the feed, audited.
Roles are not provisioned here: a member starts with ``[scim].role`` and their IdP groups set
their roles at each SSO sign-in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from actas.domain.audit import Actor, AuditEvent
from actas.domain.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from actas.domain.identity import NO_PASSWORD, SCIM_TOKEN_PREFIX, ScimProfile, ScimToken
from actas.domain.ports import UnitOfWork
from actas.domain.staff import Staff, normalise_email
from actas.domain.tokens import looks_like, new_token, token_hash
from actas.services import staff as staff_service
from actas.services.context import ServiceContext


@dataclass(frozen=True)
class ScimUser:
    id: str
    user_name: str
    email: str
    #: The IdP's own displayName (None: never set, or removed).
    display_name: str | None
    external_id: str | None
    #: The member's state; None when the IdP removed ``active`` (the state is then kept).
    active: bool | None
    created_at: datetime
    given_name: str | None = None
    family_name: str | None = None


@dataclass(frozen=True)
class UserFields:
    """What the IdP may set."""

    user_name: str
    display_name: str | None
    external_id: str | None
    #: None: the IdP removed (or never sent) ``active``; the member keeps their state.
    active: bool | None
    #: The primary work email, when the IdP sends one.
    email: str | None = None
    given_name: str | None = None
    family_name: str | None = None

    def profile(self) -> ScimProfile:
        return ScimProfile(
            given_name=_bounded(self.given_name),
            family_name=_bounded(self.family_name),
            display_name=_bounded(self.display_name),
            active=self.active,
        )

    def broker_name(self, email: str) -> str:
        """The display name the broker shows: the IdP's, else the name's parts, else the
        email (the broker always needs one)."""
        parts = " ".join(p for p in (self.given_name, self.family_name) if p)
        return (self.display_name or parts or email).strip()[:200] or email

    def staff_email(self, staff_id: str) -> str:
        """The member's email: the userName when it is an address, else the primary email,
        else an address under the reserved ``.invalid`` domain (RFC 2606) that no mail
        reaches: SCIM allows any unique userName, the broker needs a unique email."""
        for candidate in (self.user_name, self.email):
            if candidate:
                try:
                    return normalise_email(candidate)
                except InvalidInput:
                    continue
        return f"{staff_id}@scim.invalid"


def create_token(ctx: ServiceContext, *, name: str, by: Actor) -> str:
    """A bearer token for one IdP; shown once, stored as a hash."""
    name = name.strip()
    if not 0 < len(name) <= 64:
        raise InvalidInput("a SCIM token needs a name of 1 to 64 characters")
    token = new_token(SCIM_TOKEN_PREFIX)
    with ctx.uow() as uow:
        if any(t.name == name for t in uow.identity.scim_tokens()):
            raise Conflict(f"a SCIM token named {name!r} exists; revoke it first")
        record = ScimToken(id=str(uuid.uuid4()), name=name, created_at=ctx.clock(), revoked_at=None)
        uow.identity.add_scim_token(record, token_hash=token_hash(token))
        uow.audit.record(
            AuditEvent(
                type="scim.token_created", actor=by.id, data={"token": record.id, "name": name}
            )
        )
    return token


def list_tokens(ctx: ServiceContext) -> list[ScimToken]:
    with ctx.read() as uow:
        return sorted(uow.identity.scim_tokens(), key=lambda t: (t.created_at, t.name))


def revoke_token(ctx: ServiceContext, *, name: str, by: Actor) -> None:
    with ctx.uow() as uow:
        found = [t for t in uow.identity.scim_tokens() if t.name == name]
        if not found:
            raise NotFound(f"no SCIM token named {name[:64]!r}")
        if uow.identity.revoke_scim_token(found[0].id, at=ctx.clock()):
            uow.audit.record(
                AuditEvent(type="scim.token_revoked", actor=by.id, data={"token": found[0].id})
            )


def authenticate(ctx: ServiceContext, token: str) -> Actor:
    """The IdP behind a bearer token, as the actor its changes are recorded under."""
    if not looks_like(token, SCIM_TOKEN_PREFIX):
        raise AuthenticationFailed("a SCIM bearer token is required")
    with ctx.read() as uow:
        record = uow.identity.scim_token_by_hash(token_hash(token))
    if record is None or record.revoked_at is not None:
        raise AuthenticationFailed("the SCIM token is unknown or revoked")
    return Actor(id=f"scim:{record.name}")


def _bounded(text: str | None) -> str | None:
    return None if text is None else text.strip()[:200]


def _user(uow: UnitOfWork, member: Staff) -> ScimUser:
    user_name, external_id = uow.identity.scim_names(member.id) or (member.email, None)
    said = uow.identity.scim_profile(member.id)
    return ScimUser(
        id=member.id,
        user_name=user_name,
        email=member.email,
        display_name=said.display_name,
        external_id=external_id,
        # The truth (an admin may have disabled them since), unless the IdP removed it.
        active=None if said.active is None else member.active,
        created_at=member.created_at,
        given_name=said.given_name,
        family_name=said.family_name,
    )


def _managed(uow: UnitOfWork, user_id: str) -> Staff:
    member = uow.staff.by_id(user_id[:36])
    if member is None or uow.identity.scim_names(member.id) is None:
        raise NotFound(f"no user {user_id[:40]}")
    return member


def get_user(ctx: ServiceContext, user_id: str) -> ScimUser:
    with ctx.read() as uow:
        return _user(uow, _managed(uow, user_id))


def list_users(ctx: ServiceContext, *, user_name: str | None = None) -> list[ScimUser]:
    with ctx.read() as uow:
        users = [_user(uow, m) for m in uow.staff.all() if uow.identity.scim_names(m.id)]
    if user_name is not None:
        # userName is case-insensitive (RFC 7643 section 4.1.1).
        users = [u for u in users if u.user_name.casefold() == user_name.casefold()]
    return users


def create_user(ctx: ServiceContext, fields: UserFields, *, by: Actor) -> ScimUser:
    staff_id = str(uuid.uuid4())
    email = fields.staff_email(staff_id)
    with ctx.uow() as uow:
        if uow.staff.by_email(email) is not None:
            raise Conflict(f"a staff member with userName {email} exists")
        member = Staff(
            id=staff_id,
            email=email,
            display_name=fields.broker_name(email),
            roles=frozenset({ctx.identity.scim_role}),
            password_hash=NO_PASSWORD,
            totp_secret=ctx.totp.new_secret(),
            totp_last_step=None,
            # RFC 7643: a user is active unless the IdP says otherwise.
            disabled_at=None if fields.active is not False else ctx.clock(),
            created_at=ctx.clock(),
        )
        uow.staff.add(member)
        uow.identity.set_scim_managed(
            member.id, fields.user_name[:320], fields.external_id, profile=fields.profile()
        )
        uow.audit.record(
            AuditEvent(
                type="staff.added",
                actor=by.id,
                data={"staff": member.id, "roles": [ctx.identity.scim_role.value], "via": "scim"},
            )
        )
        return _user(uow, member)


def replace_user(ctx: ServiceContext, user_id: str, fields: UserFields, *, by: Actor) -> ScimUser:
    """Apply the IdP's view of the member; ``active: false`` disables them (see module doc)."""
    with ctx.uow() as uow:
        member = _managed(uow, user_id)
        email = fields.staff_email(member.id)
        other = uow.staff.by_email(email)
        if other is not None and other.id != member.id:
            raise Conflict(f"a staff member with userName {email} exists")
        name = fields.broker_name(email)
        if email != member.email or name != member.display_name:
            uow.staff.set_profile(member.id, email=email, display_name=name)
            uow.audit.record(
                AuditEvent(
                    type="staff.profile_changed",
                    actor=by.id,
                    data={"staff": member.id, "via": "scim"},
                )
            )
        uow.identity.set_scim_managed(
            member.id, fields.user_name[:320], fields.external_id, profile=fields.profile()
        )
    # ``active`` removed (None) changes nothing: a removal never re-enables a member.
    if member.active and fields.active is False:
        staff_service.disable_staff(ctx, email=email, by=by)
    elif not member.active and fields.active is True:
        staff_service.enable_staff(ctx, email=email, by=by)
    return get_user(ctx, member.id)


def delete_user(ctx: ServiceContext, user_id: str, *, by: Actor) -> None:
    """Deprovision: disable (ending every session) and release the member from SCIM. The
    staff row stays: the audit log names them."""
    with ctx.read() as uow:
        member = _managed(uow, user_id)
    staff_service.disable_staff(ctx, email=member.email, by=by)
    with ctx.uow() as uow:
        uow.identity.set_scim_managed(member.id, "", None, managed=False)
        uow.audit.record(
            AuditEvent(type="scim.user_deleted", actor=by.id, data={"staff": member.id})
        )
