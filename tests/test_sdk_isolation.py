"""The SDK installs into someone else's app: it must never pull in the broker's stack."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("actas", "fastapi", "sqlalchemy", "alembic", "argon2", "pyotp", "psycopg", "uvicorn")


def test_sdk_imports_nothing_of_the_broker() -> None:
    script = (
        "import sys, json; import actas_sdk; "
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    loaded = set(json.loads(out))
    assert "actas_sdk" in loaded
    assert not loaded & set(FORBIDDEN), loaded & set(FORBIDDEN)


def test_sdk_declares_no_broker_dependency() -> None:
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[1] / "sdk" / "pyproject.toml").read_text())
    deps = " ".join(project["project"]["dependencies"]).lower()
    for name in FORBIDDEN:
        assert name not in deps.replace("actas-sdk", "")
