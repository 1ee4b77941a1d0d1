"""The repository port for staff identity (``actas.domain.identity``); ``actas.store``
implements it as ``uow.identity``."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from actas.domain.identity import Enrollment, Passkey, ScimProfile, ScimToken, SsoLogin


class IdentityRepo(Protocol):
    # --- single sign-on: (issuer, sub) -> staff, and the sign-ins in flight
    def staff_for_subject(self, issuer: str, subject: str) -> str | None: ...
    def link_subject(self, issuer: str, subject: str, staff_id: str, *, at: datetime) -> None: ...
    def add_sso_login(self, state_hash: str, login: SsoLogin) -> None: ...
    def take_sso_login(self, state_hash: str, *, now: datetime) -> SsoLogin | None:
        """Delete and return the live sign-in of this state: a state works once."""

    # --- passkeys and their one-time challenges
    def add_passkey(self, passkey: Passkey) -> None: ...
    def passkeys_of(self, staff_id: str) -> list[Passkey]: ...
    def passkey_by_credential(self, credential_id: str) -> Passkey | None: ...
    def use_passkey(self, passkey_id: str, *, old_count: int, new_count: int, at: datetime) -> bool:
        """Move the signature counter (compare-and-set: two uses of one assertion cannot both
        pass)."""

    def remove_passkey(self, staff_id: str, passkey_id: str) -> bool: ...
    def add_challenge(
        self, challenge_hash: str, *, staff_id: str | None, purpose: str, expires_at: datetime
    ) -> None: ...
    def take_challenge(
        self, challenge_hash: str, *, purpose: str, now: datetime
    ) -> tuple[str | None] | None:
        """Delete a live challenge of this purpose; return ``(staff_id,)`` or None."""

    # --- enrollment links
    def add_enrollment(self, enrollment: Enrollment, *, token_hash: str) -> None: ...
    def enrollment_by_token_hash(self, token_hash: str) -> Enrollment | None: ...
    def offer_totp(self, enrollment_id: str, sealed_secret: str) -> bool:
        """Keep the seed shown on the page, once (the first view wins)."""

    def redeem_enrollment(self, enrollment_id: str, *, now: datetime) -> bool:
        """Mark it used if it is still unused and unexpired (one conditional UPDATE)."""

    def supersede_enrollments(self, staff_id: str, *, now: datetime) -> int: ...

    # --- SCIM
    def add_scim_token(self, token: ScimToken, *, token_hash: str) -> None: ...
    def scim_token_by_hash(self, token_hash: str) -> ScimToken | None: ...
    def revoke_scim_token(self, token_id: str, *, at: datetime) -> bool: ...
    def scim_tokens(self) -> list[ScimToken]: ...
    def scim_names(self, staff_id: str) -> tuple[str, str | None] | None:
        """(userName, externalId) of a member SCIM provisioned; None for anyone else."""

    def set_scim_managed(
        self,
        staff_id: str,
        user_name: str,
        external_id: str | None,
        *,
        managed: bool = True,
        profile: ScimProfile | None = None,
    ) -> None:
        """Mark a member as provisioned by SCIM (with the IdP's externalId and what it said of
        them), or release them."""

    def scim_profile(self, staff_id: str) -> ScimProfile:
        """What the IdP last said of a member (all ``None`` for anyone else)."""
