"""A raw HTTP/1.1 keep-alive load generator on loopback, and the server subprocess it drives
(for ``sdk_overhead.py``): as little work per request as the client side can do, so that the
server's own CPU is what is measured."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Connection(asyncio.Protocol):
    """One keep-alive connection: send a request, read the whole response, send the next."""

    def __init__(self, requests: Iterator[bytes], done: asyncio.Future[None], deadline: float):
        self.requests, self.done, self.deadline = requests, done, deadline
        self.buffer = b""
        self.count = self.errors = 0
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.transport.write(next(self.requests))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15 : head.find(b"\r\n", at)]) if at >= 0 else 0
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            if not head.startswith(b"http/1.1 200"):
                self.errors += 1
            self.buffer = self.buffer[end:]
            self.count += 1
            if time.perf_counter() >= self.deadline:
                self.transport.close()
                if not self.done.done():
                    self.done.set_result(None)
                return
            self.transport.write(next(self.requests))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _load(port: int, requests: Iterator[bytes], seconds: float, connections: int):
    loop = asyncio.get_running_loop()
    deadline = time.perf_counter() + seconds
    protocols: list[Connection] = []
    waits: list[asyncio.Future[None]] = []
    for _ in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        _, protocol = await loop.create_connection(
            lambda done=done: Connection(requests, done, deadline), "127.0.0.1", port
        )
        protocols.append(protocol)
        waits.append(done)
    await asyncio.wait_for(asyncio.gather(*waits), seconds + 30)
    return sum(p.count for p in protocols), sum(p.errors for p in protocols)


def drive(port: int, requests: Iterator[bytes], seconds: float, connections: int) -> int:
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    count, errors = runner(_load(port, requests, seconds, connections))
    if errors:
        raise SystemExit(f"{errors} requests did not answer 200")
    return int(count)


def request_bytes(cookie: str | None, path: bytes = b"/") -> bytes:
    lines = [
        b"GET " + path + b" HTTP/1.1",
        b"Host: 127.0.0.1",
        b"User-Agent: bench",
        b"Accept: */*",
    ]
    if cookie is not None:
        lines.append(b"Cookie: actas_sdk=" + cookie.encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def endless(items: list[bytes]) -> Iterator[bytes]:
    while True:
        yield from items


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``script --serve variant port *args`` in a subprocess, ready once its port answers."""

    def __init__(self, script: str, variant: str, *args: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, script, "--serve", variant, str(self.port), *args],
            cwd=Path(script).resolve().parents[1],
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("the server exited")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise SystemExit("the server did not start")

    def __exit__(self, *_: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
