"""Shared fixtures: every store test runs on SQLite and, when configured, PostgreSQL.

PostgreSQL comes from ``ACTAS_TEST_DATABASE_URL`` (a server URL such as
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each run creates its own template
database, migrates it once, clones a fresh database from it for every test and drops them all
at the end, so no test depends on what an earlier run left. Without the variable the
PostgreSQL runs are skipped with a visible reason; under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from actas.app import create_app
from actas.bootstrap import Broker, build
from actas.domain.audit import Actor
from actas.domain.clock import FrozenClock
from actas.domain.roles import Role
from actas.keys import keyring
from actas.security.passwords import FastTestPasswords
from actas.security.totp import PyOtpTotp
from actas.services import applications as app_service
from actas.services import staff as staff_service
from actas.settings import Settings, load_settings
from actas.store.engine import make_engine
from actas.store.migrate import upgrade
from tests import hygiene

pytest_plugins = ["tests.scenario", "tests.desk", "tests.customer_world"]


def pytest_configure(config: pytest.Config) -> None:
    """Secret hygiene (issue 16): record every secret issued and what could leak it; the
    broker processes the tests start write theirs to a spool folder read at the end."""
    os.environ[hygiene.SPOOL_ENV] = tempfile.mkdtemp(prefix="actas-hygiene-")
    hygiene.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    spool = Path(os.environ.pop(hygiene.SPOOL_ENV))
    hygiene.RECORDER.load_spools(spool)
    shutil.rmtree(spool, ignore_errors=True)
    leaks = hygiene.RECORDER.leaks()
    if leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        places = sorted({leak.split(": ", 1)[0] for leak in leaks})
        lines = [
            f"secret hygiene: {len(leaks)} issued secret(s) leaked, from {len(places)} place(s):",
            *(f"  {place}" for place in places),
            "the first ones:",
            *leaks[:20],
        ]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


PG_ENV = "ACTAS_TEST_DATABASE_URL"
BACKENDS = ["sqlite", "postgres"]


def _pg_server_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def require_postgres() -> str:
    url = _pg_server_url()
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"{PG_ENV} is not set: PostgreSQL tests are required in CI")
    pytest.skip(f"PostgreSQL not configured: set {PG_ENV} to run these tests")


class PgDatabases:
    """Creates databases on the shared server under a per-run prefix and drops them all."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.prefix = f"actas_t{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=None)
        self.created: list[str] = []
        self.template: str | None = None

    def url_for(self, name: str) -> str:
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def create(self, *, template: str | None = None) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        clause = f" TEMPLATE {template}" if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        self.created.append(name)
        return name

    def migrated_template(self) -> str:
        if self.template is None:
            name = self.create()
            engine = make_engine(self.url_for(name), poolclass=_null_pool())
            upgrade(engine)
            engine.dispose()
            self.template = name
        return self.template

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in reversed(self.created):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def _null_pool() -> type:
    from sqlalchemy.pool import NullPool

    return NullPool


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases | None]:
    url = _pg_server_url()
    if not url:
        yield None
        return
    dbs = PgDatabases(url)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "actas.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    pg_databases: PgDatabases | None,
) -> str:
    """A freshly migrated, empty database of each backend."""
    if request.param == "sqlite":
        target = tmp_path / "actas.db"
        shutil.copyfile(sqlite_template, target)
        target.chmod(0o600)  # the broker refuses a database file others may read
        return f"sqlite:///{target}"
    require_postgres()
    assert pg_databases is not None
    name = pg_databases.create(template=pg_databases.migrated_template())
    return pg_databases.url_for(name)


@pytest.fixture
def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgres"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC))


# --- the broker, its API and personas -------------------------------------------------------


@dataclass(frozen=True)
class Persona:
    """A staff member the tests can sign in as."""

    id: str
    email: str
    password: str
    totp_secret: str
    roles: frozenset[Role]

    def code(self, clock: FrozenClock) -> str:
        return PyOtpTotp().code_at(self.totp_secret, clock())


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    environ = {
        "ACTAS_DATABASE_URL": database_url,
        "ACTAS_PUBLIC_URL": "https://broker.test",
        "ACTAS_KEY_FILE": str(tmp_path / "keys.json"),
        "ACTAS_CHECKPOINT_EVERY": "50",
    }
    return load_settings(environ, cwd=tmp_path)


@pytest.fixture
def broker(settings: Settings, clock: FrozenClock) -> Iterator[Broker]:
    keyring.ensure(settings.key_file, clock())
    made = build(settings, clock=clock, passwords=FastTestPasswords())
    yield made
    made.engine.dispose()


@pytest.fixture
def client(broker: Broker) -> Iterator[TestClient]:
    with TestClient(create_app(broker), base_url="https://broker.test") as test_client:
        yield test_client


class People:
    """Creates personas on demand: ``people.add("alice", Role.AGENT)``."""

    def __init__(self, broker: Broker, clock: FrozenClock) -> None:
        self.broker = broker
        self.clock = clock

    def add(self, name: str, *roles: Role) -> Persona:
        password = f"{name}-correct-horse-battery"
        hygiene.RECORDER.add_literal(password)
        enrollment = staff_service.add_staff(
            self.broker.services,
            email=f"{name}@staff.test",
            display_name=name.title(),
            roles=frozenset(roles),
            password=password,
            by=Actor(id="test-setup"),
        )
        secret = enrollment.otpauth_uri.split("secret=")[1].split("&")[0]
        return Persona(
            id=enrollment.staff.id,
            email=enrollment.staff.email,
            password=password,
            totp_secret=secret,
            roles=frozenset(roles),
        )

    def login(self, client: TestClient, persona: Persona) -> dict[str, str]:
        """Sign in with a fresh code; moves the clock one TOTP step so codes never repeat."""
        self.clock.advance(30)
        response = client.post(
            "/v1/auth/login",
            json={
                "email": persona.email,
                "password": persona.password,
                "code": persona.code(self.clock),
            },
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
def people(broker: Broker, clock: FrozenClock) -> People:
    return People(broker, clock)


@pytest.fixture
def demo_app(broker: Broker) -> tuple[str, dict[str, str]]:
    """A registered application: (id, headers carrying its credential)."""
    registered = app_service.add_application(
        broker.services,
        app_id="notes",
        name="Notes",
        handoff_url="https://notes.test/actas/handoff",
        # An account may use its own domain, as an admin allowed (tests of account URLs).
        handoff_hosts=("acme.notes.test",),
        by=Actor(id="test-setup"),
    )
    return registered.application.id, {"Authorization": f"Bearer {registered.credential}"}
