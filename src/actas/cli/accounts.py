"""``actas account flags``: a broker admin (the operator at the broker's shell) sets an
account's flags. Audited as the operator; acts at once, as from the console."""

from __future__ import annotations

import click

from actas.cli._common import cli_actor, friendly, services
from actas.domain.subjects import AccountFlag
from actas.services import customer_policy


@click.group()
def account() -> None:
    """Customer accounts."""


@account.command("flags")
@click.option("--app", "app_id", required=True, help="Application id.")
@click.argument("account_id")
@click.option(
    "--flag",
    "flags",
    multiple=True,
    type=click.Choice([f.value for f in AccountFlag]),
    help="A flag to set; repeat for several. None given: clear every flag.",
)
@friendly
def account_flags(app_id: str, account_id: str, flags: tuple[str, ...]) -> None:
    """Set ACCOUNT_ID's flags (no_access ends its live sessions at once)."""
    updated = customer_policy.set_account_flags(
        services(),
        application_id=app_id,
        account_id=account_id,
        flags=frozenset(AccountFlag(f) for f in flags),
        by=cli_actor(),
    )
    names = ", ".join(sorted(f.value for f in updated.flags)) or "none"
    click.echo(f"{app_id}/{account_id}: flags {names}")
