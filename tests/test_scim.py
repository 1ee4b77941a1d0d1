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
#: POST /.search is not served; name.givenName/familyName and an email's extra fields are not
#: kept; PATCH "remove" of displayName, name or active is not applied (the broker needs them).
KNOWN_GAPS = {
    "search_with_attributes",
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
