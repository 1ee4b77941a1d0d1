"""Anomaly alerts through the services: event sequences in, exactly the alerts they call for
out (and no others), at most once per rule, subject and window; each one an audit event and
an outbox row per channel."""

from __future__ import annotations

import dataclasses
import functools
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from actas.bootstrap import Broker
from actas.domain.access import AppEvent
from actas.domain.alerts import AlertRule, AlertRules
from actas.domain.audit import AuditQuery
from actas.domain.errors import Conflict, Forbidden, InvalidInput, StepUpRequired
from actas.domain.ports import Channel
from actas.domain.roles import Role
from actas.services import alerts, app_events, break_glass, cases, requests, sessions, sweep
from actas.services import applications as app_service
from actas.services import audit as audit_service
from actas.store.oversight_tables import alerts as alerts_table
from actas.store.tables import outbox
from tests.conftest import Persona
from tests.desk import SETUP, Desk

CHANNELS = (Channel("slack", "incoming-webhook"), Channel("webhook", "https://hooks.test/a"))


def watch(broker: Broker, **changes: Any) -> None:
    """Evaluate alerts with these rule changes, announcing to Slack and a webhook."""
    ctx = broker.services
    policy = dataclasses.replace(ctx.policy, alerts=dataclasses.replace(AlertRules(), **changes))
    observed = dataclasses.replace(ctx, policy=policy, channels=CHANNELS)
    broker.store.observer = functools.partial(alerts.observe, observed)


def raised(desk: Desk) -> list[tuple[str, str]]:
    return sorted((a.rule, a.subject) for a in alerts.recent(desk.ctx))


def case(desk: Desk, who: Persona | None = None, ticket: str = "ZD-1") -> str:
    who = who or desk.alice
    return cases.open_case(
        desk.ctx,
        staff=desk.staff(who),
        application_id="notes",
        subject_id="u-1",
        ticket=ticket,
        reason_code="bug_reproduction",
        reason_text="export fails",
        by=desk.actor(who),
    ).id


def ask(desk: Desk, case_id: str, who: Persona | None = None, **extra: Any) -> str:
    who = who or desk.alice
    fields: dict[str, Any] = {"kind": "impersonate", "scopes": frozenset({"read"}), "minutes": 15}
    fields.update(extra)
    return requests.request_access(
        desk.ctx, staff=desk.staff(who), case_id=case_id, by=desk.actor(who), **fields
    ).id


def start(desk: Desk, request_id: str, who: Persona | None = None) -> str:
    who = who or desk.alice
    return sessions.start_session(
        desk.ctx,
        staff=desk.staff(who),
        request_id=request_id,
        code=desk.code(who),
        by=desk.actor(who),
    ).session.id


def session(desk: Desk, who: Persona | None = None, ticket: str = "ZD-1") -> str:
    return start(desk, ask(desk, case(desk, who, ticket), who), who)


def test_a_sixth_session_in_a_day_alerts_once(desk: Desk, broker: Broker) -> None:
    watch(broker)
    for _ in range(5):
        session(desk)
    assert raised(desk) == []  # five is the limit, not over it
    session(desk)
    assert raised(desk) == [("sessions_per_account", "notes/acme")]
    session(desk)
    assert raised(desk) == [("sessions_per_account", "notes/acme")]  # once per window
    types = desk.types()
    assert types.count("alert.raised") == 1
    [event] = audit_service.read_events(desk.ctx, AuditQuery(type="alert.raised"))
    assert (event["account"], event["application"]) == ("acme", "notes")
    assert event["data"]["rule"] == "sessions_per_account"
    assert event["data"]["detail"] == {"sessions": 6, "limit": 5}
    with broker.engine.connect() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.event_type == "alert.raised")).all()
    assert sorted(r.channel for r in rows) == ["slack", "webhook"]


def test_the_same_account_id_in_another_application_is_another_account(
    desk: Desk, broker: Broker
) -> None:
    """Account ids are each application's own: billing's ``acme`` is not notes' ``acme``."""
    watch(broker, sessions_per_account=1, enabled=frozenset({AlertRule.SESSIONS_PER_ACCOUNT}))
    billing = app_service.add_application(
        desk.ctx, app_id="billing", name="Billing", handoff_url="https://billing.test/h", by=SETUP
    ).application
    app_service.upsert_account(
        desk.ctx, app=billing, account_id="acme", name="Acme", flags=frozenset(),
        handoff_url=None, by=SETUP,
    )  # fmt: skip
    app_service.upsert_subject(
        desk.ctx, app=billing, subject_id="u-9", account_id="acme", email="w@billing.test",
        email_verified=True, display_name="Wile", privileged=False, by=SETUP,
    )  # fmt: skip
    session(desk)
    alice = desk.staff(desk.alice)
    in_billing = cases.open_case(
        desk.ctx, staff=alice, application_id="billing", subject_id="u-9", ticket="ZD-2",
        reason_code="bug_reproduction", reason_text="invoice", by=desk.actor(desk.alice),
    ).id  # fmt: skip
    start(desk, ask(desk, in_billing))
    assert raised(desk) == []  # one session on each account: within the limit of one
    session(desk)
    assert raised(desk) == [("sessions_per_account", "notes/acme")]
    [alert] = alerts.recent(desk.ctx)
    assert (alert.account, alert.application) == ("acme", "notes")


def test_the_next_window_alerts_again(desk: Desk, broker: Broker) -> None:
    watch(broker, sessions_per_account=1, enabled=frozenset({AlertRule.SESSIONS_PER_ACCOUNT}))
    session(desk)
    session(desk)
    session(desk)
    assert len(alerts.recent(desk.ctx)) == 1
    desk.clock.advance(24 * 3600)
    session(desk)
    assert len(alerts.recent(desk.ctx)) == 1  # the day's first session is within the limit
    session(desk)
    found = alerts.recent(desk.ctx)
    assert [a.rule for a in found] == ["sessions_per_account"] * 2
    assert found[0].window_start - found[1].window_start == timedelta(days=1)


def test_sessions_outside_hours_and_without_a_ticket(desk: Desk, broker: Broker) -> None:
    watch(broker)
    inside = session(desk)
    desk.clock.advance(9 * 3600)  # past 18:00
    late = session(desk)
    placeholder = session(desk, ticket="n/a")
    assert raised(desk) == sorted(
        [("outside_hours", late), ("outside_hours", placeholder), ("no_ticket", placeholder)]
    )
    assert inside not in {s for _, s in raised(desk)}


def test_one_staff_member_holding_an_account(desk: Desk, broker: Broker) -> None:
    watch(broker, staff_share_min_sessions=4, sessions_per_account=100)
    session(desk)
    session(desk, desk.lucy)
    session(desk)
    session(desk)
    assert raised(desk) == []  # 3 of 4 is 75 %
    session(desk)
    assert raised(desk) == []  # 4 of 5 is 80 %: not above it
    session(desk)
    assert raised(desk) == [("staff_share", f"notes/acme/{desk.alice.id}")]  # 5 of 6
    session(desk)
    assert raised(desk) == [("staff_share", f"notes/acme/{desk.alice.id}")]  # once per window


def test_break_glass_is_always_an_alert(desk: Desk, broker: Broker) -> None:
    watch(broker)
    sam = desk.people.add("sam", Role.SECURITY)
    request_id = ask(desk, case(desk, sam), sam, break_glass=True)
    assert raised(desk) == [("break_glass", request_id)]


def test_repeated_failed_step_ups(desk: Desk, broker: Broker) -> None:
    watch(broker)
    request_id = ask(desk, case(desk))
    for attempt in range(4):
        desk.clock.advance(30)
        with pytest.raises(StepUpRequired):
            sessions.start_session(
                desk.ctx,
                staff=desk.staff(desk.alice),
                request_id=request_id,
                code="000000",
                by=desk.actor(desk.alice),
            )
        expected = [] if attempt < 2 else [("failed_step_ups", desk.alice.id)]
        assert raised(desk) == expected


def test_repeated_denied_requests(desk: Desk, broker: Broker) -> None:
    watch(broker)
    case_id = case(desk)
    for attempt in range(4):
        ask(desk, case_id, scopes=frozenset({"write"}))  # an agent may not write: denied
        expected = [] if attempt < 2 else [("denied_requests", desk.alice.id)]
        assert raised(desk) == expected


def test_fast_approvals_and_an_approver_who_approves_everything(desk: Desk, broker: Broker) -> None:
    watch(broker, rubber_stamp_min_decisions=3)
    eve = desk.people.add("eve", Role.ENGINEER)
    first = ask(desk, case(desk, eve), eve)
    desk.clock.advance(120)
    requests.approve_request(
        desk.ctx,
        approver=desk.staff(desk.lucy),
        request_id=first,
        comment="ok",
        via="console",
        code=None,
        by=desk.actor(desk.lucy),
    )
    assert raised(desk) == []  # two minutes to read it; one decision is no pattern
    second = ask(desk, case(desk, eve), eve)
    desk.clock.advance(5)
    requests.approve_request(
        desk.ctx,
        approver=desk.staff(desk.lucy),
        request_id=second,
        comment="ok",
        via="console",
        code=None,
        by=desk.actor(desk.lucy),
    )
    assert raised(desk) == [("fast_approval", f"{second}/{desk.lucy.id}")]
    third = ask(desk, case(desk, eve), eve)
    desk.clock.advance(60)
    requests.approve_request(
        desk.ctx,
        approver=desk.staff(desk.lucy),
        request_id=third,
        comment="ok",
        via="console",
        code=None,
        by=desk.actor(desk.lucy),
    )
    assert raised(desk) == sorted(
        [("fast_approval", f"{second}/{desk.lucy.id}"), ("rubber_stamp", desk.lucy.id)]
    )


def test_a_session_writing_too_much(desk: Desk, broker: Broker) -> None:
    watch(broker, session_writes=2)
    session_id = session(desk)

    def report(*methods: str) -> None:
        events = [
            AppEvent(
                id=f"{session_id[:8]}-{desk.clock().timestamp()}-{n}",
                session_id=session_id,
                kind="request",
                at=desk.clock(),
                method=method,
                route="/notes",
                status=200,
            )
            for n, method in enumerate(methods)
        ]
        app_events.ingest_app_events(
            desk.ctx, app=desk.app, events=events, by=desk.actor(desk.alice)
        )
        desk.clock.advance(1)

    report("GET", "POST", "GET", "PUT")
    assert raised(desk) == []  # two writes: the limit
    report("DELETE")
    assert raised(desk) == [("session_writes", session_id)]
    report("POST", "POST")
    assert raised(desk) == [("session_writes", session_id)]


def test_security_acknowledges_an_alert_once(desk: Desk, broker: Broker) -> None:
    watch(broker)
    sam = desk.people.add("sam", Role.SECURITY)
    ask(desk, case(desk, sam), sam, break_glass=True)
    [alert] = alerts.recent(desk.ctx, open_only=True)
    with pytest.raises(Forbidden):
        alerts.acknowledge(
            desk.ctx,
            alert_id=alert.id,
            staff=desk.staff(desk.lucy),
            comment="fine",
            by=desk.actor(desk.lucy),
        )
    with pytest.raises(InvalidInput):
        alerts.acknowledge(
            desk.ctx, alert_id=alert.id, staff=desk.staff(sam), comment="  ", by=desk.actor(sam)
        )
    done = alerts.acknowledge(
        desk.ctx,
        alert_id=alert.id,
        staff=desk.staff(sam),
        comment="outage INC-7",
        by=desk.actor(sam),
    )
    assert (done.acknowledged_by, done.comment) == (sam.id, "outage INC-7")
    assert alerts.recent(desk.ctx, open_only=True) == []
    with pytest.raises(Conflict):
        alerts.acknowledge(
            desk.ctx, alert_id=alert.id, staff=desk.staff(sam), comment="again", by=desk.actor(sam)
        )
    assert desk.types().count("alert.acknowledged") == 1


def test_break_glass_review_queue_and_overdue_alerts(desk: Desk, broker: Broker) -> None:
    watch(broker)
    sam = desk.people.add("sam", Role.SECURITY)
    tess = desk.people.add("tess", Role.SECURITY)
    request_id = ask(desk, case(desk, sam), sam, break_glass=True)
    assert [r.id for r in break_glass.queue(desk.ctx)] == [request_id]
    assert sweep.sweep(desk.ctx).alerts_raised == 0  # not a day old yet
    desk.clock.advance(24 * 3600)
    assert sweep.sweep(desk.ctx).alerts_raised == 1
    assert sweep.sweep(desk.ctx).alerts_raised == 0  # once per day
    desk.clock.advance(24 * 3600)
    assert sweep.sweep(desk.ctx).alerts_raised == 1  # and again the next day
    with pytest.raises(Forbidden, match="someone other"):
        break_glass.review(
            desk.ctx,
            request_id=request_id,
            reviewer=desk.staff(sam),
            justified=True,
            comment="mine",
            by=desk.actor(sam),
        )
    with pytest.raises(Forbidden):
        break_glass.review(
            desk.ctx,
            request_id=request_id,
            reviewer=desk.staff(desk.lucy),
            justified=True,
            comment="looks fine",
            by=desk.actor(desk.lucy),
        )
    done = break_glass.review(
        desk.ctx,
        request_id=request_id,
        reviewer=desk.staff(tess),
        justified=False,
        comment="no incident on record",
        by=desk.actor(tess),
    )
    assert (done.reviewer_id, done.justified) == (tess.id, False)
    with pytest.raises(Conflict):
        break_glass.review(
            desk.ctx,
            request_id=request_id,
            reviewer=desk.staff(tess),
            justified=True,
            comment="again",
            by=desk.actor(tess),
        )
    assert break_glass.queue(desk.ctx) == []
    desk.clock.advance(24 * 3600)
    assert sweep.sweep(desk.ctx).alerts_raised == 0
    assert raised(desk) == sorted(
        [("break_glass", request_id)] + [("break_glass_unreviewed", request_id)] * 2
    )
    assert desk.types().count("break_glass.reviewed") == 1


def test_an_alert_from_before_0015_is_acknowledged_outside_any_accounts_chain(
    desk: Desk, broker: Broker
) -> None:
    """Alerts raised before they kept their application name an account id without saying
    whose: acknowledging one files the id in data, not under some application's account."""
    sam = desk.people.add("sam", Role.SECURITY)
    with broker.engine.begin() as conn:
        conn.execute(
            insert(alerts_table).values(
                id="old-1",
                rule="sessions_per_account",
                subject="acme",
                window_start=desk.clock(),
                raised_at=desk.clock(),
                account="acme",
                staff=None,
                detail=json.dumps({"sessions": 6, "limit": 5}),
            )
        )
    alerts.acknowledge(
        desk.ctx, alert_id="old-1", staff=desk.staff(sam), comment="seen", by=desk.actor(sam)
    )
    [event] = audit_service.read_events(desk.ctx, AuditQuery(type="alert.acknowledged"))
    assert (event["account"], event["application"]) == (None, None)
    assert event["data"]["account"] == "acme"
