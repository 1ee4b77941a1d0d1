"""One-time links: issued to the subject's verified email only, redeemed once, atomically, for
their own purpose and application; every bad input writes nothing; no token in any audit row
or log record. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from actas.bootstrap import Broker
from actas.domain.audit import Actor, AuditQuery
from actas.domain.clock import FrozenClock
from actas.domain.errors import ActasError, InvalidInput, NotFound
from actas.domain.links import (
    LINK_TTLS,
    MAX_LINK_TTL,
    MIN_LINK_TTL,
    LinkExpired,
    LinkPurpose,
    LinkUnknown,
    LinkUsed,
    LinkWrongPurpose,
    MalformedToken,
    NoVerifiedEmail,
    UnknownPurpose,
    check_token,
    link_ttl,
    link_url,
    new_link_token,
)
from actas.domain.subjects import Application
from actas.notify.email import EmailSender
from actas.notify.outbox import OutboxWorker
from actas.services import applications as app_service
from actas.services import audit as audit_service
from actas.services import links as link_service
from actas.store.tables import links, metadata, outbox
from tests.concurrency import race
from tests.mail import SmtpServer, Tls, smtp_server, throwaway_tls

APP = Actor(id="app:notes", ip="10.0.0.7")
TOKEN_RE = re.compile(r"actas_l[a-z]{2}_[A-Za-z0-9_-]{43}")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return throwaway_tls(tmp_path_factory.mktemp("tls"))


@dataclass
class Setup:
    broker: Broker
    clock: FrozenClock
    app: Application
    other: Application
    smtp: SmtpServer
    worker: OutboxWorker

    def issue(self, purpose: str = "password_reset", subject: str = "u-1") -> Any:
        return link_service.issue_link(
            self.broker.services, application=self.app, subject_id=subject, purpose=purpose, by=APP
        )

    def deliver(self) -> str:
        """Send what is queued; the token in the newest email."""
        stats = self.worker.deliver_due()
        assert stats.delivered >= 1, stats
        body = self.smtp.inbox.parsed().get_body(("plain",))
        assert body is not None
        found = TOKEN_RE.findall(body.get_content())
        assert len(set(found)) == 1, found
        return str(found[0])

    def redeem(self, token: str, purpose: str = "password_reset", app: Any = None) -> Any:
        return link_service.redeem_link(
            self.broker.services,
            application=app or self.app,
            token=token,
            purpose=purpose,
            by=APP,
        )

    def subject(self, subject_id: str, email: str | None, verified: bool) -> None:
        app_service.upsert_subject(
            self.broker.services,
            app=self.app,
            subject_id=subject_id,
            account_id="acme",
            email=email,
            email_verified=verified,
            display_name="Jane",
            privileged=False,
            by=APP,
        )


def _application(broker: Broker, app_id: str) -> Application:
    app_service.add_application(
        broker.services,
        app_id=app_id,
        name=app_id.title(),
        handoff_url=f"https://{app_id}.test/actas/handoff",
        handoff_hosts=("acme.notes.test",),
        by=Actor(id="test-setup"),
    )
    with broker.store.read() as uow:
        found = uow.applications.by_id(app_id)
    assert found is not None
    return found


@pytest.fixture
def setup(broker: Broker, clock: FrozenClock, tls: Tls) -> Iterator[Setup]:
    app = _application(broker, "notes")
    other = _application(broker, "other")
    app_service.upsert_account(
        broker.services,
        app=app,
        account_id="acme",
        name="Acme",
        flags=frozenset(),
        handoff_url=None,
        by=APP,
    )
    with smtp_server(tls) as server:
        sender = EmailSender(
            sender="actas@broker.test", smtp=server.settings(), ssl_context=tls.client
        )
        made = Setup(
            broker=broker,
            clock=clock,
            app=app,
            other=other,
            smtp=server,
            worker=OutboxWorker(broker.store, {"email": sender}),
        )
        made.subject("u-1", "jane@customer.test", True)
        made.subject("u-2", "joe@customer.test", False)
        made.subject("u-3", None, False)
        yield made


def counts(broker: Broker) -> dict[str, int]:
    with broker.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in metadata.sorted_tables
        }


# --- the email --------------------------------------------------------------------------------


def test_the_email_arrives_over_starttls_with_the_link_and_the_wording(setup: Setup) -> None:
    issued = setup.issue("password_reset")
    token = setup.deliver()
    assert setup.smtp.inbox.tls_seen == [True]
    assert setup.smtp.inbox.messages[-1]["rcpt_tos"] == ["jane@customer.test"]
    mail = setup.smtp.inbox.parsed()
    assert mail["Subject"] == "Notes: Reset your password"
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    # Built from the application's configured handoff URL, never from a request's Host.
    assert f"https://notes.test/actas/link?t={token}" in text
    assert "choose a new password" in text
    assert "expires in 15 minutes (at 2026-11-23 12:15 UTC)" in text
    assert "works only once" in text
    assert "If you did not ask for this, you can ignore this email" in text
    assert issued.expires_at == setup.clock() + timedelta(minutes=15)
    assert not hasattr(issued, "token")
    assert setup.redeem(token).subject_id == "u-1"


def test_an_accounts_own_domain_is_used_for_its_links(setup: Setup) -> None:
    app_service.upsert_account(
        setup.broker.services,
        app=setup.app,
        account_id="acme",
        name="Acme",
        flags=frozenset(),
        handoff_url="https://acme.notes.test/actas/handoff",
        by=APP,
    )
    setup.issue("magic_signin")
    token = setup.deliver()
    body = setup.smtp.inbox.parsed().get_body(("plain",))
    assert body is not None
    assert f"https://acme.notes.test/actas/link?t={token}" in body.get_content()


# --- redemption -------------------------------------------------------------------------------


def test_a_link_redeems_once(setup: Setup) -> None:
    setup.issue()
    token = setup.deliver()
    first = setup.redeem(token)
    assert (first.subject_id, first.account_id, first.purpose) == (
        "u-1",
        "acme",
        LinkPurpose.PASSWORD_RESET,
    )
    with pytest.raises(LinkUsed):
        setup.redeem(token)


def test_a_link_works_until_its_expiry_and_not_after(setup: Setup) -> None:
    setup.issue("magic_signin")
    token = setup.deliver()
    setup.clock.advance(LINK_TTLS[LinkPurpose.MAGIC_SIGNIN].total_seconds() + 1)
    with pytest.raises(LinkExpired):
        setup.redeem(token, "magic_signin")
    setup.issue("magic_signin")
    fresh = setup.deliver()
    setup.clock.advance(LINK_TTLS[LinkPurpose.MAGIC_SIGNIN].total_seconds() - 1)
    assert setup.redeem(fresh, "magic_signin").subject_id == "u-1"


def test_a_link_of_another_purpose_is_refused_and_stays_usable(setup: Setup) -> None:
    setup.issue("email_confirmation")
    token = setup.deliver()
    for wrong in ("password_reset", "magic_signin", "account_recovery"):
        with pytest.raises(LinkWrongPurpose):
            setup.redeem(token, wrong)
    assert setup.redeem(token, "email_confirmation").purpose is LinkPurpose.EMAIL_CONFIRMATION


def test_a_link_is_unknown_to_another_application(setup: Setup) -> None:
    setup.issue()
    token = setup.deliver()
    with pytest.raises(LinkUnknown):
        setup.redeem(token, app=setup.other)
    with pytest.raises(LinkUnknown):
        setup.redeem(new_link_token(LinkPurpose.PASSWORD_RESET))
    assert setup.redeem(token).subject_id == "u-1"


def test_a_new_link_supersedes_the_older_of_its_purpose_only(setup: Setup) -> None:
    setup.issue("password_reset")
    older = setup.deliver()
    setup.issue("email_confirmation")
    confirmation = setup.deliver()
    setup.issue("password_reset")
    newer = setup.deliver()
    with pytest.raises(LinkExpired, match="replaced by a newer one"):
        setup.redeem(older)
    assert setup.redeem(newer).subject_id == "u-1"
    assert setup.redeem(confirmation, "email_confirmation").subject_id == "u-1"
    issued = [
        e["data"]
        for e in audit_service.read_events(setup.broker.services, AuditQuery(type="link.issued"))
    ]
    assert [d["superseded"] for d in issued] == [0, 0, 1]


def test_a_link_stops_working_when_the_verified_email_changes(setup: Setup) -> None:
    setup.issue()
    token = setup.deliver()
    setup.subject("u-1", "jane.new@customer.test", True)
    with pytest.raises(LinkExpired, match="verified email changed"):
        setup.redeem(token)
    with setup.broker.engine.connect() as conn:
        assert conn.execute(select(links.c.used_at)).scalar_one() is None
    setup.subject("u-1", "jane@customer.test", False)
    with pytest.raises(LinkExpired):
        setup.redeem(token)


def test_concurrent_redemptions_succeed_exactly_once(setup: Setup) -> None:
    """50 threads race one link on the real database; exactly one gets the subject."""
    setup.issue()
    token = setup.deliver()
    results = race(lambda: setup.redeem(token))
    assert results.count("ok") == 1, results
    assert set(results) == {"ok", "LinkUsed"}
    redeemed = audit_service.read_events(setup.broker.services, AuditQuery(type="link.redeemed"))
    assert len(redeemed) == 1


# --- bad input writes nothing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.issue("delete_account"), UnknownPurpose),
        (lambda s: s.issue("PASSWORD_RESET"), UnknownPurpose),
        (lambda s: s.issue("password_reset", subject="u-2"), NoVerifiedEmail),
        (lambda s: s.issue("password_reset", subject="u-3"), NoVerifiedEmail),
        (lambda s: s.issue("password_reset", subject="nobody"), NotFound),
        (lambda s: s.issue("password_reset", subject="bad id\n"), InvalidInput),
        (lambda s: s.redeem("actas_lpw_short"), MalformedToken),
        (lambda s: s.redeem("x" * 10_000), MalformedToken),
        (lambda s: s.redeem("actas_lzz_" + "A" * 43), MalformedToken),
        (lambda s: s.redeem("actas_st_" + "A" * 43), MalformedToken),
        (lambda s: s.redeem(new_link_token(LinkPurpose.PASSWORD_RESET), "nope"), UnknownPurpose),
    ],
)
def test_bad_input_raises_a_4xx_error_and_writes_nothing(
    setup: Setup, call: Any, error: type[ActasError]
) -> None:
    from actas.http.problems import STATUS

    before = counts(setup.broker)
    with pytest.raises(error) as caught:
        call(setup)
    status = next(s for cls, s in STATUS.items() if isinstance(caught.value, cls))
    assert 400 <= status < 500
    assert counts(setup.broker) == before


def test_a_subject_whose_email_would_inject_a_header_gets_no_link(setup: Setup) -> None:
    with setup.broker.store.transaction() as uow:
        uow.conn.execute(
            update(metadata.tables["subjects"])
            .where(metadata.tables["subjects"].c.id == "u-1")
            .values(email="jane@customer.test\r\nBcc: eve@evil.test")
        )
    before = counts(setup.broker)
    with pytest.raises(NoVerifiedEmail):
        setup.issue()
    assert counts(setup.broker) == before


# --- secrets stay secret ----------------------------------------------------------------------


def test_no_token_in_any_audit_row_log_record_or_settled_outbox_row(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = []
    for purpose in LinkPurpose:
        setup.issue(purpose.value)
        tokens.append(setup.deliver())
    setup.redeem(tokens[0])
    with pytest.raises(LinkUsed):
        setup.redeem(tokens[0])
    with pytest.raises(LinkWrongPurpose):
        setup.redeem(tokens[1], "password_reset")
    with setup.broker.engine.connect() as conn:
        audit_rows = [r.canonical for r in conn.execute(select(metadata.tables["audit_events"]))]
        outbox_rows = [
            json.dumps(dict(r._mapping), default=str) for r in conn.execute(select(outbox))
        ]
        link_rows = [json.dumps(dict(r._mapping), default=str) for r in conn.execute(select(links))]
    # Everything logged in the process but the test SMTP server's own transcript (aiosmtpd logs
    # every DATA line at DEBUG: it plays the customer's mail provider, not the broker).
    logged = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    assert audit_rows
    assert logged
    for token in tokens:
        secret = token.split("_", 2)[2]
        for text in [*audit_rows, *outbox_rows, *link_rows, *logged]:
            assert secret not in text


# --- the domain's rules -----------------------------------------------------------------------


def test_lifetimes_are_within_bounds_and_magic_signin_is_the_shortest() -> None:
    for ttl in LINK_TTLS.values():
        assert MIN_LINK_TTL <= ttl <= MAX_LINK_TTL
    assert LINK_TTLS[LinkPurpose.MAGIC_SIGNIN] == min(LINK_TTLS.values())
    assert all(
        LINK_TTLS[LinkPurpose.MAGIC_SIGNIN] < ttl
        for purpose, ttl in LINK_TTLS.items()
        if purpose is not LinkPurpose.MAGIC_SIGNIN
    )
    assert link_ttl(LinkPurpose.PASSWORD_RESET, timedelta(minutes=20)) == timedelta(minutes=20)
    for wrong in (timedelta(minutes=9), timedelta(minutes=31)):
        with pytest.raises(InvalidInput):
            link_ttl(LinkPurpose.PASSWORD_RESET, wrong)


def test_tokens_carry_256_bits_behind_a_prefix_per_purpose() -> None:
    seen = set()
    for purpose in LinkPurpose:
        token = new_link_token(purpose)
        assert check_token(token) is purpose
        assert len(token.split("_", 2)[2]) == 43  # 32 bytes, base64url
        seen.add(token[:10])
    assert len(seen) == len(LinkPurpose)


def test_the_link_url_is_the_handoff_urls_sibling() -> None:
    assert (
        link_url("https://app.test/actas/handoff", "actas_lpw_x")
        == "https://app.test/actas/link?t=actas_lpw_x"
    )
    assert link_url("https://app.test", "t") == "https://app.test/link?t=t"
    with pytest.raises(InvalidInput):
        link_url("javascript:alert(1)", "t")
