"""The broker as an OpenID Connect relying party of one provider.

Authlib builds the authorization request (code flow, PKCE S256, state, nonce) and redeems the
code; the ID token is checked with joserfc (Authlib's own JOSE module is deprecated in its
favour): the signature against the provider's JWKS found through discovery, then issuer,
audience, expiry, issued-at and nonce as a second, explicit step. Anything unexpected is
``AuthenticationFailed`` with a short reason for the audit log, never the token itself.
"""

from __future__ import annotations

import hmac
import threading
from typing import Any

import httpx
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc6749.errors import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from actas.domain.clock import Clock
from actas.domain.errors import Unavailable
from actas.domain.identity import IdTokenClaims, SsoRefused
from actas.settings_identity import OidcSettings

#: Asymmetric algorithms only: an HMAC ID token would be keyed with the client secret.
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
LEEWAY_SECONDS = 60
TIMEOUT = httpx.Timeout(10.0)


class AuthlibOidc:
    def __init__(
        self,
        settings: OidcSettings,
        *,
        redirect_uri: str,
        clock: Clock,
        http: httpx.Client | None = None,
    ) -> None:
        self.settings = settings
        self.redirect_uri = redirect_uri
        self.clock = clock
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._jwks: KeySet | None = None

    # --- discovery and keys (cached; the key set is fetched again once for an unknown kid)
    def _get(self, url: str) -> dict[str, Any]:
        try:
            with httpx.Client(timeout=TIMEOUT) as http:
                response = http.get(url)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable("the identity provider cannot be reached; retry shortly") from exc
        if not isinstance(body, dict):
            raise Unavailable("the identity provider answered with something other than JSON")
        return body

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None:
                meta = self._get(self.settings.discovery_url)
                for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(meta.get(key), str):
                        raise Unavailable(f"the provider's discovery document has no {key}")
                self._metadata = meta
            return self._metadata

    def _keys(self, *, refresh: bool) -> KeySet:
        with self._lock:
            current = self._jwks
        if current is not None and not refresh:
            return current
        fetched = KeySet.import_key_set(self._get(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
        with self._lock:
            self._jwks = fetched
        return fetched

    def _client(self) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret,
            scope=" ".join(self.settings.scopes),
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method name)
            timeout=10.0,
        )

    # --- the port ---------------------------------------------------------------------
    def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        with self._client() as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=state,
                nonce=nonce,
                code_verifier=code_verifier,
            )
        return str(url)

    def sign_in(self, *, code: str, code_verifier: str, nonce: str) -> IdTokenClaims:
        try:
            with self._client() as client:
                token = client.fetch_token(
                    self.metadata()["token_endpoint"],
                    code=code,
                    code_verifier=code_verifier,
                    grant_type="authorization_code",
                )
        except (OAuth2Error, OAuthError) as exc:
            # invalid_grant: a code used before, expired, or issued for another verifier.
            raise SsoRefused(f"token_endpoint:{str(exc.error)[:40]}") from None
        except httpx.HTTPError as exc:
            raise Unavailable("the identity provider cannot be reached; retry shortly") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SsoRefused("no_id_token")
        return self.validate(id_token, nonce=nonce)

    def validate(self, id_token: str, *, nonce: str) -> IdTokenClaims:
        """Signature first (by the provider's keys, asymmetric algorithms only), then claims."""
        try:
            try:
                decoded = jwt.decode(id_token, self._keys(refresh=False), algorithms=ALGORITHMS)
            except (ValueError, JoseError):
                # A key rotated at the provider since we fetched the set: fetch once more.
                decoded = jwt.decode(id_token, self._keys(refresh=True), algorithms=ALGORITHMS)
        except (ValueError, JoseError):
            raise SsoRefused("signature") from None
        claims = decoded.claims
        issuer = self.metadata()["issuer"]
        registry = jwt.JWTClaimsRegistry(
            now=int(self.clock().timestamp()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": self.settings.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise SsoRefused(f"claims:{exc.error}"[:60]) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.settings.client_id:
            raise SsoRefused("claims:azp")
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
            raise SsoRefused("claims:nonce")
        return _claims(claims, issuer, self.settings.groups_claim)


def _claims(claims: dict[str, Any], issuer: str, groups_claim: str) -> IdTokenClaims:
    subject = claims["sub"]
    if not isinstance(subject, str) or not 0 < len(subject) <= 255:
        raise SsoRefused("claims:sub")
    groups = claims.get(groups_claim, [])
    if not isinstance(groups, list):
        groups = []
    email = claims.get("email")
    name = claims.get("name")
    return IdTokenClaims(
        issuer=issuer,
        subject=subject,
        email=email if isinstance(email, str) and claims.get("email_verified") else None,
        name=name if isinstance(name, str) else None,
        groups=tuple(str(g)[:256] for g in groups if isinstance(g, str)),
    )
