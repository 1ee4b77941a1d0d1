"""SCIM 2.0 provisioning: judged by ``scim2-tester``, and deprovisioning ends every session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from actas.app import create_app
from actas.bootstrap import Broker
from actas.domain.audit import Actor
from actas.services import scim as scim_service


@pytest.fixture
def idp(broker: Broker) -> Iterator[TestClient]:
    token = scim_service.create_token(broker.services, name="okta", by=Actor(id="test-setup"))
    with TestClient(
        create_app(broker),
        base_url="https://broker.test/scim/v2",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client


#: What scim2-tester still reports, named so that any new failure (or a fix) fails this test:
#: name.givenName/familyName and an email's extra fields are not kept (they need columns: a
#: migration); PATCH "remove" of displayName, name or active is not applied (the broker needs
#: them). POST /.search is served since phase 2.
KNOWN_GAPS = {
    "check_add_attribute",
    "check_remove_attribute",
    "check_replace_attribute",
}


def test_scim2_tester_passes_but_for_the_known_gaps(idp: TestClient) -> None:
    client = SyncSCIMClient(idp)
    results = check_server(client, resource_types=["User"])
    failed = {r.title for r in results if r.status is Status.ERROR}
    assert failed == KNOWN_GAPS
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
