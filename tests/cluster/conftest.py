"""The production layout in miniature, all on 127.0.0.1: a private PostgreSQL, two broker
processes on it (``actas serve``, one of them with two workers), and two processes of the notes
app with the SDK, each following a different broker's revocation feed.

Run alone with ``pytest -m cluster``; ``.ci/run`` runs them with the rest. Without Debian's
PostgreSQL server binaries they skip with the reason, and under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from actas.bootstrap import build, initialise
from actas.domain.audit import Actor
from actas.domain.roles import Role
from actas.services import applications as app_service
from actas.settings import Settings, load_settings
from tests import hygiene
from tests.cluster import figures
from tests.cluster.pg import PrivatePostgres, server_binaries
from tests.e2e.harness import (
    Broker,
    Mailbox,
    NotesApp,
    Persona,
    ServerProcess,
    Stack,
    free_port,
    mailbox,
)

SETUP = Actor(id="cluster-setup")
#: The SDK's staleness limit in the app processes: a revocation must reach them within it.
STALENESS = 3.0


class ClusterBroker(Broker):
    """One ``actas serve`` process of several on the same PostgreSQL and key file."""

    def __init__(
        self, root: Path, *, settings_env: dict[str, str], port: int, workers: int
    ) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.env = {
            **os.environ,
            **settings_env,
            "ACTAS_REVOCATION_PING_SECONDS": "0.5",
            **hygiene.child_env(),
        }
        self.settings: Settings = load_settings(self.env, cwd=root)
        actas = Path(sys.executable).with_name("actas")
        self.server = ServerProcess(
            name=f"broker :{self.port}",
            args=[str(actas), "serve", "--port", str(self.port), "--workers", str(workers)],
            env=self.env,
            port=self.port,
            log_path=root / "broker.log",
            health_path="/readyz",
        )


@dataclass
class Cluster:
    pg: PrivatePostgres
    a: ClusterBroker
    b: ClusterBroker
    app1: NotesApp
    app2: ServerProcess
    mail: Mailbox
    #: Staff and browsers through broker A and app process 1.
    stack: Stack
    sam: Persona

    def api(self, broker: ClusterBroker) -> httpx.Client:
        """Sam's API client on ``broker`` (the bearer token works on every replica)."""
        signed_in = self.stack.staff(self.sam)
        client = httpx.Client(base_url=broker.url, timeout=10.0, headers=signed_in.headers)
        self.stack._clients.append(client)
        return client

    def logs(self) -> str:
        parts = [self.stack.logs(), f"--- broker B ---\n{self.b.server.log_tail()}"]
        parts.append(f"--- app 2 ---\n{self.app2.log_tail()}")
        return "\n".join(parts)


def _require_server() -> Path:
    binaries = server_binaries()
    if binaries is not None:
        return binaries
    reason = "PostgreSQL server binaries (Debian's postgresql package) are not installed"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: the cluster tests must run in CI")
    pytest.skip(reason)


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    pg = PrivatePostgres(_require_server())
    pg.start()
    brokers: list[ClusterBroker] = []
    apps: list[ServerProcess] = []
    try:
        a_port, b_port = free_port(), free_port()
        # Replicas share one public URL (behind a load balancer it is the balancer's): it is the
        # issuer every actor token names, whichever replica signed it.
        shared = {
            "ACTAS_DATABASE_URL": pg.url,
            "ACTAS_KEY_FILE": str(root / "keys.json"),
            "ACTAS_PUBLIC_URL": f"http://127.0.0.1:{a_port}",
            # Customer mail (links) to a maildir of the run's own, not the working folder's.
            "ACTAS_MAIL_DIR": str(root / "mail"),
        }
        initialise(load_settings(shared, cwd=root))
        a = ClusterBroker(root / "a", settings_env=shared, port=a_port, workers=1)
        b = ClusterBroker(root / "b", settings_env=shared, port=b_port, workers=2)
        brokers = [a, b]
        app1_port, app2_port = free_port(), free_port()
        made = build(a.settings)
        try:
            credential = app_service.add_application(
                made.services,
                app_id="notes",
                name="Notes",
                handoff_url=f"http://127.0.0.1:{app1_port}/actas/handoff",
                by=SETUP,
            ).credential
        finally:
            made.close()
        with mailbox() as mail:
            app1 = NotesApp(
                root / "app1",
                broker=a,
                credential=credential,
                port=app1_port,
                smtp_port=mail.port,
                staleness=STALENESS,
            )
            # The second app process shares the first one's database and credential (so its
            # cookies open the same sessions) but has its own spool and follows broker B.
            app2 = ServerProcess(
                name="notes app 2",
                args=app1.server.args,
                env={
                    **app1.env,
                    "NOTES_PORT": str(app2_port),
                    "NOTES_PUBLIC_URL": f"http://127.0.0.1:{app2_port}",
                    "NOTES_ACTAS_URL": b.url,
                    "NOTES_ACTAS_ISSUER": a.settings.public_url,
                    "NOTES_ACTAS_SPOOL": str(root / "app2-spool"),
                },
                port=app2_port,
                log_path=root / "app2.log",
                health_path="/login",
            )
            apps = [app1.server, app2]
            for server in (a.server, b.server, app1.server, app2):
                server.start()
            stack = Stack(a, app1, mail)
            sam = a.add_staff("sam", Role.SECURITY)
            made_cluster = Cluster(pg, a, b, app1, app2, mail, stack, sam)
            try:
                yield made_cluster
            finally:
                stack.close()
                figures.write()
    finally:
        for server in [*apps, *(x.server for x in brokers)]:
            server.stop()
        pg.remove()
