"""Customer email: a real SMTP server (aiosmtpd, STARTTLS or implicit TLS, AUTH), the maildir
fallback, and the outbox's retries, dead letters and scrubbing for channel ``email``."""

from __future__ import annotations

import json
import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from actas.bootstrap import Broker
from actas.domain.audit import AuditQuery
from actas.domain.clock import FrozenClock
from actas.notify import OutboxMessage
from actas.notify.channels import senders_for
from actas.notify.email import EmailComposer, EmailSender
from actas.notify.outbox import DEAD_LETTERED, OutboxWorker
from actas.services import audit as audit_service
from actas.store.tables import outbox
from tests.mail import Tls, smtp_server, throwaway_tls

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
VALUES = {
    "purpose": "password_reset",
    "name": "Jane <b>Doe</b>",
    "app_name": "Notes",
    "url": "https://notes.test/actas/link?t=actas_lpw_SECRET&x=1",
    "minutes": 15,
    "expires_at": "2026-11-23 12:15 UTC",
}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return throwaway_tls(tmp_path_factory.mktemp("tls"))


def composed() -> dict[str, str]:
    return EmailComposer(domain="broker.test").compose("link", dict(VALUES), at=AT)


def message(target: str = "jane@customer.test", **payload: str) -> OutboxMessage:
    return OutboxMessage(
        id="m-1",
        channel="email",
        target=target,
        event_type="email.link",
        payload={**composed(), **payload},
        created_at=AT,
        attempts=0,
    )


def test_starttls_and_auth_deliver_text_and_html_with_transactional_headers(tls: Tls) -> None:
    with smtp_server(tls) as server:
        sender = EmailSender(
            sender="actas@broker.test", smtp=server.settings(), ssl_context=tls.client
        )
        result = sender.send(message())
        assert result.ok, result.error
        assert server.inbox.tls_seen == [True]
        assert server.inbox.logins == ["actas-relay"]
        assert server.inbox.messages[0]["rcpt_tos"] == ["jane@customer.test"]
        mail = server.inbox.parsed()
    assert mail["From"] == "actas@broker.test"
    assert mail["To"] == "jane@customer.test"
    assert mail["Subject"] == "Notes: Reset your password"
    assert mail["Message-ID"].endswith("@broker.test>")
    assert mail["Date"] == "Mon, 23 Nov 2026 12:00:00 +0000"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["List-Unsubscribe"] is None
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None
    assert html is not None
    plain = text.get_content()
    assert "https://notes.test/actas/link?t=actas_lpw_SECRET&x=1" in plain
    assert "expires in 15 minutes" in plain
    assert "works only once" in plain
    assert "If you did not ask for this" in plain
    markup = html.get_content()
    # Autoescaped: the customer's name cannot inject markup; the URL's & is escaped in href.
    assert "Jane &lt;b&gt;Doe&lt;/b&gt;" in markup
    assert 'href="https://notes.test/actas/link?t=actas_lpw_SECRET&amp;x=1"' in markup


def test_implicit_tls(tls: Tls) -> None:
    with smtp_server(tls, implicit=True) as server:
        sender = EmailSender(
            sender="actas@broker.test", smtp=server.settings(), ssl_context=tls.client
        )
        result = sender.send(message())
        assert result.ok, result.error
        assert server.inbox.logins == ["actas-relay"]
        assert len(server.inbox.messages) == 1


def test_a_server_without_starttls_gets_nothing_in_clear(tls: Tls) -> None:
    with smtp_server(tls, offer_starttls=False, auth=False) as server:
        sender = EmailSender(
            sender="actas@broker.test",
            smtp=server.settings(auth=False, starttls=True),
            ssl_context=tls.client,
        )
        result = sender.send(message())
        assert not result.ok
        assert not result.permanent
        assert result.error == "SMTP server does not offer STARTTLS"
        assert server.inbox.messages == []


def test_an_untrusted_certificate_is_refused(tls: Tls) -> None:
    with smtp_server(tls) as server:
        # The system trust store does not know the throwaway certificate.
        sender = EmailSender(sender="actas@broker.test", smtp=server.settings())
        result = sender.send(message())
        assert not result.ok
        assert server.inbox.messages == []
        assert server.inbox.logins == []


@pytest.mark.parametrize(
    "target",
    ["jane@customer.test\r\nBcc: eve@evil.test", "Jane <jane@customer.test>", "a@b, c@d.test", ""],
)
def test_a_target_that_is_not_one_plain_address_is_never_sent(tls: Tls, target: str) -> None:
    with smtp_server(tls) as server:
        sender = EmailSender(
            sender="actas@broker.test", smtp=server.settings(), ssl_context=tls.client
        )
        result = sender.send(message(target=target))
        assert not result.ok
        assert result.permanent
        assert server.inbox.messages == []


def test_an_incomplete_payload_is_permanent() -> None:
    sender = EmailSender(sender="actas@broker.test", maildir=Path("/nonexistent/never"))
    result = sender.send(message(text=""))
    assert (result.ok, result.permanent) == (False, True)


# --- through the outbox worker, on both databases -------------------------------------------


def queue(broker: Broker, target: str = "jane@customer.test") -> str:
    with broker.store.transaction() as uow:
        return uow.outbox.add(
            channel="email",
            target=target,
            event_type="email.link",
            payload={**composed(), "link": "l-1"},
            at=broker.clock(),
        )


def row(broker: Broker, row_id: str) -> dict[str, object]:
    with broker.engine.connect() as conn:
        found = conn.execute(select(outbox).where(outbox.c.id == row_id)).one()
    return dict(found._mapping)


def test_a_5xx_recipient_refusal_dead_letters_at_once_audited_and_scrubbed(
    broker: Broker, tls: Tls
) -> None:
    row_id = queue(broker, "gone@customer.test")
    with smtp_server(tls) as server:
        server.inbox.refuse["gone@customer.test"] = "550 5.1.1 no such user gone@customer.test"
        sender = EmailSender(
            sender="actas@broker.test", smtp=server.settings(), ssl_context=tls.client
        )
        worker = OutboxWorker(broker.store, {"email": sender}, max_attempts=8)
        stats = worker.deliver_due()
    assert (stats.dead, stats.retried) == (1, 0)
    stored = row(broker, row_id)
    assert stored["dead_at"] is not None
    assert stored["attempts"] == 1
    # The error names the status only, never the address or the server's text.
    assert stored["last_error"] == "SMTP 550 recipient refused"
    assert json.loads(str(stored["payload"])) == {"link": "l-1", "scrubbed": True}
    events = audit_service.read_events(broker.services, AuditQuery(type=DEAD_LETTERED))
    assert [e["data"]["channel"] for e in events] == ["email"]
    assert "gone@customer.test" not in json.dumps(events)


def test_a_4xx_refusal_is_retried_with_backoff(
    broker: Broker, tls: Tls, clock: FrozenClock
) -> None:
    row_id = queue(broker, "busy@customer.test")
    with smtp_server(tls) as server:
        server.inbox.refuse["busy@customer.test"] = "451 4.3.0 try again later"
        sender = EmailSender(
            sender="actas@broker.test", smtp=server.settings(), ssl_context=tls.client
        )
        worker = OutboxWorker(broker.store, {"email": sender}, backoff_base=5)
        assert worker.deliver_due().retried == 1
        stored = row(broker, row_id)
        assert stored["dead_at"] is None
        assert stored["next_attempt_at"] == clock() + timedelta(seconds=5)
        assert "SMTP 451" in str(stored["last_error"])
        # Still there to retry: the payload is kept until the row is settled.
        assert json.loads(str(stored["payload"]))["text"]
        del server.inbox.refuse["busy@customer.test"]
        clock.advance(5)
        assert worker.deliver_due().delivered == 1
        assert len(server.inbox.messages) == 1
    assert json.loads(str(row(broker, row_id)["payload"])) == {"link": "l-1", "scrubbed": True}


def test_without_smtp_the_maildir_receives_it_and_the_row_is_scrubbed(broker: Broker) -> None:
    row_id = queue(broker)
    maildir = broker.settings.mail_dir
    assert not maildir.exists()
    worker = OutboxWorker(broker.store, senders_for(broker.settings))
    assert worker.deliver_due().delivered == 1
    box = mailbox.Maildir(maildir, create=False)
    messages = list(box)
    assert len(messages) == 1
    assert messages[0]["To"] == "jane@customer.test"
    assert messages[0]["Auto-Submitted"] == "auto-generated"
    assert "actas_lpw_SECRET" in messages[0].as_string()
    assert (maildir.stat().st_mode & 0o077) == 0, "the maildir is readable by others"
    stored = row(broker, row_id)
    assert stored["delivered_at"] is not None
    assert "actas_lpw_SECRET" not in str(stored["payload"])
