"""The whole life of a time-boxed session through the HTTP API, on both databases: case,
request, decision, approval by a second person, step-up, start, redeem, refresh, end; then
each other way a session ends, and the attacks on handoff codes and refresh."""

from __future__ import annotations

import threading
import warnings
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt as jose_jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import KeySet

from actas.domain.audit import Actor
from actas.domain.roles import Role
from actas.services import applications as app_service
from actas.services import handoff as handoff_service
from actas.services import sweep
from tests.conftest import People
from tests.scenario import (
    HANDOFF,
    World,
    ask,
    open_case,
    redeem,
    refresh,
    set_flags,
    started_session,
)


def test_the_whole_lifecycle(world: World) -> None:
    set_flags(world, "flagged")  # a flagged account needs approval, not consent
    alice = world.as_(world.alice)
    case = open_case(world, alice)
    preview = world.client.post(
        "/v1/access-requests/preview",
        headers=alice,
        json={"case": case, "kind": "impersonate", "scopes": ["read"], "minutes": 15},
    )
    assert preview.json()["outcome"] == "needs_approval"
    assert any("flagged" in r for r in preview.json()["reasons"])

    request = ask(world, alice, case).json()
    assert request["state"] == "pending_approval"
    assert request["decision"]["approver_roles"] == ["lead", "security"]

    own = world.client.post(
        f"/v1/access-requests/{request['id']}/approve", headers=alice, json={"comment": "me"}
    )
    assert own.status_code == 403
    assert "own request" in own.json()["detail"]
    early = world.client.post(
        f"/v1/access-requests/{request['id']}/start",
        headers=alice,
        json={"code": world.code(world.alice)},
    )
    assert early.status_code == 409

    lucy = world.as_(world.lucy)
    inbox = world.client.get("/v1/access-requests", headers=lucy).json()
    assert [r["id"] for r in inbox] == [request["id"]]
    approved = world.client.post(
        f"/v1/access-requests/{request['id']}/approve",
        headers=lucy,
        json={"comment": "ok, ticket checked"},
    )
    assert approved.status_code == 200
    assert approved.json()["state"] == "approved"

    no_code = world.client.post(
        f"/v1/access-requests/{request['id']}/start", headers=alice, json={"code": "000000"}
    )
    assert no_code.status_code == 401  # step-up refused, nothing started
    start = world.client.post(
        f"/v1/access-requests/{request['id']}/start",
        headers=alice,
        json={"code": world.code(world.alice)},
    )
    assert start.status_code == 200, start.text
    started = start.json()
    session = started["session"]["id"]
    target = urlsplit(started["redirect_url"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == HANDOFF
    code = parse_qs(target.query)["code"][0]
    assert code == started["handoff_code"]

    redeemed = redeem(world, code)
    assert redeemed.status_code == 200, redeemed.text
    token = redeemed.json()
    assert token["expires_in"] == 300
    assert token["session"] == session

    fresh = refresh(world, session, token["refresh_handle"])
    assert fresh.status_code == 200
    assert fresh.json()["access_token"] != token["access_token"]

    ended = world.client.post(f"/v1/sessions/{session}/end", headers=alice)
    assert ended.json()["end_reason"] == "ended_by_staff"
    assert refresh(world, session, token["refresh_handle"]).status_code == 400

    request_types = [e["type"] for e in world.events() if e["data"].get("request") == request["id"]]
    assert request_types == ["access.requested", "access.approved", "session.started"]
    assert world.types_for_session(session) == [
        "session.started",
        "session.handoff_redeemed",
        "session.refreshed",
        "session.ended",
    ]
    approval = next(e for e in world.events(type="access.approved"))
    assert approval["actor"] == world.lucy.id
    assert approval["data"]["comment"] == "ok, ticket checked"
    opened = next(e for e in world.events(type="case.opened"))
    assert opened["ticket"] == "ZD-4711"
    assert opened["reason"] == "Export button fails with error 500"


def test_actor_token_matches_the_contract_under_an_independent_jose(world: World) -> None:
    session, code, _ = started_session(world)
    token = redeem(world, code).json()["access_token"]
    jwks = world.client.get("/.well-known/jwks.json").json()
    with warnings.catch_warnings():
        # joserfc warns that RFC 9864 prefers the name "Ed25519"; the contract says EdDSA.
        warnings.simplefilter("ignore", SecurityWarning)
        decoded = jose_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["EdDSA"])
    assert decoded.header["alg"] == "EdDSA"
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.header["kid"] in {k["kid"] for k in jwks["keys"]}
    claims = decoded.claims
    assert set(claims) == {
        "iss", "aud", "sub", "act", "sid", "scope", "acct", "kind", "iat", "nbf", "exp", "jti"
    }  # fmt: skip
    assert claims["iss"] == "https://broker.test"
    assert claims["aud"] == "notes"
    assert claims["sub"] == "u-1"
    assert claims["act"] == {"sub": world.alice.id}
    assert claims["sid"] == session
    assert claims["scope"] == "read"
    assert claims["acct"] == "acme"
    assert claims["kind"] == "impersonate"
    assert claims["nbf"] == claims["iat"]
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert "jane" not in token.lower()


def test_a_session_ends_by_revocation_from_a_lead(world: World) -> None:
    session, code, _ = started_session(world)
    handle = redeem(world, code).json()["refresh_handle"]
    revoked = world.client.post(
        f"/v1/sessions/{session}/revoke",
        headers=world.as_(world.lucy),
        json={"reason": "customer called"},
    )
    assert revoked.json()["end_reason"] == "revoked"
    assert refresh(world, session, handle).status_code == 400
    assert world.types_for_session(session)[-1] == "session.revoked"
    (event,) = world.events(type="session.revoked")
    assert event["reason"] == "customer called"
    assert event["actor"] == world.lucy.id


def test_an_agent_cannot_revoke_someone_elses_session(world: World, people: People) -> None:
    session, _, _ = started_session(world)
    bob = people.add("bob", Role.AGENT)
    refused = world.client.post(
        f"/v1/sessions/{session}/revoke", headers=world.as_(bob), json={"reason": "x"}
    )
    assert refused.status_code == 403


@pytest.mark.parametrize("why", ["expired", "idle_timeout"])
def test_a_session_ends_at_expiry_and_after_idling(world: World, why: str) -> None:
    # Expired: a 15-minute session, active all along. Idle: a 20-minute one, quiet for 16.
    session, code, _ = started_session(world, minutes=15 if why == "expired" else 20)
    handle = redeem(world, code).json()["refresh_handle"]
    if why == "expired":
        for _ in range(3):
            world.clock.advance(4 * 60)
            assert refresh(world, session, handle).status_code == 200
        world.clock.advance(4 * 60)
    else:
        world.clock.advance(16 * 60)
    refused = refresh(world, session, handle)
    assert refused.status_code == 400
    assert why in refused.json()["detail"]
    detail = world.client.get(f"/v1/sessions/{session}", headers=world.as_(world.sam)).json()
    assert detail["end_reason"] == why
    assert world.types_for_session(session)[-1] == "session.ended"
    revocations = world.client.get(
        "/v1/revocations", headers={**world.app_headers, "accept": "application/json"}
    ).json()["revocations"]
    listed = [r["session"] for r in revocations]
    # An idle session is revoked while its hard expiry is still ahead; an expired one needs no
    # revocation (no token outlives the session's expiry), so the catch-up list leaves it out.
    assert listed == ([session] if why == "idle_timeout" else [])


def test_sweep_ends_lapsed_sessions_and_expires_requests(world: World) -> None:
    session, _, _ = started_session(world)
    set_flags(world, "flagged")
    alice = world.as_(world.alice)
    pending = ask(world, alice, open_case(world, alice)).json()
    world.clock.advance(61 * 60)
    swept = sweep.sweep(world.broker.services)
    assert swept.sessions_ended == 1
    assert swept.requests_expired == 1
    assert world.types_for_session(session)[-1] == "session.ended"
    alice = world.as_(world.alice)  # the staff session itself idled out meanwhile
    after = world.client.get(f"/v1/access-requests/{pending['id']}", headers=alice).json()
    assert after["state"] == "expired"
    assert sweep.sweep(world.broker.services).sessions_ended == 0


def test_disabling_the_staff_member_ends_their_sessions(world: World) -> None:
    session, code, _ = started_session(world)
    handle = redeem(world, code).json()["refresh_handle"]
    from actas.services import staff as staff_service

    staff_service.disable_staff(world.broker.services, email=world.alice.email, by=Actor(id="test"))
    assert refresh(world, session, handle).status_code == 400
    assert world.types_for_session(session)[-1] == "session.ended"
    (event,) = [e for e in world.events(type="session.ended") if e["session"] == session]
    assert event["data"]["end_reason"] == "staff_disabled"


def test_closing_the_case_ends_its_sessions(world: World) -> None:
    session, _, alice = started_session(world)
    case = world.client.get(f"/v1/sessions/{session}", headers=alice).json()["case"]
    closed = world.client.post(
        f"/v1/cases/{case}/close",
        headers=alice,
        json={"changes": "Re-sent the export", "verify": "Open Exports; undo by deleting it"},
    )
    assert closed.status_code == 200
    assert closed.json()["summary"]["verify"].startswith("Open Exports")
    detail = world.client.get(f"/v1/sessions/{session}", headers=alice).json()
    assert detail["end_reason"] == "case_closed"
    assert ask(world, alice, case).status_code == 409


def test_no_access_accounts_are_refused_whatever_the_role(world: World, people: People) -> None:
    set_flags(world, "no_access")
    for who in (world.alice, world.sam, people.add("root", Role.ADMIN, Role.SECURITY)):
        headers = world.as_(who)
        request = ask(world, headers, open_case(world, headers), break_glass=who is world.sam)
        assert request.status_code == 201
        assert request.json()["state"] == "denied"
        assert any("no_access" in r for r in request.json()["decision"]["reasons"])


def test_a_duration_over_the_role_maximum_is_refused_with_the_reason(world: World) -> None:
    alice = world.as_(world.alice)
    request = ask(world, alice, open_case(world, alice), minutes=90).json()
    assert request["state"] == "denied"
    reason = " ".join(request["decision"]["reasons"])
    assert "90" in reason
    assert "20" in reason


def test_break_glass_skips_approval_and_marks_review(world: World) -> None:
    set_flags(world, "flagged")
    sam = world.as_(world.sam)
    request = ask(world, sam, open_case(world, sam), break_glass=True).json()
    assert request["state"] == "approved"
    assert request["decision"]["review_required"] is True
    assert len(world.events(type="access.break_glass")) == 1


def test_high_risk_approval_needs_the_approvers_code(world: World) -> None:
    set_flags(world, "flagged")
    alice = world.as_(world.alice)
    request = ask(world, alice, open_case(world, alice), scopes=["read", "write"])
    # An agent may not ask for write at all under the default policy.
    assert request.json()["state"] == "denied"
    lucy_headers = world.as_(world.lucy)
    lead_request = ask(world, lucy_headers, open_case(world, lucy_headers), scopes=["write"]).json()
    assert lead_request["decision"]["high_risk"] is True
    sam = world.as_(world.sam)
    url = f"/v1/access-requests/{lead_request['id']}/approve"
    without = world.client.post(url, headers=sam, json={"comment": "ok"})
    assert without.status_code == 401
    assert without.json()["type"].endswith("step_up_required")
    with_code = world.client.post(
        url, headers=sam, json={"comment": "ok", "code": world.code(world.sam)}
    )
    assert with_code.json()["state"] == "approved"


def test_handoff_code_is_single_use(world: World) -> None:
    _, code, _ = started_session(world)
    assert redeem(world, code).status_code == 200
    again = redeem(world, code)
    assert again.status_code == 400
    assert again.headers["content-type"] == "application/problem+json"


def test_handoff_code_expires_after_a_minute(world: World) -> None:
    _, code, _ = started_session(world)
    world.clock.advance(61)
    assert redeem(world, code).status_code == 400


def test_handoff_code_is_bound_to_the_application_and_url(world: World) -> None:
    _, code, _ = started_session(world)
    other = app_service.add_application(
        world.broker.services,
        app_id="billing",
        name="Billing",
        handoff_url="https://billing.test/h",
        by=Actor(id="test"),
    )
    stolen = redeem(world, code, headers={"Authorization": f"Bearer {other.credential}"})
    assert stolen.status_code == 400
    assert redeem(world, code, handoff_url="https://evil.test/actas/handoff").status_code == 400
    assert redeem(world, code).status_code == 200  # the failed tries did not burn it


def test_handoff_code_bound_to_the_accounts_own_domain(world: World) -> None:
    custom = "https://acme.notes.test/actas/handoff"
    world.client.put(
        "/v1/accounts/acme",
        headers=world.app_headers,
        json={"name": "Acme", "handoff_url": custom},
    )
    _, code, _ = started_session(world)
    assert redeem(world, code).status_code == 400
    assert redeem(world, code, handoff_url=custom).status_code == 200


def test_concurrent_redemptions_succeed_exactly_once(world: World) -> None:
    """50 threads race one code on the real database; exactly one gets a token."""
    _, code, _ = started_session(world)
    app = app_service.authenticate_application(
        world.broker.services, world.app_headers["Authorization"].split()[1]
    )
    barrier = threading.Barrier(50)
    results: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        try:
            handoff_service.redeem_handoff(
                world.broker.services, app=app, code=code, handoff_url=HANDOFF, by=Actor(id="t")
            )
            outcome = "ok"
        except Exception as exc:
            outcome = type(exc).__name__
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 50
    assert results.count("ok") == 1, results
    assert set(results) == {"ok", "InvalidGrant"}


def test_refresh_needs_the_sessions_own_handle(world: World) -> None:
    session, code, _ = started_session(world)
    redeem(world, code)
    assert refresh(world, session, "actas_rh_" + "A" * 43).status_code == 400


def test_extension_is_a_new_request_with_its_own_reason(world: World) -> None:
    session, _, alice = started_session(world)
    case = world.client.get(f"/v1/sessions/{session}", headers=alice).json()["case"]
    extension = ask(
        world,
        alice,
        case,
        minutes=20,
        extends_session=session,
        extension_reason="the export needs another run",
    ).json()
    assert extension["state"] == "approved"
    start = world.client.post(
        f"/v1/access-requests/{extension['id']}/start",
        headers=alice,
        json={"code": world.code(world.alice)},
    )
    assert start.status_code == 200, start.text
    assert start.json()["handoff_code"] is None
    (event,) = world.events(type="session.extended")
    assert event["session"] == session
    assert event["reason"] == "the export needs another run"
