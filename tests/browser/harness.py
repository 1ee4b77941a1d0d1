"""What the browser tests drive: a live broker under uvicorn on a free loopback port, a tiny
local page standing in for the application's handoff URL, the people who sign in, and the
checks each page gets (axe-core, CSP violations, screenshots).

The broker runs with the system clock, so TOTP codes are computed at real time. A code works
once per 30 s step per staff member; :class:`Codes` hands out the oldest step the broker still
accepts and never the same one twice, and waits for the next step only when all three steps
the broker accepts (previous, current, next) are used.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp

ROOT = Path(__file__).resolve().parents[2]
#: Debian's Chromium; another path only to try the skip and fail paths of the fixture.
CHROMIUM = Path(os.environ.get("ACTAS_TEST_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("ACTAS_SCREENSHOT_DIR", ROOT / "docs" / "screenshots"))
VIEWPORT = {"width": 1100, "height": 760}
#: How long a step-dependent wait may take at most (one TOTP step and a margin).
STEP = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Person:
    email: str
    password: str
    secret: str
    name: str


@dataclass
class Codes:
    """Fresh TOTP codes at real time, each step used once per person."""

    last: dict[str, int] = field(default_factory=dict)

    def code(self, who: Person) -> str:
        now = time.time()
        # The oldest step the broker accepts (it allows one step back), with 5 s to spare.
        earliest = int((now + 5) // STEP) - 1
        step = max(self.last.get(who.email, earliest - 1) + 1, earliest)
        latest = int(now // STEP) + 1
        if step > latest:
            # Every step the broker accepts now is used: wait until `step` is the next one.
            time.sleep(max(0.0, (step - 1) * STEP - now) + 0.2)
        self.last[who.email] = step
        return str(pyotp.TOTP(who.secret).at(step * STEP))


class _Landing(http.server.BaseHTTPRequestHandler):
    """The application's handoff URL until the notes app lands: a page that says so."""

    def do_GET(self) -> None:
        body = (
            b"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            b"<title>Notes handoff</title></head><body><main><h1>Notes: handoff received</h1>"
            b"</main></body></html>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class Landing:
    def __init__(self) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Landing)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def run_axe(page: Any, label: str) -> None:
    """axe-core on the page as it is: no serious or critical violation.

    The console's CSP refuses inline script, so ``add_script_tag`` cannot inject axe (a test
    shows exactly that); ``evaluate`` goes through the DevTools protocol, which CSP does not
    govern, and defines ``axe`` in the page.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
            }));
        }"""
    )
    bad = [v for v in violations if v["impact"] in {"serious", "critical"}]
    assert not bad, f"axe on {label}: " + json.dumps(bad, indent=2)


def shoot(page: Any, name: str) -> None:
    """Take the screenshot every run (it must succeed); keep it where the README shows it only
    when it is missing or ``ACTAS_UPDATE_SCREENSHOTS=1``, so a test run leaves the tree clean."""
    image = page.screenshot(full_page=False)
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    target = SCREENSHOTS / f"{name}.png"
    if not target.exists() or os.environ.get("ACTAS_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target.write_bytes(image)
