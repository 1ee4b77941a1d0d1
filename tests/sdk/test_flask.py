"""The middleware under Flask (WSGI)."""

from __future__ import annotations

from typing import ClassVar

from tests.sdk import apps
from tests.sdk.behaviour import Contract


class TestFlask(Contract):
    build = staticmethod(apps.flask_app)
    note_route: ClassVar[str] = "/notes/<note_id>"
