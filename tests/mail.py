"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1 with STARTTLS (or implicit TLS)
under a throwaway self-signed certificate, optional AUTH, and a way to refuse recipients."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from actas.settings import Secret, SmtpSettings

USER = "actas-relay"
PASSWORD = "relay-password-7f3a"


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    #: Trusts exactly the throwaway certificate.
    client: ssl.SSLContext


def throwaway_tls(directory: Path) -> Tls:
    """A self-signed certificate for 127.0.0.1 and localhost, and contexts on both sides."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "smtp-cert.pem"
    key_path = directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return Tls(server=server, client=client)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Inbox:
    """Keeps every message the server accepted; refuses recipients listed in ``refuse``."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    logins: list[str] = field(default_factory=list)
    tls_seen: list[bool] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.tls_seen.append(session.ssl is not None)
        self.messages.append(
            {
                "rcpt_tos": list(envelope.rcpt_tos),
                "mail_from": envelope.mail_from,
                "raw": bytes(envelope.content),
            }
        )
        return "250 OK"

    def parsed(self, index: int = -1) -> EmailMessage:
        message = email.message_from_bytes(self.messages[index]["raw"], policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


class _Auth:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == USER.encode()
            and auth_data.password == PASSWORD.encode()
        )
        if ok:
            self.inbox.logins.append(USER)
        return AuthResult(success=ok)


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int
    tls: Tls
    implicit: bool

    def settings(self, *, auth: bool = True, starttls: bool | None = None) -> SmtpSettings:
        return SmtpSettings(
            host="127.0.0.1",
            port=self.port,
            sender="actas@broker.test",
            username=USER if auth else None,
            password=Secret(PASSWORD) if auth else None,
            starttls=(not self.implicit) if starttls is None else starttls,
            implicit_tls=self.implicit,
        )


@contextlib.contextmanager
def smtp_server(
    tls: Tls, *, implicit: bool = False, offer_starttls: bool = True, auth: bool = True
) -> Iterator[SmtpServer]:
    """STARTTLS required (or TLS from the first byte); AUTH required when ``auth``."""
    inbox = Inbox()
    port = free_port()
    kwargs: dict[str, Any] = {}
    if implicit:
        kwargs["ssl_context"] = tls.server
    elif offer_starttls:
        kwargs.update(tls_context=tls.server, require_starttls=True)
    if auth:
        # aiosmtpd only counts STARTTLS as TLS (under implicit TLS every byte is encrypted, but
        # it would not offer AUTH); the tests check the login happened through ``logins``.
        kwargs.update(
            authenticator=_Auth(inbox), auth_required=not implicit, auth_require_tls=not implicit
        )
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer(inbox=inbox, port=port, tls=tls, implicit=implicit)
    finally:
        controller.stop()
