"""The SDK's core and its ASGI middleware import no web framework; each adapter imports only
its own."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FRAMEWORKS = {"starlette", "fastapi", "flask", "werkzeug", "django"}


def loaded_by(statement: str) -> set[str]:
    script = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    return {name.split(".")[0] for name in json.loads(out)}


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        ("import actas_sdk, actas_sdk.propagation, actas_sdk.suppress", set()),
        ("import actas_sdk.asgi", set()),
        ("import actas_sdk.testing", set()),
        ("import actas_sdk.flask", set()),  # flask is imported when init_app runs
        ("import actas_sdk.django", {"django"}),
    ],
)
def test_imports_stay_small(statement: str, allowed: set[str]) -> None:
    assert loaded_by(statement) & FRAMEWORKS <= allowed
