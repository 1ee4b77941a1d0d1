"""Staff SSO against a real OpenID provider (panva/oidc-provider under node on 127.0.0.1).

Each refusal is a real attack shape: a callback with a state this browser never got, a code
used twice, an ID token for another client or signed by another key, one with the wrong
nonce, one past its expiry. The provider is real; the tokens in the audience and nonce tests
are real tokens it issued, handed to the broker's validation directly."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from actas.app import create_app
from actas.bootstrap import Broker, build
from actas.domain.audit import Actor, AuditQuery
from actas.domain.clock import FrozenClock
from actas.domain.errors import AuthenticationFailed
from actas.domain.identity import SsoRefused
from actas.domain.roles import Role
from actas.keys import keyring
from actas.security.oidc import AuthlibOidc
from actas.security.passwords import FastTestPasswords
from actas.services import staff as staff_service
from actas.settings import load_settings
from tests.oidc.provider import CALLBACK, Provider, running_provider

STATE_COOKIE = "__Host-actas_sso"


@pytest.fixture
def clock() -> FrozenClock:
    """The provider signs with the real time; the broker's clock starts there too."""
    return FrozenClock(datetime.now(UTC))


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as running:
        yield running


@pytest.fixture
def sso_broker(
    database_url: str, tmp_path: Path, clock: FrozenClock, provider: Provider
) -> Iterator[Broker]:
    (tmp_path / "actas.toml").write_text(
        f"""
[oidc]
discovery_url = "{provider.discovery_url}"
client_id = "actas"
client_secret = "actas-secret"

[oidc.roles]
"support" = ["agent"]
"support-leads" = ["lead"]
"""
    )
    settings = load_settings(
        {
            "ACTAS_DATABASE_URL": database_url,
            "ACTAS_PUBLIC_URL": "https://broker.test",
            "ACTAS_KEY_FILE": str(tmp_path / "keys.json"),
        },
        cwd=tmp_path,
    )
    keyring.ensure(settings.key_file, clock())
    made = build(settings, clock=clock, passwords=FastTestPasswords())
    yield made
    made.engine.dispose()


@pytest.fixture
def sso_client(sso_broker: Broker) -> Iterator[TestClient]:
    with TestClient(create_app(sso_broker), base_url="https://broker.test") as test_client:
        yield test_client


def _start(client: TestClient) -> str:
    response = client.get("/console/sso/start", follow_redirects=False)
    assert response.status_code == 303
    return str(response.headers["location"])


def _callback(client: TestClient, url: str) -> Any:
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}", follow_redirects=False)


def _sign_in(client: TestClient, provider: Provider) -> Any:
    return _callback(client, provider.authorize(_start(client)))


def _events(broker: Broker, type_: str) -> list[dict[str, Any]]:
    with broker.store.read() as uow:
        return uow.audit.query(AuditQuery(type=type_, limit=500))


def test_sign_in_creates_the_member_and_maps_groups_to_roles(
    sso_client: TestClient, sso_broker: Broker, provider: Provider
) -> None:
    provider.set_account(sub="alice-1", email="alice@corp.test", name="Alice", groups=["support"])
    response = _sign_in(sso_client, provider)
    assert response.status_code == 200, response.text
    assert "actas_st_" in response.headers["set-cookie"]
    page = sso_client.get("/console/search")
    assert page.status_code == 200
    member = staff_service.list_staff(sso_broker.services)[0]
    assert member.email == "alice@corp.test"
    assert member.roles == frozenset({Role.AGENT})
    assert _events(sso_broker, "staff.login")[0]["data"]["method"] == "oidc"


def test_a_group_removed_at_the_provider_is_a_role_gone_at_the_next_sign_in(
    sso_client: TestClient, sso_broker: Broker, provider: Provider
) -> None:
    provider.set_account(
        sub="bob-1", email="bob@corp.test", name="Bob", groups=["support", "support-leads"]
    )
    assert _sign_in(sso_client, provider).status_code == 200
    (member,) = staff_service.list_staff(sso_broker.services)
    assert member.roles == frozenset({Role.AGENT, Role.LEAD})
    provider.set_account(groups=["support"])
    sso_client.cookies.clear()
    assert _sign_in(sso_client, provider).status_code == 200
    (member,) = staff_service.list_staff(sso_broker.services)
    assert member.roles == frozenset({Role.AGENT})
    provider.set_account(groups=["marketing"])
    sso_client.cookies.clear()
    assert _sign_in(sso_client, provider).status_code == 401
    assert _events(sso_broker, "staff.sso_failed")[-1]["data"] == {"reason": "no_role"}


def test_staff_are_matched_by_issuer_and_subject_never_by_email(
    sso_client: TestClient, sso_broker: Broker, provider: Provider
) -> None:
    staff_service.add_staff(
        sso_broker.services,
        email="carol@corp.test",
        display_name="Carol",
        roles=frozenset({Role.ADMIN}),
        password="carol-correct-horse-battery",
        by=Actor(id="test-setup"),
    )
    # Someone at the IdP sets their email to the admin's: they do not become her.
    provider.set_account(sub="mallory-1", email="carol@corp.test", groups=["support"])
    assert _sign_in(sso_client, provider).status_code == 401
    assert _events(sso_broker, "staff.sso_failed")[-1]["data"] == {"reason": "email_taken"}
    assert sso_client.get("/console/search", follow_redirects=False).status_code == 303


def test_a_state_this_browser_was_not_given_is_refused(
    sso_client: TestClient, sso_broker: Broker, provider: Provider
) -> None:
    provider.set_account(sub="dave-1", email="dave@corp.test", groups=["support"])
    # The attacker's own sign-in, completed up to the callback: its link is sent to a victim.
    with TestClient(create_app(sso_broker), base_url="https://broker.test") as attacker:
        callback = provider.authorize(_start(attacker))
    assert _callback(sso_client, callback).status_code == 401
    # A made-up state, with a cookie to match, is refused too: the broker never issued it.
    sso_client.cookies.set(STATE_COOKIE, "made-up")
    query = parse_qs(urlsplit(callback).query)
    forged = f"/console/sso/callback?state=made-up&code={query['code'][0]}"
    assert sso_client.get(forged, follow_redirects=False).status_code == 401
    reasons = [e["data"] for e in _events(sso_broker, "staff.sso_failed")]
    assert reasons == [{"reason": "state_mismatch"}, {"reason": "state_unknown"}]


def test_a_callback_and_a_code_each_work_once(
    sso_client: TestClient, sso_broker: Broker, provider: Provider
) -> None:
    provider.set_account(sub="erin-1", email="erin@corp.test", groups=["support"])
    first = provider.authorize(_start(sso_client))
    state_cookie = sso_client.cookies.get(STATE_COOKIE)
    assert _callback(sso_client, first).status_code == 200
    # The same callback again (the state is used up).
    sso_client.cookies.set(STATE_COOKIE, state_cookie or "")
    assert _callback(sso_client, first).status_code == 401
    # The used code under a fresh state of this browser: the provider refuses it.
    fresh = provider.authorize(_start(sso_client))
    fresh_state = parse_qs(urlsplit(fresh).query)["state"][0]
    old_code = parse_qs(urlsplit(first).query)["code"][0]
    replay = sso_client.get(
        f"/console/sso/callback?state={fresh_state}&code={old_code}", follow_redirects=False
    )
    assert replay.status_code == 401
    reasons = [e["data"]["reason"] for e in _events(sso_broker, "staff.sso_failed")]
    assert reasons[0] == "state_unknown"
    assert reasons[1].startswith("token_endpoint:")


def test_an_expired_id_token_is_refused(
    sso_client: TestClient, sso_broker: Broker, provider: Provider, clock: FrozenClock
) -> None:
    provider.set_account(sub="frank-1", email="frank@corp.test", groups=["support"])
    url = provider.authorize(_start(sso_client))
    # The provider's ID tokens live 120 s (and 60 s of leeway); the sign-in state 10 minutes.
    clock.advance(200)
    assert _callback(sso_client, url).status_code == 401
    assert _events(sso_broker, "staff.sso_failed")[-1]["data"]["reason"].startswith("claims:")


# --- ID tokens the provider issued to someone else, checked by the broker's validation ---


def _real_id_token(provider: Provider, *, client_id: str, nonce: str) -> str:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    meta = httpx.get(provider.discovery_url).json()
    url = httpx.URL(
        meta["authorization_endpoint"],
        params={
            "client_id": client_id,
            "response_type": "code",
            "scope": "openid email groups",
            "redirect_uri": CALLBACK,
            "state": "s",
            "nonce": nonce,
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
        },
    )
    code = parse_qs(urlsplit(provider.authorize(str(url))).query)["code"][0]
    token = httpx.post(
        meta["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(client_id, f"{client_id}-secret"),
    )
    token.raise_for_status()
    return str(token.json()["id_token"])


def _validator(sso_broker: Broker) -> AuthlibOidc:
    oidc = sso_broker.services.oidc
    assert isinstance(oidc, AuthlibOidc)
    return oidc


def test_id_tokens_for_another_audience_key_or_nonce_are_refused(
    sso_broker: Broker, provider: Provider
) -> None:
    provider.set_account(sub="gina-1", email="gina@corp.test", groups=["support"])
    oidc = _validator(sso_broker)
    mine = _real_id_token(provider, client_id="actas", nonce="n-1")
    assert oidc.validate(mine, nonce="n-1").subject == "gina-1"
    with pytest.raises(SsoRefused) as wrong_nonce:
        oidc.validate(mine, nonce="n-2")
    assert wrong_nonce.value.reason == "claims:nonce"
    other = _real_id_token(provider, client_id="other", nonce="n-1")
    with pytest.raises(SsoRefused) as audience:
        oidc.validate(other, nonce="n-1")
    assert audience.value.reason == "claims:invalid_claim"
    # The same claims, signed by a key that is not the provider's (with its kid).
    forged_key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
    payload = _payload(mine)
    forged = jwt.encode({"alg": "RS256", "kid": "test-key"}, payload, forged_key)
    with pytest.raises(AuthenticationFailed) as signature:
        oidc.validate(forged, nonce="n-1")
    assert isinstance(signature.value, SsoRefused)
    assert signature.value.reason == "signature"


def _payload(token: str) -> dict[str, object]:
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
