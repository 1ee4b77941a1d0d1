"""Suppressors: the decorator and context manager, smtplib, and the testing helper."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

from actas_sdk import count_suppressed, name_resource, skip_during_impersonation, suppressed
from actas_sdk.suppress import patch_smtplib, unpatch_smtplib
from actas_sdk.testing import impersonating

sent: list[str] = []


@skip_during_impersonation("webhook", default="skipped")
def deliver(payload: str) -> str:
    sent.append(payload)
    return "delivered"


@skip_during_impersonation("push")
async def push(text: str) -> str:
    sent.append(text)
    return "pushed"


def test_normal_users_get_their_side_effects() -> None:
    sent.clear()
    assert not suppressed()
    assert deliver("a") == "delivered"
    assert asyncio.run(push("b")) == "pushed"
    with skip_during_impersonation("analytics") as skipped:
        assert not skipped
    count_suppressed("email")  # a no-op outside impersonation
    name_resource("x")
    assert sent == ["a", "b"]


def test_impersonation_skips_and_counts() -> None:
    sent.clear()
    with impersonating() as frame:
        assert suppressed()
        assert deliver("a") == "skipped"
        assert deliver("b") == "skipped"
        assert asyncio.run(push("c")) is None
        with skip_during_impersonation("analytics") as skipped:
            assert skipped
        name_resource("note:1")
    assert sent == []
    assert frame.suppressed == {"webhook": 2, "push": 1, "analytics": 1}
    assert frame.resource == "note:1"
    assert deliver.__name__ == "deliver"


def test_smtplib_stays_quiet_during_impersonation() -> None:
    class Recording(smtplib.SMTP):
        def __init__(self) -> None:
            super().__init__()  # no host: nothing connects
            self.sent: list[object] = []

    original = smtplib.SMTP.sendmail
    patch_smtplib()
    patch_smtplib()  # idempotent
    try:
        smtp = Recording()
        with impersonating() as frame:
            assert smtp.sendmail("app@notes.test", ["jane@customer.test"], "hi") == {}
            assert smtp.send_message(_message()) == {}
        assert frame.suppressed == {"email": 2}
        try:
            smtp.sendmail("app@notes.test", ["jane@customer.test"], "hi")
        except smtplib.SMTPServerDisconnected:
            pass  # outside impersonation the real send runs (and finds no server)
        else:
            raise AssertionError("the real sendmail did not run")
    finally:
        unpatch_smtplib()
    assert smtplib.SMTP.sendmail is original


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "app@notes.test"
    message["To"] = "jane@customer.test"
    message.set_content("hi")
    return message
