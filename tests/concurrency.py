"""Races on the real database: many threads released at once by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from actas.domain.errors import ActasError


def race(attempt: Callable[[], Any]) -> list[str]:
    """Run ``attempt`` in 50 threads at once; each one's outcome: "ok" or the domain error's
    class name."""
    barrier = threading.Barrier(50)
    results: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            attempt()
            outcome = "ok"
        except ActasError as exc:
            outcome = type(exc).__name__
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 50
    return results
