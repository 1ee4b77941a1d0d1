"""Issue 10 over the API, with a real SMTP server: the application's links, staff's codes and
case links, the session notices with their kill switch, and the close-out answer. Every test
runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from actas.domain.links import CODE_ATTEMPTS
from actas.store.tables import metadata
from tests.customer_world import ACTION_RE, LINK_RE, Mailed, code_in, html, plain, problem
from tests.scenario import open_case, started_session

ORIGIN = {"Origin": "https://broker.test"}


def counts(mailed: Mailed) -> dict[str, int]:
    with mailed.world.broker.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in metadata.sorted_tables
        }


def issue(mailed: Mailed, purpose: str = "password_reset", subject: str = "u-1") -> Any:
    return mailed.world.client.post(
        "/v1/links",
        headers=mailed.world.app_headers,
        json={"subject": subject, "purpose": purpose},
    )


def redeem(mailed: Mailed, token: str, purpose: str = "password_reset") -> Any:
    return mailed.world.client.post(
        "/v1/links/redeem",
        headers=mailed.world.app_headers,
        json={"token": token, "purpose": purpose},
    )


# --- the application's links ------------------------------------------------------------------


def test_an_issued_link_arrives_by_email_and_is_redeemed_once(mailed: Mailed) -> None:
    response = issue(mailed)
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"id", "purpose", "subject", "expires_at", "status"}
    assert not LINK_RE.search(response.text)
    mail = mailed.one("Reset your password")
    assert mailed.smtp.inbox.tls_seen[-1] is True
    text = plain(mail)
    (token,) = set(LINK_RE.findall(text))
    assert f"https://notes.test/actas/link?t={token}" in text
    assert "expires in 15 minutes" in text
    assert "works only once" in text
    assert "If you did not ask for this" in text
    first = redeem(mailed, token)
    assert first.status_code == 200, first.text
    assert first.json()["subject"] == "u-1"
    problem(redeem(mailed, token), 400, "link_used")


def test_a_link_for_another_purpose_or_expired_is_refused(mailed: Mailed) -> None:
    issue(mailed, "email_confirmation")
    (token,) = set(LINK_RE.findall(plain(mailed.one("Confirm"))))
    problem(redeem(mailed, token, "password_reset"), 400, "link_wrong_purpose")
    mailed.world.clock.advance(31 * 60)
    problem(redeem(mailed, token, "email_confirmation"), 400, "link_expired")


def test_fifty_concurrent_redemptions_over_the_api_succeed_exactly_once(mailed: Mailed) -> None:
    issue(mailed)
    (token,) = set(LINK_RE.findall(plain(mailed.one("Reset"))))
    statuses: list[int] = []
    barrier = threading.Barrier(50)

    def attempt() -> None:
        barrier.wait()
        statuses.append(redeem(mailed, token).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [400] * 49


def test_bad_link_input_is_a_problem_and_writes_nothing(mailed: Mailed) -> None:
    client, headers = mailed.world.client, mailed.world.app_headers
    no_email = {"account": "acme", "display_name": "Joe", "email": "joe@customer.test"}
    assert client.put("/v1/subjects/u-2", headers=headers, json=no_email).status_code == 201
    before = counts(mailed)
    problem(issue(mailed, "unlock_everything"), 422, "unknown_link_purpose")
    problem(issue(mailed, "password_reset", "u-2"), 409, "no_verified_email")
    problem(issue(mailed, "password_reset", "nobody"), 404)
    problem(redeem(mailed, "actas_lpw_short"), 422, "malformed_link_token")
    problem(redeem(mailed, "x" * 300), 422)
    problem(redeem(mailed, "actas_lpw_" + "A" * 43, "no_such_purpose"), 422)
    problem(client.post("/v1/links", json={"subject": "u-1", "purpose": "magic_signin"}), 401)
    case = open_case(mailed.world, mailed.world.as_(mailed.world.alice))
    before = counts(mailed)
    staff = mailed.world.as_(mailed.world.alice)
    after_login = counts(mailed)
    problem(
        client.post(f"/v1/cases/{case}/links", headers=staff, json={"purpose": "nope"}),
        422,
        "unknown_link_purpose",
    )
    assert counts(mailed) == after_login
    assert before["links"] == after_login["links"] == 0


# --- staff on a case ------------------------------------------------------------------------


def test_a_code_sent_from_a_case_is_checked_and_recorded_on_the_case(mailed: Mailed) -> None:
    world = mailed.world
    staff = world.as_(world.alice)
    case = open_case(world, staff)
    sent = world.client.post(f"/v1/cases/{case}/verifications", headers=staff)
    assert sent.status_code == 202, sent.text
    assert sent.json()["email"] == "pending"
    code = code_in(mailed.one("verification code"))
    assert code not in sent.text
    wrong = "000000" if code != "000000" else "111111"
    vid = sent.json()["id"]
    check = f"/v1/verifications/{vid}/check"
    problem(world.client.post(check, headers=staff, json={"code": wrong}), 400)
    problem(world.client.post(check, headers=staff, json={"code": "12345"}), 422)
    ok = world.client.post(check, headers=staff, json={"code": code})
    assert ok.status_code == 200, ok.text
    detail = world.client.get(f"/v1/cases/{case}", headers=staff).json()
    (recorded,) = detail["verifications"]
    assert recorded["id"] == vid
    assert recorded["method"] == "email_code"
    assert recorded["status"] == "verified"
    assert recorded["decided_by"] == world.alice.id
    assert recorded["decided_at"] is not None
    assert recorded["email"] == "sent"
    flow = world.client.get(f"/v1/cases/{case}/flow", headers=staff).json()
    assert flow["steps"][0] == {
        "name": "Identity confirmed",
        "done": True,
        "detail": f"email_code, by {world.alice.id}",
    }


def test_wrong_codes_past_the_limit_lock_and_are_audited(mailed: Mailed) -> None:
    world = mailed.world
    staff = world.as_(world.alice)
    case = open_case(world, staff)
    vid = world.client.post(f"/v1/cases/{case}/verifications", headers=staff).json()["id"]
    code = code_in(mailed.one("verification code"))
    wrong = "000000" if code != "000000" else "111111"
    check = f"/v1/verifications/{vid}/check"
    for _ in range(CODE_ATTEMPTS - 1):
        problem(world.client.post(check, headers=staff, json={"code": wrong}), 400)
    problem(world.client.post(check, headers=staff, json={"code": wrong}), 409)
    problem(world.client.post(check, headers=staff, json={"code": code}), 409)
    types = [e["type"] for e in world.events() if e["case"] == case]
    assert types.count("verification.failed") == CODE_ATTEMPTS
    assert "verification.locked" in types


def test_staff_send_a_link_from_a_case_and_the_rung_is_recorded(mailed: Mailed) -> None:
    world = mailed.world
    staff = world.as_(world.alice)
    case = open_case(world, staff)
    sent = world.client.post(
        f"/v1/cases/{case}/links",
        headers=staff,
        json={"purpose": "password_reset", "why": "customer locked out, asked for a reset"},
    )
    assert sent.status_code == 202, sent.text
    assert not LINK_RE.search(sent.text)
    mail = mailed.one("Reset your password")
    assert LINK_RE.search(plain(mail))
    flow = world.client.get(f"/v1/cases/{case}/flow", headers=staff).json()
    assert flow["steps"][2]["done"] is True
    assert "user_authorized: customer locked out" in flow["steps"][2]["detail"]
    issued = [e for e in world.events() if e["type"] == "link.issued"]
    assert issued[-1]["case"] == case


# --- notices and the kill switch --------------------------------------------------------------


def test_the_session_started_email_tells_who_why_how_long_and_what(mailed: Mailed) -> None:
    session, _, _ = started_session(mailed.world, minutes=20)
    mail = mailed.one("support is looking at your account")
    text = plain(mail)
    assert "Alice from Notes support started a support session" in text
    assert 'bug reproduction, "Export button fails with error 500" (ticket ZD-4711)' in text
    assert "up to 20 minutes" in text
    assert "see your account as you see it" in text
    assert "change anything in your account" in text  # read-only: under "may not"
    assert "see or change your password" in text
    (token,) = set(ACTION_RE.findall(text))
    assert f"https://broker.test/customer/end/{token}" in text
    assert "End this session now" in html(mail)
    assert _session(mailed, session)["ended_at"] is None


def _kill_switch(mailed: Mailed) -> tuple[str, str]:
    session, _, _ = started_session(mailed.world)
    text = plain(mailed.one("support is looking at your account"))
    (token,) = set(ACTION_RE.findall(text))
    return session, token


def _session(mailed: Mailed, session: str) -> dict[str, Any]:
    world = mailed.world
    body: dict[str, Any] = world.client.get(
        f"/v1/sessions/{session}", headers=world.as_(world.sam)
    ).json()
    return body


def test_the_kill_switch_get_ends_nothing_and_its_post_ends_the_session(mailed: Mailed) -> None:
    world = mailed.world
    session, token = _kill_switch(mailed)
    before = counts(mailed)
    page = world.client.get(f"/customer/end/{token}")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script" not in page.text
    assert "style=" not in page.text
    assert 'action="/customer/end"' in page.text
    assert token in page.text
    assert counts(mailed) == before
    assert _session(mailed, session)["ended_at"] is None

    # Another site's form, or no origin at all, ends nothing.
    evil = world.client.post(
        "/customer/end", data={"token": token}, headers={"Origin": "https://evil.test"}
    )
    assert evil.status_code == 403
    assert world.client.post("/customer/end", data={"token": token}).status_code == 403
    assert _session(mailed, session)["ended_at"] is None

    done = world.client.post("/customer/end", data={"token": token}, headers=ORIGIN)
    assert done.status_code == 200, done.text
    assert "The support session has ended" in done.text
    ended = _session(mailed, session)
    assert ended["end_reason"] == "ended_by_customer"
    events = [e for e in world.events() if e["session"] == session]
    by_customer = [e for e in events if e["actor"] == "customer:u-1"]
    assert [e["type"] for e in by_customer] == ["session.ended", "customer.kill_switch"]
    assert by_customer[0]["data"]["end_reason"] == "ended_by_customer"
    feed = world.client.get(
        "/v1/revocations", headers={**world.app_headers, "Accept": "application/json"}
    ).json()
    assert any(r["session"] == session for r in feed["revocations"]), feed

    again = world.client.post("/customer/end", data={"token": token}, headers=ORIGIN)
    assert again.status_code == 400
    assert "already used" in again.text
    digest = plain(mailed.one("ended"))
    assert "because you ended it" in digest
    assert "Pages viewed" in digest
    assert "Approved by" in digest


def test_a_forged_or_malformed_kill_switch_is_refused(mailed: Mailed) -> None:
    client = mailed.world.client
    assert client.get("/customer/end/actas_ces_" + "A" * 43).status_code == 400
    assert client.get("/customer/end/nonsense").status_code == 422
    forged = client.post("/customer/end", data={"token": "actas_ces_" + "B" * 43}, headers=ORIGIN)
    assert forged.status_code == 400


# --- close-out ------------------------------------------------------------------------------


def test_closing_a_case_emails_the_summary_and_records_the_answer_once(mailed: Mailed) -> None:
    world = mailed.world
    staff = world.as_(world.alice)
    case = open_case(world, staff)
    closed = world.client.post(
        f"/v1/cases/{case}/close",
        headers=staff,
        json={"changes": "Re-sent the export job.", "verify": "Export again; undo: delete it."},
    )
    assert closed.status_code == 200, closed.text
    flow = f"/v1/cases/{case}/flow"
    assert world.client.get(flow, headers=staff).json()["close_out_email"] == "pending"
    mail = mailed.one("is closed")
    text = plain(mail)
    assert "Re-sent the export job." in text
    assert "undo: delete it." in text
    (token,) = set(ACTION_RE.findall(text))
    assert f"/customer/answer/{token}?answer=no" in text
    assert world.client.get(flow, headers=staff).json()["close_out_email"] == "sent"
    page = world.client.get(f"/customer/answer/{token}?answer=no")
    assert page.status_code == 200
    assert world.client.get(flow, headers=staff).json()["customer_confirmed"] is None
    answered = world.client.post(
        "/customer/answer", data={"token": token, "answer": "no"}, headers=ORIGIN
    )
    assert answered.status_code == 200, answered.text
    got = world.client.get(flow, headers=staff).json()
    assert got["customer_confirmed"] == "no"
    assert got["steps"][3]["done"] is False
    again = world.client.post(
        "/customer/answer", data={"token": token, "answer": "yes"}, headers=ORIGIN
    )
    assert again.status_code == 400
    assert world.client.get(flow, headers=staff).json()["customer_confirmed"] == "no"


def test_a_close_out_the_server_refuses_shows_failed(mailed: Mailed) -> None:
    world = mailed.world
    mailed.smtp.inbox.refuse["jane@customer.test"] = "550 no such mailbox"
    staff = world.as_(world.alice)
    case = open_case(world, staff)
    world.client.post(
        f"/v1/cases/{case}/close", headers=staff, json={"changes": "x", "verify": "y"}
    )
    mailed.worker.deliver_due()
    flow = world.client.get(f"/v1/cases/{case}/flow", headers=staff).json()
    assert flow["close_out_email"] == "failed"


def test_notices_go_in_the_transaction_of_the_change(mailed: Mailed) -> None:
    """A session start refused (step-up failed) queues no notice."""
    world = mailed.world
    staff = world.as_(world.alice)
    case = open_case(world, staff)
    request = world.client.post(
        "/v1/access-requests",
        headers=staff,
        json={"case": case, "kind": "impersonate", "scopes": ["read"], "minutes": 15},
    ).json()
    before = counts(mailed)
    refused = world.client.post(
        f"/v1/access-requests/{request['id']}/start", headers=staff, json={"code": "000000"}
    )
    assert refused.status_code == 401
    assert counts(mailed)["outbox"] == before["outbox"]
    assert counts(mailed)["customer_actions"] == 0
