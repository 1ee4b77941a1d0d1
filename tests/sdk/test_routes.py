"""Route patterns: a truth table, and the default protected routes."""

from __future__ import annotations

import pytest

from actas_sdk import DEFAULT_PROTECTED_ROUTES
from actas_sdk._routes import RouteSet
from actas_sdk.errors import ConfigError


@pytest.mark.parametrize(
    ("pattern", "method", "path", "matches"),
    [
        ("/api/**", "GET", "/api", True),
        ("/api/**", "POST", "/api/notes/1", True),
        ("/api/**", "GET", "/apis", False),
        ("/api/**", "GET", "/x/api/1", False),
        ("POST /notes/*/share", "POST", "/notes/7/share", True),
        ("POST /notes/*/share", "GET", "/notes/7/share", False),
        ("POST /notes/*/share", "POST", "/notes/7/8/share", False),
        ("POST,PUT /settings", "PUT", "/settings", True),
        ("* /settings", "DELETE", "/settings", True),
        ("/a/**/z", "GET", "/a/z", True),
        ("/a/**/z", "GET", "/a/b/c/z", True),
        ("/a.b", "GET", "/aXb", False),  # no regex leaks through
        ("/x", "GET", "/x\n", False),  # no trailing-newline slip
    ],
)
def test_patterns(pattern: str, method: str, path: str, matches: bool) -> None:
    assert (RouteSet.of([pattern], "hit").match(method, path) == "hit") is matches


@pytest.mark.parametrize(
    ("method", "path", "category"),
    [
        ("POST", "/settings/password", "password"),
        ("PUT", "/users/1/password/reset", "password"),
        ("POST", "/account/change-password", "password"),
        ("POST", "/settings/mfa", "mfa"),
        ("DELETE", "/settings/2fa/totp", "mfa"),
        ("POST", "/me/webauthn/credentials", "mfa"),
        ("POST", "/settings/api-keys", "api_keys"),
        ("DELETE", "/settings/api_keys/4", "api_keys"),
        ("PATCH", "/profile/email", "email"),
        ("POST", "/billing/payment-methods", "payment_methods"),
        ("DELETE", "/account", "account_deletion"),
        ("POST", "/settings/delete-account", "account_deletion"),
        ("GET", "/settings/password", None),  # viewing is not changing
        ("POST", "/notes/emailed", None),
        ("POST", "/notes", None),
    ],
)
def test_default_protected_routes(method: str, path: str, category: str | None) -> None:
    assert RouteSet(DEFAULT_PROTECTED_ROUTES.items()).match(method, path) == category


@pytest.mark.parametrize("pattern", ["notes", "GET notes/*", "G3T /x", "post! /x"])
def test_bad_patterns_fail_at_start(pattern: str) -> None:
    with pytest.raises(ConfigError):
        RouteSet.of([pattern])
