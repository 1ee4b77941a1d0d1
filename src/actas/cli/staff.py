"""``actas staff``: members, roles, authenticator resets, assignments and Slack links."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import click

from actas.cli._common import cli_actor, fail, friendly, print_enrollment, services
from actas.domain.roles import parse_role

if TYPE_CHECKING:
    from actas.services.enrollment import IssuedEnrollment

# --- staff -----------------------------------------------------------------------------------


@click.group()
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
@click.option(
    "--enrollment-link",
    "link",
    flag_value="show",
    default=None,
    help="Print a single-use 24 h enrollment link instead: they set their own password and "
    "authenticator or passkey.",
)
@click.option(
    "--email-link", "link", flag_value="email", help="Email them the enrollment link instead."
)
@friendly
def staff_add(
    email: str,
    roles: tuple[str, ...],
    name: str,
    password: str | None,
    generate_password: bool,
    link: str | None,
) -> None:
    """Add a staff member and print their authenticator enrollment (or an enrollment link)."""
    from actas.services import enrollment as enrollment_service
    from actas.services import staff as staff_service

    parsed = frozenset(parse_role(r) for r in roles)
    if link is not None:
        if password is not None or generate_password:
            fail("an enrollment link lets them choose their password: drop --password")
        issued = enrollment_service.add_member(
            services(),
            email=email,
            display_name=name,
            roles=parsed,
            send_email=link == "email",
            by=cli_actor(),
        )
        click.echo(f"added {issued.staff.email} ({', '.join(sorted(parsed))})")
        _print_link(issued)
        return
    if generate_password:
        password = secrets.token_urlsafe(18)
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    assert password is not None
    ctx = services()
    enrollment = staff_service.add_staff(
        ctx,
        email=email,
        display_name=name,
        roles=parsed,
        password=password,
        by=cli_actor(),
    )
    click.echo(f"added {enrollment.staff.email} ({', '.join(sorted(parsed))})")
    if generate_password:
        click.echo(f"password: {password}")
    print_enrollment(enrollment.otpauth_uri)


def _print_link(issued: IssuedEnrollment) -> None:
    expires = issued.enrollment.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    if issued.url is None:
        click.echo(f"enrollment link emailed to {issued.staff.email} (expires {expires})")
    else:
        click.echo(f"enrollment link (shown once, works once, expires {expires}):")
        click.echo(issued.url)


@staff.command("enrollment-link")
@click.argument("email")
@click.option("--email", "send_email", is_flag=True, help="Email it instead of printing it.")
@friendly
def staff_enrollment_link(email: str, send_email: bool) -> None:
    """A new enrollment link for an existing member (their earlier links stop working)."""
    from actas.services import enrollment as enrollment_service

    ctx = services()
    member = enrollment_service.member_by_email(ctx, email)
    issued = enrollment_service.issue(
        ctx, staff_id=member.id, send_email=send_email, by=cli_actor()
    )
    _print_link(issued)


@staff.command("disable")
@click.argument("email")
@friendly
def staff_disable(email: str) -> None:
    """Disable a staff member and end every session of theirs at once."""
    from actas.services import staff as staff_service

    ended = staff_service.disable_staff(services(), email=email, by=cli_actor())
    click.echo(f"disabled {email}; {ended} session(s) ended")


@staff.command("enable")
@click.argument("email")
@friendly
def staff_enable(email: str) -> None:
    """Enable a disabled staff member."""
    from actas.services import staff as staff_service

    staff_service.enable_staff(services(), email=email, by=cli_actor())
    click.echo(f"enabled {email}")


@staff.command("roles")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True)
@friendly
def staff_roles(email: str, roles: tuple[str, ...]) -> None:
    """Replace a staff member's roles."""
    from actas.services import staff as staff_service

    parsed = frozenset(parse_role(r) for r in roles)
    staff_service.set_roles(services(), email=email, roles=parsed, by=cli_actor())
    click.echo(f"{email}: {', '.join(sorted(parsed))}")


@staff.command("reset-totp")
@click.argument("email")
@friendly
def staff_reset_totp(email: str) -> None:
    """Issue a new authenticator secret (ends the member's sessions)."""
    from actas.services import staff as staff_service

    uri = staff_service.reset_totp(services(), email=email, by=cli_actor())
    print_enrollment(uri)


@staff.command("unthrottle")
@click.argument("email", required=False)
@click.option("--address", default=None, help="Clear the wait of one client address instead.")
@friendly
def staff_unthrottle(email: str | None, address: str | None) -> None:
    """Clear the sign-in wait of a staff member (or of a client address) at once."""
    from actas.services import throttle as throttle_service

    if (email is None) == (address is None):
        fail("name a staff EMAIL or an --address, not both")
    ctx = services()
    if address is not None:
        cleared = int(throttle_service.unthrottle_address(ctx, address=address, by=cli_actor()))
        click.echo(f"{address}: {cleared} wait(s) cleared")
        return
    assert email is not None
    cleared = throttle_service.unthrottle(ctx, email=email, by=cli_actor())
    click.echo(f"{email}: {cleared} wait(s) cleared")


@staff.command("list")
@friendly
def staff_list() -> None:
    """List staff members."""
    from actas.services import staff as staff_service

    for member in staff_service.list_staff(services()):
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
        services(),
        email=email,
        application_id=app_id,
        account_id=account_id,
        remove=remove,
        by=cli_actor(),
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

    staff_service.link_slack(services(), email=email, slack_user_id=slack_user_id, by=cli_actor())
    click.echo(f"{email} is Slack user {slack_user_id}")
