"""Deactivating a user through SCIM (as Okta does when HR offboards someone) ends their live
support sessions, and the application hears it on its revocation feed within the feed's wait
bound, as ``tests/test_revocations.py`` follows it (a real uvicorn server, a real SSE
client). The member was created by SCIM and stepped up with a passkey: they never had a
password or a TOTP seed anyone saw."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from actas.app import create_app
from actas.bootstrap import Broker
from actas.domain.audit import Actor
from actas.domain.subjects import Application
from actas.services import applications as app_service
from actas.services import cases, handoff, passkeys, requests, sessions
from actas.services import scim as scim_service
from actas.services import staff as staff_service
from tests.test_revocations import WAIT, ServerThread, SseClient
from tests.webauthn_soft import SoftAuthenticator

SETUP = Actor(id="test-setup")
HANDOFF = "https://notes.test/actas/handoff"


@pytest.fixture
def server(broker: Broker) -> Iterator[ServerThread]:
    with ServerThread(create_app(broker)) as running:
        yield running


def _customer(broker: Broker, credential: str) -> Application:
    ctx = broker.services
    app = app_service.authenticate_application(ctx, credential)
    app_service.upsert_account(
        ctx, app=app, account_id="acme", name="Acme", flags=frozenset(), handoff_url=None, by=SETUP
    )
    app_service.upsert_subject(
        ctx,
        app=app,
        subject_id="u-1",
        account_id="acme",
        email="jane@customer.test",
        email_verified=True,
        display_name="Jane",
        privileged=False,
        by=SETUP,
    )
    return app


def _live_session(broker: Broker, app: Application, staff_id: str) -> str:
    """A session of the SCIM-made member: case, auto-approved request, passkey step-up, and
    the application redeeming the handoff."""
    ctx = broker.services
    member = staff_service.get_staff(ctx, staff_id)
    by = Actor(id=staff_id, ip="127.0.0.1")
    key = SoftAuthenticator(rp_id="broker.test", origin="https://broker.test")
    passkeys.register(
        ctx,
        staff=member,
        response=key.create(passkeys.registration_options(ctx, member)),
        name="Laptop",
        by=by,
    )
    case = cases.open_case(
        ctx,
        staff=member,
        application_id=app.id,
        subject_id="u-1",
        ticket="ZD-7",
        reason_code="bug_reproduction",
        reason_text="export fails",
        by=by,
    )
    request = requests.request_access(
        ctx,
        staff=member,
        case_id=case.id,
        kind="impersonate",
        scopes=frozenset({"read"}),
        minutes=15,
        by=by,
    )
    started = sessions.start_session(
        ctx,
        staff=member,
        request_id=request.id,
        code=None,
        assertion=key.get(passkeys.step_up_options(ctx, member)),
        by=by,
    )
    assert started.handoff_code is not None
    handoff.redeem_handoff(ctx, app=app, code=started.handoff_code, handoff_url=HANDOFF, by=by)
    return started.session.id


def test_scim_deactivation_ends_live_sessions_and_the_feed_says_so(
    broker: Broker, server: ServerThread, demo_app: tuple[str, dict[str, str]]
) -> None:
    _, app_headers = demo_app
    app = _customer(broker, app_headers["Authorization"].removeprefix("Bearer "))
    token = scim_service.create_token(broker.services, name="okta", by=SETUP)
    scim = httpx.Client(
        base_url=f"{server.base}/scim/v2",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        timeout=WAIT,
    )
    created = scim.post(
        "/Users",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "nina@example.com",
            "displayName": "Nina",
            "emails": [{"value": "nina@example.com", "primary": True}],
            "active": True,
        },
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    session_id = _live_session(broker, app, user_id)

    with SseClient(f"{server.base}/v1/revocations", app_headers) as feed:
        assert feed.until_ready() == []
        patched = scim.patch(
            f"/Users/{user_id}",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"active": False}}],
            },
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["active"] is False
        event = feed.next()  # bounded by WAIT: the revocation bound of this test harness
        assert event.kind == "revocation"
        assert event.data is not None
        assert event.data["session"] == session_id
        assert event.data["application"] == app.id
    assert not [s for s in sessions.live_sessions(broker.services) if s.id == session_id]
    scim.close()
