"""The customer's own policy and the account's flags, and the customer's access history.

The customer's account admins choose (through the application or the customer page) whether
support may reach them never, only with consent each time, or as the default policy says, and
whether they are told of every session. Only the application may record that the contract
requires access. The decision honours the stricter of the customer's and the broker's policy
(:func:`actas.domain.consent.apply_customer_policy`). A change that takes away what a live
session relied on ends it at once, as does a flag (``no_access``) set by the application or a
broker admin.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from actas.domain.access import AccessSession, EndReason
from actas.domain.audit import Actor, AuditEvent, AuditQuery
from actas.domain.consent import CustomerPolicy, CustomerRule
from actas.domain.errors import Forbidden, InvalidInput, NotFound
from actas.domain.lifecycle import why_over
from actas.domain.ports import UnitOfWork
from actas.domain.roles import Role
from actas.domain.staff import Staff
from actas.domain.subjects import Account, AccountFlag, Application
from actas.services import consent
from actas.services.context import ServiceContext


def _rule(value: str) -> CustomerRule:
    try:
        return CustomerRule(value)
    except ValueError:
        raise InvalidInput(f"rule {value[:20]!r} is not never, consent or default") from None


def _current(uow: UnitOfWork, application_id: str, account_id: str) -> CustomerPolicy:
    return uow.customer_policies.get(application_id, account_id) or CustomerPolicy(
        application_id=application_id, account_id=account_id
    )


def _policy_event(
    policy: CustomerPolicy, before: CustomerPolicy, by: Actor, **data: object
) -> AuditEvent:
    return AuditEvent(
        type="customer_policy.changed",
        actor=by.id,
        account=policy.account_id,
        ip=by.ip,
        user_agent=by.user_agent,
        data={
            "application": policy.application_id,
            "rule": policy.rule.value,
            "rule_before": before.rule.value,
            "notify_every_session": policy.notify_every_session,
            "contract_access": policy.contract_access,
            **data,
        },
    )


def _save(
    ctx: ServiceContext, uow: UnitOfWork, before: CustomerPolicy, after: CustomerPolicy, by: Actor
) -> CustomerPolicy:
    if after == replace(before, updated_at=after.updated_at, updated_by=after.updated_by):
        return before
    uow.customer_policies.put(after)
    ended = consent.end_unsupported(
        ctx,
        uow,
        after.application_id,
        after.account_id,
        by,
        note=f"the customer's policy is now {after.rule.value}",
    )
    moved = consent.advance_waiting(ctx, uow, after.application_id, after.account_id, by)
    uow.audit.record(_policy_event(after, before, by, sessions_ended=ended, requests_moved=moved))
    return after


def get_policy(ctx: ServiceContext, *, app: Application, subject_id: str) -> CustomerPolicy:
    with ctx.read() as uow:
        subject = consent.load_subject(uow, app, subject_id)
        return _current(uow, app.id, subject.account_id)


def set_policy(
    ctx: ServiceContext,
    *,
    app: Application,
    subject_id: str,
    rule: str,
    notify_every_session: bool,
    by: Actor,
) -> CustomerPolicy:
    """The customer's account admin sets the account's own policy."""
    chosen = _rule(rule)
    with ctx.uow() as uow:
        subject = consent.load_subject(uow, app, subject_id)
        before = _current(uow, app.id, subject.account_id)
        after = replace(
            before,
            rule=chosen,
            notify_every_session=notify_every_session,
            updated_at=ctx.clock(),
            updated_by=subject.id,
        )
        return _save(ctx, uow, before, after, by)


def set_contract_access(
    ctx: ServiceContext, *, app: Application, account_id: str, contract_access: bool, by: Actor
) -> CustomerPolicy:
    """Only the application records that the contract requires support access."""
    with ctx.uow() as uow:
        if uow.accounts.get(app.id, account_id[:128]) is None:
            raise NotFound(f"no account {account_id[:128]} in application {app.id}")
        before = _current(uow, app.id, account_id)
        after = replace(
            before, contract_access=contract_access, updated_at=ctx.clock(), updated_by=by.id
        )
        return _save(ctx, uow, before, after, by)


def set_account_flags(
    ctx: ServiceContext,
    *,
    application_id: str,
    account_id: str,
    flags: frozenset[AccountFlag],
    by: Actor,
    staff: Staff | None = None,
) -> Account:
    """A broker admin (console, or the CLI's operator when ``staff`` is None) sets an
    account's flags. Acts at once: sessions the policy no longer allows end now."""
    if staff is not None and not staff.has_any(frozenset({Role.ADMIN})):
        raise Forbidden("only an admin may set an account's flags")
    with ctx.uow() as uow:
        before = uow.accounts.get(application_id[:63], account_id[:128])
        if before is None:
            raise NotFound(f"no account {account_id[:128]} in application {application_id[:63]}")
        if before.flags == flags:
            return before
        after = replace(before, flags=flags, updated_at=ctx.clock())
        uow.accounts.upsert(after)
        ended = flags_changed(ctx, uow, after, by)
        uow.audit.record(
            AuditEvent(
                type="account.flags_set",
                actor=by.id,
                account=after.id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={
                    "application": after.application_id,
                    "flags": sorted(f.value for f in flags),
                    "flags_before": sorted(f.value for f in before.flags),
                    "sessions_ended": ended,
                },
            )
        )
    return after


def flags_changed(ctx: ServiceContext, uow: UnitOfWork, account: Account, by: Actor) -> int:
    """After an account's flags changed: end what is no longer allowed, move on what is."""
    ended = consent.end_unsupported(
        ctx, uow, account.application_id, account.id, by, note="the account's flags changed"
    )
    consent.advance_waiting(ctx, uow, account.application_id, account.id, by)
    return ended


def _lapsed_at(session: AccessSession, over: EndReason | None) -> datetime | None:
    if over is EndReason.EXPIRED:
        return session.expires_at
    if over is EndReason.IDLE_TIMEOUT:
        return session.last_active_at + timedelta(seconds=session.idle_seconds)
    return None


@dataclass(frozen=True)
class HistoryEntry:
    """One session on the customer's account, as the customer sees it."""

    session: AccessSession
    staff_name: str
    staff_roles: tuple[str, ...]
    approved_by: tuple[str, ...]
    reason_code: str
    ended_at: datetime | None
    end_reason: str | None
    viewed: tuple[str, ...]
    written: tuple[str, ...]


def history(ctx: ServiceContext, *, app: Application, subject_id: str) -> list[HistoryEntry]:
    """Every session on the subject's account, newest first: who, approved by whom, when, how
    long, the reason code, and what was viewed and written (from the SDK's events)."""
    now = ctx.clock()
    with ctx.read() as uow:
        subject = consent.load_subject(uow, app, subject_id)
        sessions = uow.sessions.for_account(app.id, subject.account_id)
        seen: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
        for event in uow.audit.query(
            AuditQuery(account=subject.account_id, type="app.request", limit=1000)
        ):
            data = event.get("data") or {}
            if data.get("application") != app.id or not event.get("session"):
                continue
            route = f"{data.get('method', '?')} {data.get('route', '?')}"
            viewed, written = seen[str(event["session"])]
            (viewed if data.get("method") in ("GET", "HEAD") else written).add(route)
        entries = []
        for s in reversed(sessions):
            staff = uow.staff.by_id(s.staff_id)
            request = uow.requests.get(s.request_id)
            case = uow.cases.get(s.case_id)
            approvals = uow.requests.approvals(s.request_id) if request else []
            approvers = [uow.staff.by_id(a.approver_id) for a in approvals]
            viewed, written = seen.get(s.id, (set(), set()))
            over = why_over(s, now)
            entries.append(
                HistoryEntry(
                    session=s,
                    staff_name=staff.display_name if staff else "former staff",
                    staff_roles=tuple(sorted(r.value for r in staff.roles)) if staff else (),
                    approved_by=tuple(
                        a.display_name
                        for a, ap in zip(approvers, approvals, strict=True)
                        if a is not None and ap.decision == "approve"
                    ),
                    reason_code=case.reason_code if case else "",
                    ended_at=s.ended_at or _lapsed_at(s, over),
                    end_reason=over.value if over else None,
                    viewed=tuple(sorted(viewed)),
                    written=tuple(sorted(written)),
                )
            )
        return entries
