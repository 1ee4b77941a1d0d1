"""The SDK's configuration: read once, validated, frozen; errors name the field and the value."""

from __future__ import annotations

import posixpath
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from actas_sdk._routes import DEFAULT_PROTECTED_ROUTES, RouteSet
from actas_sdk.errors import ConfigError

#: Markers of analytics and chat widgets: a ``<script>`` whose tag or inline text contains one
#: is removed from HTML during impersonation (and counted as a suppressed side effect).
DEFAULT_STRIP_SCRIPTS: tuple[str, ...] = (
    "cdn.segment.com",
    "analytics.load(",
    "posthog",
    "widget.intercom.io",
    "intercomSettings",
    "Intercom(",
    "googletagmanager.com",
    "google-analytics.com",
    "gtag(",
    "static.hotjar.com",
    "fullstory.com",
    "heapanalytics.com",
    "js.driftt.com",
    "client.crisp.chat",
    "static.zdassets.com",
    "plausible.io",
    "cdn.mxpnl.com",
    "mixpanel.init(",
)

#: Paths whose reads are not recorded in the audit trail (``app.request`` events): the app's
#: own static files and the icons browsers fetch by themselves. Each page pulls several; in
#: the trail they only bury the requests that matter.
DEFAULT_AUDIT_SKIP_PREFIXES: tuple[str, ...] = (
    "/static/",
    "/assets/",
    "/favicon.ico",
    "/favicon.png",
    "/favicon.svg",
    "/apple-touch-icon",
    "/robots.txt",
    "/manifest.json",
    "/site.webmanifest",
)
#: File types whose reads are not recorded wherever they are served from: code, styles and
#: fonts. Images are not among them: an upload or an attachment is the customer's own data.
DEFAULT_AUDIT_SKIP_SUFFIXES: tuple[str, ...] = (
    ".css",
    ".js",
    ".mjs",
    ".map",
    ".woff",
    ".woff2",
    ".ttf",
    ".otf",
    ".eot",
)


class Secret(str):
    """A string whose ``repr`` does not show it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('**********')"


def _url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"Config {name} has value {value!r}: not an absolute http(s) URL")
    return value


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"Config {name} has value {value!r}: must be positive")


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything the SDK needs to know; see the README for each field."""

    broker_url: str
    application_id: str
    credential: str = field(repr=False)
    handoff_url: str
    issuer: str | None = None
    end_path: str | None = None
    after_handoff_path: str = "/"
    #: Where an ``assist`` session lands (the app's support admin page); None: as above.
    after_assist_path: str | None = None
    after_end_path: str | None = None
    #: where the customer-facing link pages point back to ("Back to the application")
    link_home: str = "/"
    console_url: str | None = None
    status_poll_seconds: float = 3.0
    cookie_name: str = "actas_sdk"
    cookie_secure: bool | None = None
    cookie_secret: str | None = field(default=None, repr=False)
    leeway_seconds: int = 30
    max_lifetime_seconds: int = 300
    refresh_before_seconds: int = 60
    staleness_seconds: float = 30.0
    token_cache_size: int = 4096
    max_token_bytes: int = 8192
    jwks_refresh_seconds: float = 60.0
    spool_dir: str | None = None
    spool_max_bytes: int = 64 * 1024 * 1024
    ship_interval_seconds: float = 0.5
    api_routes: Sequence[str] = ()
    protected_routes: Mapping[str, str] = field(default_factory=lambda: DEFAULT_PROTECTED_ROUTES)
    allow_routes: Sequence[str] = ()
    scope_routes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    write_scope: str = "write"
    strip_scripts: Sequence[str] = DEFAULT_STRIP_SCRIPTS
    audit_skip_prefixes: Sequence[str] = DEFAULT_AUDIT_SKIP_PREFIXES
    audit_skip_suffixes: Sequence[str] = DEFAULT_AUDIT_SKIP_SUFFIXES
    propagation_header: str = "X-Actas-Actor-Token"
    job_max_age_seconds: int = 3600
    timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        _url("broker_url", self.broker_url)
        _url("handoff_url", self.handoff_url)
        if self.issuer is not None:
            _url("issuer", self.issuer)
        if not self.application_id or len(self.application_id) > 128:
            raise ConfigError(f"Config application_id has value {self.application_id!r}")
        if not self.credential:
            raise ConfigError("Config credential is empty")
        object.__setattr__(self, "credential", Secret(self.credential))
        if self.cookie_secret is not None:
            if len(self.cookie_secret) < 16:
                raise ConfigError("Config cookie_secret must be at least 16 characters")
            object.__setattr__(self, "cookie_secret", Secret(self.cookie_secret))
        if self.console_url is not None:
            _url("console_url", self.console_url)
        for name in ("after_handoff_path", "after_assist_path", "after_end_path", "link_home"):
            value = getattr(self, name)
            if value is None:
                continue
            if not value.startswith("/") or value.startswith("//") or "\\" in value:
                raise ConfigError(f"Config {name} has value {value!r}: not a local path")
        if self.end_path is not None and not self.end_path.startswith("/"):
            raise ConfigError(f"Config end_path has value {self.end_path!r}: not a path")
        name = self.cookie_name.replace("_", "").replace("-", "")
        if not (name.isascii() and name.isalnum()):
            raise ConfigError(f"Config cookie_name has value {self.cookie_name!r}")
        for name in (
            "leeway_seconds",
            "max_lifetime_seconds",
            "refresh_before_seconds",
            "staleness_seconds",
            "token_cache_size",
            "max_token_bytes",
            "jwks_refresh_seconds",
            "spool_max_bytes",
            "ship_interval_seconds",
            "job_max_age_seconds",
            "timeout_seconds",
            "status_poll_seconds",
        ):
            _positive(name, getattr(self, name))
        if self.leeway_seconds > 60:
            raise ConfigError(f"Config leeway_seconds has value {self.leeway_seconds}: > 60")
        # Freeze the collections, and compile every pattern now so a typo fails at start.
        object.__setattr__(self, "api_routes", tuple(self.api_routes))
        object.__setattr__(self, "allow_routes", tuple(self.allow_routes))
        object.__setattr__(self, "strip_scripts", tuple(self.strip_scripts))
        for name in ("audit_skip_prefixes", "audit_skip_suffixes"):
            values = tuple(getattr(self, name))
            if isinstance(getattr(self, name), str) or not all(
                isinstance(v, str) and v for v in values
            ):
                raise ConfigError(f"Config {name} must be a sequence of non-empty strings")
            object.__setattr__(self, name, values)
        if any(not p.startswith("/") for p in self.audit_skip_prefixes):
            raise ConfigError("Config audit_skip_prefixes: every prefix starts with '/'")
        object.__setattr__(self, "protected_routes", MappingProxyType(dict(self.protected_routes)))
        object.__setattr__(
            self,
            "scope_routes",
            MappingProxyType({k: tuple(v) for k, v in self.scope_routes.items()}),
        )
        self.rules()

    # --- derived values ---------------------------------------------------------------------

    @property
    def expected_issuer(self) -> str:
        return self.issuer or self.broker_url

    @property
    def handoff_path(self) -> str:
        return urlsplit(self.handoff_url).path or "/"

    @property
    def sdk_dir(self) -> str:
        """The folder of the handoff path (``/actas``): the SDK's own endpoints sit beside it."""
        return posixpath.dirname(self.handoff_path.rstrip("/")) or "/"

    @property
    def end_route(self) -> str:
        if self.end_path is not None:
            return self.end_path
        return posixpath.join(self.sdk_dir, "end")

    @property
    def status_route(self) -> str:
        """``GET``: is the session still live (the banner polls it)."""
        return posixpath.join(self.sdk_dir, "status")

    @property
    def ended_route(self) -> str:
        """``GET``: the "support session ended" page, where End lands by default."""
        return posixpath.join(self.sdk_dir, "ended")

    @property
    def script_route(self) -> str:
        return posixpath.join(self.sdk_dir, "banner.js")

    @property
    def link_route(self) -> str:
        """``GET``/``POST``: the landing page of the customer's one-time links (the broker
        builds their URL the same way: the handoff URL's last segment becomes ``link``)."""
        return posixpath.join(self.sdk_dir, "link")

    @property
    def stylesheet_route(self) -> str:
        return posixpath.join(self.sdk_dir, "pages.css")

    @property
    def end_landing(self) -> str:
        """Where End redirects: ``after_end_path``, else the SDK's ended page."""
        return self.after_end_path or self.ended_route + "?cause=ended"

    @property
    def console(self) -> str:
        """The broker's staff console, where the SDK's pages send staff next."""
        return self.console_url or self.expected_issuer.rstrip("/") + "/console/"

    @property
    def secure_cookie(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return urlsplit(self.handoff_url).scheme == "https"

    @property
    def spool_path(self) -> Path:
        if self.spool_dir is not None:
            return Path(self.spool_dir)
        return Path(tempfile.gettempdir()) / f"actas-sdk-spool-{self.application_id}"

    def rules(self) -> Rules:
        return Rules(self)


class Rules:
    """The compiled route patterns of a :class:`Config`."""

    def __init__(self, config: Config) -> None:
        self.api = RouteSet.of(config.api_routes, "api")
        self.protected = RouteSet(config.protected_routes.items())
        self.allowed = RouteSet.of(config.allow_routes, "allow")
        #: finer scopes, each with the routes it opens
        self.scoped = {
            scope: RouteSet.of(patterns, scope) for scope, patterns in config.scope_routes.items()
        }
