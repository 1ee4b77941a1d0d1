"""Applications upsert accounts and subjects with their credential; each change is audited once."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from actas.bootstrap import Broker
from actas.domain.audit import AuditQuery
from actas.services import audit as audit_service


def _events(broker: Broker) -> list[dict[str, Any]]:
    return audit_service.read_events(broker.services, AuditQuery(limit=1000))


def test_account_upsert_is_audited_only_when_it_changes(
    client: TestClient, broker: Broker, demo_app: tuple[str, dict[str, str]]
) -> None:
    app_id, headers = demo_app
    body = {"name": "Acme", "flags": ["regulated"]}
    first = client.put("/v1/accounts/acme", headers=headers, json=body)
    assert first.status_code == 201
    assert first.json()["flags"] == ["regulated"]
    assert first.json()["application"] == app_id
    again = client.put("/v1/accounts/acme", headers=headers, json=body)
    assert again.status_code == 200
    changed = client.put(
        "/v1/accounts/acme",
        headers=headers,
        json={"name": "Acme", "flags": ["no_access", "flagged"]},
    )
    assert changed.json()["flags"] == ["flagged", "no_access"]
    account_events = [e for e in _events(broker) if e["account"] == "acme"]
    assert [e["type"] for e in account_events] == ["account.created", "account.updated"]
    assert account_events[1]["data"]["flags_before"] == ["regulated"]
    assert account_events[1]["actor"] == f"app:{app_id}"


def test_subject_upsert_keeps_personal_data_out_of_the_log(
    client: TestClient, broker: Broker, demo_app: tuple[str, dict[str, str]]
) -> None:
    _, headers = demo_app
    client.put("/v1/accounts/acme", headers=headers, json={"name": "Acme"})
    subject = {
        "account": "acme",
        "email": "jane@customer.test",
        "email_verified": True,
        "display_name": "Jane Customer",
    }
    created = client.put("/v1/subjects/u-1", headers=headers, json=subject)
    assert created.status_code == 201
    assert created.json()["email"] == "jane@customer.test"
    renamed = client.put(
        "/v1/subjects/u-1", headers=headers, json={**subject, "display_name": "Jane C."}
    )
    assert renamed.status_code == 200
    subject_events = [e for e in _events(broker) if e["subject"] == "u-1"]
    assert [e["type"] for e in subject_events] == ["subject.created", "subject.updated"]
    assert subject_events[1]["data"]["changed"] == ["display_name"]
    for event in subject_events:
        assert "jane@customer.test" not in str(event)
        assert "Jane" not in str(event)


def test_applications_are_kept_apart(
    client: TestClient, broker: Broker, demo_app: tuple[str, dict[str, str]]
) -> None:
    from actas.domain.audit import Actor
    from actas.services import applications as app_service

    _, notes_headers = demo_app
    other = app_service.add_application(
        broker.services,
        app_id="billing",
        name="Billing",
        handoff_url="https://billing.test/h",
        by=Actor(id="test-setup"),
    )
    other_headers = {"Authorization": f"Bearer {other.credential}"}
    client.put("/v1/accounts/acme", headers=notes_headers, json={"name": "Acme"})
    # The other application cannot hang a subject on an account it does not own.
    refused = client.put(
        "/v1/subjects/u-1", headers=other_headers, json={"account": "acme", "display_name": "X"}
    )
    assert refused.status_code == 404


def test_a_wrong_or_missing_credential_is_refused(client: TestClient) -> None:
    response = client.put("/v1/accounts/acme", json={"name": "Acme"})
    assert response.status_code == 401
    forged = client.put(
        "/v1/accounts/acme",
        headers={"Authorization": "Bearer actas_ak_" + "A" * 43},
        json={"name": "Acme"},
    )
    assert forged.status_code == 401
    assert forged.headers["content-type"] == "application/problem+json"
