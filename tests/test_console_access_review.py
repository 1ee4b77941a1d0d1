"""The access review in the console over HTTP: security only, a bad quarter writes nothing, the
downloads name their file, and a sign-off for figures other than the ones shown is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from actas.services import access_review
from tests.review_data import generate
from tests.scenario import World
from tests.test_api_bad_input import snapshot
from tests.test_console import Staffer


@pytest.fixture
def staffers(world: World) -> Iterator[dict[str, Staffer]]:
    made = {"alice": Staffer(world, world.alice), "sam": Staffer(world, world.sam)}
    yield made
    for staffer in made.values():
        staffer.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/console/access-review"),
        ("GET", "/console/access-review/2026Q3/download/csv"),
        ("POST", "/console/access-review/2026Q3/sign"),
    ],
)
def test_only_security_reads_and_signs_the_review(
    world: World, staffers: dict[str, Staffer], method: str, path: str
) -> None:
    alice = staffers["alice"]
    before = snapshot(world.broker)
    if method == "GET":
        response = alice.get(path, follow_redirects=False)
    else:
        response = alice.post(path, {"comment": "fine", "digest": "0" * 64})
    assert response.status_code == 403, response.text
    assert snapshot(world.broker) == before


def test_security_downloads_and_signs_in_the_console(
    world: World, staffers: dict[str, Staffer]
) -> None:
    sam = staffers["sam"]
    generate(world.broker.engine, sessions=300, staff_count=12, accounts=40)
    page = sam.get("/console/access-review?quarter=2026Q3")
    assert page.status_code == 200
    assert page.text.count("<svg") == 4
    assert 'href="/console/access-review"' in sam.get("/console/search").text
    assert sam.get("/console/access-review?quarter=2026Q9").status_code == 422
    csv = sam.get("/console/access-review/2026Q3/download/csv")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert 'filename="access-review-2026Q3.csv"' in csv.headers["content-disposition"]
    assert sam.get("/console/access-review/2026Q3/download/exe").status_code == 422

    before = snapshot(world.broker)
    stale = sam.post("/console/access-review/2026Q3/sign", {"comment": "ok", "digest": "0" * 64})
    assert stale.status_code == 409
    assert snapshot(world.broker) == before
    digest = access_review.build(world.broker.services, "2026Q3").digest
    done = sam.post("/console/access-review/2026Q3/sign", {"comment": "checked", "digest": digest})
    assert done.status_code == 303
    assert "checked" in sam.get("/console/access-review?quarter=2026Q3").text
    assert [e["type"] for e in world.events(type="access_review.signed")] == [
        "access_review.signed"
    ]
