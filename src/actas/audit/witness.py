"""A witness on a file: every signed checkpoint is appended to a file that should live on a
volume the database's administrators cannot write (another host's mount, an append-only
bucket mount). Someone who truncates the log and deletes the later checkpoints from the
database cannot take them back from there, and ``actas audit verify --witness FILE`` fails
when the log no longer extends what the file holds."""

from __future__ import annotations

import os
from pathlib import Path

from actas.domain.notes import witness_line
from actas.store.chain import Published


class FileWitness:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, published: Published) -> None:
        line = witness_line(published.note, published.kid).encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)  # one write of one line with O_APPEND: whole lines only
            os.fsync(fd)
        finally:
            os.close(fd)
