"""Real HTTP for the tests: an ASGI app under uvicorn on 127.0.0.1, in a thread, always
stopped."""

from __future__ import annotations

import socket
import threading
from typing import Any

import uvicorn

from tests.sdk.conftest import WAIT


class UvicornThread:
    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=3
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self._started = threading.Event()

    def __enter__(self) -> UvicornThread:
        original = self.server.startup

        async def startup(*args: Any, **kwargs: Any) -> None:
            await original(*args, **kwargs)
            self._started.set()

        self.server.startup = startup  # type: ignore[method-assign]
        self.thread.start()
        assert self._started.wait(WAIT), "the server did not start"
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT)
        self.sock.close()
        assert not self.thread.is_alive(), "the server did not stop"
