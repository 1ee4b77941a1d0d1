"""Secret hygiene over the whole suite (issue 16): record every secret the broker issues during
the run, capture every log line and audit event, and fail the session if any secret shows up
in one of them.

Issuing points are wrapped where they are bound: ``new_token`` (every prefixed bearer secret:
staff sessions, app credentials, handoff codes, refresh handles, links, enrollment and SCIM
tokens), the verification code and support access code generators, and the personas'
passwords (``tests.conftest.People``). The services import these by name, so every module of
``actas`` is imported first and each binding of the original is replaced.

What is searched, and the short allow-list of what may carry a secret:

- log records from every logger but :data:`ALLOWED_LOGGERS` (the tests' SMTP server, whose
  job is to receive the mail that carries a link or code to its owner).
- every audit event recorded (``SqlAuditLog.record``). Allowed: none.

The outbox row that carries a mail to SMTP is not searched: its job is to carry the link or
code to the customer's mailbox (THREATS.md). The check costs one regex pass per captured
line at the end of the session.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
import sys
import threading
from collections.abc import Callable
from typing import Any

import actas

#: What a secret looks like in text, so the search is one regex pass, not N x M ``in``.
_CANDIDATES = re.compile(
    r"actas_[a-z]{2,4}_[A-Za-z0-9_-]{20,}"  # prefixed bearer secrets
    r"|(?<![\w-])[0-9A-Z]{4}-?[0-9A-Z]{4}(?![\w-])"  # support access codes
    r"|(?<![\w.:-])\d{6}(?![\w.:-])"  # verification codes
)


class Recorder:
    def __init__(self) -> None:
        self.issued: list[str] = []
        self.secrets: set[str] = set()
        self.literals: set[str] = set()
        self.texts: list[tuple[str, str]] = []  # (where, text)
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        with self._lock:
            self.issued.append(secret)
            self.secrets.add(secret)
            self.secrets.add(secret.replace("-", ""))

    def add_literal(self, secret: str) -> None:
        """A secret not shaped like a token (a password): searched as a plain substring."""
        self.literals.add(secret)

    def last(self, prefix: str) -> str:
        with self._lock:
            return next(s for s in reversed(self.issued) if s.startswith(prefix))

    def seen(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def leaks(self) -> list[str]:
        found: list[str] = []
        words = (
            re.compile("|".join(re.escape(w) for w in sorted(self.literals)))
            if self.literals
            else None
        )
        for where, text in self.texts:
            for match in _CANDIDATES.finditer(text):
                if match.group(0) in self.secrets:
                    found.append(f"{where}: {match.group(0)[:12]}... in {text[:200]!r}")
            if words is not None and (hit := words.search(text)):
                found.append(f"{where}: password {hit.group(0)[:4]}... in {text[:200]!r}")
        return found


RECORDER = Recorder()


def _recording(original: Callable[..., str]) -> Callable[..., str]:
    def issue(*args: Any, **kwargs: Any) -> str:
        secret = original(*args, **kwargs)
        RECORDER.add(secret)
        return secret

    issue.__wrapped__ = original  # type: ignore[attr-defined]
    return issue


#: Loggers whose job is to carry a secret: ``mail.log`` is aiosmtpd, the tests' own SMTP
#: server, which logs the DATA lines of the mail that delivers a link or code to its owner.
ALLOWED_LOGGERS = frozenset({"mail.log"})


class _Capture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.name in ALLOWED_LOGGERS:
            return
        try:
            RECORDER.seen(f"log {record.name}", record.getMessage())
        except Exception:  # a record that cannot format is not ours to judge here
            return


def install() -> None:
    """Wrap the issuers in every ``actas`` module, capture logs and audit events."""
    for info in pkgutil.walk_packages(actas.__path__, "actas."):
        try:
            importlib.import_module(info.name)
        except ImportError:
            continue
    from actas.domain import consent, links, tokens
    from actas.store.uow import SqlAuditLog

    originals: list[Callable[..., str]] = [
        tokens.new_token,
        links.new_code,
        consent.new_access_code,
    ]
    wrapped = {id(f): _recording(f) for f in originals}
    for name, module in list(sys.modules.items()):
        if not (name == "actas" or name.startswith(("actas.", "tests."))) or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if id(value) in wrapped and value in originals:
                setattr(module, attr, wrapped[id(value)])

    record = SqlAuditLog.record

    def audited(self: SqlAuditLog, event: Any) -> None:
        RECORDER.seen(f"audit {event.type}", repr(event))
        record(self, event)

    SqlAuditLog.record = audited  # type: ignore[method-assign]
    handler = _Capture(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    logging.getLogger("actas").setLevel(logging.INFO)
