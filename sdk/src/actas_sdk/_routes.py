"""Route patterns: ``"[METHOD[,METHOD]] /path"`` with ``*`` inside a segment, ``**`` across.

Every set of patterns compiles into one regular expression over ``"METHOD /path"``, so a
check costs one match whatever the number of patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from actas_sdk.errors import ConfigError

#: Methods that change state: refused during impersonation unless a scope allows them.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_UNSAFE = "POST,PUT,PATCH,DELETE"
_METHOD = re.compile(r"^[A-Z]{3,7}$")


def _protect(category: str, *paths: str) -> dict[str, str]:
    return {f"{_UNSAFE} {path}": category for path in paths}


#: Credential and identity changes refused during impersonation unless opted out: unsafe
#: methods on any path with one of these segments. Extend it with your own routes
#: (``{**DEFAULT_PROTECTED_ROUTES, "POST /profile/phone": "identity"}``).
DEFAULT_PROTECTED_ROUTES: Mapping[str, str] = MappingProxyType(
    {
        **_protect("password", "/**/*password*/**", "/**/*passwd*/**"),
        **_protect(
            "mfa",
            "/**/mfa/**",
            "/**/2fa/**",
            "/**/two-factor/**",
            "/**/*totp*/**",
            "/**/*webauthn*/**",
            "/**/*passkey*/**",
            "/**/security-keys/**",
            "/**/recovery-codes/**",
        ),
        **_protect(
            "api_keys",
            "/**/*api-key*/**",
            "/**/*api_key*/**",
            "/**/*apikey*/**",
            "/**/*api-token*/**",
            "/**/*access-token*/**",
        ),
        **_protect(
            "email",
            "/**/email/**",
            "/**/emails/**",
            "/**/*email-address*/**",
            "/**/change-email/**",
        ),
        **_protect(
            "payment_methods",
            "/**/*payment-method*/**",
            "/**/*payment_method*/**",
            "/**/cards/**",
        ),
        **_protect(
            "account_deletion",
            "/**/*delete-account*/**",
            "/**/*close-account*/**",
            "/**/*account-deletion*/**",
        ),
        "DELETE /**/account": "account_deletion",
        "DELETE /**/users/me": "account_deletion",
    }
)


def _glob(path: str) -> str:
    if not path.startswith("/"):
        raise ConfigError(f"route pattern path {path!r} does not start with '/'")
    out: list[str] = []
    i = 0
    while i < len(path):
        if path.startswith("/**/", i):
            out.append("/(?:.*/)?")
            i += 4
        elif path.startswith("/**", i) and i + 3 == len(path):
            out.append("(?:/.*)?")
            i += 3
        elif path.startswith("**", i):
            out.append(".*")
            i += 2
        elif path[i] == "*":
            out.append("[^/]*")
            i += 1
        else:
            out.append(re.escape(path[i]))
            i += 1
    return "".join(out)


def pattern_regex(pattern: str) -> str:
    """The regular expression (over ``"METHOD /path"``) of one pattern."""
    text = pattern.strip()
    methods, _, path = text.rpartition(" ")
    methods = methods.strip()
    if not methods or methods == "*":
        method_re = "[A-Z]+"
    else:
        names = [m.strip().upper() for m in methods.split(",")]
        for name in names:
            if not _METHOD.match(name):
                raise ConfigError(f"route pattern {pattern!r}: {name!r} is not an HTTP method")
        method_re = "(?:" + "|".join(names) + ")"
    return f"{method_re} {_glob(path)}"


class RouteSet:
    """Patterns, each with a label: ``match(method, path)`` returns the first label that fits."""

    def __init__(self, labelled: Iterable[tuple[str, str]]) -> None:
        self.labels: list[str] = []
        parts: list[str] = []
        for pattern, label in labelled:
            parts.append(f"(?P<p{len(self.labels)}>{pattern_regex(pattern)})")
            self.labels.append(label)
        self._regex = re.compile("(?:" + "|".join(parts) + r")\Z", re.DOTALL) if parts else None

    def __bool__(self) -> bool:
        return bool(self.labels)

    def match(self, method: str, path: str) -> str | None:
        if self._regex is None:
            return None
        found = self._regex.match(f"{method} {path}")
        if found is None or found.lastgroup is None:
            return None
        return self.labels[int(found.lastgroup[1:])]

    @classmethod
    def of(cls, patterns: Iterable[str], label: str = "") -> RouteSet:
        return cls((p, label) for p in patterns)
