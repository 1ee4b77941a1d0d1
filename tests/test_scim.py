"""SCIM 2.0 provisioning: judged by ``scim2-tester``, and deprovisioning ends every session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from actas.app import create_app
from actas.bootstrap import Broker
from actas.domain.audit import Actor
from actas.services import scim as scim_service
from actas.services import staff as staff_service


@pytest.fixture
def idp(broker: Broker) -> Iterator[TestClient]:
    token = scim_service.create_token(broker.services, name="okta", by=Actor(id="test-setup"))
    with TestClient(
        create_app(broker),
        base_url="https://broker.test/scim/v2",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client


def test_scim2_tester_passes_with_no_known_gap(idp: TestClient) -> None:
    """Before migration 0013 scim2-tester reported check_add_attribute, check_replace_attribute
    (name.givenName/familyName not kept) and check_remove_attribute (PATCH remove of
    displayName, name, active not applied)."""
    client = SyncSCIMClient(idp)
    results = check_server(client, resource_types=["User"])
    failed = {r.title: r.reason for r in results if r.status is Status.ERROR}
    assert failed == {}
    passed = {r.title for r in results if r.status is Status.SUCCESS}
    assert {"object_creation", "object_query", "object_replacement", "object_deletion"} <= passed


def test_a_request_without_the_token_is_refused_with_a_scim_error(broker: Broker) -> None:
    """RFC 7644 §3.12: the IdP gets a SCIM Error body, not a problem document."""
    with TestClient(create_app(broker), base_url="https://broker.test") as client:
        wrong = {"Authorization": "Bearer actas_scim_not-a-token"}
        for response in (
            client.get("/scim/v2/Users"),
            client.get("/scim/v2/Users", headers=wrong),
            client.post("/scim/v2/Users", headers=wrong, json={}),
            client.delete("/scim/v2/Users/x", headers=wrong),
        ):
            assert response.status_code == 401
            assert response.headers["content-type"] == "application/scim+json"
            assert response.headers["www-authenticate"].startswith("Bearer")
            body = response.json()
            assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
            assert body["status"] == "401"


def test_post_search_finds_by_user_name(idp: TestClient) -> None:
    """RFC 7644 §3.4.3 (POST /.search), on both paths."""
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "nina@example.com",
        "emails": [{"value": "nina@example.com", "primary": True}],
    }
    assert idp.post("/Users", json=user).status_code == 201
    for path in ("/Users/.search", "/.search"):
        found = idp.post(
            path,
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": 'userName eq "nina@example.com"',
                "attributes": ["userName"],
            },
        )
        assert found.status_code == 200, found.text
        body = found.json()
        assert body["totalResults"] == 1
        assert body["Resources"][0]["userName"] == "nina@example.com"
        assert "emails" not in body["Resources"][0]


def _remove(idp: TestClient, user_id: str, path: str) -> dict[str, Any]:
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": path}],
    }
    response = idp.patch(f"/Users/{user_id}", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_names_are_kept_and_a_removed_active_never_re_enables(
    idp: TestClient, broker: Broker
) -> None:
    """givenName/familyName come back as sent; removing ``active`` from a deactivated member
    leaves them disabled (fail closed), and removing displayName or name is applied."""
    created = idp.post(
        "/Users",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "displayName": "Ada L.",
            "active": False,
        },
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["name"] == {"givenName": "Ada", "familyName": "Lovelace"}
    member = staff_service.get_staff(broker.services, user["id"])
    assert member.disabled_at is not None
    after = _remove(idp, user["id"], "active")
    assert "active" not in after
    assert staff_service.get_staff(broker.services, user["id"]).disabled_at is not None
    after = _remove(idp, user["id"], "displayName")
    assert "displayName" not in after
    # The broker still needs a display name: the name's parts stand in.
    assert staff_service.get_staff(broker.services, user["id"]).display_name == "Ada Lovelace"
    after = _remove(idp, user["id"], "name")
    assert "name" not in after
