"""``actas report access-review``: the quarter's access review as HTML, CSV or JSON."""

from __future__ import annotations

from pathlib import Path

import click

from actas.cli._common import friendly, services
from actas.http import review_report
from actas.services import access_review

FORMATS = {
    "html": review_report.document,
    "csv": review_report.to_csv,
    "json": review_report.to_json,
}


@click.group()
def report() -> None:
    """Periodic reports for security and auditors."""


@report.command("access-review")
@click.option("--quarter", required=True, metavar="YYYYQn", help="For example 2026Q4.")
@click.option(
    "--format", "fmt", type=click.Choice(sorted(FORMATS)), default=None,
    help="Default: from the output's suffix, else html.",
)  # fmt: skip
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write here instead of standard output.",
)  # fmt: skip
@friendly
def access_review_command(quarter: str, fmt: str | None, output: Path | None) -> None:
    """Sessions by staff, account, reason and kind; approvals; break-glass and its review;
    alerts; eligibility never used. A reviewer signs it off in the console."""
    if fmt is None:
        suffix = output.suffix.lstrip(".").lower() if output else ""
        fmt = suffix if suffix in FORMATS else "html"
    review = access_review.build(services(), quarter)
    text = FORMATS[fmt](review)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output} ({review.sessions_total} sessions, digest {review.digest})")
