"""``ActAs``: the SDK's core, which knows no framework.

Adapters ask it three things per request: is there an impersonation (``admit_*``), may it do
this (``check``), and what happened (``record``). It also serves the handoff and the End
button, and restores contexts in jobs. Calls that may block on the broker take
``allow_io``; with ``allow_io=False`` they raise :class:`~actas_sdk.verify.NeedsIO` instead,
and an async adapter retries them in a thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import httpx

from actas_sdk import _endpoints, _enforce, _jobs, _pages, _replies, banner, customer, errors
from actas_sdk._config import Config
from actas_sdk._cookie import CookieJar, Sealed
from actas_sdk._refresh import Admission as Admission
from actas_sdk._refresh import Entry, Refresher
from actas_sdk._replies import Reply
from actas_sdk.client import BrokerClient, IssuedLink
from actas_sdk.context import Frame, ImpersonationContext, count_suppressed
from actas_sdk.customer import CustomerPage
from actas_sdk.links import PROMPTS, LinkHandler
from actas_sdk.markers import Marks
from actas_sdk.revocation import RevocationFeed
from actas_sdk.spool import Event, Shipper, Spool
from actas_sdk.verify import KeySet, NeedsIO, TokenCache, Verifier, claims_to_be_actor_token

log = logging.getLogger("actas_sdk")

#: Only reads of a static asset go unrecorded; a write to one is recorded like any other.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ActAs:
    """The SDK for one application. Create one per process and share it.

    :param config: see :class:`~actas_sdk.Config`.
    :param transport: an ``httpx`` transport for the broker calls (tests).
    :param clock: epoch seconds; injected so that tests move time instead of sleeping.
    """

    def __init__(
        self,
        config: Config,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.rules = config.rules()
        self.clock = clock
        self.client = BrokerClient(config, transport=transport)
        self.keys = KeySet(self.client.jwks, clock=clock, min_interval=config.jwks_refresh_seconds)
        self.verifier = Verifier(
            self.keys,
            issuer=config.expected_issuer,
            audience=config.application_id,
            leeway=config.leeway_seconds,
            max_lifetime=config.max_lifetime_seconds,
            max_bytes=config.max_token_bytes,
        )
        self.cache: TokenCache[Entry] = TokenCache(config.token_cache_size)
        self.cookies = CookieJar(config)
        self.feed = RevocationFeed(
            self.client,
            clock=clock,
            staleness=config.staleness_seconds,
            first=self.keys.refresh,  # the first impersonated request finds the keys ready
        )
        self.shipper = Shipper(
            self.client,
            Spool(config.spool_path, max_bytes=config.spool_max_bytes),
            interval=config.ship_interval_seconds,
        )
        self._leeway = config.leeway_seconds
        self._checker = _enforce.Checker(config, self.rules)
        self._skip_prefixes = tuple(config.audit_skip_prefixes)
        self._skip_suffixes = tuple(config.audit_skip_suffixes)
        self.handoff_path = config.handoff_path
        self.end_path = config.end_route
        #: every path the SDK answers itself; adapters route them to :meth:`serve`
        self.own_paths = frozenset(
            {
                config.handoff_path,
                config.end_route,
                config.status_route,
                config.ended_route,
                config.script_route,
                config.stylesheet_route,
                config.link_route,
            }
        )
        #: purpose -> the application's handler of a redeemed link (:meth:`on_link`)
        self.link_handlers: dict[str, LinkHandler] = {}
        self.links = _replies.Links(
            console=config.console,
            stylesheet=f"{config.stylesheet_route}?v={_pages.STYLESHEET_VERSION}",
        )
        self.refresher = Refresher()
        self._started = False
        self._start_lock = threading.Lock()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start following revocations and shipping audit events (idempotent)."""
        with self._start_lock:
            if not self._started:
                self._started = True
                self.feed.start()
                self.shipper.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the threads, ship what is left (what cannot be shipped stays spooled)."""
        self.feed.close(timeout)
        self.shipper.close(timeout)
        self.client.close()

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """Block until the revocation feed has caught up once."""
        return self.feed.wait_synced(timeout)

    def flush(self) -> bool:
        """Ship every recorded event now; True when nothing is left to ship."""
        return self.shipper.flush()

    # --- admission ------------------------------------------------------------------------------

    def admit_cookie(self, value: str, *, allow_io: bool = True) -> Admission:
        """The impersonation a cookie carries; raises an :class:`~actas_sdk.ActAsError`
        when it must end (or :class:`NeedsIO`)."""
        now = self.clock()
        entry = self.cache.get(value)
        if entry is None or entry.exp <= now - self._leeway:
            if entry is not None:
                self.cache.discard(value)
            entry = self._verify_cookie(value, now, allow_io=allow_io)
        self._check_live(entry.context.session_id, now, allow_io=allow_io)
        if now >= entry.refresh_due and entry.sealed is not None and entry.sealed.refresh_handle:
            if not allow_io:
                raise NeedsIO
            context, set_cookie = self.refresher.refresh(self, value, entry, now)
            return Admission(context, set_cookie)
        if entry.exp <= now - self._leeway:
            raise errors.TokenExpired(entry.exp, now, self._leeway)
        return entry.admission

    def api_token(self, method: str, path: str, header: Callable[[str], str | None]) -> str | None:
        """The actor token a request to an API route carries: the propagation header, or an
        ``Authorization: Bearer`` token that claims to be an actor token (the app's own bearer
        tokens pass by untouched). ``header`` reads one request header. The ASGI adapter does
        the same in one pass over the raw headers."""
        if not self.rules.api or not self.is_api(method, path):
            return None
        propagated = header(self.config.propagation_header)
        if propagated:
            return propagated.strip()
        scheme, _, token = (header("Authorization") or "").partition(" ")
        token = token.strip()
        if (
            scheme.lower() == "bearer"
            and token
            and claims_to_be_actor_token(token, self.verifier.issuer)
        ):
            return token
        return None

    def admit_bearer(self, token: str, *, allow_io: bool = True, via: str = "bearer") -> Admission:
        now = self.clock()
        entry = self.cache.get(token)
        if entry is None or entry.exp <= now - self._leeway:
            if entry is not None:
                self.cache.discard(token)
            verified = self.verifier.verify(token, now, via=via, allow_io=allow_io)
            entry = Entry(verified.context, verified.exp, refresh_due=float("inf"))
            self.cache.put(token, entry)
        self._check_live(entry.context.session_id, now, allow_io=allow_io)
        return entry.admission

    def _check_live(self, session_id: str, now: float, *, allow_io: bool) -> None:
        if not self.shipper.accepting:
            raise errors.AuditUnavailable("the audit spool is full: impersonation is paused")
        try:
            self.feed.check(session_id, now)
        except errors.FeedStale as exc:
            if exc.silent_for is not None:
                raise
            if not allow_io:
                raise NeedsIO from exc
            self.start()
            self.feed.wait_synced(min(self.config.staleness_seconds, self.config.timeout_seconds))
            self.feed.check(session_id, self.clock())

    def _verify_cookie(self, value: str, now: float, *, allow_io: bool) -> Entry:
        token, sealed_text = CookieJar.split(value)
        if sealed_text is None:
            raise errors.BadCookie("the cookie has no sealed part")
        # Expiry is checked below: an expired token with a genuine sealed part may still be
        # refreshed while the broker says the session lives.
        # The sealed part is opened once the token's claims have passed (it is bound to the
        # session id), and its names go into the context as it is made.
        opened: list[Sealed] = []

        def details(session_id: str) -> tuple[datetime, str | None, str | None]:
            sealed = self.cookies.open(session_id, sealed_text)
            opened.append(sealed)
            expires = datetime.fromtimestamp(sealed.session_expires_at, UTC)
            return expires, sealed.actor_name, sealed.subject_name

        verified = self.verifier.verify(
            token, now, allow_io=allow_io, check_exp=False, session_details=details
        )
        sealed = opened[0]
        if sealed.session_expires_at <= now - self.config.leeway_seconds:
            raise errors.SessionEnded("the session is past its hard expiry")
        entry = Entry(
            verified.context,
            verified.exp,
            verified.exp - self.config.refresh_before_seconds,
            sealed,
        )
        if verified.exp <= now - self.config.leeway_seconds:
            if not sealed.refresh_handle:
                raise errors.TokenExpired(verified.exp, now, self.config.leeway_seconds)
            entry.refresh_due = now  # refresh it now, and do not cache it
            return entry
        self.cache.put(value, entry)
        return entry

    # --- enforcement and audit ------------------------------------------------------------------

    def check(
        self,
        context: ImpersonationContext,
        method: str,
        path: str,
        view: object = None,
        *,
        marks: Marks | None = None,
    ) -> errors.Refused | None:
        """Why this request may not run during impersonation, or None (see
        :func:`actas_sdk._enforce.refusal`)."""
        return self._checker.refusal(context, method, path, view, marks)

    def decorate_html(
        self, body: bytes, context: ImpersonationContext, csp: str | None = None
    ) -> bytes:
        """An impersonated HTML response: analytics and chat scripts out (counted), the
        banner in (documents only, not fragments)."""
        body, stripped = banner.strip_scripts(body, self.config.strip_scripts)
        if stripped:
            count_suppressed("analytics", stripped)
        if not banner.is_document(body):
            return body
        config = self.config
        markup = banner.render(
            context,
            now=self.clock(),
            end_path=self.end_path,
            csrf=self.cookies.csrf(context.session_id),
            script_path=config.script_route,
            status_path=config.status_route,
            console_url=config.console,
            poll_seconds=config.status_poll_seconds,
            script_nonce=banner.csp_nonce(csp, "script-src"),
            style_nonce=banner.csp_nonce(csp, "style-src"),
        )
        return banner.inject(body, markup)

    def is_api(self, method: str, path: str) -> bool:
        return self.rules.api.match(method, path) is not None

    def record(
        self,
        frame: Frame,
        *,
        method: str | None,
        route: str | None,
        status: int | None,
        kind: str = "request",
        detail: str | None = None,
        path: str | None = None,
    ) -> None:
        """Queue the audit event of one impersonated request (never blocks). A read of a
        static asset (``path`` on the skip list) is not recorded, unless the app named a
        resource or skipped a side effect during it."""
        if (
            method in _SAFE_METHODS
            and path is not None
            and (path.startswith(self._skip_prefixes) or path.endswith(self._skip_suffixes))
            and frame.resource is None
            and frame.suppressed is None
            and kind == "request"
        ):
            return
        self.shipper.record(
            Event(
                kind,
                frame.context.session_id,
                frame.at if frame.at is not None else self.clock(),
                method,
                route,
                status,
                frame.resource,
                detail,
                frame.suppressed,
            )
        )

    def record_refusal(
        self, context: ImpersonationContext, method: str, route: str | None, refusal: errors.Refused
    ) -> None:
        self.shipper.record(
            Event(
                kind="refused",
                session=context.session_id,
                at=self.clock(),
                method=method,
                route=route,
                status=403,
                detail=refusal.message[:300],
            )
        )

    # --- the SDK's own endpoints (see _endpoints) --------------------------------------------

    # --- one-time links (the application performs the action: it owns passwords) --------------

    def issue_link(self, subject_id: str, purpose: str) -> IssuedLink:
        """Ask the broker to email ``subject_id`` a one-time link of ``purpose``
        (``password_reset``, ``magic_signin``, ``email_confirmation``, ``account_recovery``)
        at their verified address. The link lands on this app's ``.../actas/link?t=...``.

        :raises LinkRefused: unknown purpose, unknown subject, or no verified email.
        """
        return self.client.issue_link(subject_id, purpose)

    def customer_page_url(self, subject_id: str, *, account_admin: bool = False) -> CustomerPage:
        """A one-time URL (one minute) signing ``subject_id`` in to the broker's customer page;
        redirect their browser to it at once. See :mod:`actas_sdk.customer`."""
        return customer.page_url(self.client, subject_id, account_admin=account_admin)

    def on_link(self, purpose: str) -> Callable[[LinkHandler], LinkHandler]:
        """Register the handler of links of ``purpose`` landing on ``.../actas/link`` (see
        :mod:`actas_sdk.links`): it gets the redeemed link and answers a
        :class:`~actas_sdk.links.LinkLanding`. Links of a purpose without one are refused."""
        if purpose not in PROMPTS:
            raise errors.ConfigError(f"on_link: {purpose!r} is not a link purpose")

        def register(handler: LinkHandler) -> LinkHandler:
            self.link_handlers[purpose] = handler
            return handler

        return register

    def redeem_link(self, token: str, purpose: str) -> str:
        """Use up a link of ``purpose`` and return its subject's id; do the action for that
        subject only after this returns. Of concurrent redemptions exactly one succeeds.

        :raises LinkExpired, LinkUsed, LinkWrongPurpose, LinkUnknown, LinkMalformed:
            show "this link cannot be used" and offer a new one.
        """
        return self.client.redeem_link(token, purpose).subject_id

    def handoff(self, code: str | None, cookie: str | None = None) -> Reply:
        """``GET <handoff path>?code=...``: redeem, set the cookie, 303 to a token-free URL."""
        return _endpoints.handoff(self, code, cookie)

    def end(self, value: str | None, csrf: str | None, fetch_site: str | None) -> Reply:
        """``POST <end path>``: the banner's End button."""
        return _endpoints.end(self, value, csrf, fetch_site)

    def status(self, value: str | None) -> Reply:
        """``GET <status path>``: is this browser's session live (the banner polls it)."""
        return _endpoints.status(self, value)

    def serve(
        self,
        method: str,
        path: str,
        *,
        cookie: Callable[[], str | None],
        query: Callable[[str], str | None],
        form: Callable[[str], str | None],
        header: Callable[[str], str | None],
    ) -> Reply:
        """Answer a request to one of :attr:`own_paths` (see :mod:`actas_sdk._endpoints`)."""
        return _endpoints.serve(
            self, method, path, cookie=cookie, query=query, form=form, header=header
        )

    def ended(self, error: errors.ActAsError, *, api: bool, cookie: bool) -> Reply:
        return _replies.ended(
            error,
            api=api,
            clear_cookie=self.cookies.clear_header() if cookie else None,
            links=self.links,
        )

    def refusal_reply(
        self,
        context: ImpersonationContext,
        refusal: errors.Refused,
        *,
        api: bool,
        with_banner: bool = True,
    ) -> Reply:
        """The 403 for a refused action: a problem for APIs, else a page naming the cause,
        with the banner (the session is still live, End stays in reach). Adapters whose
        response hooks add the banner to every page anyway pass ``with_banner=False``."""
        if api:
            return _replies.refused_problem(refusal)
        body = _replies.refused_page(refusal, self.links)
        if with_banner:
            body = self.decorate_html(body, context)
        return _replies.html_page(403, body)

    def csrf(self, context: ImpersonationContext) -> str:
        return self.cookies.csrf(context.session_id)

    # --- jobs -----------------------------------------------------------------------------------

    def job(
        self, token: str | None, *, name: str
    ) -> AbstractContextManager[ImpersonationContext | None]:
        """Run a background job as the impersonation that queued it (``token`` from
        :func:`~actas_sdk.propagation.take_token`), re-verified, recorded as a ``job`` event.
        Without a token the block runs as usual and yields None."""
        return _jobs.job(self, token, name=name)
