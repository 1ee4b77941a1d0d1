"""Engines for SQLite (WAL, ``BEGIN IMMEDIATE`` for writes) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url

from actas.settings import SettingsError

#: Execution option that marks a read-only transaction (SQLite then takes no write lock).
READ_ONLY = "actas_read_only"

if sqlite3.sqlite_version_info < (3, 35, 0):  # pragma: no cover - depends on the platform
    raise RuntimeError(f"SQLite {sqlite3.sqlite_version} lacks RETURNING; 3.35 or newer needed")


#: What SQLite keeps beside the database file in WAL mode; the same data, the same care.
SIDE_FILES = ("-wal", "-shm")


class DatabaseFileError(SettingsError):
    """The SQLite file is readable by others, or cannot be created private."""


def make_engine(url: str, *, synchronous: str = "FULL", **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            secure_sqlite_file(path)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine, synchronous=synchronous, path=path)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def secure_sqlite_file(path: Path) -> None:
    """Create the database file 0600 before SQLite does (it would use the umask, 0644 as a
    rule, while the file holds password hashes and the audit log), and refuse to open one that
    others may read, as the key file does. SQLite gives the -wal and -shm files the database
    file's mode; they are checked too, and tightened at each connection (see below)."""
    try:
        # O_EXCL: never follow or reuse what another user put there first.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except FileNotFoundError:
        return  # no such directory: SQLite says so, as a database error, when it connects
    else:
        os.close(fd)
    for file in (path, *(Path(f"{path}{suffix}") for suffix in SIDE_FILES)):
        try:
            mode = file.stat().st_mode & 0o777
        except FileNotFoundError:
            continue
        if mode & 0o077:
            raise DatabaseFileError(
                f"ACTAS_DATABASE_URL file {str(file)!r} is readable by others "
                f"(mode {mode:o}); chmod 600 {file}"
            )


def _tighten_side_files(path: Path) -> None:
    for suffix in SIDE_FILES:
        try:
            os.chmod(f"{path}{suffix}", 0o600)
        except FileNotFoundError:
            continue


def _configure_sqlite(engine: Engine, *, synchronous: str, path: Path | None) -> None:
    if synchronous not in {"FULL", "NORMAL", "EXTRA"}:
        raise ValueError(f"synchronous={synchronous!r}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's begin event below: pysqlite's own deferred
        # BEGIN would read the chain head before taking the write lock and fork the chain.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()
        if path is not None:
            # SQLite copies the database file's mode to -wal and -shm; a file made 0644 by
            # another tool would hand that on, so they are set 0600 whatever happened before.
            _tighten_side_files(path)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
