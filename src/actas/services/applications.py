"""Applications (the SaaS apps that trust the broker) and the accounts and subjects they mirror."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from actas.domain.audit import Actor, AuditEvent
from actas.domain.emails import normalise_email
from actas.domain.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from actas.domain.subjects import (
    Account,
    AccountFlag,
    Application,
    Subject,
    check_app_id,
    check_external_id,
)
from actas.domain.tokens import APP_CREDENTIAL_PREFIX, looks_like, new_token, token_hash
from actas.services.context import ServiceContext

LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def check_handoff_url(url: str) -> str:
    """https, or plain http on a loopback host for development. No query or fragment."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise InvalidInput(f"handoff URL {url[:80]!r} has no host")
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        raise InvalidInput(f"handoff URL {url[:80]!r} must use https (http only for loopback)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidInput(f"handoff URL {url[:80]!r} must not carry a query or credentials")
    if len(url) > 2000:
        raise InvalidInput("handoff URL is longer than 2000 characters")
    return url


@dataclass(frozen=True)
class Registered:
    application: Application
    credential: str


def add_application(
    ctx: ServiceContext, *, app_id: str, name: str, handoff_url: str, by: Actor
) -> Registered:
    """Register an application. Its credential is returned once and stored only as a hash."""
    check_app_id(app_id)
    check_handoff_url(handoff_url)
    credential = new_token(APP_CREDENTIAL_PREFIX)
    with ctx.uow() as uow:
        if uow.applications.by_id(app_id) is not None:
            raise Conflict(f"application {app_id} already exists")
        app = Application(
            id=app_id,
            name=name.strip() or app_id,
            handoff_url=handoff_url,
            created_at=ctx.clock(),
            disabled_at=None,
        )
        uow.applications.add(app, credential_hash=token_hash(credential))
        uow.audit.record(
            AuditEvent(
                type="application.added",
                actor=by.id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={"application": app_id, "handoff_url": handoff_url},
            )
        )
    return Registered(application=app, credential=credential)


def authenticate_application(ctx: ServiceContext, credential: str) -> Application:
    if not looks_like(credential, APP_CREDENTIAL_PREFIX):
        raise AuthenticationFailed("no valid application credential")
    with ctx.read() as uow:
        app = uow.applications.by_credential_hash(token_hash(credential))
    if app is None or app.disabled_at is not None:
        raise AuthenticationFailed("no valid application credential")
    return app


def list_applications(ctx: ServiceContext) -> list[Application]:
    with ctx.read() as uow:
        return uow.applications.all()


def upsert_account(
    ctx: ServiceContext,
    *,
    app: Application,
    account_id: str,
    name: str,
    flags: frozenset[AccountFlag],
    handoff_url: str | None,
    by: Actor,
) -> tuple[Account, bool]:
    """Create or update an account. Returns (account, created). An unchanged upsert writes
    nothing and records nothing: only state changes are audited."""
    check_external_id("account", account_id)
    if handoff_url is not None:
        check_handoff_url(handoff_url)
    with ctx.uow() as uow:
        before = uow.accounts.get(app.id, account_id)
        account = Account(
            application_id=app.id,
            id=account_id,
            name=name,
            flags=flags,
            handoff_url=handoff_url,
            updated_at=ctx.clock(),
        )
        if before is not None and (before.name, before.flags, before.handoff_url) == (
            name,
            flags,
            handoff_url,
        ):
            return before, False
        uow.accounts.upsert(account)
        data: dict[str, object] = {"application": app.id, "flags": sorted(f.value for f in flags)}
        if before is not None and before.flags != flags:
            data["flags_before"] = sorted(f.value for f in before.flags)
        if before is None or before.handoff_url != handoff_url:
            data["handoff_url"] = handoff_url
        uow.audit.record(
            AuditEvent(
                type="account.created" if before is None else "account.updated",
                actor=by.id,
                account=account_id,
                ip=by.ip,
                user_agent=by.user_agent,
                data=data,
            )
        )
    return account, before is None


def upsert_subject(
    ctx: ServiceContext,
    *,
    app: Application,
    subject_id: str,
    account_id: str,
    email: str | None,
    email_verified: bool,
    display_name: str,
    privileged: bool,
    by: Actor,
) -> tuple[Subject, bool]:
    """Create or update a subject. The audit event names the fields that changed, never their
    values: the log needs no copy of the customer's personal data."""
    check_external_id("subject", subject_id)
    check_external_id("account", account_id)
    # Stored canonical (finding 4): the policy compares it with staff emails, links are sent to it.
    email = normalise_email(email) if email is not None and email.strip() else None
    with ctx.uow() as uow:
        if uow.accounts.get(app.id, account_id) is None:
            raise NotFound(f"account {account_id} is unknown; PUT /v1/accounts/{account_id} first")
        before = uow.subjects.get(app.id, subject_id)
        subject = Subject(
            application_id=app.id,
            id=subject_id,
            account_id=account_id,
            email=email,
            email_verified=email_verified,
            display_name=display_name,
            privileged=privileged,
            updated_at=ctx.clock(),
        )
        fields = ("account_id", "email", "email_verified", "display_name", "privileged")
        changed = [f for f in fields if before is None or getattr(before, f) != getattr(subject, f)]
        if before is not None and not changed:
            return before, False
        uow.subjects.upsert(subject)
        uow.audit.record(
            AuditEvent(
                type="subject.created" if before is None else "subject.updated",
                actor=by.id,
                subject=subject_id,
                account=account_id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={"application": app.id, "changed": changed, "privileged": privileged},
            )
        )
    return subject, before is None
