"""The ``actas`` command: set up, serve, manage staff, applications, keys and the audit log."""

from __future__ import annotations

import getpass
import json
import secrets
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from actas.bootstrap import Broker, build, initialise
from actas.domain.audit import Actor, AuditEvent, AuditQuery
from actas.domain.errors import ActasError
from actas.domain.roles import parse_role
from actas.keys import keyring
from actas.keys.keyring import KeyFileError
from actas.settings import Settings, SettingsError, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str) -> None:
    click.echo(f"actas: {message}", err=True)
    sys.exit(2)


def friendly(func: F) -> F:
    """Known errors end the command with one clear line, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (SettingsError, KeyFileError, ActasError) as exc:
            _fail(str(exc))
        except SQLAlchemyError as exc:
            _fail(_database_problem(exc))
        return None

    return wrapper  # type: ignore[return-value]


def _database_problem(exc: SQLAlchemyError) -> str:
    """One line naming the setting; the URL's password never shows."""
    try:
        url = make_url(load_settings().database_url).render_as_string(hide_password=True)
    except (SettingsError, ValueError):
        url = "(unparsable)"
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
    return f"ACTAS_DATABASE_URL={url!r} cannot be used: {reason}"


def _settings() -> Settings:
    return load_settings()


def _broker() -> Broker:
    """The broker for one command; its connections close when the command ends."""
    broker = build(_settings())
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(broker.engine.dispose)
    return broker


def _cli_actor() -> Actor:
    return Actor(id=f"cli:{getpass.getuser()}")


def _print_enrollment(uri: str) -> None:
    import segno

    click.echo("Add this to the authenticator app (scan or paste):")
    click.echo(f"  {uri}")
    if sys.stdout.isatty():
        segno.make(uri, error="m").terminal(compact=True)


@click.group()
@click.version_option(package_name="actas")
def main() -> None:
    """actas: consented, time-boxed, audited support access."""


@main.command()
@friendly
def init() -> None:
    """Create or migrate the database and the key file (safe to run twice)."""
    settings = _settings()
    created = initialise(settings)
    click.echo(f"database ready: {settings.database_url.split('@')[-1]}")
    click.echo(f"key file {'created' if created else 'present'}: {settings.key_file}")


@main.command()
@click.option("--host", default=None, help="Listen address (default ACTAS_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Listen port (default ACTAS_PORT or 8400).")
@friendly
def serve(host: str | None, port: int | None) -> None:
    """Start the broker."""
    import uvicorn

    from actas.api.app import create_app

    settings = _settings()
    broker = build(settings)
    app = create_app(broker, checkpoint_interval=60.0, sweep_interval=5.0, deliver_outbox=True)
    bind_host = host or settings.host
    bind_port = port or settings.port
    click.echo(f"actas broker on http://{bind_host}:{bind_port} (public URL {settings.public_url})")
    uvicorn.run(app, host=bind_host, port=bind_port, log_level="info", proxy_headers=False)


# --- staff -----------------------------------------------------------------------------------


@main.group()
def staff() -> None:
    """Staff accounts."""


@staff.command("add")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True, help="agent, lead, engineer, ...")
@click.option("--name", default="", help="Display name.")
@click.option(
    "--password",
    envvar="ACTAS_STAFF_PASSWORD",
    default=None,
    help="Initial password (prompted for when absent; or --generate-password).",
)
@click.option("--generate-password", is_flag=True, help="Generate and print a password.")
@friendly
def staff_add(
    email: str, roles: tuple[str, ...], name: str, password: str | None, generate_password: bool
) -> None:
    """Add a staff member and print their authenticator enrollment."""
    from actas.services import staff as staff_service

    parsed = frozenset(parse_role(r) for r in roles)
    if generate_password:
        password = secrets.token_urlsafe(18)
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    assert password is not None
    broker = _broker()
    enrollment = staff_service.add_staff(
        broker.services,
        email=email,
        display_name=name,
        roles=parsed,
        password=password,
        by=_cli_actor(),
    )
    click.echo(f"added {enrollment.staff.email} ({', '.join(sorted(parsed))})")
    if generate_password:
        click.echo(f"password: {password}")
    _print_enrollment(enrollment.otpauth_uri)


@staff.command("disable")
@click.argument("email")
@friendly
def staff_disable(email: str) -> None:
    """Disable a staff member and end every session of theirs at once."""
    from actas.services import staff as staff_service

    ended = staff_service.disable_staff(_broker().services, email=email, by=_cli_actor())
    click.echo(f"disabled {email}; {ended} session(s) ended")


@staff.command("enable")
@click.argument("email")
@friendly
def staff_enable(email: str) -> None:
    """Enable a disabled staff member."""
    from actas.services import staff as staff_service

    staff_service.enable_staff(_broker().services, email=email, by=_cli_actor())
    click.echo(f"enabled {email}")


@staff.command("roles")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True)
@friendly
def staff_roles(email: str, roles: tuple[str, ...]) -> None:
    """Replace a staff member's roles."""
    from actas.services import staff as staff_service

    parsed = frozenset(parse_role(r) for r in roles)
    staff_service.set_roles(_broker().services, email=email, roles=parsed, by=_cli_actor())
    click.echo(f"{email}: {', '.join(sorted(parsed))}")


@staff.command("reset-totp")
@click.argument("email")
@friendly
def staff_reset_totp(email: str) -> None:
    """Issue a new authenticator secret (ends the member's sessions)."""
    from actas.services import staff as staff_service

    uri = staff_service.reset_totp(_broker().services, email=email, by=_cli_actor())
    _print_enrollment(uri)


@staff.command("unthrottle")
@click.argument("email", required=False)
@click.option("--address", default=None, help="Clear the wait of one client address instead.")
@friendly
def staff_unthrottle(email: str | None, address: str | None) -> None:
    """Clear the sign-in wait of a staff member (or of a client address) at once."""
    from actas.services import throttle as throttle_service

    if (email is None) == (address is None):
        _fail("name a staff EMAIL or an --address, not both")
    services = _broker().services
    if address is not None:
        cleared = int(
            throttle_service.unthrottle_address(services, address=address, by=_cli_actor())
        )
        click.echo(f"{address}: {cleared} wait(s) cleared")
        return
    assert email is not None
    cleared = throttle_service.unthrottle(services, email=email, by=_cli_actor())
    click.echo(f"{email}: {cleared} wait(s) cleared")


@staff.command("list")
@friendly
def staff_list() -> None:
    """List staff members."""
    from actas.services import staff as staff_service

    for member in staff_service.list_staff(_broker().services):
        state = "disabled" if not member.active else "active"
        click.echo(f"{member.email}\t{','.join(sorted(member.roles))}\t{state}\t{member.id}")


@staff.command("assign")
@click.argument("email")
@click.option("--app", "app_id", required=True)
@click.option("--account", "account_id", required=True)
@click.option("--remove", is_flag=True, help="Remove the assignment instead.")
@friendly
def staff_assign(email: str, app_id: str, account_id: str, remove: bool) -> None:
    """Assign a staff member to an account (for roles limited to their assignments)."""
    from actas.services import staff as staff_service

    changed = staff_service.assign(
        _broker().services,
        email=email,
        application_id=app_id,
        account_id=account_id,
        remove=remove,
        by=_cli_actor(),
    )
    verb = "unassigned from" if remove else "assigned to"
    click.echo(f"{email} {verb} {app_id}/{account_id}" + ("" if changed else " (no change)"))


@staff.command("slack")
@click.argument("email")
@click.argument("slack_user_id")
@friendly
def staff_slack(email: str, slack_user_id: str) -> None:
    """Link a staff member to their Slack user id, for approvals from Slack."""
    from actas.services import staff as staff_service

    staff_service.link_slack(
        _broker().services, email=email, slack_user_id=slack_user_id, by=_cli_actor()
    )
    click.echo(f"{email} is Slack user {slack_user_id}")


# --- policy ----------------------------------------------------------------------------------


@main.group()
def policy() -> None:
    """The access policy."""


@policy.command("check")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def policy_check(path: Path) -> None:
    """Validate a policy file; on a mistake, name its line and exit 1."""
    from actas.domain.policy import describe
    from actas.policy_file import PolicyError, load_policy

    try:
        loaded = load_policy(path)
    except PolicyError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"{path}: valid")
    for line in describe(loaded):
        click.echo(f"  {line}")


@policy.command("explain")
@click.option("--staff", "staff_email", required=True, help="Staff email.")
@click.option("--subject", "subject_id", required=True)
@click.option("--app", "app_id", default=None, help="Application (default: the only one).")
@click.option("--kind", type=click.Choice(["assist", "impersonate"]), required=True)
@click.option("--minutes", type=click.IntRange(1, 1440), required=True)
@click.option("--scope", "scopes", multiple=True, help="read, write, admin:<action>")
@click.option("--reason-code", default=None)
@click.option("--break-glass", is_flag=True)
@friendly
def policy_explain(
    staff_email: str,
    subject_id: str,
    app_id: str | None,
    kind: str,
    minutes: int,
    scopes: tuple[str, ...],
    reason_code: str | None,
    break_glass: bool,
) -> None:
    """Print the decision a request would get now, and why."""
    from actas.services import access as access_service
    from actas.services import applications as app_service

    broker = _broker()
    if app_id is None:
        apps = app_service.list_applications(broker.services)
        if len(apps) != 1:
            _fail("name the application with --app (there is not exactly one)")
        app_id = apps[0].id
    decision = access_service.explain(
        broker.services,
        staff_email=staff_email,
        application_id=app_id,
        subject_id=subject_id,
        kind=kind,
        scopes=frozenset(scopes),
        minutes=minutes,
        reason_code=reason_code,
        break_glass=break_glass,
    )
    click.echo(f"decision: {decision.outcome.value}")
    for reason in decision.reasons:
        click.echo(f"  - {reason}")
    sys.exit(0 if decision.outcome.value != "deny" else 1)


# --- applications ----------------------------------------------------------------------------


@main.group()
def app() -> None:
    """Applications that trust this broker."""


@app.command("add")
@click.argument("name")
@click.option("--handoff-url", required=True, help="Where the SDK's handoff endpoint lives.")
@click.option("--id", "app_id", default=None, help="Token audience (default: NAME, lowercased).")
@friendly
def app_add(name: str, handoff_url: str, app_id: str | None) -> None:
    """Register an application and print its credential once."""
    from actas.services import applications as app_service

    registered = app_service.add_application(
        _broker().services,
        app_id=app_id or name.strip().lower().replace(" ", "-"),
        name=name,
        handoff_url=handoff_url,
        by=_cli_actor(),
    )
    click.echo(f"application {registered.application.id} registered")
    click.echo(f"credential (shown once, store it in the app's secrets): {registered.credential}")


@app.command("list")
@friendly
def app_list() -> None:
    """List applications."""
    from actas.services import applications as app_service

    for item in app_service.list_applications(_broker().services):
        click.echo(f"{item.id}\t{item.name}\t{item.handoff_url}")


# --- keys ------------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Signing keys."""


@keys.command("rotate")
@click.option("--grace-minutes", type=click.IntRange(0, 1440), default=10, show_default=True)
@friendly
def keys_rotate(grace_minutes: int) -> None:
    """Add a key that starts signing after the grace period; retire keys no longer needed."""
    broker = _broker()
    now = broker.clock()
    fresh = keyring.rotate(broker.settings.key_file, now, grace=timedelta(minutes=grace_minutes))
    with broker.store.transaction() as uow:
        uow.audit.record(
            AuditEvent(
                type="keys.rotated",
                actor=_cli_actor().id,
                data={"kid": fresh.kid, "activates_at": fresh.activates_at.isoformat()},
            )
        )
    click.echo(f"new key {fresh.kid} signs from {fresh.activates_at.isoformat()}")


@keys.command("list")
@friendly
def keys_list() -> None:
    """List keys and their state."""
    broker = _broker()
    ring = broker.keys.ring()
    now = broker.clock()
    published = {k.kid for k in ring.published(now)}
    signing = ring.signing_key(now).kid
    for key in ring.keys:
        state = (
            "signing"
            if key.kid == signing
            else "pending"
            if key.activates_at > now
            else "published"
            if key.kid in published
            else "retired"
        )
        click.echo(f"{key.kid}\t{state}\tactivates {key.activates_at.isoformat()}")


# --- audit -----------------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@friendly
def audit_verify() -> None:
    """Walk the chain and the checkpoints; exit 1 naming the first bad sequence number."""
    from actas.audit.verify import verify_log

    broker = _broker()
    with broker.engine.connect() as conn:
        report = verify_log(conn, checker=broker.keys)
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@audit.command("checkpoint")
@friendly
def audit_checkpoint() -> None:
    """Sign the current head of the log now."""
    head = _broker().store.checkpoint()
    click.echo(f"checkpoint at seq {head.seq}" if head else "nothing new to sign")


@audit.command("tail")
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--account", default=None)
@click.option("--subject", default=None)
@click.option("--staff", "actor", default=None, help="Actor id.")
@click.option("--type", "event_type", default=None)
@click.option("--since", type=click.DateTime(), default=None, help="UTC.")
@friendly
def audit_tail(
    limit: int,
    account: str | None,
    subject: str | None,
    actor: str | None,
    event_type: str | None,
    since: datetime | None,
) -> None:
    """Print the latest events as JSON lines, oldest first."""
    from datetime import UTC

    from actas.services import audit as audit_service

    broker = _broker()
    query = AuditQuery(
        account=account,
        subject=subject,
        actor=actor,
        type=event_type,
        since=since.replace(tzinfo=UTC) if since else None,
        limit=limit,
        newest_first=True,
    )
    events = list(reversed(audit_service.read_events(broker.services, query)))
    for event in events:
        click.echo(json.dumps(event, ensure_ascii=False))
