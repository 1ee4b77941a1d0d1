"""The ``actas`` command: set up, serve, manage staff, applications, keys and the audit log."""

from __future__ import annotations

import click

from actas.bootstrap import build, initialise
from actas.cli._common import fail, friendly, settings
from actas.cli.accounts import account
from actas.cli.audit_export import audit_export, audit_verify_export
from actas.cli.records import app, audit, keys, policy
from actas.cli.reports import report
from actas.cli.scim import scim
from actas.cli.staff import staff

#: How long a ``serve`` worker may take, from its spawn, to answer its parent's health ping.
WORKER_HEALTHCHECK_SECONDS = 30


@click.group()
@click.version_option(package_name="actas")
@click.option(
    "--database-url",
    metavar="URL",
    default=None,
    help="The broker's database (default ACTAS_DATABASE_URL, then actas.toml).",
)
@click.option(
    "--key-file",
    metavar="PATH",
    default=None,
    help="The signing key file (default ACTAS_KEY_FILE, then actas.toml).",
)
@click.pass_context
def main(ctx: click.Context, database_url: str | None, key_file: str | None) -> None:
    """actas: consented, time-boxed, audited support access.

    Settings come from these options, then ACTAS_* variables, then ./actas.toml (which
    `make run` writes for the demo, so commands run from the repository find its data).
    """
    ctx.obj = {"database_url": database_url, "key_file": key_file}


@main.command()
@friendly
def init() -> None:
    """Create or migrate the database and the key file (safe to run twice)."""
    config = settings()
    created = initialise(config)
    click.echo(f"database ready: {config.database_url.split('@')[-1]}")
    click.echo(f"key file {'created' if created else 'present'}: {config.key_file}")


@main.command()
@click.option("--host", default=None, help="Listen address (default ACTAS_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Listen port (default ACTAS_PORT or 8400).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes serving the port. More than one needs PostgreSQL.",
)
@friendly
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Start the broker."""
    import uvicorn

    from actas.http import logs

    config = settings()
    if workers > 1 and config.is_sqlite:
        fail("--workers above 1 needs PostgreSQL (ACTAS_DATABASE_URL): SQLite has one writer")
    build(config).close()  # refuse a bad key file or database here, once, with one clear line
    bind_host = host or config.host
    bind_port = port or config.port
    click.echo(
        f"actas broker on http://{bind_host}:{bind_port} (public URL {config.public_url}, "
        f"{workers} worker{'s' if workers != 1 else ''})"
    )
    # Each worker process builds its own broker from the same ACTAS_* settings: the factory
    # is imported by name so that uvicorn can start it in every process. Logs are JSON lines
    # (actas.http.logs); uvicorn's own access line is off, since it would write the path (a
    # customer's token can be in it): the broker logs the route template instead.
    uvicorn.run(
        "actas.app:from_environment",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        log_level="info",
        proxy_headers=False,
        log_config=logs.uvicorn_config(),
        access_log=False,
        # A worker must answer its parent's health ping within this time, from the moment it
        # is spawned: at uvicorn's 5 s default, a worker still importing on a busy host was
        # killed as hung and spawned again, over and over (found by the cluster tests).
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


for group in (staff, policy, app, account, keys, audit, scim, report):
    main.add_command(group)
audit.add_command(audit_export)
audit.add_command(audit_verify_export)
