"""Ports for the outside parts of staff identity: the company's OpenID provider and the
WebAuthn ceremony checks. Adapters in ``actas.security`` implement them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from actas.domain.identity import IdTokenClaims


class OidcClient(Protocol):
    """The broker as a relying party of one OpenID provider."""

    def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        """Where to send the browser: code flow, PKCE S256, this state and nonce."""

    def sign_in(self, *, code: str, code_verifier: str, nonce: str) -> IdTokenClaims:
        """Redeem the code and validate the ID token (signature by the provider's JWKS,
        issuer, audience, expiry, nonce). Raises ``AuthenticationFailed`` otherwise."""


@dataclass(frozen=True)
class NewCredential:
    credential_id: str
    public_key: bytes = field(repr=False)
    sign_count: int


class WebAuthn(Protocol):
    """The relying party's checks of WebAuthn ceremonies, for this broker's origin only."""

    def registration_options(
        self,
        *,
        user_id: str,
        user_name: str,
        display_name: str,
        challenge: bytes,
        exclude: list[str],
    ) -> str:
        """``PublicKeyCredentialCreationOptions`` as JSON for the browser."""

    def verify_registration(self, response: str, *, challenge: bytes) -> NewCredential: ...

    def authentication_options(
        self, *, challenge: bytes, allow: list[str], user_verification: bool
    ) -> str: ...

    def verify_authentication(
        self,
        response: str,
        *,
        challenge: bytes,
        public_key: bytes,
        sign_count: int,
        require_user_verification: bool,
    ) -> int:
        """Check the assertion; return the authenticator's new signature counter. Raises
        ``AuthenticationFailed`` for anything else (other origin, other challenge, ...)."""

    def challenge_of(self, response: str) -> bytes:
        """The challenge a ceremony response answers (read from its client data)."""

    def credential_id_of(self, response: str) -> str: ...
