"""Runs the broker for the end-to-end tests: ``python tests/e2e/broker_server.py PORT``.

The same app ``actas serve`` runs (settings from ``ACTAS_*``, the system clock, the sweeper,
revocations over server-sent events, the outbox worker delivering email to the maildir
beside its database), with a fast sweep. The harness sets
``ACTAS_REVOCATION_PING_SECONDS`` low, so an SDK with a staleness limit of two seconds hears
from a healthy broker often enough.
"""

from __future__ import annotations

import sys


def main() -> None:
    import uvicorn

    from actas.app import create_app
    from actas.bootstrap import build
    from actas.settings import load_settings

    port = int(sys.argv[1])
    broker = build(load_settings())
    app = create_app(broker, checkpoint_interval=60.0, sweep_interval=1.0, deliver_outbox=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
