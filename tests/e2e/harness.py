"""The end-to-end stack: the broker and the notes app, each its own uvicorn process on
127.0.0.1, an SMTP server that catches the app's mail, and helpers that act as staff (over the
broker's HTTP API) and as browsers (httpx clients that keep cookies).

Every wait is a bounded poll on something observable; nothing asserts on how fast it is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pyotp

from actas.bootstrap import build, initialise
from actas.domain.audit import Actor
from actas.domain.roles import Role
from actas.services import applications as app_service
from actas.services import staff as staff_service
from actas.settings import Settings, load_settings
from tests import hygiene

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SETUP = Actor(id="e2e-setup")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(
    check: Callable[[], T | None], *, what: str, timeout: float = 20.0, interval: float = 0.1
) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


def answers(client: httpx.Client, path: str, status: int) -> Callable[[], httpx.Response | None]:
    """A check for :func:`wait_for`: the response to ``GET path`` once it has ``status``."""

    def check() -> httpx.Response | None:
        response = client.get(path)
        return response if response.status_code == status else None

    return check


class Authenticator:
    """An authenticator app for one enrollment, never showing the same step twice.

    The broker takes the previous, current or next 30-second step, each once per staff member;
    a test that needs more codes than that waits for the clock (bounded)."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last_step = -1

    def code(self) -> str:
        def fresh() -> str | None:
            now_step = int(time.time()) // 30
            step = max(self.last_step + 1, now_step)
            if step > now_step + 1:
                return None
            self.last_step = step
            return str(self.totp.at(step * 30))

        return wait_for(fresh, what="a fresh TOTP step", timeout=65.0, interval=0.5)


@dataclass
class Persona:
    id: str
    email: str
    password: str
    authenticator: Authenticator
    roles: frozenset[Role]


@dataclass
class ServerProcess:
    """One uvicorn server in a child process, with its output in a log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    health_path: str
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.args, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        finally:
            log.close()

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited at start:\n{self.log_tail()}")
            try:
                return httpx.get(self.url + self.health_path, timeout=1.0).status_code < 500
            except httpx.HTTPError:
                return False

        # Generous: a busy CI host (two cores shared) can take most of a minute to import and
        # start a broker with several workers.
        wait_for(up, what=f"{self.name} to answer on {self.url}", timeout=90.0)

    def kill(self) -> None:
        """What a crash looks like: SIGKILL, no goodbye to anyone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class Broker:
    """The broker on a fresh SQLite database and key file, as a restartable process."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.env = {
            **os.environ,
            "ACTAS_DATABASE_URL": f"sqlite:///{root / 'actas.db'}",
            "ACTAS_KEY_FILE": str(root / "keys.json"),
            "ACTAS_PUBLIC_URL": f"http://127.0.0.1:{self.port}",
            "ACTAS_PORT": str(self.port),
            "ACTAS_REVOCATION_PING_SECONDS": "0.5",
            **hygiene.child_env(),
        }
        self.settings: Settings = load_settings(self.env, cwd=root)
        initialise(self.settings)
        self.server = ServerProcess(
            name="broker",
            args=[
                sys.executable,
                str(Path(__file__).with_name("broker_server.py")),
                str(self.port),
            ],
            env=self.env,
            port=self.port,
            log_path=root / "broker.log",
            health_path="/healthz",
        )

    @property
    def url(self) -> str:
        return self.server.url

    @contextlib.contextmanager
    def _services(self) -> Iterator[Any]:
        """Direct access to the same database, for set-up the API has no endpoint for."""
        made = build(self.settings)
        try:
            yield made.services
        finally:
            made.engine.dispose()

    def register_app(self, app_id: str, handoff_url: str) -> str:
        with self._services() as services:
            registered = app_service.add_application(
                services, app_id=app_id, name=app_id.title(), handoff_url=handoff_url, by=SETUP
            )
        return registered.credential

    def add_staff(self, name: str, *roles: Role) -> Persona:
        email = f"{name}-{uuid.uuid4().hex[:8]}@staff.test"
        password = f"{name}-correct-horse-battery-staple"
        with self._services() as services:
            enrollment = staff_service.add_staff(
                services,
                email=email,
                display_name=name.title(),
                roles=frozenset(roles),
                password=password,
                by=SETUP,
            )
        secret = enrollment.otpauth_uri.split("secret=")[1].split("&")[0]
        return Persona(
            id=enrollment.staff.id,
            email=email,
            password=password,
            authenticator=Authenticator(secret),
            roles=frozenset(roles),
        )


class NotesApp:
    """The example app as a process: its own SQLite file, seeded with the demo customers."""

    def __init__(
        self,
        root: Path,
        *,
        broker: Broker,
        credential: str,
        port: int,
        smtp_port: int,
        staleness: float,
    ) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.spool = root / "spool"
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(EXAMPLES), os.environ.get("PYTHONPATH")])
            ),
            "NOTES_DATABASE": str(root / "notes.db"),
            "NOTES_PORT": str(port),
            "NOTES_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "NOTES_ACTAS_URL": broker.url,
            "NOTES_ACTAS_CREDENTIAL": credential,
            "NOTES_ACTAS_STALENESS": str(staleness),
            "NOTES_ACTAS_SPOOL": str(self.spool),
            "NOTES_SMTP_HOST": "127.0.0.1",
            "NOTES_SMTP_PORT": str(smtp_port),
            "NOTES_HOSTILE_CSS": "1",
        }
        seeded = subprocess.run(
            [sys.executable, "-m", "notes_app", "seed"],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        #: email -> (user id, password), from what the seed command printed
        self.passwords: dict[str, str] = {}
        for row in seeded.stdout.splitlines():
            email, password, _ = row.split("\t")
            self.passwords[email] = password
        self.server = ServerProcess(
            name="notes app",
            args=[sys.executable, "-m", "notes_app", "serve"],
            env=self.env,
            port=port,
            log_path=root / "notes.log",
            health_path="/login",
        )

    @property
    def url(self) -> str:
        return self.server.url


@dataclass
class Mailbox:
    """An SMTP server on 127.0.0.1 that keeps every message it receives."""

    port: int
    messages: list[dict[str, Any]] = field(default_factory=list)

    def to(self, address: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if address in m["rcpt_tos"]]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.content
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
        self.messages.append({"rcpt_tos": list(envelope.rcpt_tos), "content": text})
        return "250 OK"


@contextlib.contextmanager
def mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Session:
    id: str
    redirect_url: str
    staff: Persona
    subject: str


class Stack:
    """A running broker + notes app + mailbox, and what staff and browsers do with them."""

    def __init__(self, broker: Broker, notes: NotesApp, mail: Mailbox) -> None:
        self.broker = broker
        self.notes = notes
        self.mail = mail
        self._clients: list[httpx.Client] = []
        self._signed_in: dict[str, httpx.Client] = {}

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def reconnect(self) -> None:
        """New connections for the staff clients (after a broker restart); same sign-ins."""
        for email, old in list(self._signed_in.items()):
            client = httpx.Client(base_url=self.broker.url, timeout=10.0, headers=old.headers)
            self._clients.append(client)
            self._signed_in[email] = client
            old.close()

    def logs(self) -> str:
        return (
            f"--- broker log ---\n{self.broker.server.log_tail()}\n"
            f"--- notes app log ---\n{self.notes.server.log_tail()}"
        )

    # --- staff, through the broker's API -----------------------------------------------------

    def staff(self, persona: Persona) -> httpx.Client:
        """An API client signed in as ``persona`` (password + TOTP), reused within the test."""
        if persona.email in self._signed_in:
            return self._signed_in[persona.email]
        client = httpx.Client(base_url=self.broker.url, timeout=10.0)
        self._clients.append(client)
        response = client.post(
            "/v1/auth/login",
            json={
                "email": persona.email,
                "password": persona.password,
                "code": persona.authenticator.code(),
            },
        )
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['token']}"
        self._signed_in[persona.email] = client
        return client

    def start_session(
        self,
        persona: Persona,
        *,
        subject: str = "u-peter",
        scopes: tuple[str, ...] = ("read",),
        minutes: int = 15,
        kind: str = "impersonate",
    ) -> Session:
        """Case, request (allowed by policy for security on an unflagged account), start."""
        api = self.staff(persona)
        case = api.post(
            "/v1/cases",
            json={
                "application": "notes",
                "subject": subject,
                "ticket": f"E2E-{uuid.uuid4().hex[:6]}",
                "reason_code": "bug_reproduction",
                "reason": "Reproduce the export error",
            },
        )
        assert case.status_code == 201, case.text
        request = api.post(
            "/v1/access-requests",
            json={
                "case": case.json()["id"],
                "kind": kind,
                "scopes": list(scopes),
                "minutes": minutes,
            },
        )
        assert request.status_code == 201, request.text
        assert request.json()["state"] == "approved", request.json()
        start = api.post(
            f"/v1/access-requests/{request.json()['id']}/start",
            json={"code": persona.authenticator.code()},
        )
        assert start.status_code == 200, start.text
        body = start.json()
        return Session(
            id=body["session"]["id"],
            redirect_url=body["redirect_url"],
            staff=persona,
            subject=subject,
        )

    def audit(self, reader: Persona, **filters: Any) -> list[dict[str, Any]]:
        """Every audit event matching ``filters`` (read as security), oldest first."""
        api = self.staff(reader)
        events: list[dict[str, Any]] = []
        after = 0
        for _ in range(100):
            page = api.get(
                "/v1/audit/events", params={**filters, "after_seq": after, "limit": 1000}
            )
            assert page.status_code == 200, page.text
            body = page.json()
            events.extend(body["events"])
            if body["next_after_seq"] is None:
                return events
            after = body["next_after_seq"]
        raise AssertionError("the audit log did not end within 100 pages")

    # --- browsers ----------------------------------------------------------------------------

    def browser(self) -> httpx.Client:
        """A cookie-keeping client for the notes app (redirects are followed by hand)."""
        client = httpx.Client(base_url=self.notes.url, timeout=10.0, follow_redirects=False)
        self._clients.append(client)
        return client

    def sign_in(self, browser: httpx.Client, email: str) -> None:
        """The customer's own sign-in, with the app's own form."""
        response = browser.post(
            "/login", data={"email": email, "password": self.notes.passwords[email]}
        )
        assert response.status_code == 303, response.text
        assert "notes_session" in browser.cookies

    def handoff(self, browser: httpx.Client, session: Session) -> httpx.Response:
        """Follow the broker's redirect into the app: the SDK's handoff endpoint."""
        response = browser.get(session.redirect_url)
        assert response.status_code == 303, f"{response.status_code} {response.text}\n{self.logs()}"
        return response


def binary_available(name: str) -> str | None:
    return shutil.which(name)
