"""Verification codes from a case: emailed to the subject's verified address over STARTTLS,
never returned to staff; the right code is recorded on the case (method, time, result, by
whom); wrong codes are counted, audited and lock the verification at the limit. Every test runs
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from actas.bootstrap import Broker
from actas.domain.audit import Actor, AuditQuery
from actas.domain.clock import FrozenClock
from actas.domain.errors import ActasError, Conflict, NotFound
from actas.domain.links import (
    CODE_ATTEMPTS,
    CODE_SENDS_PER_HOUR,
    CodeWrong,
    MalformedCode,
    NoVerifiedEmail,
    TooManyCodes,
    Verification,
    VerificationClosed,
    VerificationExpired,
    VerificationLocked,
    VerificationStatus,
    code_hash,
    new_code,
    normalise_code,
)
from actas.domain.roles import Role
from actas.domain.staff import Staff
from actas.notify.email import EmailSender
from actas.notify.outbox import OutboxWorker
from actas.services import applications as app_service
from actas.services import audit as audit_service
from actas.services import cases as cases_service
from actas.services import verification as verification_service
from actas.store.tables import metadata, outbox, verifications
from tests.concurrency import race
from tests.conftest import People
from tests.mail import SmtpServer, Tls, smtp_server, throwaway_tls

CODE_RE = re.compile(r"^\s+(\d{6})\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return throwaway_tls(tmp_path_factory.mktemp("tls"))


@dataclass
class Desk:
    broker: Broker
    clock: FrozenClock
    alice: Staff
    by: Actor
    smtp: SmtpServer
    worker: OutboxWorker
    case: str

    @property
    def ctx(self) -> Any:
        return self.broker.services

    def open_case(self, subject: str = "u-1") -> str:
        return cases_service.open_case(
            self.ctx,
            staff=self.alice,
            application_id="notes",
            subject_id=subject,
            ticket="ZD-4711",
            reason_code="bug_reproduction",
            reason_text="Export button fails with error 500",
            by=self.by,
        ).id

    def send(self, case: str | None = None) -> Verification:
        return verification_service.send_code(
            self.ctx, staff=self.alice, case_id=case or self.case, by=self.by
        )

    def deliver(self) -> str:
        """Send what is queued; the code in the newest email."""
        assert self.worker.deliver_due().delivered >= 1
        body = self.smtp.inbox.parsed().get_body(("plain",))
        assert body is not None
        found = CODE_RE.findall(body.get_content())
        assert len(found) == 1, body.get_content()
        return str(found[0])

    def check(self, verification: Verification | str, code: str) -> Verification:
        vid = verification if isinstance(verification, str) else verification.id
        return verification_service.check_code(
            self.ctx, staff=self.alice, verification_id=vid, code=code, by=self.by
        )


@pytest.fixture
def desk(broker: Broker, clock: FrozenClock, people: People, tls: Tls) -> Iterator[Desk]:
    setup = Actor(id="test-setup")
    registered = app_service.add_application(
        broker.services,
        app_id="notes",
        name="Notes",
        handoff_url="https://notes.test/actas/handoff",
        by=setup,
    )
    app = registered.application
    app_service.upsert_account(
        broker.services,
        app=app,
        account_id="acme",
        name="Acme",
        flags=frozenset(),
        handoff_url=None,
        by=setup,
    )
    for subject, email, verified in (
        ("u-1", "jane@customer.test", True),
        ("u-2", "joe@customer.test", False),
    ):
        app_service.upsert_subject(
            broker.services,
            app=app,
            subject_id=subject,
            account_id="acme",
            email=email,
            email_verified=verified,
            display_name="Jane",
            privileged=False,
            by=setup,
        )
    persona = people.add("alice", Role.AGENT)
    with broker.store.read() as uow:
        alice = uow.staff.by_id(persona.id)
    assert alice is not None
    by = Actor(id=alice.id, ip="10.1.2.3", user_agent="console")
    with smtp_server(tls) as server:
        sender = EmailSender(
            sender="actas@broker.test", smtp=server.settings(), ssl_context=tls.client
        )
        made = Desk(
            broker=broker,
            clock=clock,
            alice=alice,
            by=by,
            smtp=server,
            worker=OutboxWorker(broker.store, {"email": sender}),
            case="",
        )
        made.case = made.open_case()
        yield made


def counts(broker: Broker) -> dict[str, int]:
    with broker.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in metadata.sorted_tables
        }


def events(desk: Desk, type_: str) -> list[dict[str, Any]]:
    return audit_service.read_events(desk.ctx, AuditQuery(type=type_, limit=1000))


# --- the happy path ---------------------------------------------------------------------------


def test_the_code_arrives_and_the_right_code_is_recorded_on_the_case(desk: Desk) -> None:
    sent = desk.send()
    # Staff get the record, never the code.
    assert "code" not in {f.name for f in fields(sent)}
    assert (sent.status, sent.attempts, sent.sent_at) == (VerificationStatus.PENDING, 0, None)
    code = desk.deliver()
    assert desk.smtp.inbox.tls_seen == [True]
    assert desk.smtp.inbox.messages[-1]["rcpt_tos"] == ["jane@customer.test"]
    mail = desk.smtp.inbox.parsed()
    assert mail["Subject"] == "Notes: your verification code"
    assert code not in mail["Subject"]
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "ticket ZD-4711" in text
    assert "expires in 10 minutes (at 2026-11-23 12:10 UTC) and works only once" in text
    assert "If you are not talking to Notes support right now" in text
    desk.clock.advance(60)
    verified = desk.check(sent, code)
    assert verified.status is VerificationStatus.VERIFIED
    assert (verified.decided_by, verified.decided_at) == (desk.alice.id, desk.clock())
    [recorded] = verification_service.verifications_for_case(desk.ctx, desk.case)
    assert recorded.method == "email_code"
    assert recorded.status is VerificationStatus.VERIFIED
    assert recorded.decided_by == desk.alice.id
    assert recorded.sent_at is not None
    assert recorded.send_failed_at is None
    # The record matches the code that was sent: its stored hash is of exactly that code.
    with desk.broker.engine.connect() as conn:
        stored = conn.execute(select(verifications.c.code_hash)).scalar_one()
    assert stored == code_hash(sent.id, code)
    [succeeded] = events(desk, "verification.succeeded")
    assert succeeded["case"] == desk.case
    assert succeeded["actor"] == desk.alice.id
    assert succeeded["data"]["verification"] == sent.id
    with pytest.raises(VerificationClosed):
        desk.check(sent, code)


def test_a_code_read_with_spaces_or_dashes_is_accepted(desk: Desk) -> None:
    sent = desk.send()
    code = desk.deliver()
    assert desk.check(sent, f" {code[:3]} - {code[3:]} ").status is VerificationStatus.VERIFIED


# --- wrong codes, expiry, supersession, limits ------------------------------------------------


def test_wrong_codes_past_the_limit_lock_the_verification_and_are_audited(desk: Desk) -> None:
    sent = desk.send()
    code = desk.deliver()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in range(CODE_ATTEMPTS - 1, 0, -1):
        with pytest.raises(CodeWrong) as caught:
            desk.check(sent, wrong)
        assert caught.value.attempts_left == left
    with pytest.raises(VerificationLocked):
        desk.check(sent, wrong)
    before = counts(desk.broker)
    # Locked: even the right code is refused now, and the refusal writes nothing.
    with pytest.raises(VerificationLocked):
        desk.check(sent, code)
    assert counts(desk.broker) == before
    failed = events(desk, "verification.failed")
    assert [e["data"]["attempts_left"] for e in failed] == [4, 3, 2, 1, 0]
    assert {e["actor"] for e in failed} == {desk.alice.id}
    [locked] = events(desk, "verification.locked")
    assert locked["case"] == desk.case
    [record] = verification_service.verifications_for_case(desk.ctx, desk.case)
    assert (record.status, record.attempts) == (VerificationStatus.LOCKED, CODE_ATTEMPTS)


def test_an_expired_code_is_refused_and_writes_nothing(desk: Desk) -> None:
    sent = desk.send()
    code = desk.deliver()
    desk.clock.advance(timedelta(minutes=10).total_seconds())
    before = counts(desk.broker)
    with pytest.raises(VerificationExpired):
        desk.check(sent, code)
    assert counts(desk.broker) == before


def test_a_new_code_replaces_the_pending_one(desk: Desk) -> None:
    first = desk.send()
    old = desk.deliver()
    desk.clock.advance(1)
    second = desk.send()
    new = desk.deliver()
    with pytest.raises(VerificationClosed):
        desk.check(first, old)
    assert desk.check(second, new).status is VerificationStatus.VERIFIED
    statuses = [v.status for v in verification_service.verifications_for_case(desk.ctx, desk.case)]
    assert statuses == [VerificationStatus.SUPERSEDED, VerificationStatus.VERIFIED]


def test_a_case_sends_a_few_codes_an_hour(desk: Desk) -> None:
    for _ in range(CODE_SENDS_PER_HOUR):
        desk.send()
        desk.clock.advance(60)
    before = counts(desk.broker)
    with pytest.raises(TooManyCodes):
        desk.send()
    assert counts(desk.broker) == before
    desk.clock.advance(3600)
    assert desk.send().status is VerificationStatus.PENDING


def test_concurrent_right_codes_verify_once(desk: Desk) -> None:
    sent = desk.send()
    code = desk.deliver()
    outcomes = race(lambda: desk.check(sent, code))
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) == {"ok", "VerificationClosed"}
    assert len(events(desk, "verification.succeeded")) == 1


def test_concurrent_wrong_codes_count_exactly_the_limit(desk: Desk) -> None:
    sent = desk.send()
    code = desk.deliver()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    outcomes = race(lambda: desk.check(sent, wrong))
    assert outcomes.count("CodeWrong") == CODE_ATTEMPTS - 1, outcomes
    assert outcomes.count("VerificationLocked") == 50 - (CODE_ATTEMPTS - 1)
    assert len(events(desk, "verification.failed")) == CODE_ATTEMPTS
    assert len(events(desk, "verification.locked")) == 1


# --- bad input writes nothing -----------------------------------------------------------------


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", "١٢٣٤٥٦", "", "1" * 100, "12 34"])
def test_a_code_of_the_wrong_shape_is_a_4xx_and_counts_nothing(desk: Desk, code: str) -> None:
    from actas.http.problems import STATUS

    sent = desk.send()
    before = counts(desk.broker)
    with pytest.raises(MalformedCode) as caught:
        desk.check(sent, code)
    assert next(s for c, s in STATUS.items() if isinstance(caught.value, c)) == 422
    assert counts(desk.broker) == before


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda d, unverified: d.send(unverified), NoVerifiedEmail),
        (lambda d, unverified: d.send("no-such-case"), NotFound),
        (lambda d, unverified: d.check("no-such-verification", "123456"), NotFound),
    ],
)
def test_bad_input_raises_a_4xx_error_and_writes_nothing(
    desk: Desk, call: Any, error: type[ActasError]
) -> None:
    from actas.http.problems import STATUS

    unverified = desk.open_case("u-2")
    before = counts(desk.broker)
    with pytest.raises(error) as caught:
        call(desk, unverified)
    assert 400 <= next(s for c, s in STATUS.items() if isinstance(caught.value, c)) < 500
    assert counts(desk.broker) == before


def test_a_closed_case_sends_and_checks_nothing(desk: Desk) -> None:
    sent = desk.send()
    code = desk.deliver()
    cases_service.close_case(
        desk.ctx, staff=desk.alice, case_id=desk.case, changes="none", verify="n/a", by=desk.by
    )
    before = counts(desk.broker)
    with pytest.raises(Conflict):
        desk.send()
    with pytest.raises(Conflict):
        desk.check(sent, code)
    assert counts(desk.broker) == before


# --- secrets stay secret ----------------------------------------------------------------------


def test_no_code_in_any_audit_row_log_record_or_stored_row(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    codes = []
    for _ in range(CODE_SENDS_PER_HOUR):
        sent = desk.send()
        code = desk.deliver()
        codes.append(code)
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        with pytest.raises(CodeWrong):
            desk.check(sent, wrong)
    desk.check(sent, code)
    with desk.broker.engine.connect() as conn:
        stored = [
            json.dumps(dict(r._mapping), default=str)
            for table in (metadata.tables["audit_events"], outbox, verifications)
            for r in conn.execute(select(table))
        ]
    logged = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    for code in codes:
        # As a number of its own: a hex hash or a uuid may hold six digits in a row by chance.
        alone = re.compile(rf"(?<![0-9A-Za-z]){code}(?![0-9A-Za-z])")
        for text in [*stored, *logged]:
            assert not alone.search(text), text


def test_codes_are_six_digits_from_the_whole_range() -> None:
    drawn = {new_code() for _ in range(2000)}
    assert all(len(c) == 6 and c.isdigit() for c in drawn)
    assert len(drawn) > 1990
    assert any(c.startswith("0") for c in drawn)
    assert normalise_code("012 345") == "012345"
    assert code_hash("a", "123456") != code_hash("b", "123456")
