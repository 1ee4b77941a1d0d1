"""Anomaly alerts, evaluated as events are written.

:func:`observe` is the store's event observer (wired in ``bootstrap``): it sees every event a
transaction appends, inside that transaction and after they are in the log, so every
service's events are judged without any of them having to ask. The rules themselves are pure
(``actas.domain.alerts``); this module gathers the counts they need. An alert that fires is
stored once per rule, subject and window (a unique key), written to the log as
``alert.raised`` and announced to Slack and webhooks through the outbox, all in the same
transaction as the event that caused it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from actas.domain import alerts as rules
from actas.domain.alerts import Alert, AlertRule, RaisedAlert
from actas.domain.audit import Actor, AuditEvent
from actas.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from actas.domain.ports import UnitOfWork
from actas.domain.roles import Role
from actas.domain.staff import Staff
from actas.services.announce import announce
from actas.services.context import ServiceContext

ALERT_RAISED = "alert.raised"
ALERT_ACKNOWLEDGED = "alert.acknowledged"
MAX_COMMENT = 2000
_APPROVALS = ("access.approved", "access.approval_recorded")


def observe(ctx: ServiceContext, uow: UnitOfWork, events: Sequence[AuditEvent]) -> None:
    """Judge ``events`` (already appended in this transaction) and raise what they call for."""
    now = ctx.clock()
    found: list[Alert] = []
    writes: Counter[str] = Counter()
    for event in events:
        if event.type == "session.started":
            found += _session_started(ctx, uow, event, now)
        elif event.type == "access.break_glass":
            found += _break_glass(ctx, event, now)
        elif event.type == "access.requested" and event.data.get("outcome") == "deny":
            found += _denied(ctx, uow, event.actor, now)
        elif event.type == "access.denied":
            found += _denied(ctx, uow, _requester(uow, event), now)
            found += _rubber_stamp(ctx, uow, event, now)
        elif event.type in _APPROVALS:
            found += _approval(ctx, uow, event, now)
        elif event.type == "staff.step_up_failed":
            found += _step_up(ctx, uow, event, now)
        elif event.type.startswith("app.") and event.session:
            method = event.data.get("method")
            if rules.is_write(
                kind=event.type[4:], method=method if isinstance(method, str) else None
            ):
                writes[event.session] += 1
    policy = ctx.policy.alerts
    for session_id, count in sorted(writes.items()):
        total = uow.alerts.bump(AlertRule.SESSION_WRITES.value, session_id, count)
        if policy.on(AlertRule.SESSION_WRITES) and rules.too_many_writes(
            writes=total, limit=policy.session_writes
        ):
            event = next(e for e in events if e.session == session_id)
            found.append(
                Alert(
                    AlertRule.SESSION_WRITES,
                    session_id,
                    rules.EPOCH,
                    account=event.account,
                    application=event.application,
                    staff=event.actor,
                    detail={"session": session_id, "writes": total, "limit": policy.session_writes},
                )
            )
    for alert in found:
        raise_alert(ctx, uow, alert, at=now)


def _session_started(
    ctx: ServiceContext, uow: UnitOfWork, event: AuditEvent, now: datetime
) -> list[Alert]:
    policy = ctx.policy.alerts
    found: list[Alert] = []
    account, staff, session = event.account or "", event.actor or "", event.session or ""
    app = event.application
    # Account ids are each application's own: counted, and alerted on, per application.
    where = f"{app}/{account}"
    common: dict[str, Any] = {"account": account, "application": app, "staff": staff}
    detail: dict[str, Any]
    if policy.on(AlertRule.SESSIONS_PER_ACCOUNT):
        count = uow.alerts.count_events(
            ("session.started",),
            since=now - policy.sessions_window,
            account=account,
            application=app,
        )
        if rules.too_many_sessions(count=count, limit=policy.sessions_per_account):
            window = rules.window_start(at=now, window=policy.sessions_window)
            detail = {"sessions": count, "limit": policy.sessions_per_account}
            found.append(
                Alert(AlertRule.SESSIONS_PER_ACCOUNT, where, window, **common, detail=detail)
            )
    if policy.on(AlertRule.STAFF_SHARE):
        since = now - policy.staff_share_window
        total = uow.alerts.count_events(
            ("session.started",), since=since, account=account, application=app
        )
        mine = uow.alerts.count_events(
            ("session.started",), since=since, account=account, application=app, actor=staff
        )
        if rules.dominant_staff(
            staff_sessions=mine,
            total=total,
            percent=policy.staff_share_percent,
            min_sessions=policy.staff_share_min_sessions,
        ):
            window = rules.window_start(at=now, window=policy.staff_share_window)
            detail = {"sessions": total, "by_staff": mine, "percent": policy.staff_share_percent}
            found.append(
                Alert(AlertRule.STAFF_SHARE, f"{where}/{staff}", window, **common, detail=detail)
            )
    if policy.on(AlertRule.OUTSIDE_HOURS) and rules.outside_hours(
        at=now, hours=policy.working_hours
    ):
        detail = {"session": session, "zone": policy.working_hours.zone}
        found.append(Alert(AlertRule.OUTSIDE_HOURS, session, rules.EPOCH, **common, detail=detail))
    if policy.on(AlertRule.NO_TICKET) and rules.missing_ticket(ticket=event.ticket):
        detail = {"session": session, "case": event.case or ""}
        found.append(Alert(AlertRule.NO_TICKET, session, rules.EPOCH, **common, detail=detail))
    return found


def _break_glass(ctx: ServiceContext, event: AuditEvent, now: datetime) -> list[Alert]:
    if not ctx.policy.alerts.on(AlertRule.BREAK_GLASS):
        return []
    request = str(event.data.get("request", ""))
    return [
        Alert(
            AlertRule.BREAK_GLASS,
            request,
            rules.EPOCH,
            account=event.account,
            application=event.application,
            staff=event.actor,
            detail={"request": request, "case": event.case or ""},
        )
    ]


def _requester(uow: UnitOfWork, event: AuditEvent) -> str | None:
    request = uow.requests.get(str(event.data.get("request", "")))
    return request.staff_id if request else None


def _denied(ctx: ServiceContext, uow: UnitOfWork, staff: str | None, now: datetime) -> list[Alert]:
    policy = ctx.policy.alerts
    if staff is None or not policy.on(AlertRule.DENIED_REQUESTS):
        return []
    count = uow.alerts.denied_requests(staff, since=now - policy.denied_window)
    if not rules.repeated(count=count, threshold=policy.denied_requests):
        return []
    window = rules.window_start(at=now, window=policy.denied_window)
    detail = {"denied": count, "threshold": policy.denied_requests}
    return [Alert(AlertRule.DENIED_REQUESTS, staff, window, staff=staff, detail=detail)]


def _step_up(ctx: ServiceContext, uow: UnitOfWork, event: AuditEvent, now: datetime) -> list[Alert]:
    policy = ctx.policy.alerts
    staff = event.actor
    if staff is None or not policy.on(AlertRule.FAILED_STEP_UPS):
        return []
    count = uow.alerts.count_events(
        ("staff.step_up_failed",), since=now - policy.step_up_window, actor=staff
    )
    if not rules.repeated(count=count, threshold=policy.failed_step_ups):
        return []
    window = rules.window_start(at=now, window=policy.step_up_window)
    detail = {"failed": count, "threshold": policy.failed_step_ups}
    return [Alert(AlertRule.FAILED_STEP_UPS, staff, window, staff=staff, detail=detail)]


def _approval(
    ctx: ServiceContext, uow: UnitOfWork, event: AuditEvent, now: datetime
) -> list[Alert]:
    policy = ctx.policy.alerts
    found = _rubber_stamp(ctx, uow, event, now)
    request = uow.requests.get(str(event.data.get("request", "")))
    if (
        request is not None
        and policy.on(AlertRule.FAST_APPROVAL)
        and rules.too_fast(asked_at=request.created_at, decided_at=now, within=policy.fast_approval)
    ):
        seconds = int((now - request.created_at).total_seconds())
        found.append(
            Alert(
                AlertRule.FAST_APPROVAL,
                f"{request.id}/{event.actor}",
                rules.EPOCH,
                account=request.account_id,
                application=request.application_id,
                staff=event.actor,
                detail={"request": request.id, "seconds": seconds, "requester": request.staff_id},
            )
        )
    return found


def _rubber_stamp(
    ctx: ServiceContext, uow: UnitOfWork, event: AuditEvent, now: datetime
) -> list[Alert]:
    policy = ctx.policy.alerts
    approver = event.actor
    if approver is None or not policy.on(AlertRule.RUBBER_STAMP):
        return []
    since = now - policy.rubber_stamp_window
    approved = uow.alerts.count_events(_APPROVALS, since=since, actor=approver)
    denied = uow.alerts.count_events(("access.denied",), since=since, actor=approver)
    if not rules.rubber_stamp(
        approved=approved,
        decided=approved + denied,
        percent=policy.rubber_stamp_percent,
        min_decisions=policy.rubber_stamp_min_decisions,
    ):
        return []
    window = rules.window_start(at=now, window=policy.rubber_stamp_window)
    detail = {"approved": approved, "decided": approved + denied}
    return [Alert(AlertRule.RUBBER_STAMP, approver, window, staff=approver, detail=detail)]


def raise_alert(ctx: ServiceContext, uow: UnitOfWork, alert: Alert, *, at: datetime) -> bool:
    """Store, log and announce ``alert`` unless its rule, subject and window already have one."""
    alert_id = str(uuid.uuid4())
    if not uow.alerts.raise_once(alert, alert_id=alert_id, at=at):
        return False
    data: dict[str, Any] = {
        "alert": alert_id,
        "rule": alert.rule.value,
        "about": alert.subject,
        "window_start": alert.window_start.isoformat(),
        **({"staff": alert.staff} if alert.staff else {}),
        "detail": alert.detail,
        **({"application": alert.application} if alert.application else {}),
    }
    uow.audit.record(
        AuditEvent(type=ALERT_RAISED, actor="system", account=alert.account or None, data=data)
    )
    payload = {
        **data,
        "account": alert.account,
        "console_url": f"{ctx.public_url}/console/alerts/{alert_id}",
    }
    announce(uow, ctx.channels, ALERT_RAISED, payload, at=at)
    return True


def recent(ctx: ServiceContext, *, open_only: bool = False) -> list[RaisedAlert]:
    with ctx.read() as uow:
        return uow.alerts.recent(open_only=open_only)


def get(ctx: ServiceContext, alert_id: str) -> RaisedAlert:
    with ctx.read() as uow:
        alert = uow.alerts.get(alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id[:40]}")
    return alert


def acknowledge(
    ctx: ServiceContext, *, alert_id: str, staff: Staff, comment: str, by: Actor
) -> RaisedAlert:
    """``security`` acknowledges an alert with a comment saying what was found; once."""
    if Role.SECURITY not in staff.roles or not staff.active:
        raise Forbidden("only security acknowledges alerts")
    comment = comment.strip()
    if not comment or len(comment) > MAX_COMMENT:
        raise InvalidInput(f"a comment of 1 to {MAX_COMMENT} characters is required")
    with ctx.uow() as uow:
        alert = uow.alerts.get(alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id[:40]}")
        now = ctx.clock()
        if not uow.alerts.acknowledge(alert_id, by=staff.id, comment=comment, at=now):
            raise Conflict("the alert is already acknowledged")
        uow.audit.record(
            AuditEvent(
                type=ALERT_ACKNOWLEDGED,
                actor=staff.id,
                # An alert raised before alerts kept their application (migration 0015) names
                # an account id without saying whose: it stays in data, out of the account's
                # chain, rather than be filed under the wrong application's account.
                account=alert.account if alert.application else None,
                ip=by.ip,
                user_agent=by.user_agent,
                reason=comment,
                data={
                    "alert": alert_id,
                    "rule": alert.rule,
                    **(
                        {"application": alert.application}
                        if alert.application
                        else {"account": alert.account}
                    ),
                },
            )
        )
        updated = uow.alerts.get(alert_id)
    assert updated is not None
    return updated
