"""Applications (the SaaS apps that trust the broker) and the accounts and subjects they mirror."""

from __future__ import annotations

from dataclasses import dataclass

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
    check_handoff_host,
    check_handoff_url,
    handoff_hosts_for,
    url_host,
)
from actas.domain.tokens import APP_CREDENTIAL_PREFIX, looks_like, new_token, token_hash
from actas.services import customer_policy
from actas.services.context import ServiceContext


@dataclass(frozen=True)
class Registered:
    application: Application
    credential: str


def add_application(
    ctx: ServiceContext,
    *,
    app_id: str,
    name: str,
    handoff_url: str,
    by: Actor,
    handoff_hosts: tuple[str, ...] = (),
) -> Registered:
    """Register an application. Its credential is returned once and stored only as a hash.

    ``handoff_hosts`` are the other hosts its accounts may send staff browsers to; the host of
    ``handoff_url`` is always one. Only a broker admin registers applications (the CLI)."""
    check_app_id(app_id)
    check_handoff_url(handoff_url)
    hosts = handoff_hosts_for(handoff_url, handoff_hosts)
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
            handoff_hosts=hosts,
        )
        uow.applications.add(app, credential_hash=token_hash(credential))
        uow.audit.record(
            AuditEvent(
                type="application.added",
                actor=by.id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={
                    "application": app_id,
                    "handoff_url": handoff_url,
                    "handoff_hosts": list(hosts),
                },
            )
        )
    return Registered(application=app, credential=credential)


def set_handoff_hosts(
    ctx: ServiceContext,
    *,
    app_id: str,
    add: tuple[str, ...] = (),
    remove: tuple[str, ...] = (),
    by: Actor,
) -> Application:
    """Change where an application's accounts may send staff browsers (a broker admin, from the
    CLI). The host of the application's own handoff URL cannot be removed, and neither can a
    host an account still uses: that account's sessions would fail to start."""
    adding = {check_handoff_host(h) for h in add}
    removing = {check_handoff_host(h) for h in remove}
    with ctx.uow() as uow:
        app = uow.applications.by_id(app_id)
        if app is None:
            raise NotFound(f"no application {app_id[:63]}")
        if url_host(app.handoff_url) in removing:
            raise InvalidInput(f"{url_host(app.handoff_url)} is the application's own handoff host")
        in_use = sorted(removing & {url_host(u) for u in uow.accounts.handoff_urls(app.id)})
        if in_use:
            raise Conflict(f"accounts still send staff to {', '.join(in_use)}; change them first")
        hosts = handoff_hosts_for(
            app.handoff_url, sorted((set(app.handoff_hosts) | adding) - removing)
        )
        if hosts == app.handoff_hosts:
            return app
        uow.applications.set_handoff_hosts(app.id, hosts)
        uow.audit.record(
            AuditEvent(
                type="application.handoff_hosts_changed",
                actor=by.id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={
                    "application": app.id,
                    "from": list(app.handoff_hosts),
                    "to": list(hosts),
                },
            )
        )
        changed = uow.applications.by_id(app.id)
    assert changed is not None
    return changed


def handoff_base(app: Application, account: Account | None) -> str:
    """Where to send a browser for ``account``: its own handoff URL if its host is still on the
    application's allow-list, the application's otherwise. A URL whose host was taken off the
    list fails closed rather than falling back silently."""
    if account is None or account.handoff_url is None:
        return app.handoff_url
    if not app.allows_handoff(account.handoff_url):
        raise Conflict(
            f"account {account.id}'s handoff host {url_host(account.handoff_url)} is not allowed "
            f"for application {app.id}; a broker admin must allow it"
        )
    return account.handoff_url


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
        # The credential picks among the hosts a broker admin allowed, never a new one: a
        # leaked credential must not send stepped-up staff to a page of its choosing.
        if not app.allows_handoff(handoff_url):
            allowed = ", ".join(app.handoff_hosts)
            raise InvalidInput(
                f"handoff URL host {url_host(handoff_url)} is not one this application may use "
                f"({allowed}); a broker admin adds hosts with `actas app handoff-hosts`"
            )
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
            # Flags act at once: a session no longer allowed (no_access) ends now.
            data["sessions_ended"] = customer_policy.flags_changed(ctx, uow, account, by)
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
