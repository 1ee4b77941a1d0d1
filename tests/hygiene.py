"""Secret hygiene over the whole suite (issue 16): record every secret the broker issues during
the run, capture every log line, audit event and HTTP response, and fail the session if a
secret shows up where it must not.

Issuing points are wrapped where they are bound: ``new_token`` (every prefixed bearer secret:
staff sessions, app credentials, handoff codes, refresh handles, links, enrollment and SCIM
tokens), the verification code and support access code generators, the actor token minter,
and the personas' passwords (``tests.conftest.People``). The services import these by name,
so every module of ``actas`` is imported first and each binding of the original is replaced.

What is searched, and the short allow-list of what may carry a secret:

- log records from every logger but :data:`ALLOWED_LOGGERS` (the tests' SMTP server, whose
  job is to receive the mail that carries a link or code to its owner).
- every audit event recorded (``SqlAuditLog.record``). Allowed: none.
- every HTTP response the broker sends, status line headers and body
  (:mod:`tests.hygiene_asgi`, an ASGI middleware around every app ``create_app`` makes, in
  the test process and, through :mod:`tests.hygiene_site`, in the broker processes the
  end-to-end and cluster tests start). Allowed: a secret only in the response to the very
  request that issued it, and only on a route of :data:`tests.hygiene_asgi.HANDS_OUT` for
  that kind of secret. Seen in any other response, it is a leak.

A broker process writes what it issued and every secret-shaped string it sent or logged to a
spool file (``ACTAS_HYGIENE_SPOOL``); the test process judges them at the end with the rest.
The outbox row that carries a mail to SMTP is not searched: its job is to carry the link or
code to the customer's mailbox (THREATS.md).
"""

from __future__ import annotations

import contextvars
import importlib
import json
import logging
import os
import pkgutil
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import actas

#: What a secret looks like in text, so the search is one regex pass, not N x M ``in``.
_CANDIDATES = re.compile(
    r"actas_[a-z]{2,4}_[A-Za-z0-9_-]{20,}"  # prefixed bearer secrets
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{20,}"  # actor tokens (JWS)
    r"|(?<![\w-])[0-9A-Z]{4}-?[0-9A-Z]{4}(?![\w-])"  # support access codes
    r"|(?<![\w.:-])\d{6}(?![\w.:-])"  # verification codes
)
SPOOL_ENV = "ACTAS_HYGIENE_SPOOL"

#: The secrets issued while the current request is handled (set by :mod:`tests.hygiene_asgi`).
ISSUED_HERE: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "hygiene_issued_here", default=None
)


def candidates(text: str) -> set[str]:
    return {m.group(0) for m in _CANDIDATES.finditer(text)}


class Recorder:
    """In the test process it keeps what it saw; in a broker process (``spool`` set) it
    appends every record to the spool file at once, so a SIGKILL loses nothing written."""

    def __init__(self, spool: Path | None = None) -> None:
        self.issued: list[str] = []
        self.secrets: set[str] = set()
        self.literals: set[str] = set()
        self._words: re.Pattern[str] | None = None
        self.hits: list[tuple[str, str, str]] = []  # (where, candidate, excerpt)
        self._lock = threading.Lock()
        self._spool = os.open(spool, os.O_WRONLY | os.O_CREAT | os.O_APPEND) if spool else None

    def _write(self, record: dict[str, Any]) -> None:
        assert self._spool is not None
        os.write(self._spool, (json.dumps(record) + "\n").encode())

    def add(self, secret: str) -> None:
        with self._lock:
            self.issued.append(secret)
            self.secrets.add(secret)
            self.secrets.add(secret.replace("-", ""))
            here = ISSUED_HERE.get()
            if here is not None:
                here.add(secret)
            if self._spool is not None:
                self._write({"issued": secret})

    def add_literal(self, secret: str) -> None:
        """A secret not shaped like a token (a password): searched as a plain substring."""
        with self._lock:
            self.literals.add(secret)
            self._words = re.compile("|".join(re.escape(w) for w in sorted(self.literals)))

    def last(self, prefix: str) -> str:
        with self._lock:
            return next(s for s in reversed(self.issued) if s.startswith(prefix))

    def seen(
        self,
        where: str,
        text: str,
        allowed: frozenset[str] = frozenset(),
        issued_here: frozenset[str] = frozenset(),
    ) -> None:
        """``text`` left the broker (a log line, an audit event, a response); ``allowed`` are
        the secrets it may carry, ``issued_here`` those its request issued (named in the
        report). Only the secret-shaped strings in it are kept."""
        # A support access code is shown as ABCD-EFGH and issued as ABCDEFGH: compare both.
        found = {c for c in candidates(text) if not {c, c.replace("-", "")} & allowed}
        words = self._words
        if words is not None and (hit := words.search(text)):
            found.add(hit.group(0))
        if not found:
            return
        with self._lock:
            for candidate in found:
                here = {candidate, candidate.replace("-", "")} & issued_here
                mark = " [issued by this request]" if here else ""
                at = text.find(candidate)
                excerpt = text[max(0, at - 80) : at + 120]
                if self._spool is not None:
                    self._write({"where": where + mark, "candidate": candidate, "excerpt": excerpt})
                else:
                    self.hits.append((where + mark, candidate, excerpt))

    def load_spools(self, folder: Path) -> None:
        """What the broker processes issued and sent (see :data:`SPOOL_ENV`)."""
        for path in sorted(folder.glob("*.jsonl")):
            for line in path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except ValueError:  # a line cut short by a SIGKILL
                    continue
                if "issued" in record:
                    self.add(record["issued"])
                else:
                    self.hits.append(
                        (
                            f"{record['where']} (broker process)",
                            record["candidate"],
                            record["excerpt"],
                        )
                    )

    def leaks(self) -> list[str]:
        return [
            f"{where} {kind(candidate)}: {candidate[:12]}... in {excerpt!r}"
            for where, candidate, excerpt in self.hits
            if {candidate, candidate.replace("-", "")} & self.secrets or candidate in self.literals
        ]


def kind(secret: str) -> str:
    if secret.startswith("actas_"):
        return secret[: secret.index("_", 6) + 1]
    if secret.startswith("eyJ"):
        return "actor token"
    return "code" if len(secret) <= 9 else "password"


def _spool_path() -> Path | None:
    folder = os.environ.get(SPOOL_ENV)
    return Path(folder) / f"{os.getpid()}.jsonl" if folder else None


RECORDER = Recorder(_spool_path() if os.environ.get("ACTAS_HYGIENE_CHILD") else None)


def _recording(original: Callable[..., Any], secret_of: Callable[[Any], str]) -> Any:
    def issue(*args: Any, **kwargs: Any) -> Any:
        made = original(*args, **kwargs)
        RECORDER.add(secret_of(made))
        return made

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


def _keeping(configure: Callable[..., None], handler: logging.Handler) -> Any:
    """A broker process's ``logs.configure`` replaces the root handlers: keep ours."""

    def configured(*args: Any, **kwargs: Any) -> None:
        configure(*args, **kwargs)
        logging.getLogger().addHandler(handler)

    return configured


def child_env() -> dict[str, str]:
    """What a broker process started by a test needs in its environment for its responses,
    logs and issued secrets to be judged with the suite's (empty when hygiene is off)."""
    folder = os.environ.get(SPOOL_ENV)
    if not folder:
        return {}
    root = Path(__file__).resolve().parents[1]
    path = [str(Path(__file__).with_name("hygiene_site")), str(root)]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    return {SPOOL_ENV: folder, "ACTAS_HYGIENE_CHILD": "1", "PYTHONPATH": os.pathsep.join(path)}


def install() -> None:
    """Wrap the issuers and the app factory in every ``actas`` module, capture logs and
    audit events."""
    for info in pkgutil.walk_packages(actas.__path__, "actas."):
        try:
            importlib.import_module(info.name)
        except ImportError:
            continue
    from actas import app
    from actas.domain import consent, links, tokens
    from actas.http import logs
    from actas.keys import tokens as actor_tokens
    from actas.store.uow import SqlAuditLog
    from tests import hygiene_asgi

    wrapped: dict[int, tuple[Any, Any]] = {}
    for original, secret_of in (
        (tokens.new_token, str),
        (links.new_code, str),
        (consent.new_access_code, str),
        (actor_tokens.mint_actor_token, lambda minted: str(minted.token)),
    ):
        wrapped[id(original)] = (original, _recording(original, secret_of))
    wrapped[id(app.create_app)] = (app.create_app, hygiene_asgi.capturing(app.create_app))
    handler = _Capture(level=logging.DEBUG)
    wrapped[id(logs.configure)] = (logs.configure, _keeping(logs.configure, handler))
    for name, module in list(sys.modules.items()):
        if not (name == "actas" or name.startswith(("actas.", "tests."))) or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if id(value) in wrapped and value is wrapped[id(value)][0]:
                setattr(module, attr, wrapped[id(value)][1])

    record = SqlAuditLog.record

    def audited(self: SqlAuditLog, event: Any) -> None:
        RECORDER.seen(f"audit {event.type}", repr(event))
        record(self, event)

    SqlAuditLog.record = audited  # type: ignore[method-assign]
    root = logging.getLogger()
    root.addHandler(handler)
    logging.getLogger("actas").setLevel(logging.INFO)
