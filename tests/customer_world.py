"""The customer's side over the API: the scenario's world with a verified subject, a real SMTP
server (aiosmtpd, STARTTLS and AUTH on) and the outbox worker that delivers to it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest

from actas.notify.email import EmailSender
from actas.notify.outbox import OutboxWorker
from tests.mail import SmtpServer, Tls, smtp_server, throwaway_tls
from tests.scenario import World

LINK_RE = re.compile(r"actas_l[a-z]{2}_[A-Za-z0-9_-]{43}")
ACTION_RE = re.compile(r"actas_c[a-z]{2}_[A-Za-z0-9_-]{43}")
CODE_RE = re.compile(r"\b(\d{3} ?\d{3})\b")


@dataclass
class Mailed:
    world: World
    smtp: SmtpServer
    worker: OutboxWorker
    #: Every secret any email carried: tokens and codes, for the leak search.
    secrets: list[str] = field(default_factory=list)

    def deliver(self) -> list[EmailMessage]:
        """Deliver what is due; the new messages, oldest first."""
        before = len(self.smtp.inbox.messages)
        stats = self.worker.deliver_due()
        assert stats.dead == 0, stats
        mails = [self.smtp.inbox.parsed(i) for i in range(before, len(self.smtp.inbox.messages))]
        for mail in mails:
            text = plain(mail)
            self.secrets += LINK_RE.findall(text) + ACTION_RE.findall(text)
            if "verification code" in str(mail["Subject"]):
                self.secrets += [c.replace(" ", "") for c in CODE_RE.findall(text)]
        return mails

    def one(self, subject_part: str) -> EmailMessage:
        mails = [m for m in self.deliver() if subject_part in str(m["Subject"])]
        assert len(mails) == 1, [str(m["Subject"]) for m in mails]
        return mails[0]


def plain(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def html(mail: EmailMessage) -> str:
    body = mail.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def code_in(mail: EmailMessage) -> str:
    found = CODE_RE.findall(plain(mail))
    assert found, plain(mail)
    return str(found[0]).replace(" ", "")


def problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    if code is not None:
        assert body["type"].endswith("/" + code), body
    return body


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return throwaway_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def mailed(world: World, tls: Tls) -> Iterator[Mailed]:
    verified = {
        "account": "acme",
        "display_name": "Jane",
        "email": "jane@customer.test",
        "email_verified": True,
    }
    response = world.client.put("/v1/subjects/u-1", headers=world.app_headers, json=verified)
    assert response.status_code == 200, response.text
    with smtp_server(tls) as server:
        sender = EmailSender(
            sender="actas@broker.test", smtp=server.settings(), ssl_context=tls.client
        )
        yield Mailed(
            world=world,
            smtp=server,
            worker=OutboxWorker(world.broker.store, {"email": sender}),
        )
