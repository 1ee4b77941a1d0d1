"""The SDK's own cookie: ``<actor token>~<sealed session data>``.

The sealed part (AES-256-GCM, bound to the session id) holds the refresh handle and the
session's hard expiry, so that any process of the application can refresh the token and show
the time left, and the handle never sits in the browser in the clear. The key comes from
``cookie_secret`` or, by default, from the application credential (HKDF, its own label).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from actas_sdk._config import Config
from actas_sdk.errors import BadCookie

SEPARATOR = "~"
_MAX_SEALED = 2048


@dataclass(frozen=True, slots=True)
class Sealed:
    refresh_handle: str
    session_expires_at: float
    actor_name: str | None = None
    subject_name: str | None = None


def _derive(secret: str, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"actas-sdk", info=label).derive(
        secret.encode()
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def _unb64(text: str) -> bytes:
    """``base64.urlsafe_b64decode`` without its Python-level steps (same leniency)."""
    data = text.encode("ascii").translate(_URL_TO_STANDARD)
    return binascii.a2b_base64(data + b"=" * (-len(text) % 4))


class CookieJar:
    """Seals, opens and writes the SDK cookie for one application."""

    def __init__(self, config: Config) -> None:
        secret = config.cookie_secret or config.credential
        app = config.application_id.encode()
        self._aead = AESGCM(_derive(secret, b"cookie-seal v1 " + app))
        self._csrf_key = _derive(secret, b"end-csrf v1 " + app)
        self.name = config.cookie_name
        self._marker = config.cookie_name + "="
        self.secure = config.secure_cookie
        self._aad = b"actas-sdk cookie v1 " + app + b" "

    def seal(self, session_id: str, data: Sealed) -> str:
        fields: dict[str, object] = {"h": data.refresh_handle, "x": int(data.session_expires_at)}
        if data.actor_name:
            fields["n"] = data.actor_name
        if data.subject_name:
            fields["s"] = data.subject_name
        sealed = self._seal(session_id, fields)
        if len(sealed) > _MAX_SEALED:  # the names are for show only: drop them, keep the rest
            sealed = self._seal(session_id, {"h": fields["h"], "x": fields["x"]})
        return sealed

    def _seal(self, session_id: str, fields: dict[str, object]) -> str:
        nonce = os.urandom(12)
        plain = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
        return _b64(nonce + self._aead.encrypt(nonce, plain, self._aad + session_id.encode()))

    def open(self, session_id: str, sealed: str) -> Sealed:
        if len(sealed) > _MAX_SEALED:
            raise BadCookie("the sealed part of the cookie is too long")
        try:
            raw = _unb64(sealed)
            plain = self._aead.decrypt(raw[:12], raw[12:], self._aad + session_id.encode())
            data = json.loads(plain.decode())
            name, subject_name = data.get("n"), data.get("s")
            return Sealed(
                refresh_handle=str(data["h"]),
                session_expires_at=float(data["x"]),
                actor_name=str(name) if name else None,
                subject_name=str(subject_name) if subject_name else None,
            )
        except (InvalidTag, ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise BadCookie("the cookie's sealed part does not open") from exc

    @staticmethod
    def split(value: str) -> tuple[str, str | None]:
        token, sep, sealed = value.partition(SEPARATOR)
        return token, (sealed if sep else None)

    def csrf(self, session_id: str) -> str:
        """The End button's anti-forgery value for this session."""
        mac = hmac.new(self._csrf_key, session_id.encode(), hashlib.sha256).digest()
        return _b64(mac[:18])

    def csrf_ok(self, session_id: str, value: str) -> bool:
        # compare_digest raises TypeError on a non-ASCII str: such a value is simply wrong.
        if not value.isascii():
            return False
        return hmac.compare_digest(self.csrf(session_id).encode(), value.encode())

    def set_header(self, value: str, max_age: int) -> str:
        parts = [f"{self.name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        parts.append(f"Max-Age={max(0, max_age)}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    def clear_header(self) -> str:
        parts = [f'{self.name}=""', "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=0"]
        parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    def read(self, header: str) -> str | None:
        """Our cookie's value from a ``Cookie`` header, or None: the first ``name=value``
        pair named exactly ours (``xactas_sdk=`` is not), its value stripped and unquoted."""
        marker = self._marker
        at = header.find(marker)
        while at >= 0:
            before = at - 1
            while before >= 0 and header[before].isspace():
                before -= 1
            if before < 0 or header[before] == ";":
                break
            at = header.find(marker, at + 1)
        if at < 0:
            return None
        end = header.find(";", at)
        value = header[at + len(marker) : end if end >= 0 else len(header)].strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        return value or None
