"""The newcomer's path: ``make run``'s script starts both servers, the tour script prints a
handoff link, and the link shows the notes app as Jane under the banner; Ctrl-C stops both."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import ROOT, free_port, wait_for


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path, int, int]]:
    data = tmp_path / "demo"
    out = tmp_path / "demo.out"
    broker_port, notes_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ACTAS_", "NOTES_"))}
    with out.open("wb") as log:
        # Its own session, so that the test can press Ctrl-C for its whole process group.
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "scripts" / "demo.py"),
                "run",
                "--data",
                str(data),
                "--broker-port",
                str(broker_port),
                "--notes-port",
                str(notes_port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc, data, out, broker_port, notes_port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_make_run_and_the_tour(
    demo: tuple[subprocess.Popen[bytes], Path, Path, int, int],
) -> None:
    proc, data, out, broker_port, notes_port = demo

    def started() -> str | None:
        assert proc.poll() is None, out.read_text()
        text = out.read_text(errors="replace")
        return text if "Ctrl-C stops both servers" in text else None

    printed = wait_for(started, what="the demo to print its URLs", timeout=90.0, interval=0.5)
    assert f"http://127.0.0.1:{broker_port}" in printed
    assert f"http://127.0.0.1:{notes_port}" in printed
    assert "admin@example.test" in printed
    assert "lead@example.test" in printed
    assert "otpauth://totp/" in printed
    jane = re.search(r"jane@customer\.test\s+password (\S+)", printed)
    assert jane is not None
    for secret in ("demo-staff.json", "notes.env"):
        assert stat.S_IMODE((data / secret).stat().st_mode) == 0o600, secret
    # The fastest path (an unflagged customer, no second person) comes first.
    assert printed.index("the fastest path to the banner") < printed.index("the approval path")
    assert "Peter Gibbons, Initech: no flag" in printed
    # The CLI finds the demo's data through the actas.toml the demo wrote, with no flag.
    verify = subprocess.run(
        [str(Path(sys.executable).parent / "actas"), "audit", "verify"],
        env={**os.environ, "ACTAS_CONFIG": str(data / "actas.toml")},
        cwd=data,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.startswith("audit log OK: ")

    tour = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "tour.py"),
            "--broker",
            f"http://127.0.0.1:{broker_port}",
            "--staff-file",
            str(data / "demo-staff.json"),
            "--no-wait",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert tour.returncode == 0, tour.stdout + tour.stderr
    assert "pending_approval" in tour.stdout  # Acme is flagged: a second person approved
    link = re.search(rf"http://127\.0\.0\.1:{notes_port}/actas/handoff\?code=\S+", tour.stdout)
    assert link is not None, tour.stdout

    with httpx.Client(follow_redirects=True, timeout=10.0) as browser:
        page = browser.get(link.group(0))
        assert page.status_code == 200
        assert "<actas-banner" in page.text
        assert "Jane Doe" in page.text
    with httpx.Client(base_url=f"http://127.0.0.1:{notes_port}", timeout=10.0) as customer:
        signed_in = customer.post(
            "/login", data={"email": "jane@customer.test", "password": jane.group(1)}
        )
        assert signed_in.status_code == 303
        assert "<actas-banner" not in customer.get("/notes").text

    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    assert proc.wait(timeout=30) == 0
    for port in (broker_port, notes_port):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2.0)
