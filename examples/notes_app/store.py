"""The notes app's own database: accounts, users, their sign-in sessions and their notes.

Plain :mod:`sqlite3`, one short connection per unit of work. Nothing here knows about actas:
the broker only ever sees the mirror that :mod:`notes_app.directory` upserts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    flags      TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS users (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(id),
    email          TEXT NOT NULL UNIQUE,
    email_verified INTEGER NOT NULL DEFAULT 1,
    display_name   TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    is_admin       INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT NOT NULL REFERENCES users(id),
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

SESSION_TTL = timedelta(days=7)

# scrypt at the cost the Python docs and OWASP suggest for interactive sign-in (~50 ms).
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


#: Compared against when the email is unknown, so both cases take the same time.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    flags: tuple[str, ...]


@dataclass(frozen=True)
class User:
    id: str
    account_id: str
    email: str
    email_verified: bool
    display_name: str
    is_admin: bool


@dataclass(frozen=True)
class Note:
    id: int
    user_id: str
    title: str
    body: str
    updated_at: str


def _user(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        account_id=row["account_id"],
        email=row["email"],
        email_verified=bool(row["email_verified"]),
        display_name=row["display_name"],
        is_admin=bool(row["is_admin"]),
    )


def _note(row: sqlite3.Row) -> Note:
    return Note(
        id=row["id"],
        user_id=row["user_id"],
        title=row["title"],
        body=row["body"],
        updated_at=row["updated_at"],
    )


class EmailTaken(Exception):
    """Another user already has this email address."""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path

    def create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys=ON")
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # --- accounts and users ------------------------------------------------------------------

    def put_account(self, account: Account) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO accounts (id, name, flags) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, flags = excluded.flags",
                (account.id, account.name, ",".join(account.flags)),
            )

    def put_user(self, user: User, password: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO users (id, account_id, email, email_verified, display_name, "
                "password_hash, is_admin) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id, "
                "email = excluded.email, email_verified = excluded.email_verified, "
                "display_name = excluded.display_name, password_hash = excluded.password_hash, "
                "is_admin = excluded.is_admin",
                (
                    user.id,
                    user.account_id,
                    user.email.lower(),
                    int(user.email_verified),
                    user.display_name,
                    hash_password(password),
                    int(user.is_admin),
                ),
            )

    def accounts(self) -> list[Account]:
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM accounts ORDER BY id").fetchall()
        return [
            Account(r["id"], r["name"], tuple(f for f in r["flags"].split(",") if f)) for r in rows
        ]

    def users(self) -> list[User]:
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM users ORDER BY id").fetchall()
        return [_user(r) for r in rows]

    def user(self, user_id: str) -> User | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return _user(row) if row else None

    def account(self, account_id: str) -> Account | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
        if row is None:
            return None
        return Account(row["id"], row["name"], tuple(f for f in row["flags"].split(",") if f))

    def set_display_name(self, user_id: str, name: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE users SET display_name = ? WHERE id = ?", (name, user_id))

    def set_email(self, user_id: str, email: str) -> None:
        with self._write() as conn:
            taken = conn.execute(
                "SELECT 1 FROM users WHERE email = ? AND id != ?", (email.lower(), user_id)
            ).fetchone()
            if taken:
                raise EmailTaken(email)
            # A new address is unverified until the user clicks the link sent to it.
            conn.execute(
                "UPDATE users SET email = ?, email_verified = 0 WHERE id = ?",
                (email.lower(), user_id),
            )

    # --- sign-in -----------------------------------------------------------------------------

    def authenticate(self, email: str, password: str) -> User | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT * FROM users WHERE email = ?", (email.strip().lower(),)
            ).fetchone()
        if row is None:
            check_password(_DUMMY_HASH, password)
            return None
        return _user(row) if check_password(row["password_hash"], password) else None

    def open_session(self, user_id: str) -> str:
        token = secrets.token_urlsafe(32)
        expires = (_now() + SESSION_TTL).isoformat()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?, ?, ?)",
                (_token_hash(token), user_id, expires),
            )
        return token

    def session_user(self, token: str) -> User | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT users.* FROM sessions JOIN users ON users.id = sessions.user_id "
                "WHERE sessions.token_hash = ? AND sessions.expires_at > ?",
                (_token_hash(token), _now().isoformat()),
            ).fetchone()
        return _user(row) if row else None

    def close_session(self, token: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))

    # --- notes -------------------------------------------------------------------------------

    def notes(self, user_id: str) -> list[Note]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM notes WHERE user_id = ? ORDER BY updated_at DESC, id DESC",
                (user_id,),
            ).fetchall()
        return [_note(r) for r in rows]

    def note(self, user_id: str, note_id: int) -> Note | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT * FROM notes WHERE id = ? AND user_id = ?", (note_id, user_id)
            ).fetchone()
        return _note(row) if row else None

    def add_note(self, user_id: str, title: str, body: str) -> int:
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO notes (user_id, title, body, updated_at) VALUES (?, ?, ?, ?)",
                (user_id, title, body, _now().isoformat(timespec="seconds")),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def update_note(self, user_id: str, note_id: int, title: str, body: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE notes SET title = ?, body = ?, updated_at = ? WHERE id = ? AND user_id = ?",
                (title, body, _now().isoformat(timespec="seconds"), note_id, user_id),
            )
            return cursor.rowcount == 1

    def delete_note(self, user_id: str, note_id: int) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM notes WHERE id = ? AND user_id = ?", (note_id, user_id)
            )
            return cursor.rowcount == 1
