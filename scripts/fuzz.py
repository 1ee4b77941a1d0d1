#!/usr/bin/env python3
"""`make fuzz`: schemathesis against a real broker, on SQLite and on PostgreSQL.

    python scripts/fuzz.py [--backend sqlite|postgres|both] [--examples N] [--seed S]

For each database it builds a broker in a scratch place (a temporary SQLite file, or a fresh
PostgreSQL database on 127.0.0.1 that is dropped afterwards), registers one application with
an account and a subject, enrolls one staff member per role, and serves it with uvicorn on a
free loopback port. Then schemathesis runs every operation of the served ``/openapi.json``,
positive and negative data and the stateful phase, once per caller: anonymous, each staff role
(a bearer token minted for it at set-up) and the application (its credential).

Survivable by design: the callers authenticate with bearer tokens minted before the run, so
nothing the fuzzer sends to the sign-in route can lock them out; ``/v1/auth/logout`` (which
ends the caller's own token) runs only anonymously; the admin-only routes that disable or
re-role staff run in a separate pass whose targets are whatever ids the fuzzer makes up. After
the run the broker must still be usable: every minted token still authenticates, no fuzzed
member is disabled or locked, a newly enrolled admin signs in with password and code, and the
live sessions list answers. Any 5xx or a response outside its own schema fails the run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyotp
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "sdk" / "src")]

from actas.app import create_app  # noqa: E402
from actas.bootstrap import Broker, build  # noqa: E402
from actas.domain.audit import Actor  # noqa: E402
from actas.domain.roles import Role  # noqa: E402
from actas.http import logs  # noqa: E402
from actas.keys import keyring  # noqa: E402
from actas.services import applications as app_service  # noqa: E402
from actas.services import staff as staff_service  # noqa: E402
from actas.services import throttle as throttle_service  # noqa: E402
from actas.settings import load_settings  # noqa: E402
from actas.store.migrate import upgrade  # noqa: E402

SETUP = Actor(id="fuzz-setup")
PG_SERVER = os.environ.get(
    "ACTAS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)
#: Routes that would end or change the caller itself: run apart (see the module docstring).
SELF_ENDING = r"^/v1/auth/logout$"
STAFF_ADMIN = r"^/v1/staff/\{staff_id\}/"


@dataclass
class Member:
    role: Role
    id: str
    email: str
    password: str
    secret: str
    token: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def database(backend: str, scratch: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{scratch / 'actas.db'}"
        return
    import psycopg

    server = PG_SERVER.replace("postgresql+psycopg://", "postgresql://")
    name = f"actas_fuzz_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def enroll(broker: Broker, role: Role, name: str) -> Member:
    password = f"{name}-fuzz-correct-horse"
    made = staff_service.add_staff(
        broker.services,
        email=f"{name}@fuzz.test",
        display_name=name.title(),
        roles=frozenset({role}),
        password=password,
        by=SETUP,
    )
    secret = made.otpauth_uri.split("secret=")[1].split("&")[0]
    signed = staff_service.login(
        broker.services,
        email=made.staff.email,
        password=password,
        code=pyotp.TOTP(secret).now(),
        by=SETUP,
    )
    return Member(role, made.staff.id, made.staff.email, password, secret, signed.token)


def seed(broker: Broker) -> tuple[str, list[Member]]:
    ctx = broker.services
    registered = app_service.add_application(
        ctx,
        app_id="notes",
        name="Notes",
        handoff_url="https://notes.test/actas/handoff",
        handoff_hosts=("acme.notes.test",),
        by=SETUP,
    )
    app = registered.application
    app_service.upsert_account(
        ctx, app=app, account_id="acme", name="Acme", flags=frozenset(), handoff_url=None, by=SETUP
    )
    app_service.upsert_subject(
        ctx,
        app=app,
        subject_id="u-1",
        account_id="acme",
        email="jane@customer.test",
        email_verified=True,
        display_name="Jane",
        privileged=False,
        by=SETUP,
    )
    members = [enroll(broker, role, f"fuzz-{role.value}") for role in Role]
    return registered.credential, members


@contextmanager
def serving(broker: Broker) -> Iterator[str]:
    port = free_port()
    # One access line per fuzzed request would bury what matters (failures) in CI's output.
    logs.configure(level=logging.WARNING)
    logging.getLogger("actas.access").setLevel(logging.WARNING)
    config = uvicorn.Config(create_app(broker), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        raise SystemExit("fuzz: the broker did not start")
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def schemathesis(
    url: str, label: str, token: str | None, extra: list[str], args: argparse.Namespace, out: Path
) -> int:
    """One schemathesis run; returns the number of test cases it generated."""
    report = out / f"{label}.ndjson"
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(args.examples),
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        str(args.seed),
        "--workers",
        "1",
        "--suppress-health-check",
        "all",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
        "--output-truncate",
        "true",
        *extra,
    ]
    if token is not None:
        command += ["-H", f"Authorization: Bearer {token}"]
    print(f"fuzz: {label}", flush=True)
    # Our own argument list, no shell: the only variable parts are ours.
    done = subprocess.run(command, cwd=out, text=True, capture_output=True, check=False)  # noqa: S603
    if done.returncode != 0:
        print(done.stdout[-12000:], done.stderr[-4000:], sep="\n")
        raise SystemExit(f"fuzz: {label} found problems (exit {done.returncode})")
    return count_cases(report)


def count_cases(report: Path) -> int:
    cases = 0
    for line in report.read_text().splitlines():
        event = json.loads(line)
        for key, value in event.items():
            if key == "ScenarioFinished" and isinstance(value, dict):
                recorder = value.get("recorder", {})
                cases += len(recorder.get("cases", {}))
    return cases


def still_usable(url: str, broker: Broker, members: list[Member]) -> None:
    """The accounts the fuzzer used are not disabled, their sessions still work, and after an
    admin clears the throttle on the fuzzer's own address (it sent thousands of wrong sign-ins
    from 127.0.0.1: being slowed is the throttle doing its job) a new admin signs in."""
    for member in members:
        me = httpx.get(
            f"{url}/v1/staff/me", headers={"Authorization": f"Bearer {member.token}"}, timeout=5
        )
        assert me.status_code == 200, (member.role, me.status_code, me.text)
        stored = staff_service.get_staff(broker.services, member.id)
        assert stored.disabled_at is None, f"{member.email} was disabled"
    throttle_service.unthrottle_address(broker.services, address="127.0.0.1", by=SETUP)
    fresh = enroll(broker, Role.ADMIN, f"after-{uuid.uuid4().hex[:6]}")
    signed = httpx.post(
        f"{url}/v1/auth/login",
        json={
            "email": fresh.email,
            "password": fresh.password,
            "code": pyotp.TOTP(fresh.secret).at(time.time() + 30),
        },
        timeout=10,
    )
    assert signed.status_code == 200, signed.text
    headers = {"Authorization": f"Bearer {signed.json()['token']}"}
    assert httpx.get(f"{url}/v1/sessions", headers=headers, timeout=5).status_code == 200


def fuzz(backend: str, args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="actas-fuzz-") as tmp:
        scratch = Path(tmp)
        with database(backend, scratch) as url:
            settings = load_settings(
                {
                    "ACTAS_DATABASE_URL": url,
                    "ACTAS_PUBLIC_URL": "https://broker.test",
                    "ACTAS_KEY_FILE": str(scratch / "keys.json"),
                },
                cwd=scratch,
            )
            keyring.ensure(settings.key_file, datetime.now(UTC))
            broker = build(settings)
            upgrade(broker.engine)
            credential, members = seed(broker)
            total = 0
            with serving(broker) as base:
                # One regex per option: a repeated --exclude-path-regex keeps only the last.
                keep_self = ["--exclude-path-regex", SELF_ENDING]
                staff_runs = ["--exclude-path-regex", f"{SELF_ENDING}|{STAFF_ADMIN}"]
                runs: list[tuple[str, str | None, list[str]]] = [("anonymous", None, [])]
                runs += [(m.role.value, m.token, staff_runs) for m in members]
                admin = next(m for m in members if m.role is Role.ADMIN)
                runs.append(
                    ("admin-staff-routes", admin.token, ["--include-path-regex", STAFF_ADMIN])
                )
                runs.append(("application", credential, keep_self))
                for label, token, extra in runs:
                    total += schemathesis(base, f"{backend}-{label}", token, extra, args, scratch)
                still_usable(base, broker, members)
            broker.engine.dispose()
    print(f"fuzz: {backend}: {total} generated cases, no server error, no schema violation")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES", "25")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "1")))
    args = parser.parse_args()
    if args.backend == "both":
        both(args)
        return
    fuzz(args.backend, args)


def both(args: argparse.Namespace) -> None:
    """SQLite and PostgreSQL at once, each in its own process (its own broker, server and
    GIL): the runs share nothing, so this halves the wall time on two cores with the same
    cases. Each child prints its own count; any failure fails the whole."""
    children = {
        backend: subprocess.Popen(  # noqa: S603 (our own interpreter, script and arguments)
            [
                sys.executable,
                __file__,
                "--backend",
                backend,
                "--examples",
                str(args.examples),
                "--seed",
                str(args.seed),
            ],
        )
        for backend in ("sqlite", "postgres")
    }
    failed = [backend for backend, child in children.items() if child.wait() != 0]
    if failed:
        raise SystemExit(f"fuzz: {', '.join(failed)} failed")
    print("fuzz: both databases: no server error, no schema violation")


if __name__ == "__main__":
    main()
