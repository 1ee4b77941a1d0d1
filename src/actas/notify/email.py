"""Customer email: composed from Jinja2 templates, queued in the outbox, sent by SMTP or, when
no SMTP server is configured, written to a local maildir.

A message is rendered once, when it is queued, inside the transaction that issues the link or
code (:class:`EmailComposer`): the outbox row is self-contained, and a retry sends the very same
bytes with the same ``Message-ID``. That row is the one place a link token or code exists in
clear; the worker empties its payload once it is delivered or dead-lettered (see
``docs/security.md`` for why this rather than an encrypted payload).

:class:`EmailSender` is the outbox's sender for channel ``"email"``. SMTP goes over implicit TLS
or STARTTLS (never downgraded: a server that does not offer STARTTLS is a failure, not a
plain-text send), with AUTH when a username is configured. A 5xx answer for the recipient or the
message is permanent and dead-letters the row at once; anything else is retried with backoff.
"""

from __future__ import annotations

import logging
import mailbox
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from actas.domain.links import check_address
from actas.notify import DELIVERED, DeliveryResult, OutboxMessage, failed, short_error
from actas.settings import SmtpSettings

log = logging.getLogger("actas.notify")

#: The outbox channel kind of customer email.
EMAIL = "email"
#: What an email payload holds; the worker keeps none of it once the row is settled.
PAYLOAD_KEYS = ("subject", "text", "html", "message_id", "date")
DEFAULT_TIMEOUT = 10.0


def _one_line(text: str) -> str:
    return " ".join(text.split())


class EmailComposer:
    """Renders ``<template>.subject.txt``, ``<template>.txt`` and ``<template>.html`` from
    ``actas/notify/templates/email/``. HTML is autoescaped; undefined values are errors."""

    def __init__(self, *, domain: str) -> None:
        self.domain = domain
        loader = PackageLoader("actas.notify", "templates/email")
        common: dict[str, Any] = {
            "loader": loader,
            "undefined": StrictUndefined,
            "keep_trailing_newline": True,
        }
        self._text = Environment(autoescape=False, **common)  # noqa: S701 (plain text only)
        self._html = Environment(autoescape=select_autoescape(["html"]), **common)

    def compose(self, template: str, values: dict[str, Any], *, at: datetime) -> dict[str, str]:
        subject = self._text.get_template(f"{template}.subject.txt").render(values)
        return {
            "subject": _one_line(subject),
            "text": self._text.get_template(f"{template}.txt").render(values),
            "html": self._html.get_template(f"{template}.html").render(values),
            "message_id": make_msgid(domain=self.domain),
            "date": format_datetime(at),
        }


def build_email(message: OutboxMessage, *, sender: str) -> EmailMessage:
    """The MIME message for an outbox row: text and HTML alternatives, transactional headers.
    ValueError when the row cannot make a valid message."""
    payload = message.payload
    parts = {key: payload.get(key) for key in PAYLOAD_KEYS}
    if not all(isinstance(value, str) and value for value in parts.values()):
        raise ValueError("the email payload is incomplete")
    email = EmailMessage()
    email["From"] = sender
    email["To"] = check_address(message.target)
    email["Subject"] = _one_line(str(parts["subject"]))
    email["Date"] = str(parts["date"])
    email["Message-ID"] = str(parts["message_id"])
    # RFC 3834: a machine wrote this; autoresponders must not answer it.
    email["Auto-Submitted"] = "auto-generated"
    email["X-Auto-Response-Suppress"] = "All"
    email.set_content(str(parts["text"]))
    email.add_alternative(str(parts["html"]), subtype="html")
    return email


def _smtp_failure(exc: smtplib.SMTPException) -> DeliveryResult:
    """A failure that names the SMTP status only: never the address or the server's text."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        shown = codes[0] if codes else 0
        return failed(f"SMTP {shown} recipient refused", permanent=permanent)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return failed("SMTP server does not support AUTH or another needed extension")
    if isinstance(exc, smtplib.SMTPResponseException):
        code = int(exc.smtp_code)
        # A message refused outright will be refused again; other 5xx (a sender or an
        # authentication the operator may fix) are retried until they dead-letter.
        permanent = isinstance(exc, smtplib.SMTPDataError) and 500 <= code < 600
        return failed(f"SMTP {code} {short_error(exc)}", permanent=permanent)
    return failed(short_error(exc))


class EmailSender:
    """Sends outbox rows of channel ``"email"``: by SMTP when ``smtp`` is given, else into the
    maildir at ``maildir`` (created with mode 0700 on first use).

    ``ssl_context`` verifies the SMTP server (the system's trust store by default).
    """

    def __init__(
        self,
        *,
        sender: str,
        smtp: SmtpSettings | None = None,
        maildir: Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if smtp is None and maildir is None:
            raise ValueError("an email sender needs an SMTP server or a maildir")
        self.sender = check_address(sender)
        self.smtp = smtp
        self.maildir = maildir
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.timeout = timeout

    def send(self, message: OutboxMessage) -> DeliveryResult:
        try:
            email = build_email(message, sender=self.sender)
        except ValueError:
            return failed("the email cannot be built from its row", permanent=True)
        if self.smtp is None:
            return self._to_maildir(email)
        return self._to_smtp(self.smtp, email)

    def _to_maildir(self, email: EmailMessage) -> DeliveryResult:
        assert self.maildir is not None
        try:
            self.maildir.parent.mkdir(parents=True, exist_ok=True)
            # Maildir writes to tmp/ and renames into new/: a reader never sees half a message.
            mailbox.Maildir(self.maildir, create=True).add(email)
        except OSError as exc:
            return failed(f"maildir: {short_error(exc)}")
        return DELIVERED

    def _to_smtp(self, smtp: SmtpSettings, email: EmailMessage) -> DeliveryResult:
        try:
            client: smtplib.SMTP
            if smtp.implicit_tls:
                client = smtplib.SMTP_SSL(
                    smtp.host, smtp.port, timeout=self.timeout, context=self.ssl_context
                )
            else:
                client = smtplib.SMTP(smtp.host, smtp.port, timeout=self.timeout)
            with client:
                client.ehlo()
                if smtp.starttls:
                    if not client.has_extn("starttls"):
                        # Never fall back to clear text.
                        return failed("SMTP server does not offer STARTTLS")
                    client.starttls(context=self.ssl_context)
                    client.ehlo()
                if smtp.username:
                    password = smtp.password.value if smtp.password else ""
                    client.login(smtp.username, password)
                client.send_message(email)
        except smtplib.SMTPException as exc:
            return _smtp_failure(exc)
        except (OSError, ssl.SSLError) as exc:
            return failed(short_error(exc))
        return DELIVERED

    def close(self) -> None:
        """Nothing to close: each send opens and closes its own SMTP connection."""
