"""``actas audit export`` and ``actas audit verify-export``: a customer's proof of access."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import click

from actas.cli._common import fail, friendly, services
from actas.domain.audit import AuditQuery

_SINCE = re.compile(r"^(\d{1,5})([dh])$")


def parse_since(text: str, now: datetime) -> datetime:
    """``90d``, ``36h`` or an ISO date/time (UTC when it names no zone)."""
    match = _SINCE.match(text.strip())
    if match:
        amount, unit = int(match[1]), match[2]
        return now - (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not like 90d, 36h or 2026-09-01") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@click.command("export")
@click.option("--account", required=True, help="The customer's account id.")
@click.option(
    "--application", default=None,
    help="The application the account belongs to (account ids are each application's own).",
)  # fmt: skip
@click.option("--since", "since_text", default="90d", show_default=True, help="90d, 36h or a date.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write here instead of standard output.",
)  # fmt: skip
@friendly
def audit_export(
    account: str, application: str | None, since_text: str, output: Path | None
) -> None:
    """Every event about the account as JSON Lines, with the signed checkpoint and a proof each.
    Without --application, the account id in every application that has one."""
    from actas.services import audit as audit_service

    ctx = services()
    query = AuditQuery(
        account=account, application=application, since=parse_since(since_text, ctx.clock())
    )
    made = audit_service.export(ctx, query, "jsonl")
    if output is None:
        for chunk in made.body:
            click.echo(chunk, nl=False)
        return
    with output.open("w", encoding="utf-8") as handle:
        handle.writelines(made.body)
    click.echo(f"wrote {output}", err=True)


def _load_jwks(source: str) -> dict[str, Any]:
    if source.startswith(("https://", "http://")):
        import httpx

        try:
            response = httpx.get(source, timeout=10.0, follow_redirects=False)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            fail(f"cannot fetch the JWKS from {source}: {exc}")
    else:
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            fail(f"cannot read the JWKS file {source}: {exc}")
    if not isinstance(data, dict):
        fail(f"{source} is not a JWKS")
    return cast(dict[str, Any], data)


@click.command("verify-export")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--jwks", "jwks_source", required=True, help="The broker's JWKS: a URL or a file.")
def audit_verify_export(file: Path, jwks_source: str) -> None:
    """Check an export offline: the checkpoint's signature, every event's hash and inclusion
    proof, and that no event of the account is missing between the first and the last.
    Exit 1 naming each problem."""
    from actas.verifier.export_check import verify_export

    jwks = _load_jwks(jwks_source)
    with file.open(encoding="utf-8") as handle:
        report = verify_export(handle, jwks)
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)
