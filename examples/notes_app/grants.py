"""The notes app's side of one-time links: what a redeemed actas link turns into.

actas proves that the person holding the link reads the user's verified inbox; the app owns
passwords and emails, so it performs the action itself:

- a redeemed ``password_reset`` link becomes a **reset grant**: a random token in a cookie,
  stored here only as its SHA-256, good for ten minutes and for one password change;
- an email change waits here (``email_changes``) until the user confirms it through an
  ``email_confirmation`` link sent to the address they have now.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from notes_app.store import EmailTaken, Store, _now, _token_hash, hash_password

SCHEMA = """
CREATE TABLE IF NOT EXISTS reset_grants (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE TABLE IF NOT EXISTS email_changes (
    user_id      TEXT PRIMARY KEY REFERENCES users(id),
    email        TEXT NOT NULL,
    requested_at TEXT NOT NULL
);
"""

#: How long the set-new-password page may be used after the link was redeemed.
RESET_GRANT_TTL = timedelta(minutes=10)
#: How long a requested email change waits for its confirmation (the link's own lifetime
#: is shorter; this only bounds a change nobody confirmed).
EMAIL_CHANGE_TTL = timedelta(hours=1)


class Grants:
    def __init__(self, store: Store) -> None:
        self.store = store
        with store._connect() as conn:
            conn.executescript(SCHEMA)

    # --- password reset ----------------------------------------------------------------------

    def open_reset(self, user_id: str) -> str:
        """A new reset grant for ``user_id`` (older unused ones stop working)."""
        token = secrets.token_urlsafe(32)
        now = _now()
        with self.store._write() as conn:
            conn.execute(
                "UPDATE reset_grants SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
                (now.isoformat(), user_id),
            )
            conn.execute(
                "INSERT INTO reset_grants (token_hash, user_id, expires_at) VALUES (?, ?, ?)",
                (_token_hash(token), user_id, (now + RESET_GRANT_TTL).isoformat()),
            )
        return token

    def reset_user(self, token: str) -> str | None:
        """The user a live, unused grant is for (the page shows the form), else None."""
        with self.store._connect() as conn:
            row = conn.execute(
                "SELECT user_id FROM reset_grants WHERE token_hash = ? AND used_at IS NULL "
                "AND expires_at > ?",
                (_token_hash(token), _now().isoformat()),
            ).fetchone()
        return str(row["user_id"]) if row else None

    def use_reset(self, token: str, password: str) -> str | None:
        """Spend the grant and set the password, in one transaction; every sign-in session
        of the user ends (whoever knew the old password is out). The user's id, or None
        when the grant is unknown, used or expired."""
        now = _now().isoformat()
        with self.store._write() as conn:
            row = conn.execute(
                "UPDATE reset_grants SET used_at = ? WHERE token_hash = ? AND used_at IS NULL "
                "AND expires_at > ? RETURNING user_id",
                (now, _token_hash(token), now),
            ).fetchone()
            if row is None:
                return None
            user_id = str(row["user_id"])
            conn.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?",
                (hash_password(password), user_id),
            )
            conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        return user_id

    # --- email change ------------------------------------------------------------------------

    def request_email_change(self, user_id: str, email: str) -> None:
        """Remember the address the user asked for; nothing changes until they confirm."""
        with self.store._write() as conn:
            taken = conn.execute(
                "SELECT 1 FROM users WHERE email = ? AND id != ?", (email.lower(), user_id)
            ).fetchone()
            if taken:
                raise EmailTaken(email)
            conn.execute(
                "INSERT INTO email_changes (user_id, email, requested_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, "
                "requested_at = excluded.requested_at",
                (user_id, email.lower(), _now().isoformat()),
            )

    def confirm_email(self, user_id: str) -> str | None:
        """Apply the user's pending email change (the confirmation link came back from the
        inbox they had), or confirm the address they have. The address now in effect, or
        None when the pending one was taken meanwhile."""
        oldest = (_now() - EMAIL_CHANGE_TTL).isoformat()
        with self.store._write() as conn:
            row = conn.execute(
                "DELETE FROM email_changes WHERE user_id = ? AND requested_at > ? RETURNING email",
                (user_id, oldest),
            ).fetchone()
            conn.execute("DELETE FROM email_changes WHERE user_id = ?", (user_id,))
            if row is None:
                conn.execute("UPDATE users SET email_verified = 1 WHERE id = ?", (user_id,))
                found = conn.execute("SELECT email FROM users WHERE id = ?", (user_id,)).fetchone()
                return str(found["email"]) if found else None
            email = str(row["email"])
            if conn.execute(
                "SELECT 1 FROM users WHERE email = ? AND id != ?", (email, user_id)
            ).fetchone():
                return None
            conn.execute(
                "UPDATE users SET email = ?, email_verified = 1 WHERE id = ?", (email, user_id)
            )
        return email

    def pending_email(self, user_id: str) -> str | None:
        with self.store._connect() as conn:
            row = conn.execute(
                "SELECT email FROM email_changes WHERE user_id = ?", (user_id,)
            ).fetchone()
        return str(row["email"]) if row else None

    def user_by_email(self, email: str) -> str | None:
        with self.store._connect() as conn:
            row = conn.execute(
                "SELECT id FROM users WHERE email = ? AND email_verified = 1",
                (email.strip().lower(),),
            ).fetchone()
        return str(row["id"]) if row else None
