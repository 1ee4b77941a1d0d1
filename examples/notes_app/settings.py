"""Configuration, read once from ``NOTES_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class SettingsError(Exception):
    """A setting is missing or wrong; the message is the one line to show."""


@dataclass(frozen=True, repr=False)
class Secret:
    value: str

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


@dataclass(frozen=True)
class Settings:
    #: The notes app's own SQLite file.
    database: Path
    #: Where people reach the app, e.g. ``http://127.0.0.1:8500`` (no trailing slash).
    public_url: str
    host: str = "127.0.0.1"
    port: int = 8500
    #: The broker (``NOTES_ACTAS_URL``); without it the app runs with no support access at all.
    actas_url: str | None = None
    #: The broker's public URL when it is not the address this process reaches it at (several
    #: replicas behind a load balancer share one issuer): NOTES_ACTAS_ISSUER.
    actas_issuer: str | None = None
    #: The application id at the broker (the actor token's audience).
    actas_app_id: str = "notes"
    #: The credential ``actas app add`` printed, for server-to-server calls.
    actas_credential: Secret | None = None
    #: Seconds the SDK may go without hearing from the broker before impersonation ends. Keep
    #: it above the broker's keep-alive interval on the revocation stream (15 s), or a healthy
    #: but quiet broker ends every support session.
    actas_staleness: float | None = None
    #: Where the SDK keeps audit events the broker has not acknowledged yet.
    actas_spool: Path | None = None
    #: SMTP relay for the app's own emails; without it emails are written to the log.
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "Notes <notes@notes.test>"
    #: A test-only switch: ``?hostile=1`` adds a stylesheet that tries to hide the banner.
    hostile_css: bool = False

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def handoff_url(self) -> str:
        return f"{self.public_url}/actas/handoff"


def _url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
        raise SettingsError(f"{name}={raw!r} is not an http(s) URL without a query")
    return raw.rstrip("/")


def _int(name: str, raw: str, *, low: int, high: int) -> int:
    try:
        value = int(raw, 10)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is outside {low}..{high}")
    return value


def _bool(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"", "0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check ``NOTES_*``; raises :class:`SettingsError` with one line to show."""
    env = os.environ if environ is None else environ
    host = env.get("NOTES_HOST", "127.0.0.1")
    port = _int("NOTES_PORT", env.get("NOTES_PORT", "8500"), low=1, high=65535)
    public_url = _url("NOTES_PUBLIC_URL", env.get("NOTES_PUBLIC_URL", f"http://{host}:{port}"))
    actas_url = env.get("NOTES_ACTAS_URL") or None
    credential = env.get("NOTES_ACTAS_CREDENTIAL") or None
    if actas_url is not None:
        actas_url = _url("NOTES_ACTAS_URL", actas_url)
        if credential is None:
            raise SettingsError(
                "NOTES_ACTAS_CREDENTIAL is missing: it is required with NOTES_ACTAS_URL "
                "(the credential `actas app add` printed)"
            )
    staleness: float | None = None
    if raw := env.get("NOTES_ACTAS_STALENESS"):
        try:
            staleness = float(raw)
        except ValueError:
            raise SettingsError(f"NOTES_ACTAS_STALENESS={raw!r} is not a number") from None
        if not 0 < staleness <= 3600:
            raise SettingsError(f"NOTES_ACTAS_STALENESS={raw!r} is outside 0..3600 seconds")
    issuer = env.get("NOTES_ACTAS_ISSUER") or None
    database = Path(env.get("NOTES_DATABASE", "notes.db"))
    spool = env.get("NOTES_ACTAS_SPOOL")
    return Settings(
        database=database,
        public_url=public_url,
        host=host,
        port=port,
        actas_url=actas_url,
        actas_app_id=env.get("NOTES_ACTAS_APP_ID", "notes"),
        actas_issuer=_url("NOTES_ACTAS_ISSUER", issuer) if issuer else None,
        actas_credential=Secret(credential) if credential else None,
        actas_staleness=staleness,
        actas_spool=Path(spool) if spool else database.with_suffix(".actas-spool"),
        smtp_host=env.get("NOTES_SMTP_HOST") or None,
        smtp_port=_int("NOTES_SMTP_PORT", env.get("NOTES_SMTP_PORT", "25"), low=1, high=65535),
        mail_from=env.get("NOTES_MAIL_FROM", "Notes <notes@notes.test>"),
        hostile_css=_bool("NOTES_HOSTILE_CSS", env.get("NOTES_HOSTILE_CSS", "")),
    )
