"""Runs the broker for the end-to-end tests: ``python tests/e2e/broker_server.py PORT``.

The same app ``actas serve`` runs (settings from ``ACTAS_*``, the system clock, the sweeper,
revocations over server-sent events), with two test knobs: the keep-alive interval of the
revocation stream (``E2E_PING_SECONDS``, so an SDK with a staleness limit of two seconds hears
from a healthy broker often enough) and a fast sweep.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    import uvicorn

    from actas.api.app import create_app
    from actas.api.routes import revocations
    from actas.bootstrap import build
    from actas.settings import load_settings

    port = int(sys.argv[1])
    revocations.PING_SECONDS = float(os.environ.get("E2E_PING_SECONDS", "0.5"))  # type: ignore[assignment]
    broker = build(load_settings())
    app = create_app(broker, checkpoint_interval=60.0, sweep_interval=1.0)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
