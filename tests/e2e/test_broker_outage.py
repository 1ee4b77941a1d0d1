"""The broker goes away (SIGKILL, as in a crash) and comes back.

Impersonation fails closed once the revocation feed has been silent past the SDK's staleness
limit, while the app's own users never notice. Writes made while the broker was away wait in
the SDK's spool and reach the audit log exactly once after it restarts."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from actas.domain.roles import Role
from tests.e2e.conftest import StackFactory
from tests.e2e.harness import answers, wait_for

PETER = "peter@initech.test"


def segments(spool: Path, prefix: str = "seg-") -> list[Path]:
    """The SDK's spool files (``seg-*`` wait to be sent; ``dead-*`` were refused)."""
    return sorted(spool.glob(f"{prefix}*")) if spool.exists() else []


def test_a_silent_broker_ends_impersonation_and_normal_users_keep_working(
    make_stack: StackFactory,
) -> None:
    with make_stack(staleness=2.0) as stack:
        sam = stack.broker.add_staff("sam", Role.SECURITY)
        customer = stack.browser()
        stack.sign_in(customer, PETER)
        session = stack.start_session(sam, subject="u-peter", scopes=("read",))
        support = stack.browser()
        stack.handoff(support, session)
        assert support.get("/notes").status_code == 200

        stack.broker.server.kill()

        ended = wait_for(
            answers(support, "/notes", 401),
            what="impersonation to fail closed after the staleness limit",
            timeout=30.0,
            interval=0.25,
        )
        assert "could not confirm with the support service" in ended.text
        assert 'data-cause="unconfirmed"' in ended.text
        assert "<actas-banner" not in ended.text
        assert "actas_sdk" not in support.cookies

        # The customer, signed in with the app's own session, carries on as usual.
        page = customer.get("/notes")
        assert page.status_code == 200
        assert "Peter Gibbons" in page.text
        title = f"while the broker is down {uuid.uuid4().hex[:6]}"
        assert customer.post("/notes", data={"title": title}).status_code == 303
        assert title in customer.get("/notes").text
        before = len(stack.mail.to(PETER))
        assert "was emailed" in customer.get("/digest").text
        assert len(stack.mail.to(PETER)) == before + 1
        # And someone signing in now can, too.
        fresh = stack.browser()
        stack.sign_in(fresh, "jane@customer.test")
        assert fresh.get("/notes").status_code == 200


def test_writes_spooled_during_an_outage_arrive_exactly_once_after_a_restart(
    make_stack: StackFactory,
) -> None:
    # A staleness limit far above the time this test takes, so the write during the outage
    # is still admitted; the limit itself is the test above.
    with make_stack(staleness=120.0) as stack:
        sam = stack.broker.add_staff("sam", Role.SECURITY)
        session = stack.start_session(sam, subject="u-peter", scopes=("read", "write"))
        support = stack.browser()
        stack.handoff(support, session)

        def writes() -> dict[str, list[dict[str, Any]]]:
            by_resource: dict[str, list[dict[str, Any]]] = {}
            for event in stack.audit(sam, type="app.request"):
                if event["session"] == session.id and event["data"]["method"] == "POST":
                    by_resource.setdefault(event["data"]["resource"], []).append(event)
            return by_resource

        def write(label: str) -> str:
            response = support.post("/notes", data={"title": f"{label} {uuid.uuid4().hex[:6]}"})
            assert response.status_code == 303, response.text
            newest = support.get("/notes").text.split('data-note-id="', 1)[1].split('"', 1)[0]
            return f"note:{newest}"

        before = write("before the outage")
        wait_for(lambda: before in writes(), what="the first write in the audit log")

        stack.broker.server.kill()
        during = write("during the outage")
        wait_for(
            lambda: segments(stack.notes.spool),
            what="the write to wait in the SDK's on-disk spool",
        )

        stack.broker.server.start()  # the same port, database and keys
        stack.reconnect()
        wait_for(lambda: during in writes(), what="the spooled write to arrive", timeout=60.0)
        # One more write that arrives after it: the shipper has gone round again since.
        after = write("after the restart")
        wait_for(lambda: after in writes(), what="the write after the restart", timeout=30.0)
        wait_for(lambda: not segments(stack.notes.spool), what="the spool to drain")
        assert not segments(stack.notes.spool, "dead-")  # nothing was refused on the way

        found = writes()
        assert [len(found[r]) for r in (before, during, after)] == [1, 1, 1]
        assert {e["session"] for events in found.values() for e in events} == {session.id}
