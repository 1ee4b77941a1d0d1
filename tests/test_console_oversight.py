"""The console's oversight pages for security: alerts to acknowledge with a comment and the
break-glass review queue; other roles are refused, and a refusal writes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from actas.domain.audit import Actor
from actas.domain.roles import Role
from actas.services import alerts, break_glass, cases, requests
from actas.services import staff as staff_service
from tests.scenario import World
from tests.test_api_bad_input import snapshot
from tests.test_console import Staffer


@pytest.fixture
def staffers(world: World) -> Iterator[dict[str, Staffer]]:
    made = {"alice": Staffer(world, world.alice), "sam": Staffer(world, world.sam)}
    yield made
    for staffer in made.values():
        staffer.close()


def break_glass_by(world: World, who_id: str) -> str:
    ctx = world.broker.services
    staff = staff_service.get_staff(ctx, who_id)
    by = Actor(id=who_id, ip="127.0.0.1")
    case = cases.open_case(
        ctx,
        staff=staff,
        application_id="notes",
        subject_id="u-1",
        ticket="INC-9",
        reason_code="data_recovery",
        reason_text="outage",
        by=by,
    )
    return requests.request_access(
        ctx,
        staff=staff,
        case_id=case.id,
        kind="impersonate",
        scopes=frozenset({"read"}),
        minutes=15,
        break_glass=True,
        by=by,
    ).id


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/console/alerts"),
        ("GET", "/console/alerts/x"),
        ("POST", "/console/alerts/x/acknowledge"),
        ("GET", "/console/break-glass"),
        ("POST", "/console/break-glass/x/review"),
    ],
)
def test_only_security_sees_oversight(
    world: World, staffers: dict[str, Staffer], method: str, path: str
) -> None:
    alice = staffers["alice"]
    before = snapshot(world.broker)
    if method == "GET":
        response = alice.get(path, follow_redirects=False)
    else:
        response = alice.post(path, {"comment": "fine", "outcome": "justified"})
    assert response.status_code == 403, response.text
    assert snapshot(world.broker) == before


def test_security_acknowledges_and_reviews_in_the_console(
    world: World, staffers: dict[str, Staffer]
) -> None:
    sam = staffers["sam"]
    other = world.people.add("sol", Role.SECURITY)
    request_id = break_glass_by(world, other.id)
    page = sam.get("/console/alerts")
    assert page.status_code == 200
    assert "Break-glass used" in page.text
    assert 'href="/console/alerts"' in sam.get("/console/search").text  # in the navigation
    [alert] = alerts.recent(world.broker.services, open_only=True)
    assert sam.get(f"/console/alerts/{alert.id}").status_code == 200
    empty = sam.post(f"/console/alerts/{alert.id}/acknowledge", {"comment": " "})
    assert empty.status_code == 422
    assert "comment" in empty.text
    done = sam.post(f"/console/alerts/{alert.id}/acknowledge", {"comment": "INC-9 outage"})
    assert done.status_code == 303
    assert "INC-9 outage" in sam.get("/console/alerts").text
    again = sam.post(f"/console/alerts/{alert.id}/acknowledge", {"comment": "twice"})
    assert again.status_code == 409

    queue = sam.get("/console/break-glass").text
    assert f"/console/break-glass/{request_id}/review" in queue
    vague = sam.post(f"/console/break-glass/{request_id}/review", {"comment": "ok"})
    assert vague.status_code == 422  # no outcome chosen
    reviewed = sam.post(
        f"/console/break-glass/{request_id}/review",
        {"outcome": "unjustified", "comment": "no incident open at the time"},
    )
    assert reviewed.status_code == 303
    assert break_glass.queue(world.broker.services) == []
    assert "Nothing waits for review" in sam.get("/console/break-glass").text


def test_the_user_of_break_glass_cannot_review_it(
    world: World, staffers: dict[str, Staffer]
) -> None:
    sam = staffers["sam"]
    request_id = break_glass_by(world, world.sam.id)
    assert "another member of security reviews it" in sam.get("/console/break-glass").text
    before = snapshot(world.broker)
    response = sam.post(
        f"/console/break-glass/{request_id}/review",
        {"outcome": "justified", "comment": "trust me"},
    )
    assert response.status_code == 403
    assert snapshot(world.broker) == before
