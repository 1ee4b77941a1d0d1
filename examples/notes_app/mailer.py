"""The app's own emails: through SMTP when ``NOTES_SMTP_HOST`` is set, else to the log."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

log = logging.getLogger("notes_app.mail")


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    def send(self, email: Email) -> None: ...


class SmtpMailer:
    def __init__(self, host: str, port: int, sender: str) -> None:
        self.host = host
        self.port = port
        self.sender = sender

    def send(self, email: Email) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message.set_content(email.body)
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.send_message(message)
        log.info("sent %r to %s", email.subject, email.to)


class LogMailer:
    """The default without SMTP: a newcomer sees every email in the terminal."""

    def send(self, email: Email) -> None:
        log.info("email to %s: %s\n%s", email.to, email.subject, email.body)
