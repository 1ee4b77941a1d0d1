"""The middleware under Django (WSGI), plus Django's e-mail backend and login signals."""

from __future__ import annotations

from typing import ClassVar

import httpx2

from actas_sdk import ActAs
from actas_sdk.testing import FakeBroker
from tests.sdk import apps
from tests.sdk.behaviour import Contract


class TestDjango(Contract):
    build = staticmethod(apps.django_app)
    note_route: ClassVar[str] = "/notes/<str:note_id>"

    def test_email_is_suppressed_and_counted(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs
    ) -> None:
        from django.core import mail

        mail.outbox = []
        assert client.get("/mail").json() == {"sent": 1}
        assert len(mail.outbox) == 1
        self.start(client, fake)
        assert client.get("/mail").json() == {"sent": 1}
        assert len(mail.outbox) == 1  # nothing new went out
        (event,) = self.events(sdk, fake)
        assert event["suppressed"] == {"email": 1}


def test_login_signals_are_silenced_during_impersonation() -> None:
    apps.configure_django()
    from django.contrib.auth.signals import user_logged_in

    from actas_sdk.django import silence_login_signals
    from actas_sdk.testing import impersonating

    calls: list[object] = []

    def receiver(sender: object, **kwargs: object) -> None:
        calls.append(kwargs.get("user"))

    user_logged_in.connect(receiver, weak=False)
    try:
        silence_login_signals()
        silence_login_signals()  # idempotent
        user_logged_in.send(sender=object, request=None, user="jane")
        with impersonating() as frame:
            assert user_logged_in.send(sender=object, request=None, user="staff") == []
        assert calls == ["jane"]
        assert frame.suppressed == {"last_login": 1}
    finally:
        user_logged_in.disconnect(receiver)
