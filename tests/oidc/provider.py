"""Start the real OpenID provider (``tests/oidc/provider.mjs``, panva/oidc-provider) on
127.0.0.1 for a test, and walk a browser through it."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).parent
CALLBACK = "https://broker.test/console/sso/callback"


def ensure_installed() -> None:
    """``npm ci`` once, from the committed lock file (``make test`` and ``.ci/run`` do it too)."""
    if (HERE / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed for the SSO tests (node 20 and npm)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Provider:
    issuer: str

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def set_account(self, **values: object) -> None:
        httpx.post(f"{self.issuer}/test/account", content=json.dumps(values)).raise_for_status()

    def authorize(self, url: str) -> str:
        """Follow the provider's redirects as a browser would; return the callback URL."""
        with httpx.Client() as browser:
            return self._follow(browser, url)

    def _follow(self, client: httpx.Client, url: str) -> str:
        for _ in range(12):
            response = client.get(url)
            assert response.status_code in (302, 303), response.text[:500]
            url = str(response.headers["location"])
            if url.startswith("/"):
                url = self.issuer + url
            if url.startswith(CALLBACK):
                return url
        raise AssertionError("the provider never redirected back")


@contextmanager
def running_provider() -> Iterator[Provider]:
    ensure_installed()
    node = shutil.which("node")
    assert node is not None
    port = _free_port()
    process = subprocess.Popen(
        [node, str(HERE / "provider.mjs"), str(port), CALLBACK],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("ready "), line
        yield Provider(issuer=line.split()[1])
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
