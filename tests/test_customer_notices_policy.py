"""``customer_notices`` from the policy file, end to end: a broker whose policy file tells the
customer only what cannot be left out still sends the break-glass notice, and nothing else.
The file itself cannot leave break-glass out."""

from __future__ import annotations

from pathlib import Path

import pytest

from actas.domain.customer import Notice
from actas.policy_file import DEFAULT_POLICY_PATH, PolicyError, load_policy_text
from actas.settings import Settings, load_settings
from tests.customer_world import Mailed
from tests.scenario import ask, open_case, started_session

ALL = """customer_notices = [
  "session_started",
  "session_ended",
  "break_glass",
  "link_sent",
  "code_sent",
  "close_out",
]"""


def policy_with(notices: str) -> str:
    text = DEFAULT_POLICY_PATH.read_text()
    assert ALL in text, "the default policy documents customer_notices"
    return text.replace(ALL, f"customer_notices = {notices}")


def test_the_policy_file_sets_the_notices_and_keeps_break_glass() -> None:
    few = load_policy_text(policy_with('["break_glass", "close_out"]'), source="p.toml")
    assert few.customer_notices == {Notice.BREAK_GLASS, Notice.CLOSE_OUT}
    absent = load_policy_text(policy_with("[]").replace("customer_notices = []", ""), source="p")
    assert absent.customer_notices == frozenset(Notice)
    with pytest.raises(PolicyError, match="must include break_glass") as left_out:
        load_policy_text(policy_with('["session_started"]'), source="p.toml")
    assert left_out.value.line is not None
    with pytest.raises(PolicyError, match="unknown notice"):
        load_policy_text(policy_with('["break_glass", "sms"]'), source="p.toml")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The broker's settings with a policy file that asks for the break-glass notice only."""
    policy = tmp_path / "policy.toml"
    policy.write_text(policy_with('["break_glass"]'))
    environ = {
        "ACTAS_DATABASE_URL": database_url,
        "ACTAS_PUBLIC_URL": "https://broker.test",
        "ACTAS_KEY_FILE": str(tmp_path / "keys.json"),
        "ACTAS_CHECKPOINT_EVERY": "50",
        "ACTAS_POLICY_FILE": str(policy),
    }
    return load_settings(environ, cwd=tmp_path)


def test_break_glass_is_told_even_when_the_policy_tells_nothing_else(mailed: Mailed) -> None:
    world = mailed.world
    assert world.broker.services.policy.customer_notices == {Notice.BREAK_GLASS}
    session, _, _ = started_session(world)
    assert mailed.deliver() == []  # an ordinary session: this policy does not tell it

    headers = world.as_(world.sam)
    case = open_case(world, headers)
    request = ask(world, headers, case, break_glass=True)
    assert request.status_code == 201, request.text
    start = world.client.post(
        f"/v1/access-requests/{request.json()['id']}/start",
        headers=headers,
        json={"code": world.code(world.sam)},
    )
    assert start.status_code == 200, start.text
    told = mailed.one("emergency access to your account")
    assert str(told["To"]) == "jane@customer.test"
    assert session != start.json()["session"]["id"]
