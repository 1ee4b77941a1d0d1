"""Health, keys, staff disable, passkey options and Slack replies, as answered."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from actas.api.responses import Out


class StatusOut(Out):
    status: str


class JwkOut(Out):
    """An Ed25519 public key (RFC 8037)."""

    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str


class JwksOut(Out):
    keys: list[JwkOut]


class DisabledOut(Out):
    sessions_ended: int


class AllowedCredential(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    id: str


class PasskeyRequestOptions(BaseModel):
    """WebAuthn ``PublicKeyCredentialRequestOptionsJSON``: passed to
    ``navigator.credentials.get`` as py_webauthn writes it (extensions may add members)."""

    model_config = ConfigDict(extra="allow")

    challenge: str
    allowCredentials: list[AllowedCredential]
    userVerification: str


class SlackReplyOut(Out):
    response_type: str
    replace_original: bool
    text: str
