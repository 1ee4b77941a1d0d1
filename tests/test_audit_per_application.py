"""Account ids are each application's own (issue 13): two applications may both have an account
``acme``. Events name their application; ``account_prev`` links an account's events per
application; an export for one application's account holds all of its events and none of the
other's, and verifies offline; the customer page's download is that export."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from actas.audit.verify import verify_log
from actas.domain.audit import Actor, AuditEvent, leaf_hash
from actas.services import applications as app_service
from actas.store.chain import canonical_bytes
from actas.store.engine import make_engine
from actas.store.migrate import upgrade
from actas.store.tables import audit_events, audit_head
from actas.verifier.export_check import verify_export
from tests.scenario import World, redeem, started_session
from tests.test_customer_page import _enter
from tests.test_migrations import empty_url  # noqa: F401 (fixture)

BILLING_ACCOUNT = {"name": "Acme (billing)"}


@pytest.fixture
def two_apps(world: World) -> World:
    """``acme`` in notes (the world's) and in billing, with events of both interleaved."""
    billing = app_service.add_application(
        world.broker.services,
        app_id="billing",
        name="Billing",
        handoff_url="https://billing.test/actas/handoff",
        by=Actor(id="test-setup"),
    )
    headers = {"Authorization": f"Bearer {billing.credential}"}
    put = world.client.put("/v1/accounts/acme", headers=headers, json=BILLING_ACCOUNT)
    assert put.status_code == 201, put.text
    for n in range(3):
        _, code, _ = started_session(world)
        assert redeem(world, code).status_code == 200
        flags = ["no_access"] if n % 2 == 0 else []
        put = world.client.put(
            "/v1/accounts/acme", headers=headers, json={**BILLING_ACCOUNT, "flags": flags}
        )
        assert put.status_code == 200, put.text
    return world


def export(world: World, **params: str) -> list[str]:
    response = world.client.get("/v1/audit/export", params=params, headers=world.as_(world.sam))
    assert response.status_code == 200, response.text
    return response.text.splitlines(keepends=True)


def jwks(world: World) -> dict[str, Any]:
    return dict(world.client.get("/.well-known/jwks.json").json())


def test_an_export_for_one_application_holds_its_account_and_verifies(two_apps: World) -> None:
    lines = export(two_apps, account="acme", application="notes")
    header, events = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert header["filters"] == {"account": "acme", "application": "notes"}
    assert len(events) > 10
    assert {(e["account"], e["application"]) for e in events} == {("acme", "notes")}
    # Linked within notes' acme only: billing's events in between are not a gap.
    assert [e["account_prev"] for e in events[1:]] == [e["seq"] for e in events[:-1]]
    everything = [json.loads(line) for line in export(two_apps, account="acme")[1:]]
    billing = [e for e in everything if e["application"] == "billing"]
    assert len(billing) == 4
    assert min(e["seq"] for e in billing) < events[-1]["seq"]  # really interleaved
    report = verify_export(lines, jwks(two_apps))
    assert report.ok, report.summary()
    assert report.events == len(events)


def test_both_applications_in_one_export_verify_each_chain(two_apps: World) -> None:
    lines = export(two_apps, account="acme")
    report = verify_export(lines, jwks(two_apps))
    assert report.ok, report.summary()
    # Dropping one of billing's events is named, although notes' events surround it.
    events = [json.loads(line) for line in lines[1:]]
    dropped = [e for e in events if e["application"] == "billing"][1]["seq"]
    kept = [line for line in lines if f'"seq": {dropped},' not in line]
    assert len(kept) == len(lines) - 1
    report = verify_export(kept, jwks(two_apps))
    assert [(f.kind, f.seq) for f in report.findings] == [("missing", dropped)]


def test_an_event_of_the_other_application_is_foreign(two_apps: World) -> None:
    lines = export(two_apps, account="acme", application="notes")
    other = [json.loads(line) for line in export(two_apps, account="acme", application="billing")]
    # Put billing's last event (with its valid proof) at the end of notes' export.
    smuggled = [*lines, json.dumps(other[-1]) + "\n"]
    report = verify_export(smuggled, jwks(two_apps))
    assert ("foreign", other[-1]["seq"]) in {(f.kind, f.seq) for f in report.findings}


def test_the_account_admin_downloads_the_proofs_from_the_customer_page(two_apps: World) -> None:
    _enter(two_apps, admin=True)
    page = two_apps.client.get("/customer/page")
    assert "audit.jsonl?days=90" in page.text
    assert "/.well-known/jwks.json" in page.text
    got = two_apps.client.get("/customer/page/audit.jsonl", params={"days": "90"})
    assert got.status_code == 200, got.text
    assert "attachment" in got.headers["content-disposition"]
    assert "notes-acme" in got.headers["content-disposition"]
    lines = got.text.splitlines(keepends=True)
    events = [json.loads(line) for line in lines[1:]]
    assert {(e["account"], e["application"]) for e in events} == {("acme", "notes")}
    assert any(e["type"] == "session.started" for e in events)
    # The page's own sign-in is in it too: the file is complete up to its checkpoint.
    assert any(e["type"] == "customer_page.signed_in" for e in events)
    report = verify_export(lines, jwks(two_apps))
    assert report.ok, report.summary()
    bad = two_apps.client.get("/customer/page/audit.jsonl", params={"days": "7"})
    assert bad.status_code == 422
    assert "choose one of" in bad.text.lower()


def test_only_an_account_admin_downloads_the_audit_log(two_apps: World) -> None:
    _enter(two_apps, admin=False)
    assert "audit.jsonl" not in two_apps.client.get("/customer/page").text
    refused = two_apps.client.get("/customer/page/audit.jsonl")
    assert refused.status_code == 403
    assert "only your account" in refused.text.lower()


def test_migration_0015_fills_the_column_from_the_hashed_data(empty_url: str) -> None:  # noqa: F811
    """Events from before 0015 keep their bytes; the new column takes their data's application,
    and the log still verifies (the walk compares every column with the hashed content)."""
    engine = make_engine(empty_url)
    upgrade(engine, "0014")
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    prev = bytes(32)
    with engine.begin() as conn:
        for seq, account in ((1, "acme"), (2, None)):
            event = AuditEvent(
                type="account.created", actor="app", account=account, data={"application": "notes"}
            )
            body = event.body(seq=seq, event_id=f"e-{seq}", at=at)
            del body["application"]  # as events were hashed before 0015
            canonical = canonical_bytes(body)
            digest = leaf_hash(prev, canonical)
            conn.execute(
                text(
                    "INSERT INTO audit_events (seq, id, at, type, actor, account, canonical,"
                    " prev_hash, hash) VALUES (:seq, :id, :at, 'account.created', 'app', :account,"
                    " :canonical, :prev, :hash)"
                ),
                {
                    "seq": seq,
                    "id": f"e-{seq}",
                    "at": at,
                    "account": account,
                    "canonical": canonical.decode(),
                    "prev": prev,
                    "hash": digest,
                },
            )
            prev = digest
        conn.execute(audit_head.update().values(seq=2, hash=prev))
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_events.c.application, audit_events.c.canonical).order_by(
                audit_events.c.seq
            )
        ).all()
        report = verify_log(conn, checker=None)
    assert [r.application for r in rows] == ["notes", "notes"]
    assert all("application" not in json.loads(r.canonical) for r in rows)  # bytes untouched
    assert report.ok, report.summary()
    engine.dispose()


def test_a_file_that_says_it_is_filtered_says_what_it_could_not_check(two_apps: World) -> None:
    """The header is not signed: a file whose header claims a type filter has gaps by design,
    and the verdict says that gaps were not checked, rather than passing silently."""
    lines = export(two_apps, account="acme", application="notes")
    header = json.loads(lines[0])
    header["filters"]["type"] = "session.*"
    dropped = json.loads(lines[3])["seq"]
    edited = [json.dumps(header) + "\n", *(line for line in lines[1:] if line != lines[3])]
    report = verify_export(edited, jwks(two_apps))
    assert report.ok  # every event present is proven...
    assert report.unchecked is not None  # ...but a missing one cannot be told
    assert "NOT checked: that no event is missing" in report.summary()
    assert dropped not in {f.seq for f in report.findings}
