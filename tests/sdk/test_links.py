"""``ActAs.issue_link`` and ``ActAs.redeem_link``: against the FakeBroker (what host apps test
with) and against the real broker over HTTP with a real SMTP server, where each broker refusal
must arrive as its own typed SDK error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from actas.app import create_app
from actas_sdk import (
    ActAs,
    Config,
    LinkExpired,
    LinkMalformed,
    LinkRefused,
    LinkUnknown,
    LinkUsed,
    LinkWrongPurpose,
)
from actas_sdk.testing import FakeBroker
from tests.customer_world import LINK_RE, Mailed, plain
from tests.scenario import HANDOFF
from tests.sdk.conftest import ManualClock
from tests.sdk.servers import UvicornThread


def test_the_fake_broker_issues_and_redeems_links_once(
    actas: ActAs, fake: FakeBroker, sdk_clock: ManualClock
) -> None:
    fake.add_subject("u-1")
    issued = actas.issue_link("u-1", "password_reset")
    assert issued.subject_id == "u-1"
    assert not hasattr(issued, "token")
    token = fake.last_link("u-1")
    with pytest.raises(LinkWrongPurpose):
        actas.redeem_link(token, "magic_signin")
    assert actas.redeem_link(token, "password_reset") == "u-1"
    with pytest.raises(LinkUsed):
        actas.redeem_link(token, "password_reset")
    actas.issue_link("u-1", "magic_signin")
    later = fake.last_link("u-1")
    sdk_clock.advance(601)
    with pytest.raises(LinkExpired):
        actas.redeem_link(later, "magic_signin")
    with pytest.raises(LinkUnknown):
        actas.redeem_link("actas_lpw_" + "A" * 43, "password_reset")
    with pytest.raises(LinkMalformed):
        actas.redeem_link("nonsense", "password_reset")
    with pytest.raises(LinkRefused) as refused:
        actas.issue_link("u-2", "password_reset")
    assert refused.value.reason == "no_verified_email"


@pytest.fixture
def live_sdk(mailed: Mailed, tmp_path: Path) -> Iterator[ActAs]:
    world = mailed.world
    with UvicornThread(create_app(world.broker)) as server:
        credential = world.app_headers["Authorization"].removeprefix("Bearer ")
        config = Config(
            broker_url=server.url,
            issuer="https://broker.test",
            application_id="notes",
            credential=credential,
            handoff_url=HANDOFF,
            cookie_secure=False,
            spool_dir=str(tmp_path / "spool"),
        )
        actas = ActAs(config, clock=lambda: world.clock().timestamp())
        yield actas
        actas.close()


def test_the_real_broker_emails_the_link_and_its_refusals_are_typed(
    live_sdk: ActAs, mailed: Mailed
) -> None:
    issued = live_sdk.issue_link("u-1", "password_reset")
    assert issued.purpose == "password_reset"
    (token,) = set(LINK_RE.findall(plain(mailed.one("Reset your password"))))
    with pytest.raises(LinkWrongPurpose):
        live_sdk.redeem_link(token, "email_confirmation")
    assert live_sdk.redeem_link(token, "password_reset") == "u-1"
    with pytest.raises(LinkUsed):
        live_sdk.redeem_link(token, "password_reset")
    with pytest.raises(LinkMalformed):
        live_sdk.redeem_link("actas_lpw_short", "password_reset")
    with pytest.raises(LinkRefused) as refused:
        live_sdk.issue_link("u-1", "become_admin")
    assert refused.value.reason == "unknown_link_purpose"
    live_sdk.issue_link("u-1", "magic_signin")
    (later,) = set(LINK_RE.findall(plain(mailed.one("sign-in link"))))
    mailed.world.clock.advance(11 * 60)
    with pytest.raises(LinkExpired):
        live_sdk.redeem_link(later, "magic_signin")
