#!/usr/bin/env python3
"""The demo behind ``make run``: the actas broker and the notes app, set up and started together.

    python scripts/demo.py setup   # idempotent: broker database, staff, the notes app, its users
    python scripts/demo.py run     # setup, then both servers in the foreground; Ctrl-C stops both
    python scripts/demo.py code [EMAIL]  # what a demo staff member's authenticator shows now

Everything lives in ``.actas/`` (``ACTAS_DEMO_DIR``): the broker's SQLite file and key file, the
demo staff's sign-ins (``demo-staff.json``, mode 0600), the notes app's credential
(``notes.env``, mode 0600) and the notes app's own database. ``make clean`` starts over.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: (email, display name, roles): the one who asks for access, and a second person to approve.
STAFF = (
    ("admin@example.test", "Avery Admin", ("admin", "lead", "security")),
    ("lead@example.test", "Lee Lead", ("lead",)),
)


@dataclass(frozen=True)
class Paths:
    """Where the demo keeps its state, and where its two servers listen (127.0.0.1)."""

    data: Path
    broker_port: int = 8400
    notes_port: int = 8500

    @property
    def broker_url(self) -> str:
        return f"http://127.0.0.1:{self.broker_port}"

    @property
    def notes_url(self) -> str:
        return f"http://127.0.0.1:{self.notes_port}"

    @property
    def staff(self) -> Path:
        return self.data / "demo-staff.json"

    @property
    def mail(self) -> Path:
        """The maildir the broker writes customer email to (no SMTP server in the demo)."""
        return self.data / "mail"

    @property
    def notes_env(self) -> Path:
        return self.data / "notes.env"

    @property
    def notes_db(self) -> Path:
        return self.data / "notes.db"


def _bin(name: str) -> str:
    """A console script of this virtualenv (the one running this file), else from PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        sys.exit(f"demo: {name!r} is not installed; run `make install` first")
    return found


def _broker_env(paths: Paths) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("ACTAS_DATABASE_URL", f"sqlite:///{paths.data / 'actas.db'}")
    env.setdefault("ACTAS_KEY_FILE", str(paths.data / "keys.json"))
    env.setdefault("ACTAS_PUBLIC_URL", paths.broker_url)
    env.setdefault("ACTAS_MAIL_DIR", str(paths.mail))
    return env


def _actas(paths: Paths, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [_bin("actas"), *args],
        env=_broker_env(paths),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"demo: actas {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout


def _write_private(path: Path, text: str) -> None:
    """Create or replace ``path`` readable by its owner only (it holds secrets)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    path.chmod(0o600)


def _add_staff(paths: Paths) -> list[dict[str, str]]:
    existing = {line.split("\t", 1)[0] for line in _actas(paths, "staff", "list").splitlines()}
    known: list[dict[str, str]] = (
        json.loads(paths.staff.read_text()) if paths.staff.exists() else []
    )
    for email, name, roles in STAFF:
        if email in existing:
            continue
        role_args = [arg for role in roles for arg in ("--role", role)]
        out = _actas(
            paths, "staff", "add", email, "--name", name, *role_args, "--generate-password"
        )
        password = re.search(r"^password: (\S+)$", out, re.MULTILINE)
        uri = re.search(r"(otpauth://\S+)", out)
        if password is None or uri is None:
            sys.exit(f"demo: could not read the enrollment of {email} from `actas staff add`")
        secret = re.search(r"[?&]secret=([A-Z2-7]+)", uri.group(1))
        known = [s for s in known if s["email"] != email]
        known.append(
            {
                "email": email,
                "name": name,
                "roles": ",".join(roles),
                "password": password.group(1),
                "otpauth_uri": uri.group(1),
                "totp_secret": secret.group(1) if secret else "",
            }
        )
        _write_private(paths.staff, json.dumps(known, indent=2) + "\n")
    return known


def _register_notes(paths: Paths) -> None:
    registered = any(
        line.split("\t", 1)[0] == "notes" for line in _actas(paths, "app", "list").splitlines()
    )
    if registered:
        if not paths.notes_env.exists():
            sys.exit(
                f"demo: the notes app is registered but {paths.notes_env} is gone, and the "
                "credential is shown only once: run `make clean` to start the demo over"
            )
        return
    handoff = f"{paths.notes_url}/actas/handoff"
    out = _actas(paths, "app", "add", "notes", "--id", "notes", "--handoff-url", handoff)
    found = re.search(r"credential[^:]*: (\S+)", out)
    if found is None:
        sys.exit("demo: could not read the credential from `actas app add`")
    _write_private(
        paths.notes_env,
        "\n".join(
            [
                "# The notes app's settings for the demo (the credential is a secret).",
                f"NOTES_ACTAS_URL={paths.broker_url}",
                "NOTES_ACTAS_APP_ID=notes",
                f"NOTES_ACTAS_CREDENTIAL={found.group(1)}",
                f"NOTES_PUBLIC_URL={paths.notes_url}",
                f"NOTES_PORT={paths.notes_port}",
                f"NOTES_DATABASE={paths.notes_db}",
                f"NOTES_ACTAS_SPOOL={paths.data / 'notes-spool'}",
                "",
            ]
        ),
    )


def _notes_env(paths: Paths) -> dict[str, str]:
    env = dict(os.environ)
    for line in paths.notes_env.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
    examples = str(ROOT / "examples")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [examples, env.get("PYTHONPATH")]))
    return env


def _seed_notes(paths: Paths) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "notes_app", "seed"],
        env=_notes_env(paths),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"demo: seeding the notes app failed: {done.stderr.strip()}")
    return done.stdout


#: The first line of an actas.toml this script wrote: only such a file is ever replaced.
_TOML_MARK = "# Written by scripts/demo.py"


def write_cli_settings(target: Path, data: Path, public_url: str) -> bool:
    """Write ``target`` (an actas.toml) naming the demo's database and key file, so that
    ``actas`` run in its directory finds them without flags. A file someone else wrote is
    left alone (returns False)."""
    if target.exists() and not target.read_text(encoding="utf-8").startswith(_TOML_MARK):
        return False
    target.write_text(
        "\n".join(
            [
                f"{_TOML_MARK} for `make run`: where the demo broker keeps its data, so that",
                "# `.venv/bin/actas ...` run here finds it; `make clean` removes this file.",
                "[broker]",
                f"database_url = {json.dumps('sqlite:///' + str(data / 'actas.db'))}",
                f"key_file = {json.dumps(str(data / 'keys.json'))}",
                f"public_url = {json.dumps(public_url)}",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return True


def _cli_settings(paths: Paths) -> Path:
    """The demo's actas.toml: at the repository root for the default data directory (where
    the CLI is run from), otherwise inside the data directory (use it with ACTAS_CONFIG)."""
    root_toml = ROOT / "actas.toml"
    if paths.data == ROOT / ".actas" and write_cli_settings(
        root_toml, paths.data, paths.broker_url
    ):
        return root_toml
    inside = paths.data / "actas.toml"
    write_cli_settings(inside, paths.data, paths.broker_url)
    return inside


def setup(paths: Paths) -> tuple[list[dict[str, str]], str]:
    paths.data.mkdir(parents=True, exist_ok=True)
    _cli_settings(paths)
    _actas(paths, "init")
    staff = _add_staff(paths)
    _register_notes(paths)
    return staff, _seed_notes(paths)


def banner(paths: Paths, staff: list[dict[str, str]], users: str, *, console: bool = False) -> str:
    """What ``make run`` prints: the fastest path to the banner first (an unflagged customer,
    no second person), then the approval path, then everything else."""
    first = staff[0] if staff else {"email": "admin@example.test", "password": "?"}
    code_cmd = f"{_python()} scripts/demo.py code {first['email']}{_data_flag(paths)}"
    lines = [
        "",
        f"  actas broker   {paths.broker_url}        API docs {paths.broker_url}/docs",
        *([f"  staff console  {paths.broker_url}/console/"] if console else []),
        f"  notes app      {paths.notes_url}",
        "",
        "  the fastest path to the banner (about two minutes, no approval needed):",
        f"    1. open {paths.broker_url}/console/ and sign in as {first['email']}",
        f"       password {first['password']}; the code: {code_cmd}",
        "    2. find 'peter' (Peter Gibbons, Initech: no flag), open him, open a case",
        "    3. Ask for access (impersonate, read, 15 minutes): allowed at once",
        "    4. Start with a fresh code: the notes app opens as Peter under the banner",
        "",
        "  then the approval path: Jane Doe (Acme Corp) is flagged, so her requests wait for a",
        f"  second person; approve them as {staff[1]['email'] if len(staff) > 1 else 'a lead'}"
        " in another browser profile",
        "  (or run the tour, which does it through the API and prints the handoff link:",
        f"    {_python()} scripts/tour.py{_tour_flags(paths)}   see docs/tour.md)",
        "",
        f"  staff (broker; also in {paths.staff}):",
    ]
    for member in staff:
        lines += [
            f"    {member['email']:<22} password {member['password']}   roles {member['roles']}",
            f"      authenticator: {member['otpauth_uri']}",
        ]
    lines += ["", "  customers (notes app sign-in):"]
    for row in users.splitlines():
        email, password, who = row.split("\t")
        lines.append(f"    {email:<22} password {password:<18} {who}")
    lines += [
        "",
        "  customer email (links, codes, session notices, close-outs) is not sent in the demo:",
        f"    it is written to the maildir {paths.mail}/new/ (one file per message;",
        "    open one in a mail client, or read it: each has a text and an HTML part)",
        "",
        f"  the CLI reads {_shown_path(_toml_of(paths))}: `.venv/bin/actas audit verify`"
        + (
            ""
            if _toml_of(paths) == ROOT / "actas.toml"
            else f" with ACTAS_CONFIG={_toml_of(paths)}"
        ),
        "",
        "  Ctrl-C stops both servers.",
        "",
    ]
    return "\n".join(lines)


def _toml_of(paths: Paths) -> Path:
    root_toml = ROOT / "actas.toml"
    ours = root_toml.exists() and root_toml.read_text(encoding="utf-8").startswith(_TOML_MARK)
    if paths.data == ROOT / ".actas" and ours:
        return root_toml
    return paths.data / "actas.toml"


def _shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _data_flag(paths: Paths) -> str:
    return "" if paths.data == ROOT / ".actas" else f" --data {paths.data}"


def _tour_flags(paths: Paths) -> str:
    flags = ""
    if paths.broker_port != Paths.broker_port:
        flags += f" --broker {paths.broker_url}"
    if paths.data != ROOT / ".actas":
        flags += f" --staff-file {paths.staff}"
    return flags


def _has_console(paths: Paths) -> bool:
    import httpx

    try:
        return httpx.get(f"{paths.broker_url}/console/login", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def code(paths: Paths, email: str) -> int:
    """Print what the staff member's authenticator app shows now."""
    import pyotp

    try:
        staff = json.loads(paths.staff.read_text())
    except FileNotFoundError:
        sys.exit(f"demo: {paths.staff} is missing: run `make run` first")
    member = next((m for m in staff if m["email"] == email), None)
    if member is None:
        known = ", ".join(m["email"] for m in staff)
        sys.exit(f"demo: {email} is not a demo staff member ({known})")
    left = 30 - int(time.time()) % 30
    now = pyotp.TOTP(member["totp_secret"]).now()
    print(f"{now}   (a new one in {left} s; each code works once)")
    return 0


def _python() -> str:
    """How to call this interpreter from the repository root, as short as it gets."""
    try:
        return str(Path(sys.executable).relative_to(ROOT))
    except ValueError:
        return sys.executable


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], seconds: float = 30.0) -> bool:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def run(paths: Paths) -> int:
    staff, users = setup(paths)
    broker = subprocess.Popen(  # noqa: S603 - our own CLI
        [_bin("actas"), "serve", "--host", "127.0.0.1", "--port", str(paths.broker_port)],
        env=_broker_env(paths),
    )
    procs = [broker]
    try:
        if not _wait_until_up(f"{paths.broker_url}/healthz", broker):
            print("demo: the broker did not start", file=sys.stderr)
            return 1
        notes = subprocess.Popen(
            [sys.executable, "-m", "notes_app", "serve"], env=_notes_env(paths)
        )
        procs.append(notes)
        if not _wait_until_up(f"{paths.notes_url}/login", notes):
            print("demo: the notes app did not start", file=sys.stderr)
            return 1
        print(banner(paths, staff, users, console=_has_console(paths)), flush=True)
        # Both children share our process group, so Ctrl-C reaches them directly. If either
        # stops on its own, stop the other too.
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(procs)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Let each child finish its own shutdown (it got Ctrl-C too); then ask; then insist."""
    for signum, grace in ((None, 5.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        running = [p for p in procs if p.poll() is None]
        if not running:
            return
        for proc in running:
            if signum is not None:
                proc.send_signal(signum)
        deadline = time.monotonic() + grace
        for proc in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["setup", "run", "code"])
    parser.add_argument("email", nargs="?", default="admin@example.test", help="for code")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("ACTAS_DEMO_DIR", ROOT / ".actas")),
        help="where the demo keeps its state (default .actas/)",
    )
    parser.add_argument("--broker-port", type=int, default=8400)
    parser.add_argument("--notes-port", type=int, default=8500)
    args = parser.parse_args(argv)
    paths = Paths(args.data.resolve(), args.broker_port, args.notes_port)
    if args.command == "code":
        return code(paths, args.email)
    if args.command == "setup":
        staff, users = setup(paths)
        print(banner(paths, staff, users))
        return 0
    return run(paths)


if __name__ == "__main__":
    sys.exit(main())
