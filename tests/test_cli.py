"""The ``actas`` command, driven through click's CliRunner against real databases and key files.

Every run gets its own working directory and only the ``ACTAS_*`` variables the test sets, so
neither the developer's shell nor an ``actas.toml`` lying around can steer it.
"""

from __future__ import annotations

import gc
import inspect
import json
import os
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from actas.bootstrap import build
from actas.cli import main
from actas.domain.audit import Actor
from actas.domain.errors import AuthenticationFailed, Throttled
from actas.keys import keyring
from actas.security.totp import PyOtpTotp
from actas.services import applications as app_service
from actas.services import staff as staff_service
from actas.settings import load_settings
from tests.conftest import PgDatabases, require_postgres

KEEP = {"ACTAS_TEST_DATABASE_URL"}
PASSWORD = "hunter2-db-s3cret"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("ACTAS_") and name not in KEEP:
            monkeypatch.delenv(name)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


class Cli:
    """Runs ``actas`` with a fixed environment; stdout and stderr kept apart."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def runner(self, extra: dict[str, str] | None = None) -> CliRunner:
        env = {**self.env, **(extra or {})}
        if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:  # click < 8.2
            return CliRunner(env=env, mix_stderr=False)  # type: ignore[call-arg,unused-ignore]
        return CliRunner(env=env)  # click 8.2+: result.stderr is separate already

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return self.runner(env).invoke(main, list(args), catch_exceptions=True)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exc_info)
        assert result.stderr == ""
        return result


def assert_one_line_failure(result: Result, *needles: str) -> str:
    """Exit status 2, one line on stderr naming the problem, no traceback anywhere."""
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exc_info)
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("actas: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A fresh SQLite database file (not yet created) and key file in tmp_path."""
    return Cli(
        {
            "ACTAS_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'actas.db'}",
            "ACTAS_KEY_FILE": str(tmp_path / "data" / "keys.json"),
            "ACTAS_PUBLIC_URL": "https://broker.test",
        }
    )


@pytest.fixture
def ready(cli: Cli, tmp_path: Path) -> Cli:
    (tmp_path / "data").mkdir()
    cli.ok("init")
    return cli


def events(cli: Cli, n: int = 1000) -> list[dict[str, object]]:
    result = cli.ok("audit", "tail", "-n", str(n))
    return [json.loads(line) for line in result.stdout.splitlines()]


# --- init ------------------------------------------------------------------------------------


def test_init_creates_database_and_key_file_and_is_idempotent(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    first = cli.ok("init")
    key_file = data / "keys.json"
    assert f"key file created: {key_file}" in first.stdout
    assert "database ready" in first.stdout
    assert (data / "actas.db").exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    kid = keyring.load(key_file).keys[0].kid

    second = cli.ok("init")
    assert f"key file present: {key_file}" in second.stdout
    assert [k.kid for k in keyring.load(key_file).keys] == [kid]
    # The schema is there and nothing was logged by setting up.
    assert events(cli) == []
    assert cli.ok("staff", "list").stdout == ""


def test_init_on_each_backend(database_url: str, tmp_path: Path) -> None:
    """The fixture's database is migrated already: init must leave it as it is, twice."""
    key_file = tmp_path / "keys.json"
    cli = Cli({"ACTAS_DATABASE_URL": database_url, "ACTAS_KEY_FILE": str(key_file)})
    for expected in ("created", "present"):
        result = cli.ok("init")
        assert f"key file {expected}: {key_file}" in result.stdout
    shown = result.stdout.splitlines()[0]
    assert shown.startswith("database ready: ")
    if "@" in database_url:  # user (and password) are not printed
        assert database_url.split("@")[0] not in shown
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_commands_close_their_database_connections(
    pg_databases: PgDatabases | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_postgres()
    assert pg_databases is not None
    url = pg_databases.url_for(pg_databases.create(template=pg_databases.migrated_template()))
    cli = Cli({"ACTAS_DATABASE_URL": url, "ACTAS_KEY_FILE": str(tmp_path / "keys.json")})
    cli.ok("init")
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    cli.ok("staff", "list")
    gc.collect()
    assert unraisable == []


# --- settings and key problems: one line, exit 2 ---------------------------------------------


def test_bad_setting_is_one_line_and_exit_2(cli: Cli, tmp_path: Path) -> None:
    result = cli("init", env={"ACTAS_PORT": "abc"})
    line = assert_one_line_failure(result, "ACTAS_PORT", "'abc'")
    assert line == "actas: ACTAS_PORT='abc' is not an integer"
    assert not (tmp_path / "data").exists()  # nothing was created on the way


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ACTAS_PUBLIC_URL": "ftp://broker.test"}, "ACTAS_PUBLIC_URL"),
        ({"ACTAS_DATABASE_URL": "mysql://db.test/actas"}, "ACTAS_DATABASE_URL"),
        ({"ACTAS_SMTP_HOST": "mail.test"}, "ACTAS_SMTP_FROM"),
        ({"ACTAS_CONFIG": "/nonexistent/actas.toml"}, "ACTAS_CONFIG"),
    ],
)
def test_other_bad_settings_fail_the_same_way(cli: Cli, env: dict[str, str], needle: str) -> None:
    assert_one_line_failure(cli("staff", "list", env=env), needle)


def test_actas_toml_in_the_working_directory_is_read(cli: Cli) -> None:
    Path("actas.toml").write_text("[broker]\nprot = 1\n", encoding="utf-8")
    assert_one_line_failure(cli("init"), "[broker].prot")


def test_database_url_and_key_file_options_win_over_the_environment(
    ready: Cli, tmp_path: Path
) -> None:
    """`actas --database-url ... --key-file ...` reaches a broker's data from anywhere."""
    ready.ok("staff", "add", "a@x.test", "--role", "agent", "--generate-password")
    elsewhere = Cli({"ACTAS_DATABASE_URL": "sqlite:////nonexistent-dir/actas.db"})
    data = tmp_path / "data"
    options = (
        "--database-url",
        f"sqlite:///{data / 'actas.db'}",
        "--key-file",
        str(data / "keys.json"),
    )
    listed = elsewhere.ok(*options, "staff", "list").stdout
    assert listed.startswith("a@x.test\t")
    assert "1 event chained" in elsewhere.ok(*options, "audit", "verify").stdout
    # Without the options the command does not find the data: the options did it.
    assert_one_line_failure(elsewhere("staff", "list"), "does not exist")
    assert_one_line_failure(
        elsewhere("--key-file", str(tmp_path / "gone.json"), *options[:2], "staff", "list"),
        str(tmp_path / "gone.json"),
    )


def test_demo_actas_toml_lets_the_cli_find_the_data(ready: Cli, tmp_path: Path) -> None:
    """What `make run` writes at the repository root: the CLI run there needs no flag."""
    from scripts.demo import write_cli_settings

    data = tmp_path / "data"
    write_cli_settings(Path.cwd() / "actas.toml", data, "http://127.0.0.1:8400")
    bare = Cli({})
    assert "0 checkpoints verified" in bare.ok("audit", "verify").stdout


def test_key_file_others_can_read_is_one_line(ready: Cli, tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "keys.json"
    os.chmod(key_file, 0o644)
    assert_one_line_failure(ready("keys", "list"), str(key_file), "644")


def test_missing_key_file_is_one_line(cli: Cli, tmp_path: Path) -> None:
    assert_one_line_failure(cli("staff", "list"), str(tmp_path / "data" / "keys.json"))


@pytest.mark.parametrize(
    "url",
    ["sqlite:////nonexistent-dir/actas.db", f"postgresql://actas:{PASSWORD}@127.0.0.1:1/actas"],
    ids=["sqlite-no-dir", "postgres-refused"],
)
@pytest.mark.parametrize("command", [("init",), ("staff", "list")])
def test_unusable_database_is_one_line(
    cli: Cli, tmp_path: Path, url: str, command: tuple[str, ...]
) -> None:
    if command != ("init",):
        (tmp_path / "data").mkdir()
        cli.ok("init")  # the key file exists: the database is what fails
    result = cli(*command, env={"ACTAS_DATABASE_URL": url})
    line = assert_one_line_failure(result, "ACTAS_DATABASE_URL")
    assert PASSWORD not in result.stdout + result.stderr
    assert ("nonexistent-dir" if url.startswith("sqlite") else "127.0.0.1:1") in line


# --- staff -----------------------------------------------------------------------------------


def test_staff_add_prints_a_working_enrollment(ready: Cli) -> None:
    result = ready.ok("staff", "add", "A@X.test", "--role", "agent", "--generate-password")
    lines = result.stdout.splitlines()
    assert lines[0] == "added a@x.test (agent)"
    (password,) = [ln.split(": ", 1)[1] for ln in lines if ln.startswith("password: ")]
    assert len(password) >= 20
    (uri,) = [ln.strip() for ln in lines if "otpauth://" in ln]
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/actas:a@x.test"
    query = parse_qs(parts.query)
    assert query["issuer"] == ["actas"]
    secret = query["secret"][0]
    assert len(secret) >= 32

    # The printed password and authenticator secret really sign in.
    broker = build(load_settings(ready.env))
    try:
        now = datetime.now(UTC)
        signed = staff_service.login(
            broker.services,
            email="a@x.test",
            password=password,
            code=PyOtpTotp().code_at(secret, now),
            by=Actor(id=None),
        )
        assert signed.staff.email == "a@x.test"
    finally:
        broker.engine.dispose()
    listed = ready.ok("staff", "list").stdout.splitlines()
    assert len(listed) == 1
    assert listed[0].split("\t")[:3] == ["a@x.test", "agent", "active"]
    (added,) = [e for e in events(ready) if e["type"] == "staff.added"]
    assert str(added["actor"]).startswith("cli:")
    assert password not in json.dumps(added)


def test_staff_add_with_several_roles(ready: Cli) -> None:
    ready.ok("staff", "add", "b@x.test", "--role", "lead", "--role", "security",
             "--generate-password")  # fmt: skip
    assert ready.ok("staff", "list").stdout.split("\t")[1] == "lead,security"


def test_staff_add_with_an_unknown_role_exits_2(ready: Cli) -> None:
    result = ready("staff", "add", "a@x.test", "--role", "wizard", "--generate-password")
    line = assert_one_line_failure(result, "'wizard'")
    assert "agent" in line  # says what would have been accepted
    assert ready.ok("staff", "list").stdout == ""
    assert events(ready) == []


def test_staff_add_twice_is_a_conflict(ready: Cli) -> None:
    ready.ok("staff", "add", "a@x.test", "--role", "agent", "--generate-password")
    result = ready("staff", "add", "a@x.test", "--role", "lead", "--generate-password")
    assert_one_line_failure(result, "a@x.test", "already exists")
    assert len(ready.ok("staff", "list").stdout.splitlines()) == 1


def test_staff_disable(ready: Cli) -> None:
    ready.ok("staff", "add", "a@x.test", "--role", "agent", "--generate-password")
    result = ready.ok("staff", "disable", "a@x.test")
    assert result.stdout == "disabled a@x.test; 0 session(s) ended\n"
    assert ready.ok("staff", "list").stdout.split("\t")[2] == "disabled"
    assert events(ready, 1)[0]["type"] == "staff.disabled"
    # Unknown staff: one line, nothing logged.
    before = len(events(ready))
    assert_one_line_failure(ready("staff", "disable", "nobody@x.test"), "nobody@x.test")
    assert len(events(ready)) == before


def test_the_last_admin_is_not_disabled_from_the_cli_either(ready: Cli) -> None:
    ready.ok("staff", "add", "root@x.test", "--role", "admin", "--generate-password")
    before = len(events(ready))
    result = ready("staff", "disable", "root@x.test")
    assert_one_line_failure(result, "root@x.test is the last active admin")
    result = ready("staff", "roles", "root@x.test", "--role", "agent")
    assert_one_line_failure(result, "root@x.test is the last active admin")
    assert len(events(ready)) == before
    ready.ok("staff", "add", "two@x.test", "--role", "admin", "--generate-password")
    ready.ok("staff", "disable", "root@x.test")


def test_staff_unthrottle(ready: Cli) -> None:
    ready.ok("staff", "add", "a@x.test", "--role", "agent", "--generate-password")
    assert ready.ok("staff", "unthrottle", "a@x.test").stdout == "a@x.test: 0 wait(s) cleared\n"
    broker = build(load_settings(ready.env))
    attacker = Actor(id=None, ip="203.0.113.9")
    wrong = {"email": "a@x.test", "password": "wrong-password-1234", "code": "000000"}
    try:
        for _ in range(broker.settings.sign_in_free_failures + 1):
            with pytest.raises(AuthenticationFailed):
                staff_service.login(broker.services, **wrong, by=attacker)
        with pytest.raises(Throttled):
            staff_service.login(broker.services, **wrong, by=attacker)
    finally:
        broker.engine.dispose()
    result = ready.ok("staff", "unthrottle", "a@x.test")
    assert result.stdout == "a@x.test: 1 wait(s) cleared\n"
    (event,) = [e for e in events(ready) if e["type"] == "staff.unthrottled"]
    assert str(event["actor"]).startswith("cli:")
    result = ready.ok("staff", "unthrottle", "--address", "203.0.113.9")
    assert result.stdout == "203.0.113.9: 1 wait(s) cleared\n"
    assert_one_line_failure(ready("staff", "unthrottle"), "EMAIL", "--address")
    assert_one_line_failure(ready("staff", "unthrottle", "nobody@x.test"), "nobody@x.test")


def test_init_makes_a_private_database_and_a_readable_one_is_refused(
    cli: Cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    old = os.umask(0o022)
    try:
        cli.ok("init")
    finally:
        os.umask(old)
    db = data / "actas.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    db.chmod(0o644)
    result = cli("staff", "list")
    assert_one_line_failure(result, str(db), "readable by others", "chmod 600")


# --- applications ----------------------------------------------------------------------------


def test_app_add_prints_the_credential_once(ready: Cli, tmp_path: Path) -> None:
    result = ready.ok("app", "add", "Notes", "--handoff-url", "https://notes.test/h")
    assert result.stdout.startswith("application notes registered\n")
    assert result.stdout.count("actas_ak_") == 1
    credential = result.stdout.split("actas_ak_", 1)[1].split()[0]
    credential = "actas_ak_" + credential
    assert len(credential) > 40

    broker = build(load_settings(ready.env))
    try:
        app = app_service.authenticate_application(broker.services, credential)
        assert (app.id, app.name, app.handoff_url) == ("notes", "Notes", "https://notes.test/h")
    finally:
        broker.engine.dispose()
    # Stored only as a hash: not in the database files, not in the log, not in the listing.
    for file in (tmp_path / "data").glob("actas.db*"):
        assert credential.encode() not in file.read_bytes()
    assert credential not in json.dumps(events(ready))
    listing = ready.ok("app", "list").stdout
    assert listing == "notes\tNotes\thttps://notes.test/h\tnotes.test\n"


def test_app_add_refuses_a_bad_handoff_url(ready: Cli) -> None:
    result = ready("app", "add", "Notes", "--handoff-url", "http://notes.test/h")
    assert_one_line_failure(result, "https")
    assert ready.ok("app", "list").stdout == ""


# --- keys ------------------------------------------------------------------------------------


def test_keys_rotate_then_list(ready: Cli, tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "keys.json"
    old_kid = keyring.load(key_file).keys[0].kid
    rotated = ready.ok("keys", "rotate")
    new_kid = rotated.stdout.split()[2]
    assert rotated.stdout.startswith(f"new key {new_kid} signs from ")
    assert new_kid != old_kid

    listed = [line.split("\t") for line in ready.ok("keys", "list").stdout.splitlines()]
    assert {(kid, state) for kid, state, _ in listed} == {
        (old_kid, "signing"),
        (new_kid, "pending"),
    }
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    (event,) = [e for e in events(ready) if e["type"] == "keys.rotated"]
    assert event["data"]["kid"] == new_kid  # type: ignore[index]

    with_grace_0 = ready.ok("keys", "rotate", "--grace-minutes", "0")
    newest = with_grace_0.stdout.split()[2]
    states = dict(line.split("\t")[:2] for line in ready.ok("keys", "list").stdout.splitlines())
    assert states[newest] == "signing"
    assert len(states) == 3


def test_keys_rotate_refuses_a_negative_grace(ready: Cli) -> None:
    result = ready("keys", "rotate", "--grace-minutes", "-1")
    assert result.exit_code == 2
    assert "--grace-minutes" in result.stderr


# --- audit -----------------------------------------------------------------------------------


def test_audit_tail_verify_and_checkpoint(ready: Cli) -> None:
    ready.ok("staff", "add", "a@x.test", "--role", "agent", "--generate-password")
    ready.ok("app", "add", "Notes", "--handoff-url", "https://notes.test/h")
    ready.ok("staff", "disable", "a@x.test")

    tail = ready.ok("audit", "tail", "-n", "2").stdout.splitlines()
    assert len(tail) == 2
    last_two = [json.loads(line) for line in tail]
    assert [e["type"] for e in last_two] == ["application.added", "staff.disabled"]
    assert [e["seq"] for e in last_two] == [2, 3]
    assert last_two[1]["prev_hash"] == last_two[0]["hash"]
    assert [e["type"] for e in events(ready)] == [
        "staff.added",
        "application.added",
        "staff.disabled",
    ]
    only_apps = ready.ok("audit", "tail", "--type", "application.added").stdout.splitlines()
    assert [json.loads(line)["seq"] for line in only_apps] == [2]

    verified = ready.ok("audit", "verify")
    assert "OK" in verified.stdout
    assert "3" in verified.stdout

    assert ready.ok("audit", "checkpoint").stdout == "checkpoint at seq 3\n"
    assert ready.ok("audit", "checkpoint").stdout == "nothing new to sign\n"
    assert ready.ok("audit", "verify").stdout == (
        "audit log OK: 3 events chained, 1 checkpoint verified\n"
    )


def test_audit_checkpoint_on_an_empty_log(ready: Cli) -> None:
    assert ready.ok("audit", "checkpoint").stdout == "nothing new to sign\n"
    assert ready.ok("audit", "tail").stdout == ""


def test_audit_verify_fails_on_an_edited_event(ready: Cli, tmp_path: Path) -> None:
    ready.ok("staff", "add", "a@x.test", "--role", "agent", "--generate-password")
    ready.ok("staff", "disable", "a@x.test")
    broker = build(load_settings(ready.env))
    try:
        with broker.engine.begin() as conn:
            # The append-only triggers stand in the way of an honest edit; an attacker with
            # the database file drops them first.
            triggers = conn.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
                {"t": "audit_events"},
            ).scalars()
            for name in list(triggers):
                conn.execute(text(f'DROP TRIGGER "{name}"'))
            conn.execute(
                text("UPDATE audit_events SET canonical = replace(canonical, 'agent', 'admin')")
            )
    finally:
        broker.engine.dispose()
    result = ready("audit", "verify")
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "FAILED" in result.stdout
    assert "seq 1" in result.stdout


def test_audit_tail_limit_is_checked(ready: Cli) -> None:
    result = ready("audit", "tail", "-n", "0")
    assert result.exit_code == 2
    assert "0" in result.stderr


def test_version(cli: Cli) -> None:
    from actas import __version__

    result = cli.ok("--version")
    assert __version__ in result.stdout


# --- account flags ---------------------------------------------------------------------------


def test_account_flags_are_set_by_the_operator_and_audited(ready: Cli) -> None:
    from actas.domain.audit import Actor

    ready.ok("app", "add", "Notes", "--handoff-url", "https://notes.test/h")
    broker = build(load_settings(ready.env))
    try:
        (notes,) = app_service.list_applications(broker.services)
        app_service.upsert_account(
            broker.services,
            app=notes,
            account_id="acme",
            name="Acme",
            flags=frozenset(),
            handoff_url=None,
            by=Actor(id="test"),
        )
    finally:
        broker.engine.dispose()
    result = ready.ok("account", "flags", "--app", "notes", "acme", "--flag", "no_access")
    assert result.stdout == "notes/acme: flags no_access\n"
    (event,) = [e for e in events(ready) if e["type"] == "account.flags_set"]
    assert str(event["actor"]).startswith("cli:")
    assert event["data"] == {
        "application": "notes",
        "flags": ["no_access"],
        "flags_before": [],
        "sessions_ended": 0,
    }
    assert_one_line_failure(
        ready("account", "flags", "--app", "notes", "nobody", "--flag", "flagged"), "no account"
    )
    bad = ready("account", "flags", "--app", "notes", "acme", "--flag", "closed")
    assert bad.exit_code == 2


def test_handoff_hosts_are_set_by_the_admin_from_the_cli(ready: Cli) -> None:
    """Finding 9: the allow-list is the CLI's (a broker admin's), never the credential's."""
    added = ready.ok(
        "app", "add", "Notes", "--handoff-url", "https://notes.test/h",
        "--handoff-host", "Acme.Notes.test", "--handoff-host", "127.0.0.1:8500",
    )  # fmt: skip
    assert "handoff hosts: 127.0.0.1:8500 acme.notes.test notes.test\n" in added.stdout
    changed = ready.ok(
        "app", "handoff-hosts", "notes", "--add", "b.test", "--remove", "127.0.0.1:8500"
    )
    assert changed.stdout == "acme.notes.test b.test notes.test\n"
    assert ready.ok("app", "handoff-hosts", "notes").stdout == changed.stdout
    own = ready("app", "handoff-hosts", "notes", "--remove", "notes.test")
    assert_one_line_failure(own, "own handoff host")
    for bad in ("evil.test/path", "a b.test", "evil.test\r\nX: y", "host:99999", "ünï.test"):
        assert_one_line_failure(ready("app", "handoff-hosts", "notes", "--add", bad), "host")
    kinds = [e["type"] for e in events(ready)]
    assert kinds.count("application.handoff_hosts_changed") == 1


def test_app_add_refuses_control_characters_in_the_url(ready: Cli) -> None:
    for url in ("https://notes.test/h\r\nX: y", "https://notes.test/\th", "https://nötes.test/h"):
        result = ready("app", "add", "Notes", "--handoff-url", url)
        assert_one_line_failure(result, "printable ASCII")
    assert ready.ok("app", "list").stdout == ""
