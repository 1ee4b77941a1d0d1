"""The migrations build exactly the schema that ``tables.py`` declares, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine

from actas.bootstrap import build, initialise
from actas.keys.seeds import SEALED_PREFIX
from actas.security.totp import PyOtpTotp
from actas.services import staff as staff_service
from actas.settings import load_settings
from actas.store.engine import make_engine
from actas.store.migrate import upgrade
from actas.store.tables import metadata, staff
from tests.conftest import BACKENDS, PgDatabases, require_postgres

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_migrated_schema_matches_the_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)


@pytest.fixture(params=BACKENDS)
def empty_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_databases: PgDatabases | None
) -> str:
    """A database with no schema at all, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    require_postgres()
    assert pg_databases is not None
    return pg_databases.url_for(pg_databases.create())


def test_0004_keeps_existing_staff_and_their_plain_seeds(empty_url: str, tmp_path: Path) -> None:
    """A broker from before 0004 has plain seeds and lockout columns; the migration keeps the
    seeds as they are (it cannot reach the data key) and ``actas init`` seals them after."""
    engine = make_engine(empty_url)
    upgrade(engine, "0003")
    now = datetime(2026, 11, 23, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO staff (id, email, display_name, password_hash, totp_secret,"
                " totp_last_step, failed_logins, locked_until, created_at) VALUES"
                " ('s1', 'old@staff.test', 'Old', 'h', :seed, 7, 3, :now, :now)"
            ),
            {"seed": SEED, "now": now.replace(tzinfo=None)},
        )
    upgrade(engine)
    with engine.connect() as conn:
        row = conn.execute(select(staff).where(staff.c.id == "s1")).one()
        columns = {c["name"] for c in inspect(conn).get_columns("staff")}
    assert (row.totp_secret, row.totp_last_step, row.email) == (SEED, 7, "old@staff.test")
    assert {"failed_logins", "locked_until"}.isdisjoint(columns)
    engine.dispose()

    settings = load_settings(
        {
            "ACTAS_DATABASE_URL": empty_url,
            "ACTAS_PUBLIC_URL": "https://broker.test",
            "ACTAS_KEY_FILE": str(tmp_path / "keys.json"),
        },
        cwd=tmp_path,
    )
    initialise(settings)
    broker = build(settings)
    try:
        with broker.engine.connect() as conn:
            sealed = conn.execute(select(staff.c.totp_secret)).scalar_one()
        assert sealed.startswith(SEALED_PREFIX)
        assert SEED not in sealed
        member = staff_service.get_staff(broker.services, "s1")
        code = PyOtpTotp().code_at(SEED, datetime.now(UTC))
        assert broker.services.totp.matching_step(member.totp_secret, code, datetime.now(UTC))
    finally:
        broker.engine.dispose()


def test_0007_gives_open_sessions_their_idle_deadline(empty_url: str) -> None:
    """Sessions open before 0007 get ``idle_due`` (last activity + idle limit, epoch seconds)
    so the sweeper's index finds them; ended ones stay out of it (NULL)."""
    from actas.store.tables import access_requests, access_sessions, cases

    engine = make_engine(empty_url)
    upgrade(engine, "0005")
    now = datetime(2026, 11, 23, 12, 0, 30, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO staff (id, email, display_name, password_hash, totp_secret,"
                " totp_last_step, created_at) VALUES ('s1', 'a@staff.test', 'A', 'h', 'x', NULL,"
                " :now)"
            ),
            {"now": now.replace(tzinfo=None)},
        )
        conn.execute(
            cases.insert().values(
                id="c1",
                application_id="notes",
                subject_id="u-1",
                account_id="acme",
                staff_id="s1",
                ticket="T-1",
                reason_code="bug",
                reason_text="x",
                status="open",
                opened_at=now,
            )
        )
        for n in (1, 2):
            conn.execute(
                access_requests.insert().values(
                    id=f"r{n}",
                    case_id="c1",
                    staff_id="s1",
                    application_id="notes",
                    subject_id="u-1",
                    account_id="acme",
                    kind="impersonate",
                    scopes="read",
                    minutes=20,
                    break_glass=False,
                    state="started",
                    outcome="allow",
                    reasons="[]",
                    approvals_required=0,
                    approver_roles="",
                    high_risk=False,
                    review_required=False,
                    created_at=now,
                    expires_at=now,
                )
            )
            conn.execute(
                access_sessions.insert().values(
                    id=f"ses{n}",
                    request_id=f"r{n}",
                    case_id="c1",
                    staff_id="s1",
                    application_id="notes",
                    subject_id="u-1",
                    account_id="acme",
                    kind="impersonate",
                    scopes="read",
                    started_at=now,
                    expires_at=now,
                    idle_seconds=900,
                    last_active_at=now,
                    handoff_url="https://n.test/h",
                    review_required=False,
                    ended_at=now if n == 2 else None,
                )
            )
    upgrade(engine)
    with engine.connect() as conn:
        due = dict(conn.execute(select(access_sessions.c.id, access_sessions.c.idle_due)).all())
    engine.dispose()
    assert due == {"ses1": int(now.timestamp()) + 900, "ses2": None}
