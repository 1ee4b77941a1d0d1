"""``actas policy``, ``actas app``, ``actas keys`` and ``actas audit``."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

import click

from actas.cli._common import cli_actor, fail, friendly, services
from actas.domain.audit import AuditQuery

# --- policy ----------------------------------------------------------------------------------


@click.group()
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
    from actas.services import applications as app_service
    from actas.services import decisions as decisions_service

    ctx = services()
    if app_id is None:
        apps = app_service.list_applications(ctx)
        if len(apps) != 1:
            fail("name the application with --app (there is not exactly one)")
        app_id = apps[0].id
    decision = decisions_service.explain(
        ctx,
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


@click.group()
def app() -> None:
    """Applications that trust this broker."""


@app.command("add")
@click.argument("name")
@click.option("--handoff-url", required=True, help="Where the SDK's handoff endpoint lives.")
@click.option("--id", "app_id", default=None, help="Token audience (default: NAME, lowercased).")
@click.option(
    "--handoff-host",
    "handoff_hosts",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Another host its accounts may send staff to (repeatable); the handoff URL's is one.",
)
@friendly
def app_add(
    name: str, handoff_url: str, app_id: str | None, handoff_hosts: tuple[str, ...]
) -> None:
    """Register an application and print its credential once."""
    from actas.services import applications as app_service

    registered = app_service.add_application(
        services(),
        app_id=app_id or name.strip().lower().replace(" ", "-"),
        name=name,
        handoff_url=handoff_url,
        handoff_hosts=handoff_hosts,
        by=cli_actor(),
    )
    click.echo(f"application {registered.application.id} registered")
    click.echo(f"handoff hosts: {' '.join(registered.application.handoff_hosts)}")
    click.echo(f"credential (shown once, store it in the app's secrets): {registered.credential}")


@app.command("list")
@friendly
def app_list() -> None:
    """List applications."""
    from actas.services import applications as app_service

    for item in app_service.list_applications(services()):
        click.echo(f"{item.id}\t{item.name}\t{item.handoff_url}\t{' '.join(item.handoff_hosts)}")


@app.command("handoff-hosts")
@click.argument("app_id")
@click.option("--add", "add", multiple=True, metavar="HOST[:PORT]", help="Allow a host.")
@click.option("--remove", "remove", multiple=True, metavar="HOST[:PORT]", help="Disallow one.")
@friendly
def app_handoff_hosts(app_id: str, add: tuple[str, ...], remove: tuple[str, ...]) -> None:
    """Show or change the hosts APP_ID's accounts may send staff browsers to. Only this
    command (a broker admin's) sets them: an application's credential can only pick among them."""
    from actas.services import applications as app_service

    changed = app_service.set_handoff_hosts(
        services(), app_id=app_id, add=add, remove=remove, by=cli_actor()
    )
    click.echo(" ".join(changed.handoff_hosts))


# --- keys ------------------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """Signing keys."""


@keys.command("rotate")
@click.option("--grace-minutes", type=click.IntRange(0, 1440), default=10, show_default=True)
@friendly
def keys_rotate(grace_minutes: int) -> None:
    """Add a key that starts signing after the grace period; retire keys no longer needed."""
    from actas.services import keys as key_service

    fresh = key_service.rotate(services(), grace=timedelta(minutes=grace_minutes), by=cli_actor())
    click.echo(f"new key {fresh.kid} signs from {fresh.activates_at.isoformat()}")


@keys.command("list")
@friendly
def keys_list() -> None:
    """List keys and their state."""
    from actas.services import keys as key_service

    for key in key_service.describe(services()):
        click.echo(f"{key.kid}\t{key.state}\tactivates {key.activates_at.isoformat()}")


# --- audit -----------------------------------------------------------------------------------


@click.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@click.option(
    "--witness",
    "witness_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A witness file (ACTAS_AUDIT_WITNESS_FILE): the log must extend what it holds.",
)
@friendly
def audit_verify(witness_files: tuple[Path, ...]) -> None:
    """Walk the chain and the checkpoints; exit 1 naming the first bad sequence number."""
    from actas.domain.notes import read_witness
    from actas.services import audit as audit_service

    witnessed = [item for path in witness_files for item in read_witness(path.read_text())]
    report = audit_service.verify(services(), witnessed=witnessed)
    if witness_files:
        click.echo(f"{len(witnessed)} witnessed checkpoints checked")
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@audit.command("checkpoint")
@friendly
def audit_checkpoint() -> None:
    """Sign the current head of the log now."""
    from actas.services import audit as audit_service

    seq = audit_service.checkpoint(services())
    click.echo(f"checkpoint at seq {seq}" if seq is not None else "nothing new to sign")


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

    ctx = services()
    query = AuditQuery(
        account=account,
        subject=subject,
        actor=actor,
        type=event_type,
        since=since.replace(tzinfo=UTC) if since else None,
        limit=limit,
        newest_first=True,
    )
    events = list(reversed(audit_service.read_events(ctx, query)))
    for event in events:
        click.echo(json.dumps(event, ensure_ascii=False))
