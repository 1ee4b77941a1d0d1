"""Signing keys: the key file, the kid, the published JWKS and rotation with overlap."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from sqlalchemy import select

from actas.app import create_app
from actas.bootstrap import Broker, build, initialise
from actas.domain import notes
from actas.domain.access import TOKEN_TTL
from actas.domain.audit import AuditEvent
from actas.domain.clock import FrozenClock
from actas.keys import keyring
from actas.keys.directory import KeyFileDirectory
from actas.keys.keyring import KeyFileError, KeyRing, KeySource
from actas.security.passwords import FastTestPasswords
from actas.settings import Settings, load_settings
from actas.store.tables import audit_checkpoints

GRACE = timedelta(minutes=10)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rfc7638(x: str) -> str:
    """RFC 7638 section 3.2: the required OKP members, in lexicographic order, no whitespace."""
    members = '{"crv":"Ed25519","kty":"OKP","x":"' + x + '"}'
    return b64url(hashlib.sha256(members.encode("ascii")).digest())


def key_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.json")) if path.is_dir() else [path]


def kids(jwks: dict[str, Any]) -> list[str]:
    return [k["kid"] for k in jwks["keys"]]


def file_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def private_strings(path: Path) -> list[str]:
    found: list[str] = []
    for file in key_files(path):
        data = file_json(file)
        found.extend(k["private_key"] for k in data.get("keys", [data]))
    return found


# --- the key file ---------------------------------------------------------------------------


def test_ensure_creates_a_private_file_once(tmp_path: Path, clock: FrozenClock) -> None:
    path = tmp_path / "keys.json"
    ring, created = keyring.ensure(path, clock())
    assert created is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = file_json(path)
    assert data["version"] == 1
    (entry,) = data["keys"]
    assert entry["kid"] == ring.signing_key(clock()).kid
    assert entry["alg"] == "EdDSA"
    assert len(unb64url(entry["private_key"])) == 32
    assert entry["retired_at"] is None
    # Nothing else was left behind (no temporary files).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.json"]

    clock.advance(3600)
    again, created_again = keyring.ensure(path, clock())
    assert created_again is False
    assert [k.kid for k in again.keys] == [k.kid for k in ring.keys]
    assert file_json(path) == data  # untouched


def test_ensure_creates_missing_parent_directories(tmp_path: Path, clock: FrozenClock) -> None:
    path = tmp_path / "state" / "actas" / "keys.json"
    _, created = keyring.ensure(path, clock())
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_key_file_others_can_read_is_refused(
    tmp_path: Path, clock: FrozenClock, mode: int
) -> None:
    path = tmp_path / "keys.json"
    keyring.ensure(path, clock())
    os.chmod(path, mode)
    with pytest.raises(KeyFileError) as caught:
        keyring.load(path)
    assert str(path) in str(caught.value)
    assert f"{mode:o}" in str(caught.value)
    # ensure() on start-up refuses it the same way, and neither rewrites nor re-modes it.
    with pytest.raises(KeyFileError):
        keyring.ensure(path, clock())
    assert stat.S_IMODE(path.stat().st_mode) == mode


def private_file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, 0o600)
    return path


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{not json",
        "[]",
        '"a string"',
        '{"keys": "nope"}',
        '{"keys": [1]}',
        '{"keys": [{"kid": "k"}]}',
        '{"keys": [{"kid": "k", "private_key": "AAAA", "created_at": "2026-01-01T00:00:00+00:00",'
        ' "activates_at": "2026-01-01T00:00:00+00:00"}]}',
    ],
    ids=["empty", "bad-json", "list", "string", "keys-not-list", "entry-not-object",
         "missing-members", "short-key"],
)  # fmt: skip
def test_a_malformed_key_file_is_refused_naming_it(tmp_path: Path, text: str) -> None:
    path = private_file(tmp_path / "keys.json", text)
    with pytest.raises(KeyFileError) as caught:
        keyring.load(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_kid_that_does_not_match_its_key_is_refused(tmp_path: Path, clock: FrozenClock) -> None:
    path = tmp_path / "keys.json"
    keyring.ensure(path, clock())
    data = file_json(path)
    data["keys"][0]["kid"] = rfc7638(b64url(b"\x01" * 32))
    private_file(path, json.dumps(data))
    with pytest.raises(KeyFileError, match="does not match"):
        keyring.load(path)


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(KeyFileError) as caught:
        keyring.load(path)
    assert str(path) in str(caught.value)


def test_an_empty_key_list_names_the_file(tmp_path: Path) -> None:
    path = private_file(tmp_path / "keys.json", '{"version": 1, "keys": []}')
    with pytest.raises(KeyFileError) as caught:
        keyring.load(path)
    assert str(path) in str(caught.value)


# --- kid and JWKS ---------------------------------------------------------------------------


def test_thumbprint_matches_the_rfc_8037_example() -> None:
    """RFC 8037 appendix A.1-A.3: the Ed25519 example key and its RFC 7638 thumbprint."""
    private = Ed25519PrivateKey.from_private_bytes(
        unb64url("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
    )
    public = private.public_key()
    assert b64url(keyring.public_raw(public)) == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert keyring.thumbprint(public) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_kid_is_the_rfc_7638_thumbprint(tmp_path: Path, clock: FrozenClock) -> None:
    ring, _ = keyring.ensure(tmp_path / "keys.json", clock())
    (published,) = ring.jwks(clock())["keys"]
    key = ring.signing_key(clock())
    raw = key.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert published["x"] == b64url(raw)
    assert published["kid"] == rfc7638(published["x"])
    assert key.kid == published["kid"]


def test_jwks_endpoint_publishes_the_public_key_only(
    client: TestClient, broker: Broker, settings: Settings, clock: FrozenClock
) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "max-age" in response.headers["cache-control"]
    body = response.json()
    key = broker.keys.ring().signing_key(clock())
    x = b64url(keyring.public_raw(key.public))
    assert body == {
        "keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": key.kid, "x": x, "alg": "EdDSA", "use": "sig"}
        ]
    }
    assert key.kid == rfc7638(x)
    # No private member, and no private key material anywhere in the document.
    assert all("d" not in k for k in body["keys"])
    for private in private_strings(settings.key_file):
        assert private not in response.text


def test_jwks_is_consumable_by_pyjwt(
    client: TestClient, broker: Broker, clock: FrozenClock
) -> None:
    key = broker.keys.ring().signing_key(clock())
    now = int(clock().timestamp())
    claims = {
        "iss": "https://broker.test",
        "aud": "notes",
        "sub": "u1",
        "act": {"sub": "staff-1"},
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    token = jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid})
    key_set = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json())
    header = jwt.get_unverified_header(token)
    assert header["kid"] == key.kid
    signing = key_set[header["kid"]]
    decoded = jwt.decode(
        token,
        signing.key,
        algorithms=["EdDSA"],
        audience="notes",
        issuer="https://broker.test",
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert decoded["act"] == {"sub": "staff-1"}
    # A token signed by some other Ed25519 key does not verify against the published set.
    forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, signing.key, algorithms=["EdDSA"], audience="notes")


# --- rotation -------------------------------------------------------------------------------


def test_rotation_overlaps_and_retires(
    client: TestClient, broker: Broker, settings: Settings, clock: FrozenClock
) -> None:
    path = settings.key_file
    source = KeySource(path, clock, recheck_seconds=0)
    directory = broker.services.keys
    assert isinstance(directory, KeyFileDirectory)
    directory.source = source  # the endpoint reads the key directory at each request
    start = clock()
    old_kid = source.ring().signing_key(start).kid

    def live() -> list[str]:
        response = client.get("/.well-known/jwks.json")
        assert response.status_code == 200
        return kids(response.json())

    # A message signed with the old key, e.g. an audit checkpoint.
    message = b"actas-audit-checkpoint/v1\n1\nAAAA\n"
    signed_kid, old_signature = source.sign(message)
    assert signed_kid == old_kid

    fresh = keyring.rotate(path, start, grace=GRACE)
    assert fresh.activates_at == start + GRACE
    assert fresh.kid != old_kid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    new_kid = fresh.kid

    # Published at once, but the old key still signs during the grace period.
    assert kids(keyring.load(path).jwks(start)) == [old_kid, new_kid]
    assert live() == [old_kid, new_kid]
    assert source.sign(b"x")[0] == old_kid
    clock.advance(GRACE.total_seconds() - 1)
    assert source.sign(b"x")[0] == old_kid
    assert live() == [old_kid, new_kid]

    # After the grace the new key signs; the old stays published while its tokens may live.
    clock.advance(1)
    assert source.sign(b"x")[0] == new_kid
    assert live() == [old_kid, new_kid]
    clock.advance(TOKEN_TTL.total_seconds() - 1)
    assert live() == [old_kid, new_kid]
    assert kids(keyring.load(path).jwks(clock())) == [old_kid, new_kid]

    # Then it is no longer published...
    clock.advance(1)
    assert live() == [new_kid]
    assert kids(keyring.load(path).jwks(clock())) == [new_kid]
    # ...but old signatures still verify, and a tampered one does not.
    assert source.verify(old_kid, message, old_signature)
    assert not source.verify(old_kid, message + b"!", old_signature)
    assert not source.verify(new_kid, message, old_signature)
    assert not source.verify("no-such-kid", message, old_signature)

    # The next rotation marks it retired in the file; it is kept and still verifies.
    clock.advance(60)
    third = keyring.rotate(path, clock(), grace=GRACE)
    stored = {k["kid"]: k for k in file_json(path)["keys"]}
    assert set(stored) == {old_kid, new_kid, third.kid}
    assert stored[old_kid]["retired_at"] is not None
    assert stored[new_kid]["retired_at"] is None
    assert live() == [new_kid, third.kid]
    assert source.sign(b"x")[0] == new_kid
    assert source.verify(old_kid, message, old_signature)
    fresh_source = KeySource(path, clock)  # a replica that starts after the rotation
    assert fresh_source.verify(old_kid, message, old_signature)


def test_a_token_signed_before_the_switch_verifies_during_the_overlap(
    tmp_path: Path, clock: FrozenClock
) -> None:
    path = tmp_path / "keys.json"
    keyring.ensure(path, clock())
    fresh = keyring.rotate(path, clock(), grace=GRACE)
    clock.advance(GRACE.total_seconds() - 10)
    old = keyring.load(path).signing_key(clock())
    now = int(clock().timestamp())
    token = jwt.encode(
        {"sub": "u1", "exp": now + 300},
        old.private,
        algorithm="EdDSA",
        headers={"kid": old.kid},
    )
    clock.advance(60)  # the new key signs now; the token is still alive
    ring = keyring.load(path)
    assert ring.signing_key(clock()).kid == fresh.kid
    key_set = jwt.PyJWKSet.from_dict(ring.jwks(clock()))
    decoded = jwt.decode(
        token, key_set[old.kid].key, algorithms=["EdDSA"], options={"verify_exp": False}
    )
    assert decoded["sub"] == "u1"


def test_key_directory(tmp_path: Path, clock: FrozenClock) -> None:
    directory = tmp_path / "keys.d"
    directory.mkdir()
    ring, created = keyring.ensure(directory, clock())
    assert created
    first = ring.signing_key(clock()).kid
    files = sorted(directory.glob("*.json"))
    assert sorted(f.name for f in files) == sorted([keyring.DATA_KEYS_FILE, f"{first}.json"])
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    assert keyring.ensure(directory, clock())[1] is False

    source = KeySource(directory, clock, recheck_seconds=0)
    _, signature = source.sign(b"checkpoint")
    fresh = keyring.rotate(directory, clock(), grace=GRACE)
    assert sorted(f.name for f in directory.glob("*.json")) == sorted(
        [keyring.DATA_KEYS_FILE, f"{first}.json", f"{fresh.kid}.json"]
    )
    assert len(source.ring().data_keys) == 2  # a data key rotates with the signing key
    assert kids(source.ring().jwks(clock())) == [first, fresh.kid]
    clock.advance((GRACE + TOKEN_TTL).total_seconds() + 1)
    assert source.sign(b"x")[0] == fresh.kid
    assert kids(source.ring().jwks(clock())) == [fresh.kid]
    assert source.verify(first, b"checkpoint", signature)

    # One bad file in the directory stops the whole ring.
    os.chmod(directory / f"{fresh.kid}.json", 0o644)
    with pytest.raises(KeyFileError) as caught:
        keyring.load(directory)
    assert f"{fresh.kid}.json" in str(caught.value)


def test_key_directory_through_the_broker(
    tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    """ACTAS_KEY_FILE naming a directory: the broker publishes and signs checkpoints with it."""
    directory = tmp_path / "keys.d"
    directory.mkdir()
    settings = load_settings(
        {
            "ACTAS_DATABASE_URL": database_url,
            "ACTAS_PUBLIC_URL": "https://broker.test",
            "ACTAS_KEY_FILE": str(directory),
        },
        cwd=tmp_path,
    )
    assert settings.key_file == directory
    assert initialise(settings, clock=clock) is True
    kid = keyring.load(directory).signing_key(clock()).kid
    made = build(settings, clock=clock, passwords=FastTestPasswords())
    try:
        with TestClient(create_app(made), base_url="https://broker.test") as client:
            assert kids(client.get("/.well-known/jwks.json").json()) == [kid]
        with made.store.transaction() as uow:
            uow.audit.record(AuditEvent(type="test.event", actor="test"))
        head = made.store.checkpoint()
        assert head is not None
        with made.engine.connect() as conn:
            row = conn.execute(select(audit_checkpoints)).one()
        assert row.kid == kid
        # A C2SP checkpoint note: the signature covers its text (origin, size, root).
        text = notes.parse(row.note).text
        assert text.startswith(f"broker.test/audit\n{head.seq}\n")
        assert made.keys.verify(kid, text.encode(), bytes(row.signature))
    finally:
        made.engine.dispose()


def test_a_rotation_in_the_same_mtime_tick_is_seen(tmp_path: Path, clock: FrozenClock) -> None:
    """Coarse file-system clocks, or a copy that keeps mtimes: the replaced file is still seen."""
    path = tmp_path / "keys.json"
    keyring.ensure(path, clock())
    source = KeySource(path, clock, recheck_seconds=0)
    before = path.stat()
    fresh = keyring.rotate(path, clock(), grace=GRACE)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same tick as the first write
    assert fresh.kid in kids(source.ring().jwks(clock()))


def test_a_key_removed_from_a_key_directory_is_seen(tmp_path: Path, clock: FrozenClock) -> None:
    """An operator withdraws a compromised key by deleting its file: every replica notices."""
    directory = tmp_path / "keys.d"
    directory.mkdir()
    keyring.ensure(directory, clock())
    fresh = keyring.rotate(directory, clock(), grace=timedelta(0))
    source = KeySource(directory, clock, recheck_seconds=0)
    (old,) = [k.kid for k in source.ring().keys if k.kid != fresh.kid]
    assert source.ring().get(old) is not None
    (directory / f"{old}.json").unlink()
    assert source.ring().get(old) is None
    assert kids(source.ring().jwks(clock())) == [fresh.kid]


def test_a_ring_with_no_active_key_says_so(clock: FrozenClock) -> None:
    future = keyring.new_entry(clock(), activates_at=clock() + GRACE)
    ring = KeyRing([future])
    with pytest.raises(KeyFileError, match="no key is active"):
        ring.signing_key(clock())
