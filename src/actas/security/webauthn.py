"""WebAuthn ceremonies for this broker's origin, through py_webauthn.

The relying party id is the host of the broker's public URL and the only accepted origin is
that URL's origin: a credential registered at another site, or an assertion made for one,
does not verify. Registration requires user verification (a passkey is a second factor on its
own only when the authenticator checked the person); assertions require it when asked.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from actas.domain.errors import AuthenticationFailed, InvalidInput
from actas.domain.identity_ports import NewCredential

MAX_RESPONSE = 64 * 1024
_BAD = (
    InvalidAuthenticationResponse,
    InvalidRegistrationResponse,
    InvalidJSONStructure,
    ValueError,
    KeyError,
    TypeError,
)


class PyWebAuthn:
    def __init__(self, *, rp_id: str, origin: str, rp_name: str = "actas") -> None:
        self.rp_id = rp_id
        self.origin = origin
        self.rp_name = rp_name

    @classmethod
    def for_public_url(cls, public_url: str) -> PyWebAuthn:
        parts = urlsplit(public_url)
        return cls(rp_id=parts.hostname or "localhost", origin=f"{parts.scheme}://{parts.netloc}")

    def registration_options(
        self,
        *,
        user_id: str,
        user_name: str,
        display_name: str,
        challenge: bytes,
        exclude: list[str],
    ) -> str:
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.rp_name,
            user_id=user_id.encode("utf-8"),
            user_name=user_name,
            user_display_name=display_name,
            challenge=challenge,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in exclude
            ],
        )
        return options_to_json(options)

    def verify_registration(self, response: str, *, challenge: bytes) -> NewCredential:
        try:
            verified = verify_registration_response(
                credential=_bounded(response),
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                require_user_verification=True,
            )
        except _BAD as exc:
            raise AuthenticationFailed(f"the passkey was not accepted: {_why(exc)}") from None
        return NewCredential(
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
        )

    def authentication_options(
        self, *, challenge: bytes, allow: list[str], user_verification: bool
    ) -> str:
        options = generate_authentication_options(
            rp_id=self.rp_id,
            challenge=challenge,
            allow_credentials=[
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in allow
            ],
            user_verification=UserVerificationRequirement.REQUIRED
            if user_verification
            else UserVerificationRequirement.PREFERRED,
        )
        return options_to_json(options)

    def verify_authentication(
        self,
        response: str,
        *,
        challenge: bytes,
        public_key: bytes,
        sign_count: int,
        require_user_verification: bool,
    ) -> int:
        try:
            verified = verify_authentication_response(
                credential=_bounded(response),
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=public_key,
                credential_current_sign_count=sign_count,
                require_user_verification=require_user_verification,
            )
        except _BAD as exc:
            raise AuthenticationFailed(f"the passkey was not accepted: {_why(exc)}") from None
        return int(verified.new_sign_count)

    def challenge_of(self, response: str) -> bytes:
        client_data = json.loads(base64url_to_bytes(_field(response, "clientDataJSON")))
        if not isinstance(client_data, dict) or not isinstance(client_data.get("challenge"), str):
            raise InvalidInput("the passkey response has no challenge")
        return base64url_to_bytes(client_data["challenge"])

    def credential_id_of(self, response: str) -> str:
        data = _parse(response)
        raw = data.get("rawId") or data.get("id")
        if not isinstance(raw, str) or not 0 < len(raw) <= 1400:
            raise InvalidInput("the passkey response has no credential id")
        return raw


def passkeys_possible(public_url: str) -> bool:
    """Whether browsers can use passkeys at this URL: the relying party id must be a domain
    (an IP address is refused by every browser) in a secure context (https, or localhost)."""
    parts = urlsplit(public_url)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(host) and (parts.scheme == "https" or host == "localhost")
    return False


def _bounded(response: str) -> str:
    if len(response) > MAX_RESPONSE:
        raise ValueError("the response is too large")
    return response


def _parse(response: str) -> dict[str, Any]:
    try:
        data = json.loads(_bounded(response))
    except ValueError:
        raise InvalidInput("the passkey response is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the passkey response is not a JSON object")
    return data


def _field(response: str, name: str) -> str:
    inner = _parse(response).get("response")
    value = inner.get(name) if isinstance(inner, dict) else None
    if not isinstance(value, str):
        raise InvalidInput(f"the passkey response has no {name}")
    return value


def _why(exc: Exception) -> str:
    return str(exc)[:120] or type(exc).__name__
