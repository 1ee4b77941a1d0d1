"""Applications, accounts and subjects: the broker's mirror of the customer's side."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from actas.domain.errors import InvalidInput

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
APP_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
#: Printable ASCII without spaces: what a URL may hold once it enters the broker. CR, LF, TAB,
#: NUL and other controls would break the redirect header it is put in; non-ASCII would too
#: (headers are Latin-1) and hides look-alike hosts: IDNs are given in their xn-- form.
URL_TEXT_RE = re.compile(r"^[\x21-\x7e]{1,2000}$")
#: A handoff host: a DNS name or IPv4 address, or an IPv6 literal in brackets, and a port.
HOST_RE = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]{2,45}\])(?::\d{1,5})?$"
)
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_HANDOFF_HOSTS = 20


class AccountFlag(StrEnum):
    NO_ACCESS = "no_access"
    REGULATED = "regulated"
    ENHANCED_CONTROLS = "enhanced_controls"
    FLAGGED = "flagged"


def check_external_id(kind: str, value: str) -> str:
    if not ID_RE.match(value):
        raise InvalidInput(
            f"{kind} id {value[:40]!r} must be 1-128 characters of letters, digits and ._:@-"
        )
    return value


def check_app_id(value: str) -> str:
    if not APP_ID_RE.match(value):
        raise InvalidInput(
            f"application id {value[:40]!r} must be 2-63 lowercase letters, digits or '-'"
        )
    return value


def check_url_text(name: str, url: str) -> str:
    """Refuse control characters (CR/LF/TAB/NUL…), spaces and non-ASCII at the door."""
    if not URL_TEXT_RE.match(url):
        raise InvalidInput(
            f"{name} must be 1-2000 printable ASCII characters without spaces or controls"
        )
    return url


def url_host(url: str) -> str:
    """The host a URL sends a browser to, as handoff allow-lists name it: the lower-case host
    name, with the port when one is written (``notes.example``, ``127.0.0.1:8500``)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput(f"URL {url[:80]!r} has a port that is not a number") from None
    return f"{host}:{port}" if port is not None else host


def check_handoff_host(value: str) -> str:
    """One allow-list entry, normalised: a host name (or address) and an optional port."""
    host = value.strip().lower()
    if not HOST_RE.match(host) or ".." in host:
        raise InvalidInput(f"handoff host {value[:80]!r} is not a host name with an optional port")
    _, _, port = host.rpartition(":") if not host.endswith("]") else ("", "", "")
    if port.isdigit() and not 0 < int(port) < 65536:
        raise InvalidInput(f"handoff host {value[:80]!r} has a port out of range")
    return host


def check_handoff_url(url: str) -> str:
    """https, or plain http on a loopback host for development. No query, fragment or
    credentials, and nothing a header cannot carry."""
    check_url_text("handoff URL", url)
    parts = urlsplit(url)
    if not parts.hostname:
        raise InvalidInput(f"handoff URL {url[:80]!r} has no host")
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        raise InvalidInput(f"handoff URL {url[:80]!r} must use https (http only for loopback)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidInput(f"handoff URL {url[:80]!r} must not carry a query or credentials")
    check_handoff_host(url_host(url))
    return url


def handoff_hosts_for(default_url: str, extra: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """An application's allow-list: its own handoff URL's host and the hosts an admin named."""
    hosts = sorted({url_host(default_url), *(check_handoff_host(h) for h in extra)})
    if len(hosts) > MAX_HANDOFF_HOSTS:
        raise InvalidInput(f"at most {MAX_HANDOFF_HOSTS} handoff hosts per application")
    return tuple(hosts)


@dataclass(frozen=True)
class Application:
    id: str
    name: str
    handoff_url: str
    created_at: datetime
    disabled_at: datetime | None
    #: Where an account of this application may send staff browsers (finding 9). Set only by a
    #: broker admin (CLI, console); always holds the host of ``handoff_url``.
    handoff_hosts: tuple[str, ...] = ()

    def allows_handoff(self, url: str) -> bool:
        return url_host(url) in self.handoff_hosts


@dataclass(frozen=True)
class Account:
    application_id: str
    id: str
    name: str
    flags: frozenset[AccountFlag]
    handoff_url: str | None
    updated_at: datetime


@dataclass(frozen=True)
class Subject:
    application_id: str
    id: str
    account_id: str
    email: str | None
    email_verified: bool
    display_name: str
    privileged: bool
    updated_at: datetime
