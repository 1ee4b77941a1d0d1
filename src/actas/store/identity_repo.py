"""The SQL adapter of :class:`actas.domain.identity_repo.IdentityRepo`. One-time things (SSO
states, challenges, enrollment links) are taken with one conditional statement, so two
concurrent uses never both succeed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from actas.domain.identity import Enrollment, Passkey, ScimProfile, ScimToken, SsoLogin
from actas.store.identity_tables import (
    enrollments,
    passkeys,
    scim_tokens,
    sso_logins,
    staff_external_ids,
    staff_identities,
    webauthn_challenges,
)
from actas.store.rows import from_row, to_row


class SqlIdentityRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- single sign-on -----------------------------------------------------------------
    def staff_for_subject(self, issuer: str, subject: str) -> str | None:
        t = staff_identities
        row = self.conn.execute(
            select(t.c.staff_id).where(t.c.issuer == issuer, t.c.subject == subject)
        ).first()
        return str(row[0]) if row else None

    def link_subject(self, issuer: str, subject: str, staff_id: str, *, at: datetime) -> None:
        self.conn.execute(
            insert(staff_identities).values(
                issuer=issuer, subject=subject, staff_id=staff_id, created_at=at
            )
        )

    def add_sso_login(self, state_hash: str, login: SsoLogin) -> None:
        self.conn.execute(insert(sso_logins).values(state_hash=state_hash, **to_row(login)))

    def take_sso_login(self, state_hash: str, *, now: datetime) -> SsoLogin | None:
        t = sso_logins
        self.conn.execute(delete(t).where(t.c.expires_at <= now))
        row = self.conn.execute(
            delete(t).where(t.c.state_hash == state_hash).returning(*t.c)
        ).first()
        return from_row(SsoLogin, row) if row is not None else None

    # --- passkeys -----------------------------------------------------------------------
    def add_passkey(self, passkey: Passkey) -> None:
        self.conn.execute(insert(passkeys).values(**to_row(passkey)))

    def passkeys_of(self, staff_id: str) -> list[Passkey]:
        t = passkeys
        rows = self.conn.execute(
            select(t).where(t.c.staff_id == staff_id).order_by(t.c.created_at, t.c.id)
        )
        return [from_row(Passkey, r, public_key=bytes) for r in rows]

    def passkey_by_credential(self, credential_id: str) -> Passkey | None:
        t = passkeys
        row = self.conn.execute(select(t).where(t.c.credential_id == credential_id)).first()
        return from_row(Passkey, row, public_key=bytes) if row is not None else None

    def use_passkey(self, passkey_id: str, *, old_count: int, new_count: int, at: datetime) -> bool:
        t = passkeys
        result = self.conn.execute(
            update(t)
            .where(t.c.id == passkey_id, t.c.sign_count == old_count)
            .values(sign_count=new_count, last_used_at=at)
        )
        return result.rowcount == 1

    def remove_passkey(self, staff_id: str, passkey_id: str) -> bool:
        t = passkeys
        result = self.conn.execute(delete(t).where(t.c.id == passkey_id, t.c.staff_id == staff_id))
        return result.rowcount == 1

    def add_challenge(
        self, challenge_hash: str, *, staff_id: str | None, purpose: str, expires_at: datetime
    ) -> None:
        self.conn.execute(
            insert(webauthn_challenges).values(
                challenge_hash=challenge_hash,
                staff_id=staff_id,
                purpose=purpose,
                expires_at=expires_at,
            )
        )

    def take_challenge(
        self, challenge_hash: str, *, purpose: str, now: datetime
    ) -> tuple[str | None] | None:
        t = webauthn_challenges
        self.conn.execute(delete(t).where(t.c.expires_at <= now))
        row = self.conn.execute(
            delete(t)
            .where(t.c.challenge_hash == challenge_hash, t.c.purpose == purpose)
            .returning(t.c.staff_id)
        ).first()
        return (row[0],) if row is not None else None

    # --- enrollment links ---------------------------------------------------------------
    def add_enrollment(self, enrollment: Enrollment, *, token_hash: str) -> None:
        self.conn.execute(insert(enrollments).values(**to_row(enrollment), token_hash=token_hash))

    def enrollment_by_token_hash(self, token_hash: str) -> Enrollment | None:
        t = enrollments
        row = self.conn.execute(select(t).where(t.c.token_hash == token_hash)).first()
        return from_row(Enrollment, row) if row is not None else None

    def offer_totp(self, enrollment_id: str, sealed_secret: str) -> bool:
        t = enrollments
        result = self.conn.execute(
            update(t)
            .where(t.c.id == enrollment_id, t.c.pending_totp_secret.is_(None))
            .values(pending_totp_secret=sealed_secret)
        )
        return result.rowcount == 1

    def redeem_enrollment(self, enrollment_id: str, *, now: datetime) -> bool:
        t = enrollments
        result = self.conn.execute(
            update(t)
            .where(t.c.id == enrollment_id, t.c.used_at.is_(None), t.c.expires_at > now)
            .values(used_at=now, pending_totp_secret=None)
        )
        return result.rowcount == 1

    def supersede_enrollments(self, staff_id: str, *, now: datetime) -> int:
        t = enrollments
        result = self.conn.execute(
            update(t)
            .where(t.c.staff_id == staff_id, t.c.used_at.is_(None))
            .values(used_at=now, pending_totp_secret=None)
        )
        return int(result.rowcount)

    # --- SCIM ---------------------------------------------------------------------------
    def add_scim_token(self, token: ScimToken, *, token_hash: str) -> None:
        self.conn.execute(insert(scim_tokens).values(**to_row(token), token_hash=token_hash))

    def scim_token_by_hash(self, token_hash: str) -> ScimToken | None:
        t = scim_tokens
        row = self.conn.execute(select(t).where(t.c.token_hash == token_hash)).first()
        return from_row(ScimToken, row) if row is not None else None

    def revoke_scim_token(self, token_id: str, *, at: datetime) -> bool:
        t = scim_tokens
        result = self.conn.execute(
            update(t).where(t.c.id == token_id, t.c.revoked_at.is_(None)).values(revoked_at=at)
        )
        return result.rowcount == 1

    def scim_tokens(self) -> list[ScimToken]:
        rows = self.conn.execute(select(scim_tokens).order_by(scim_tokens.c.name))
        return [from_row(ScimToken, r) for r in rows]

    def scim_names(self, staff_id: str) -> tuple[str, str | None] | None:
        t = staff_external_ids
        row = self.conn.execute(
            select(t.c.user_name, t.c.external_id).where(t.c.staff_id == staff_id)
        ).first()
        return (str(row[0]), row[1]) if row else None

    def set_scim_managed(
        self,
        staff_id: str,
        user_name: str,
        external_id: str | None,
        *,
        managed: bool = True,
        profile: ScimProfile | None = None,
    ) -> None:
        t = staff_external_ids
        self.conn.execute(delete(t).where(t.c.staff_id == staff_id))
        if managed:
            kept = profile or ScimProfile()
            self.conn.execute(
                insert(t).values(
                    staff_id=staff_id,
                    user_name=user_name,
                    external_id=external_id,
                    version=1,
                    given_name=kept.given_name,
                    family_name=kept.family_name,
                    display_name=kept.display_name,
                    active=kept.active,
                )
            )

    def scim_profile(self, staff_id: str) -> ScimProfile:
        t = staff_external_ids
        row = self.conn.execute(
            select(t.c.given_name, t.c.family_name, t.c.display_name, t.c.active).where(
                t.c.staff_id == staff_id
            )
        ).first()
        if row is None:
            return ScimProfile()
        active = None if row.active is None else bool(row.active)
        return ScimProfile(row.given_name, row.family_name, row.display_name, active)
