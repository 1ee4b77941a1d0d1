"""Handoff redemptions per second (redeem + token signing + audit event, one transaction each)
on SQLite and PostgreSQL, as a ratio to the bare signing of the same tokens measured in the
same run; then the revocation delay from one replica to an SSE client of another.

    python bench/sessions.py [--codes N] [--postgres URL] [--skip-revocations]

PostgreSQL comes from --postgres or ACTAS_TEST_DATABASE_URL; the script creates a scratch
database there and drops it at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from actas.bootstrap import build
from actas.domain.access import HANDOFF_TTL, AccessSession
from actas.domain.audit import Actor
from actas.domain.subjects import Account, AccountFlag, Subject
from actas.domain.tokens import HANDOFF_PREFIX, new_token, token_hash
from actas.keys import keyring
from actas.keys.tokens import mint_actor_token
from actas.security.passwords import FastTestPasswords
from actas.services import applications as app_service
from actas.services import handoff as handoff_service
from actas.settings import load_settings
from actas.store.migrate import upgrade

HANDOFF = "https://notes.bench/actas/handoff"


def prepare(database_url: str, workdir: Path, codes: int) -> tuple[object, list[str], object]:
    """A migrated database with one application and ``codes`` started sessions, each with an
    unused handoff code. Returns (broker, codes, application)."""
    settings = load_settings(
        {
            "ACTAS_DATABASE_URL": database_url,
            "ACTAS_PUBLIC_URL": "https://broker.bench",
            "ACTAS_KEY_FILE": str(workdir / "keys.json"),
            "ACTAS_CHECKPOINT_EVERY": "1000",
        },
        cwd=workdir,
    )
    keyring.ensure(settings.key_file, datetime.now(UTC))
    broker = build(settings, passwords=FastTestPasswords())
    upgrade(broker.engine)
    app = app_service.add_application(
        broker.services, app_id="notes", name="Notes", handoff_url=HANDOFF, by=Actor(id="bench")
    ).application
    staff_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    plain: list[str] = []
    with broker.store.transaction() as uow:
        from actas.domain.roles import Role
        from actas.domain.staff import Staff

        uow.staff.add(
            Staff(
                id=staff_id,
                email="bench@staff.test",
                display_name="Bench",
                roles=frozenset({Role.AGENT}),
                password_hash="-",
                totp_secret="-",
                totp_last_step=None,
                disabled_at=None,
                created_at=now,
            )
        )
        uow.accounts.upsert(
            Account(
                application_id="notes",
                id="acme",
                name="Acme",
                flags=frozenset[AccountFlag](),
                handoff_url=None,
                updated_at=now,
            )
        )
        uow.subjects.upsert(
            Subject(
                application_id="notes",
                id="u-1",
                account_id="acme",
                email=None,
                email_verified=False,
                display_name="Jane",
                privileged=False,
                updated_at=now,
            )
        )
    # Sessions need a case and a request row (foreign keys); a raw insert keeps setup fast.
    with broker.engine.begin() as conn:
        from actas.store.tables import access_requests, cases

        conn.execute(
            cases.insert().values(
                id="case-bench",
                application_id="notes",
                subject_id="u-1",
                account_id="acme",
                staff_id=staff_id,
                ticket="B-1",
                reason_code="bug_reproduction",
                reason_text="bench",
                status="open",
                opened_at=now,
            )
        )
        conn.execute(
            access_requests.insert(),
            [
                {
                    "id": f"req-{i}",
                    "case_id": "case-bench",
                    "staff_id": staff_id,
                    "application_id": "notes",
                    "subject_id": "u-1",
                    "account_id": "acme",
                    "kind": "impersonate",
                    "scopes": "read",
                    "minutes": 20,
                    "break_glass": False,
                    "state": "started",
                    "outcome": "allow",
                    "reasons": "[]",
                    "approvals_required": 0,
                    "approver_roles": "",
                    "high_risk": False,
                    "review_required": False,
                    "created_at": now,
                    "expires_at": now + timedelta(hours=1),
                }
                for i in range(codes)
            ],
        )
    with broker.store.transaction() as uow:
        for i in range(codes):
            session = AccessSession(
                id=f"ses-{i}",
                request_id=f"req-{i}",
                case_id="case-bench",
                staff_id=staff_id,
                application_id="notes",
                subject_id="u-1",
                account_id="acme",
                kind="impersonate",
                scopes=("read",),
                started_at=now,
                expires_at=now + timedelta(minutes=20),
                idle_seconds=900,
                last_active_at=now,
                handoff_url=HANDOFF,
                review_required=False,
            )
            uow.sessions.add(session)
            code = new_token(HANDOFF_PREFIX)
            uow.handoffs.add(
                code_hash=token_hash(code),
                session_id=session.id,
                application_id="notes",
                handoff_url=HANDOFF,
                issued_at=now,
                # Long enough for the benchmark itself; production codes live HANDOFF_TTL.
                expires_at=now + HANDOFF_TTL * 60,
            )
            plain.append(code)
    return broker, plain, app


def bench_redeem(label: str, database_url: str, codes: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        broker, plain, app = prepare(database_url, Path(tmp), codes)
        ring = broker.keys.ring()  # type: ignore[attr-defined]
        now = datetime.now(UTC)
        started = time.perf_counter()
        for i in range(codes):
            mint_actor_token(
                ring,
                issuer="https://broker.bench",
                audience="notes",
                subject="u-1",
                actor="staff",
                session_id=f"ses-{i}",
                scopes=("read",),
                account="acme",
                kind="impersonate",
                now=now,
                not_after=now + timedelta(minutes=20),
            )
        sign_rate = codes / (time.perf_counter() - started)
        started = time.perf_counter()
        for code in plain:
            handoff_service.redeem_handoff(
                broker.services,  # type: ignore[attr-defined]
                app=app,  # type: ignore[arg-type]
                code=code,
                handoff_url=HANDOFF,
                by=Actor(id="app:notes"),
            )
        redeem_rate = codes / (time.perf_counter() - started)
        broker.engine.dispose()  # type: ignore[attr-defined]
    print(
        f"{label:<11} bare signing {sign_rate:>9,.0f}/s   redeem+sign+audit {redeem_rate:>7,.0f}/s"
        f"   ratio {redeem_rate / sign_rate:.3f}"
    )
    return {"sign": sign_rate, "redeem": redeem_rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=1000)
    parser.add_argument("--postgres", default=os.environ.get("ACTAS_TEST_DATABASE_URL"))
    parser.add_argument("--skip-revocations", action="store_true")
    args = parser.parse_args()
    print(f"Handoff redemptions, {args.codes} codes, one transaction each")
    with tempfile.TemporaryDirectory() as tmp:
        bench_redeem("SQLite", f"sqlite:///{tmp}/bench.db", args.codes)
    if args.postgres:
        server = args.postgres.replace("postgresql://", "postgresql+psycopg://", 1)
        name = f"actas_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(server).set(database=name).render_as_string(hide_password=False)
            bench_redeem("PostgreSQL", url, args.codes)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        print("PostgreSQL skipped: set ACTAS_TEST_DATABASE_URL or pass --postgres")
    revocation = Path(__file__).with_name("revocation_delay.py")
    if not args.skip_revocations and args.postgres and revocation.exists():
        print()
        subprocess.run([sys.executable, str(revocation), "--postgres", args.postgres], check=True)


if __name__ == "__main__":
    main()
