"""Settings, read once from ``ACTAS_*`` environment variables and an optional ``actas.toml``.

The environment wins over the file. Every problem is reported as one line naming the
setting and its value (secrets redacted), so a wrong start never ends in a traceback.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from actas.settings_identity import IdentitySettings, IdentitySettingsError, load_identity


class SettingsError(Exception):
    """A setting is missing or wrong; the message is the one line to show."""


@dataclass(frozen=True, repr=False)
class Secret:
    """A configured secret that never shows itself in logs or reprs."""

    value: str

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: Secret | None = None
    starttls: bool = True
    #: TLS from the first byte (SMTPS, port 465) instead of upgrading with STARTTLS.
    implicit_tls: bool = False


@dataclass(frozen=True)
class SlackSettings:
    webhook_url: Secret | None = None
    bot_token: Secret | None = None
    signing_secret: Secret | None = None
    channel: str | None = None


@dataclass(frozen=True)
class Settings:
    database_url: str = field(repr=False)
    public_url: str
    key_file: Path
    host: str = "127.0.0.1"
    port: int = 8400
    smtp: SmtpSettings | None = None
    #: Where customer emails are written (a maildir) when no SMTP server is configured.
    mail_dir: Path = Path(".actas/mail")
    slack: SlackSettings = field(default_factory=SlackSettings)
    #: Receivers of signed announcements (Standard Webhooks), and their ``whsec_`` secret.
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: Secret | None = None
    #: The access policy (TOML); the shipped default when unset.
    policy_file: Path | None = None
    #: Staff session lifetime and idle limit, in seconds.
    staff_session_ttl: int = 8 * 3600
    staff_session_idle: int = 30 * 60
    #: Failed sign-ins a source gets before each further one doubles its wait (from one second),
    #: and the longest wait; the throttle slows the source, never the account for everyone.
    sign_in_free_failures: int = 5
    sign_in_max_delay_seconds: int = 15 * 60
    #: Audit events between two signed checkpoints.
    checkpoint_every: int = 1000
    #: A file, on a volume the database's administrators do not control, to which every signed
    #: checkpoint is appended (the witness that ``actas audit verify --witness`` checks against).
    audit_witness_file: Path | None = None
    #: Largest request body the API accepts, in bytes.
    max_body_bytes: int = 64 * 1024
    #: Keep-alive interval of the revocation stream. SDKs treat a silent stream as stale after
    #: their own limit (30 s by default), which must be longer than this.
    revocation_ping_seconds: float = 15.0
    #: A bearer token that may read ``GET /metrics``; unset: only this host (loopback) may.
    metrics_token: Secret | None = None
    #: SSO, passkey and sign-in rules (``actas.settings_identity``).
    identity: IdentitySettings = field(default_factory=IdentitySettings)

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return f"Settings(database_url={mask_url(self.database_url)!r}, {shown})"

    @property
    def audit_origin(self) -> str:
        """The origin line (and key name) of the log's checkpoints: the broker's public URL
        without its scheme, then ``/audit``, as C2SP checkpoints name their log."""
        return self.public_url.split("://", 1)[-1].rstrip("/") + "/audit"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_SECRET_KEYS = {
    "smtp_password",
    "slack_webhook_url",
    "slack_bot_token",
    "slack_signing_secret",
    "webhook_secret",
    "metrics_token",
}

_KEYS = (
    "database_url",
    "public_url",
    "key_file",
    "host",
    "port",
    "smtp_host",
    "smtp_port",
    "smtp_from",
    "smtp_username",
    "smtp_password",
    "smtp_starttls",
    "smtp_implicit_tls",
    "mail_dir",
    "slack_webhook_url",
    "slack_bot_token",
    "slack_signing_secret",
    "slack_channel",
    "webhook_urls",
    "webhook_secret",
    "policy_file",
    "staff_session_ttl",
    "staff_session_idle",
    "sign_in_free_failures",
    "sign_in_max_delay_seconds",
    "checkpoint_every",
    "audit_witness_file",
    "max_body_bytes",
    "revocation_ping_seconds",
    "metrics_token",
)


_LOOPBACK = frozenset({"127.0.0.1", "::1", "[::1]", "localhost"})
#: Settings that are gone, and what took their place: named, so an upgrade does not fail
#: with a bare "unknown setting".
_REPLACED = {
    "lockout_threshold": "sign_in_free_failures",
    "lockout_seconds": "sign_in_max_delay_seconds",
}

_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def mask_url(url: str) -> str:
    """A database URL fit to show: everything but its password."""
    return _URL_PASSWORD.sub(r"\1***@", url)


def _shown(key: str, value: object) -> str:
    return "'**********'" if key in _SECRET_KEYS else repr(value)


def _env_name(key: str) -> str:
    return "ACTAS_" + key.upper()


def _read_file(path: Path, *, named: bool) -> dict[str, Any]:
    where = f"ACTAS_CONFIG={str(path)!r}" if named else str(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise SettingsError(f"{where} cannot be read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{where} is not valid TOML: {exc}") from exc
    stray = sorted(k for k, v in data.items() if not isinstance(v, dict))
    if stray:
        raise SettingsError(f"{path}: {stray[0]} is outside any table; settings go under [broker]")
    section = data.get("broker", {})
    if not isinstance(section, dict):
        raise SettingsError(f"{path}: [broker] must be a table")
    unknown = sorted(set(section) - set(_KEYS))
    if unknown and unknown[0] in _REPLACED:
        raise SettingsError(
            f"{path}: [broker].{unknown[0]} is gone; the sign-in throttle's "
            f"[broker].{_REPLACED[unknown[0]]} replaces it"
        )
    if unknown:
        raise SettingsError(f"{path}: unknown setting [broker].{unknown[0]}")
    return section


def _int(key: str, raw: object, *, low: int, high: int) -> int:
    try:
        value = int(str(raw), 10)
    except ValueError:
        raise SettingsError(f"{_env_name(key)}={_shown(key, raw)} is not an integer") from None
    if not low <= value <= high:
        raise SettingsError(f"{_env_name(key)}={value} is outside {low}..{high}")
    return value


def _float(key: str, raw: object, *, low: float, high: float) -> float:
    try:
        value = float(str(raw))
    except ValueError:
        raise SettingsError(f"{_env_name(key)}={_shown(key, raw)} is not a number") from None
    if not low <= value <= high:
        raise SettingsError(f"{_env_name(key)}={value} is outside {low}..{high}")
    return value


def _bool(key: str, raw: object) -> bool:
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{_env_name(key)}={_shown(key, raw)} is not a boolean")


def _http_url(key: str, raw: str) -> str:
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise SettingsError(f"{_env_name(key)}={_shown(key, raw)} contains whitespace")
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError(f"{_env_name(key)}={_shown(key, raw)} is not an http(s) URL")
    if parts.query or parts.fragment:
        raise SettingsError(f"{_env_name(key)}={_shown(key, raw)} must not carry a query")
    return raw.rstrip("/")


def _address(key: str, raw: str) -> str:
    """One plain addr-spec (``actas@example.com``): it goes into a header of every email."""
    if not re.fullmatch(r"[^@\s<>,;\"()]{1,64}@[A-Za-z0-9.-]{1,253}", raw):
        raise SettingsError(f"{_env_name(key)}={raw[:80]!r} is not an email address")
    return raw


def _database_url(raw: str) -> str:
    if raw.startswith(("sqlite:///", "sqlite+pysqlite:///")):
        if raw.split(":///", 1)[1] in {"", ":memory:"}:
            # An in-memory database would lose everything, the audit log included, on restart.
            raise SettingsError(f"ACTAS_DATABASE_URL={raw!r} names no file")
        return raw
    if raw.startswith("postgresql+psycopg://"):
        return raw
    if raw.startswith(("postgresql://", "postgres://")):
        # psycopg 3 is the only PostgreSQL driver we ship; name it so SQLAlchemy picks it.
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    raise SettingsError(
        f"ACTAS_DATABASE_URL={mask_url(raw)!r} is not sqlite:///PATH or postgresql+psycopg://..."
    )


def load_settings(environ: dict[str, str] | None = None, *, cwd: Path | None = None) -> Settings:
    """Read and validate settings. Raises :class:`SettingsError` with one line to show."""
    env = dict(os.environ if environ is None else environ)
    base = cwd or Path.cwd()
    config_path = env.get("ACTAS_CONFIG")
    file_values: dict[str, Any] = {}
    if config_path:
        file_values = _read_file(Path(config_path), named=True)
    elif (base / "actas.toml").exists():
        file_values = _read_file(base / "actas.toml", named=False)

    for old, new in _REPLACED.items():
        if _env_name(old) in env:
            raise SettingsError(
                f"{_env_name(old)} is gone; the sign-in throttle's {_env_name(new)} replaces it"
            )
    raw: dict[str, Any] = dict(file_values)
    for key in _KEYS:
        if _env_name(key) in env:
            raw[key] = env[_env_name(key)]

    database_url = _database_url(str(raw.get("database_url", f"sqlite:///{base / 'actas.db'}")))
    port = _int("port", raw.get("port", 8400), low=1, high=65535)
    host = str(raw.get("host", "127.0.0.1"))
    if not re.fullmatch(r"[A-Za-z0-9.:\[\]-]{1,253}", host):
        raise SettingsError(f"ACTAS_HOST={host!r} is not a host name or address")
    public_url = _http_url("public_url", str(raw.get("public_url", f"http://{host}:{port}")))
    key_file = Path(str(raw.get("key_file", base / "actas-keys.json")))

    smtp: SmtpSettings | None = None
    if raw.get("smtp_host"):
        if not raw.get("smtp_from"):
            raise SettingsError("ACTAS_SMTP_FROM is missing: it is required with ACTAS_SMTP_HOST")
        password = raw.get("smtp_password")
        implicit_tls = _bool("smtp_implicit_tls", raw.get("smtp_implicit_tls", "false"))
        starttls_default = "false" if implicit_tls else "true"
        starttls = _bool("smtp_starttls", raw.get("smtp_starttls", starttls_default))
        if implicit_tls and starttls:
            raise SettingsError(
                "ACTAS_SMTP_STARTTLS=true and ACTAS_SMTP_IMPLICIT_TLS=true: choose one"
            )
        smtp_host = str(raw["smtp_host"])
        if not re.fullmatch(r"[A-Za-z0-9.:\[\]-]{1,253}", smtp_host):
            raise SettingsError(f"ACTAS_SMTP_HOST={smtp_host[:80]!r} is not a host name or address")
        if not (starttls or implicit_tls) and smtp_host not in _LOOPBACK:
            # A customer's link or code, and the relay's password, would cross the network in
            # clear: only a relay on this host may be spoken to without TLS.
            raise SettingsError(
                f"ACTAS_SMTP_STARTTLS=false with ACTAS_SMTP_HOST={smtp_host!r}: mail would "
                "travel unencrypted; use TLS or a relay on 127.0.0.1"
            )
        smtp = SmtpSettings(
            host=smtp_host,
            port=_int(
                "smtp_port", raw.get("smtp_port", 465 if implicit_tls else 587), low=1, high=65535
            ),
            sender=_address("smtp_from", str(raw["smtp_from"])),
            username=str(raw["smtp_username"]) if raw.get("smtp_username") else None,
            password=Secret(str(password)) if password else None,
            starttls=starttls,
            implicit_tls=implicit_tls,
        )
    if raw.get("mail_dir"):
        mail_dir = Path(str(raw["mail_dir"]))
    elif database_url.startswith("sqlite"):
        # Beside the database, so `make clean` (or removing the data dir) clears both.
        mail_dir = Path(database_url.split(":///", 1)[1]).parent / "mail"
    else:
        mail_dir = base / ".actas" / "mail"

    def secret(key: str) -> Secret | None:
        value = raw.get(key)
        return Secret(str(value)) if value else None

    webhook = secret("slack_webhook_url")
    if webhook is not None:
        _http_url("slack_webhook_url", webhook.value)
    slack = SlackSettings(
        webhook_url=webhook,
        bot_token=secret("slack_bot_token"),
        signing_secret=secret("slack_signing_secret"),
        channel=str(raw["slack_channel"]) if raw.get("slack_channel") else None,
    )
    webhook_urls = tuple(
        _http_url("webhook_urls", u.strip())
        for u in str(raw.get("webhook_urls", "")).split(",")
        if u.strip()
    )
    webhook_secret = secret("webhook_secret")
    if webhook_urls and webhook_secret is None:
        raise SettingsError(
            "ACTAS_WEBHOOK_SECRET is missing: it is required with ACTAS_WEBHOOK_URLS"
        )
    if webhook_secret is not None and not webhook_secret.value.startswith("whsec_"):
        raise SettingsError("ACTAS_WEBHOOK_SECRET='**********' must start with whsec_")
    policy_file = Path(str(raw["policy_file"])) if raw.get("policy_file") else None
    if policy_file is not None and not policy_file.is_file():
        raise SettingsError(f"ACTAS_POLICY_FILE={str(policy_file)!r} does not exist")
    try:
        identity = load_identity(Path(config_path) if config_path else base / "actas.toml", env)
    except IdentitySettingsError as exc:
        raise SettingsError(str(exc)) from None
    witness = Path(str(raw["audit_witness_file"])) if raw.get("audit_witness_file") else None
    if witness is not None and not witness.parent.is_dir():
        raise SettingsError(
            f"ACTAS_AUDIT_WITNESS_FILE={str(witness)!r} is in a directory that does not exist"
        )
    metrics_token = secret("metrics_token")
    if metrics_token is not None and len(metrics_token.value) < 32:
        raise SettingsError("ACTAS_METRICS_TOKEN='**********' must be at least 32 characters")
    return Settings(
        metrics_token=metrics_token,
        identity=identity,
        database_url=database_url,
        audit_witness_file=witness,
        webhook_urls=webhook_urls,
        webhook_secret=webhook_secret,
        policy_file=policy_file,
        public_url=public_url,
        key_file=key_file,
        host=host,
        port=port,
        smtp=smtp,
        mail_dir=mail_dir,
        slack=slack,
        staff_session_ttl=_int(
            "staff_session_ttl", raw.get("staff_session_ttl", 8 * 3600), low=60, high=86400
        ),
        staff_session_idle=_int(
            "staff_session_idle", raw.get("staff_session_idle", 1800), low=60, high=86400
        ),
        sign_in_free_failures=_int(
            "sign_in_free_failures", raw.get("sign_in_free_failures", 5), low=1, high=100
        ),
        sign_in_max_delay_seconds=_int(
            "sign_in_max_delay_seconds",
            raw.get("sign_in_max_delay_seconds", 900),
            low=1,
            high=86400,
        ),
        checkpoint_every=_int(
            "checkpoint_every", raw.get("checkpoint_every", 1000), low=1, high=1_000_000
        ),
        revocation_ping_seconds=_float(
            "revocation_ping_seconds", raw.get("revocation_ping_seconds", 15), low=0.1, high=60
        ),
        max_body_bytes=_int(
            "max_body_bytes", raw.get("max_body_bytes", 65536), low=1024, high=16 * 1024 * 1024
        ),
    )
