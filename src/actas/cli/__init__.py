"""The ``actas`` command: set up, serve, manage staff, applications, keys and the audit log."""

from __future__ import annotations

import click

from actas.bootstrap import build, initialise
from actas.cli._common import friendly, settings
from actas.cli.audit_export import audit_export, audit_verify_export
from actas.cli.records import app, audit, keys, policy
from actas.cli.staff import staff


@click.group()
@click.version_option(package_name="actas")
def main() -> None:
    """actas: consented, time-boxed, audited support access."""


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
@friendly
def serve(host: str | None, port: int | None) -> None:
    """Start the broker."""
    import uvicorn

    from actas.app import create_app

    config = settings()
    broker = build(config)
    server = create_app(broker, checkpoint_interval=60.0, sweep_interval=5.0, deliver_outbox=True)
    bind_host = host or config.host
    bind_port = port or config.port
    click.echo(f"actas broker on http://{bind_host}:{bind_port} (public URL {config.public_url})")
    uvicorn.run(server, host=bind_host, port=bind_port, log_level="info", proxy_headers=False)


for group in (staff, policy, app, keys, audit):
    main.add_command(group)
audit.add_command(audit_export)
audit.add_command(audit_verify_export)
