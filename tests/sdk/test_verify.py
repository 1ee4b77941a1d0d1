"""Actor token verification: the negative corpus (THREATS T1-T5, T27, T28), claims at the
clock boundaries, the JWKS refetch bound and the verified-token cache."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from actas_sdk import ActAs, errors
from actas_sdk.testing import FakeBroker
from tests.sdk import apps
from tests.sdk.conftest import ManualClock


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    return f"{head}.{body}.{b64(signature)}"


def ed25519(key: Ed25519PrivateKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """Sign whatever header we like (PyJWT refuses to write some of them)."""
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    return f"{head}.{body}.{b64(key.sign(f'{head}.{body}'.encode()))}"


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def public_forms(fake: FakeBroker) -> dict[str, bytes]:
    """The broker's public key in every form an attacker might use as an HMAC secret."""
    public = fake.key.public_key()
    return {
        "pem": public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        "der": public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo),
        "raw": public.public_bytes(Encoding.Raw, PublicFormat.Raw),
        "jwk": json.dumps(fake.jwks["keys"][0]).encode(),
        "openssh": public.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH),
    }


def corpus(fake: FakeBroker) -> dict[str, tuple[str, type[errors.TokenError]]]:
    """Crafted tokens, each with the error it must raise."""
    good = fake.claims()
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": fake.kid}
    valid = fake.sign(good)
    head, _, signature = valid.split(".")
    cases: dict[str, tuple[str, type[errors.TokenError]]] = {}
    for alg in ("none", "None", "NONE", ""):
        cases[f"alg {alg!r}, no signature"] = (
            compact({**header, "alg": alg}, good),
            errors.WrongAlgorithm,
        )
    cases["alg none with the real signature"] = (
        compact({**header, "alg": "none"}, good) + signature,
        errors.WrongAlgorithm,
    )
    for form, secret in public_forms(fake).items():
        cases[f"HS256 keyed with the public key ({form})"] = (
            hs256({**header, "alg": "HS256"}, good, secret),
            errors.WrongAlgorithm,
        )
        cases[f"an HMAC under an EdDSA header ({form})"] = (
            hs256(header, good, secret),
            errors.BadSignature,
        )
    cases["an unknown kid"] = (fake.sign(good, {"kid": "not-a-key"}), errors.UnknownKey)
    other = FakeBroker("notes", issuer=fake.issuer, clock=fake.clock)
    other.kid = fake.kid
    cases["another issuer's key under our kid"] = (other.sign(good), errors.BadSignature)
    cases["another issuer's key and kid"] = (FakeBroker(clock=fake.clock).mint(), errors.UnknownKey)
    cases["another issuer"] = (fake.sign({**good, "iss": "https://evil.test"}), errors.WrongIssuer)
    for aud in ("other-app", ["notes"], ["notes", "other-app"], None):
        cases[f"aud {aud!r}"] = (fake.sign({**good, "aud": aud}), errors.WrongAudience)
    cases["expired"] = (
        fake.sign(
            {**good, "iat": good["iat"] - 400, "nbf": good["iat"] - 400, "exp": good["iat"] - 100}
        ),
        errors.TokenExpired,
    )
    cases["not yet valid"] = (
        fake.sign({**good, "nbf": good["iat"] + 120}),
        errors.TokenNotYetValid,
    )
    cases["issued in the future"] = (
        fake.sign({**good, "iat": good["iat"] + 120, "nbf": good["iat"], "exp": good["exp"]}),
        errors.TokenNotYetValid,
    )
    cases["a lifetime over five minutes"] = (
        fake.sign({**good, "exp": good["iat"] + 3600}),
        errors.LifetimeTooLong,
    )
    tampered = b64(json.dumps({**good, "sub": "admin"}).encode())
    cases["a tampered payload"] = (f"{head}.{tampered}.{signature}", errors.BadSignature)
    cases["no act"] = (
        fake.sign({k: v for k, v in good.items() if k != "act"}),
        errors.MissingClaim,
    )
    cases["act without sub"] = (fake.sign({**good, "act": {"iss": "x"}}), errors.MissingClaim)
    cases["act not an object"] = (fake.sign({**good, "act": "staff-1"}), errors.MissingClaim)
    for claim in ("sub", "sid", "acct", "jti", "exp", "nbf", "iat"):
        cases[f"no {claim}"] = (
            fake.sign({k: v for k, v in good.items() if k != claim}),
            errors.MissingClaim,
        )
    cases["no iss"] = (fake.sign({k: v for k, v in good.items() if k != "iss"}), errors.WrongIssuer)
    cases["no aud"] = (
        fake.sign({k: v for k, v in good.items() if k != "aud"}),
        errors.WrongAudience,
    )
    cases["exp as a string"] = (fake.sign({**good, "exp": str(good["exp"])}), errors.MissingClaim)
    cases["exp as a boolean"] = (fake.sign({**good, "exp": True}), errors.MissingClaim)
    cases["typ JWT"] = (fake.sign(good, {"typ": "JWT"}), errors.WrongType)
    cases["no typ"] = (
        compact({"alg": "EdDSA", "kid": fake.kid}, good, b"x" * 64),
        errors.WrongType,
    )
    cases["crit header"] = (fake.sign(good, {"crit": ["exp"]}), errors.MalformedToken)
    for kid in ("../../dev/null", "' OR '1'='1", "/etc/passwd\x00", "k" * 5000, 42, None):
        cases[f"kid {str(kid)[:20]!r}"] = (
            ed25519(fake.key, {**header, "kid": kid}, good),
            errors.UnknownKey,
        )
    attacker = Ed25519PrivateKey.generate()
    raw = attacker.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
    attacker_headers: dict[str, dict[str, Any]] = {
        "jwk": {"jwk": jwk, "kid": "attacker"},
        "jku": {"jku": "https://evil.test/jwks.json", "kid": "attacker"},
        "x5u": {"x5u": "https://evil.test/cert.pem", "kid": "attacker"},
        "jwk under our kid": {"jwk": jwk},
    }
    for name, extra in attacker_headers.items():
        token = jwt.encode(good, attacker, algorithm="EdDSA", headers={**header, **extra})
        expected = errors.BadSignature if name == "jwk under our kid" else errors.UnknownKey
        cases[f"attacker key in {name}"] = (token, expected)
    cases["a 10 KB token"] = (fake.sign({**good, "pad": "p" * 10_000}), errors.TokenTooLarge)
    cases["two segments"] = (f"{head}.{tampered}", errors.MalformedToken)
    cases["header not JSON"] = (f"{b64(b'{nope')}.{tampered}.{signature}", errors.MalformedToken)
    cases["header a JSON list"] = (f"{b64(b'[1]')}.{tampered}.{signature}", errors.MalformedToken)
    cases["not base64"] = (f"{head}!.{tampered}.{signature}", errors.MalformedToken)
    cases["not ASCII"] = (valid + "é", errors.MalformedToken)
    return cases


def test_a_valid_token_gives_an_immutable_context(actas: ActAs, fake: FakeBroker) -> None:
    token = fake.mint(subject="u-9", actor="s-2", account="acme", scopes=("read", "write"))
    verified = actas.verifier.verify(token, actas.clock())
    context = verified.context
    assert (context.subject, context.actor, context.account) == ("u-9", "s-2", "acme")
    assert context.scopes == frozenset({"read", "write"})
    assert context.expires_at.timestamp() == verified.exp
    assert context.token == token
    assert token not in repr(context)
    with pytest.raises(AttributeError):
        context.subject = "u-1"  # type: ignore[misc]


def test_the_negative_corpus_is_rejected_each_for_its_reason(
    actas: ActAs, fake: FakeBroker
) -> None:
    cases = corpus(fake)
    assert len(cases) >= 40
    for name, (token, expected) in cases.items():
        with pytest.raises(errors.TokenError) as caught:
            actas.verifier.verify(token, actas.clock())
        assert isinstance(caught.value, expected), (name, caught.value)
        assert token not in str(caught.value)
    # The kid only ever indexed the key set: no call went anywhere but the JWKS.
    assert {path for _, path in fake.calls} <= {"/.well-known/jwks.json", "/v1/revocations"}


@pytest.fixture
def app_actas(make_actas: Any) -> ActAs:
    made: ActAs = make_actas(**apps.APP_CONFIG)
    made.start()
    assert made.wait_ready(10)
    return made


def test_the_corpus_is_refused_by_the_middleware(app_actas: ActAs, fake: FakeBroker) -> None:
    actas = app_actas
    with TestClient(apps.starlette_app(actas), base_url="http://testserver") as client:
        for name, (token, _) in corpus(fake).items():
            value = token.encode("latin-1")  # headers travel as bytes; "not ASCII" too
            response = client.get("/api/me", headers=[(b"X-Actas-Actor-Token", value)])
            assert response.status_code == 401, name
            assert response.headers["content-type"] == "application/problem+json"


def test_the_signature_is_checked_by_pyjwt_eddsa_with_a_key_object_only(
    actas: ActAs, fake: FakeBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jwt.algorithms import OKPAlgorithm

    seen: list[str] = []
    original = OKPAlgorithm.verify

    def spy(self: Any, msg: bytes, key: Any, sig: bytes) -> bool:
        seen.append(type(key).__name__)
        return original(self, msg, key, sig)

    monkeypatch.setattr(OKPAlgorithm, "verify", spy)
    actas.verifier.verify(fake.mint(), actas.clock())
    for alg in ("HS256", "RS256", "ES256", "none", "Ed25519"):
        header = {"alg": alg, "typ": "at+jwt", "kid": fake.kid}
        forged = ed25519(fake.key, header, fake.claims())
        with pytest.raises(errors.WrongAlgorithm):
            actas.verifier.verify(forged, actas.clock())
    assert seen == ["Ed25519PublicKey"]  # nothing but EdDSA, and only with a key object


@pytest.mark.parametrize(
    ("exp_offset", "accepted"), [(-31, False), (-29, True), (0, True), (5, True)]
)
def test_expiry_allows_the_leeway_and_no_more(
    actas: ActAs, fake: FakeBroker, exp_offset: int, accepted: bool
) -> None:
    now = actas.clock()
    claims = {**fake.claims(now=now - 250), "exp": int(now) + exp_offset}
    token = fake.sign(claims)
    if accepted:
        actas.verifier.verify(token, now)
    else:
        with pytest.raises(errors.TokenExpired):
            actas.verifier.verify(token, now)


@pytest.mark.parametrize(("skew", "accepted"), [(29, True), (31, False)])
def test_a_broker_clock_ahead_by_less_than_the_leeway_is_fine(
    actas: ActAs, fake: FakeBroker, skew: int, accepted: bool
) -> None:
    token = fake.mint(now=actas.clock() + skew)  # iat = nbf = broker's now
    if accepted:
        actas.verifier.verify(token, actas.clock())
    else:
        with pytest.raises(errors.TokenNotYetValid):
            actas.verifier.verify(token, actas.clock())


def test_an_unknown_kid_refetches_the_jwks_at_most_once_a_minute(
    actas: ActAs, fake: FakeBroker, sdk_clock: ManualClock
) -> None:
    def fetches() -> int:
        return fake.calls.count(("GET", "/.well-known/jwks.json"))

    actas.verifier.verify(fake.mint(), actas.clock())
    before = fetches()
    sdk_clock.advance(61)
    for _ in range(50):
        with pytest.raises(errors.UnknownKey):
            actas.verifier.verify(fake.sign(fake.claims(), {"kid": "rotated"}), actas.clock())
    assert fetches() == before + 1
    # The broker rotates: the new key is found on the next allowed refetch.
    old_kid = fake.kid
    fake.key, fake.kid = Ed25519PrivateKey.generate(), "rotated"
    with pytest.raises(errors.UnknownKey):
        actas.verifier.verify(fake.mint(), actas.clock())
    sdk_clock.advance(61)
    actas.verifier.verify(fake.mint(), actas.clock())
    assert fetches() == before + 2
    assert old_kid != fake.kid


def test_verified_tokens_are_cached_but_revocation_is_checked_every_time(
    actas: ActAs, fake: FakeBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = fake.handoff()
    session = fake.sessions[fake.codes[code][0]]
    token, _ = fake.session_token(session)
    verifications = 0
    original = actas.verifier.verify

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal verifications
        verifications += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(actas.verifier, "verify", counting)
    for _ in range(20):
        assert actas.admit_bearer(token).context.session_id == session.id
    assert verifications == 1
    fake.revoke(session.id)
    assert actas.feed.wait_for(lambda: actas.feed.is_revoked(session.id), 10)
    with pytest.raises(errors.SessionRevoked):
        actas.admit_bearer(token)


def test_the_cache_is_bounded(make_actas: Any, fake: FakeBroker) -> None:
    actas = make_actas(token_cache_size=3)
    actas.start()
    assert actas.wait_ready(10)
    for _ in range(10):
        session = fake.sessions[fake.codes[fake.handoff()][0]]
        actas.admit_bearer(fake.session_token(session)[0])
    assert len(actas.cache) == 3


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.text(max_size=600) | st.binary(max_size=600).map(lambda b: b.decode("latin-1")))
def test_junk_raises_only_token_errors(actas: ActAs, junk: str) -> None:
    with pytest.raises(errors.TokenError):
        actas.verifier.verify(junk, actas.clock())


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_every_single_character_change_is_caught(
    actas: ActAs, fake: FakeBroker, data: st.DataObject
) -> None:
    token = fake.mint()
    index = data.draw(st.integers(0, len(token) - 1))
    char = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789-_.~=+/ "))
    changed = token[:index] + char + token[index + 1 :]
    if changed == token:
        return
    # Every change is caught, even one in the unused low bits of a segment's last character
    # (the claims would be the same, but the token is not the one the broker signed).
    with pytest.raises(errors.TokenError):
        actas.verifier.verify(changed, actas.clock())


def test_an_actor_token_on_a_route_not_marked_api_is_ignored(
    app_actas: ActAs, fake: FakeBroker
) -> None:
    with TestClient(apps.starlette_app(app_actas), base_url="http://testserver") as client:
        response = client.get("/whoami", headers={"Authorization": f"Bearer {fake.mint()}"})
    assert response.json() == {"user": None}


# --- canonical encodings only (issue 9, finding 10) -------------------------------------------

_STD = str.maketrans("-_", "+/")


def _signed(key: Ed25519PrivateKey, head: str, body: str) -> str:
    """A genuine signature over exactly these two segments, however they are spelt."""
    return f"{head}.{body}.{b64(key.sign(f'{head}.{body}'.encode()))}"


def _with_url_chars(fake: FakeBroker) -> dict[str, Any]:
    """Claims whose base64url spelling has a '-' or '_' in it (so '+' or '/' can stand in)."""
    for n in range(200):
        claims = {**fake.claims(), "pad": "?>" * n}
        if set(b64(json.dumps(claims).encode())) & {"-", "_"}:
            return claims
    raise AssertionError("no claims with '-' or '_' in their encoding")


def _loose_bits(segment: str) -> str:
    """The same bytes with a non-zero unused low bit in the last character."""
    assert len(segment) % 4 in (2, 3), "no unused bits in this segment"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(segment[-1])
    assert base64.urlsafe_b64decode(
        segment + "=" * (-len(segment) % 4)
    ) == base64.urlsafe_b64decode(segment[:-1] + alphabet[last | 1] + "=" * (-len(segment) % 4))
    return segment[:-1] + alphabet[last | 1]


def non_canonical(fake: FakeBroker) -> dict[str, str]:
    """Tokens whose signature verifies over their segments as spelt, but whose segments are
    not canonical base64url or whose JSON repeats a member name: each must be refused."""
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": fake.kid}
    cases: dict[str, str] = {}
    claims = _with_url_chars(fake)
    head, body = b64(json.dumps(header).encode()), b64(json.dumps(claims).encode())
    cases["payload in the +/ alphabet"] = _signed(fake.key, head, body.translate(_STD))
    for pad in range(4):  # find a header and a payload spelling with unused low bits
        padded_head = b64(json.dumps({**header, "x": "h" * pad}).encode())
        if len(padded_head) % 4 in (2, 3):
            cases["header with non-zero padding bits"] = _signed(
                fake.key, _loose_bits(padded_head), body
            )
            break
    for pad in range(4):
        padded_body = b64(json.dumps({**claims, "y": "b" * pad}).encode())
        if len(padded_body) % 4 in (2, 3):
            cases["payload with non-zero padding bits"] = _signed(
                fake.key, head, _loose_bits(padded_body)
            )
            break
    for _ in range(50):  # a signature with '-' or '_' in it, respelt with '+' or '/'
        valid = fake.mint()
        signing_input, _, signature = valid.rpartition(".")
        if set(signature) & {"-", "_"}:
            cases["signature in the +/ alphabet"] = f"{signing_input}.{signature.translate(_STD)}"
            break
    signing_input, _, signature = fake.mint().rpartition(".")
    cases["signature with non-zero padding bits"] = f"{signing_input}.{_loose_bits(signature)}"
    good = json.dumps(fake.claims())
    twice_sub = good[:-1] + ', "sub": "admin"}'
    cases["a claim named twice"] = _signed(fake.key, head, b64(twice_sub.encode()))
    twice_act = good[:-1] + ', "act": {"sub": "staff-9"}}'
    cases["act named twice"] = _signed(fake.key, head, b64(twice_act.encode()))
    twice_alg = '{"alg": "none", "typ": "at+jwt", "kid": "KID", "alg": "EdDSA"}'
    twice_alg = twice_alg.replace("KID", fake.kid)
    cases["a header member named twice"] = _signed(fake.key, b64(twice_alg.encode()), body)
    nested = good[:-1] + ', "act": {"sub": "staff-1", "sub": "staff-9"}}'
    assert '"act": {"sub": "staff-1"}, ' in nested
    nested = nested.replace('"act": {"sub": "staff-1"}, ', "", 1)
    cases["a nested member named twice"] = _signed(fake.key, head, b64(nested.encode()))
    return cases


def test_non_canonical_tokens_are_refused(actas: ActAs, fake: FakeBroker) -> None:
    cases = non_canonical(fake)
    assert len(cases) == 9, sorted(cases)
    for name, token in cases.items():
        with pytest.raises(errors.MalformedToken):
            actas.verifier.verify(token, actas.clock())
        assert name  # each one a genuine signature over a spelling the verifier refuses


def test_the_same_claims_canonically_spelt_verify(actas: ActAs, fake: FakeBroker) -> None:
    """The control for the test above: the helpers sign tokens that verify when canonical."""
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": fake.kid}
    claims = _with_url_chars(fake)
    token = _signed(fake.key, b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()))
    assert actas.verifier.verify(token, actas.clock()).context.subject == "u-1"


def test_non_canonical_tokens_are_refused_by_the_middleware(
    app_actas: ActAs, fake: FakeBroker
) -> None:
    with TestClient(apps.starlette_app(app_actas), base_url="http://testserver") as client:
        for name, token in non_canonical(fake).items():
            response = client.get("/api/me", headers={"X-Actas-Actor-Token": token})
            assert response.status_code == 401, name
            assert response.json()["code"] == "malformed_token", name
