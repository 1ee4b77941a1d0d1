"""Fixtures of the end-to-end tests: see :mod:`tests.e2e.harness`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Broker, NotesApp, Stack, free_port, mailbox

StackFactory = Callable[..., contextlib.AbstractContextManager[Stack]]


@contextlib.contextmanager
def running_stack(root: Path, *, staleness: float) -> Iterator[Stack]:
    with mailbox() as mail:
        broker = Broker(root / "broker")
        notes_port = free_port()
        credential = broker.register_app("notes", f"http://127.0.0.1:{notes_port}/actas/handoff")
        notes = NotesApp(
            root / "notes",
            broker=broker,
            credential=credential,
            port=notes_port,
            smtp_port=mail.port,
            staleness=staleness,
        )
        stack = Stack(broker, notes, mail)
        try:
            broker.server.start()
            notes.server.start()
            yield stack
        finally:
            stack.close()
            notes.server.stop()
            broker.server.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One broker and notes app for a module's tests (they never stop the broker)."""
    with running_stack(tmp_path_factory.mktemp("e2e"), staleness=10.0) as made:
        yield made


@pytest.fixture
def make_stack(tmp_path: Path) -> StackFactory:
    """A private stack for a test that kills its broker: ``with make_stack(staleness=2):``."""
    count = 0

    @contextlib.contextmanager
    def make(*, staleness: float) -> Iterator[Stack]:
        nonlocal count
        count += 1
        with running_stack(tmp_path / f"stack{count}", staleness=staleness) as made:
            yield made

    return make
