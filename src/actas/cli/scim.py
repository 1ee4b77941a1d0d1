"""``actas scim token``: the bearer tokens the company's IdP provisions staff with (one per
IdP, shown once, stored as a hash)."""

from __future__ import annotations

import click

from actas.cli._common import cli_actor, friendly, services


@click.group()
def scim() -> None:
    """SCIM 2.0 provisioning (/scim/v2) for the company's identity provider."""


@scim.group()
def token() -> None:
    """Bearer tokens for SCIM clients."""


@token.command("create")
@click.argument("name")
@friendly
def token_create(name: str) -> None:
    """Create a token for the IdP called NAME and print it (once)."""
    from actas.services import scim as scim_service

    secret = scim_service.create_token(services(), name=name, by=cli_actor())
    click.echo(f"SCIM token {name!r} (shown once; give it to the IdP's SCIM app):")
    click.echo(secret)


@token.command("list")
@friendly
def token_list() -> None:
    """Tokens: name, created, revoked (never the token itself)."""
    from actas.services import scim as scim_service

    for record in scim_service.list_tokens(services()):
        revoked = record.revoked_at.isoformat() if record.revoked_at else "-"
        click.echo(f"{record.name}\t{record.created_at.isoformat()}\t{revoked}")


@token.command("revoke")
@click.argument("name")
@friendly
def token_revoke(name: str) -> None:
    """Revoke the token of NAME: its next request is refused."""
    from actas.services import scim as scim_service

    scim_service.revoke_token(services(), name=name, by=cli_actor())
    click.echo(f"revoked SCIM token {name!r}")
