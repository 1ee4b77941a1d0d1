"""The peers, measured in ``sdk_overhead.py``'s Django rounds (issue 15).

- **django-hijack** (``pip install django-hijack``): a hijacked request (the session a hijack
  leaves: the hijacked user logged in, ``hijack_history`` naming the hijacker) through
  ``HijackUserMiddleware``, beside a plain logged-in request and an actas impersonation with a
  cached token, each on a view that reads ``request.user``. Every case runs the middleware the
  app would run for it: Django's session and authentication middleware, plus hijack's or
  actas's (whose ``ACTAS_LOAD_USER`` loads the subject from the same user table).
- **Clerk** (``pip install clerk-backend-api``): ``authenticate_request`` on a new session JWT
  (RS256, 2048-bit key) with ``jwt_key`` given, its networkless mode: no JWKS fetch, the PEM
  key from the options. Beside it, actas's verifier on a new actor token (``Verifier.verify``:
  Ed25519, strict parsing, every claim check).

Each case is CPU microseconds per request (or per token), ``time.process_time`` in process.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

#: The user table's customer: the SDK's fake session names this subject.
SUBJECT = "u-1"

AUTH_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]


def _load_user(context: Any) -> Any:
    """``ACTAS_LOAD_USER`` as a host app writes it: the subject from its user table."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=context.subject)


def _handler(middleware: list[str], load_user: Callable[[Any], Any] | None = None) -> Any:
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    settings.MIDDLEWARE = middleware
    settings.ACTAS_LOAD_USER = load_user  # read when the handler builds its middleware
    try:
        return WSGIHandler()
    finally:
        settings.ACTAS_LOAD_USER = None


def _session_cookie(user: Any, hijacker: Any | None = None) -> str:
    """A logged-in session of ``user``, as ``django.contrib.auth.login`` leaves it; with
    ``hijacker``, as django-hijack's acquire view leaves it (``login`` of the hijacked user,
    then the hijacker's primary key on ``hijack_history``)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if hijacker is not None:
        session["hijack_history"] = [user._meta.pk.value_to_string(hijacker)]
    session.save()
    return f"sessionid={session.session_key}"


def django_cases(
    driver: Callable[..., Callable[[list[str | None]], None]],
    timed: Callable[..., Callable[[], float]],
    actas_cookie: str,
    n: int,
) -> dict[str, Callable[[], float]]:
    """The Django peer cases: ``login`` (plain logged-in request), ``hijack`` and
    ``actas_login`` (impersonation, cached token, user loaded), all on ``/me``."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, verbosity=0)
    users = get_user_model().objects
    customer = users.create_user(username=SUBJECT, password=None)
    staff = users.create_superuser(username=f"staff-{uuid.uuid4().hex[:6]}", password=None)
    login = _session_cookie(customer)
    hijacked = _session_cookie(customer, hijacker=staff)
    plain = driver(_handler(AUTH_MIDDLEWARE), path="/me")
    hijack = driver(_handler([*AUTH_MIDDLEWARE, "hijack.middleware.HijackUserMiddleware"]), "/me")
    actas = driver(
        _handler([*AUTH_MIDDLEWARE, "actas_sdk.django.ActAsMiddleware"], _load_user), "/me"
    )
    return {
        "login": timed(plain, lambda: ([login] * 200, [login] * n), False),
        "hijack": timed(hijack, lambda: ([hijacked] * 200, [hijacked] * n), False),
        "actas_login": timed(actas, lambda: ([actas_cookie] * 200, [actas_cookie] * n), True),
    }


class ClerkTokens:
    """New Clerk session tokens (RS256) and ``authenticate_request`` in its networkless mode."""

    def __init__(self, count: int) -> None:
        import jwt

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = (
            key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
        )
        private = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        now = int(time.time())
        self.tokens = [
            jwt.encode(
                {
                    "azp": "http://127.0.0.1",
                    "exp": now + 3600,
                    "iat": now,
                    "iss": "https://clerk.bench.test",
                    "nbf": now - 5,
                    "sid": f"sess_{uuid.uuid4().hex}",
                    "sub": f"user_{uuid.uuid4().hex}",
                    "v": 2,
                },
                private,
                algorithm="RS256",
                headers={"kid": "ins_bench"},
            )
            for _ in range(count)
        ]

    def case(self) -> Callable[[], float]:
        from clerk_backend_api.security import authenticate_request
        from clerk_backend_api.security.types import AuthenticateRequestOptions, AuthStatus

        options = AuthenticateRequestOptions(
            jwt_key=self.pem, authorized_parties=["http://127.0.0.1"]
        )
        requests = [_Request({"Authorization": f"Bearer {t}"}) for t in self.tokens]

        def run() -> float:
            started = time.process_time()
            for request in requests:
                if authenticate_request(request, options).status is not AuthStatus.SIGNED_IN:
                    raise SystemExit("Clerk did not authenticate its own token")
            return (time.process_time() - started) / len(requests) * 1e6

        return run


class _Request:
    """What ``authenticate_request`` reads of a request: its headers."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


def actas_verify_case(actas: Any, tokens: Callable[[], list[str]]) -> Callable[[], float]:
    """actas's verifier on new actor tokens (``tokens()`` gives fresh ones each round)."""

    def run() -> float:
        batch = tokens()
        verify = actas.verifier.verify
        started = time.process_time()
        for token in batch:
            verify(token, time.time())
        return (time.process_time() - started) / len(batch) * 1e6

    return run
