"""A fresh broker per Hypothesis example: pytest's function fixtures live once per test, while
a state machine needs a clean database for every example it runs."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from actas.bootstrap import Broker, build
from actas.domain.clock import FrozenClock
from actas.keys import keyring
from actas.security.passwords import FastTestPasswords
from actas.settings import load_settings
from tests.conftest import People, PgDatabases


@dataclass
class Databases:
    """Where fresh databases come from: the session's migrated SQLite file or PG template."""

    backend: str
    sqlite_template: Path
    pg: PgDatabases | None
    root: Path

    def fresh_url(self, folder: Path) -> str:
        if self.backend == "sqlite":
            target = folder / "actas.db"
            shutil.copyfile(self.sqlite_template, target)
            target.chmod(0o600)
            return f"sqlite:///{target}"
        assert self.pg is not None
        return self.pg.url_for(self.pg.create(template=self.pg.migrated_template()))

    def broker(self) -> tuple[Broker, FrozenClock, People]:
        folder = self.root / uuid.uuid4().hex[:10]
        folder.mkdir()
        clock = FrozenClock(datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC))
        settings = load_settings(
            {
                "ACTAS_DATABASE_URL": self.fresh_url(folder),
                "ACTAS_PUBLIC_URL": "https://broker.test",
                "ACTAS_KEY_FILE": str(folder / "keys.json"),
                "ACTAS_CHECKPOINT_EVERY": "50",
            },
            cwd=folder,
        )
        keyring.ensure(settings.key_file, clock())
        made = build(settings, clock=clock, passwords=FastTestPasswords())
        return made, clock, People(made, clock)
