"""Grant durations come from the policy file (``grant_minutes``): the file is checked, the
services accept only its durations, and a code's grant defaults to the shortest."""

from __future__ import annotations

from dataclasses import replace

import pytest

from actas.domain.audit import Actor
from actas.domain.errors import InvalidInput
from actas.domain.policy_rules import DEFAULT_GRANT_MINUTES
from actas.policy_file import DEFAULT_POLICY_PATH, PolicyError, load_policy_text
from actas.services import access_codes, consent
from tests.scenario import World

DEFAULT = "grant_minutes = [60, 1440, 10080]"


def with_minutes(value: str) -> str:
    text = DEFAULT_POLICY_PATH.read_text()
    assert DEFAULT in text, "the default policy documents grant_minutes"
    return text.replace(DEFAULT, value)


def test_the_policy_file_sets_and_checks_grant_minutes() -> None:
    assert load_policy_text(with_minutes(""), source="p").grant_minutes == DEFAULT_GRANT_MINUTES
    chosen = load_policy_text(with_minutes("grant_minutes = [240, 30]"), source="p")
    assert chosen.grant_minutes == (30, 240)
    for bad, says in (
        ("grant_minutes = []", "1 to 5"),
        ("grant_minutes = [30, 30]", "twice"),
        ("grant_minutes = [0]", "positive"),
        ("grant_minutes = [43201]", "at most 43200"),
        ('grant_minutes = ["1h"]', "positive"),
        ("grant_minutes = [1, 2, 3, 4, 5, 6]", "1 to 5"),
    ):
        with pytest.raises(PolicyError, match=says):
            load_policy_text(with_minutes(bad), source="p.toml")


def test_the_services_grant_only_the_policys_durations(world: World) -> None:
    services = world.broker.services
    ctx = replace(services, policy=replace(services.policy, grant_minutes=(30, 240)))
    with ctx.read() as uow:
        app = uow.applications.by_id("notes")
    assert app is not None
    by = Actor(id="app:notes")
    with pytest.raises(InvalidInput, match="30, 240"):
        consent.grant_access(ctx, app=app, subject_id="u-1", minutes=60, read_only=False, by=by)
    grant = consent.grant_access(
        ctx, app=app, subject_id="u-1", minutes=240, read_only=False, by=by
    )
    assert (grant.expires_at - grant.created_at).total_seconds() == 240 * 60
    issued = access_codes.issue_code(ctx, app=app, subject_id="u-1", by=by)
    assert issued.record.grant_minutes == 30
    with pytest.raises(InvalidInput):
        access_codes.issue_code(ctx, app=app, subject_id="u-1", grant_minutes=60, by=by)
