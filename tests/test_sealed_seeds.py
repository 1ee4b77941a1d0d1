"""Finding 7: staff TOTP seeds are sealed at rest, and the SQLite file is private.

The database held every seed in clear in a file created 0644. Seeds are now sealed with
AES-GCM under a data key kept in the key file (rotated with the signing keys); seeds written
before migration 0004 are sealed by ``actas init`` and at their next sign-in; a seed that does
not open fails like a wrong code. The SQLite file, its -wal and -shm are created 0600 and the
broker refuses to open them when others may read them.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from actas.app import create_app
from actas.bootstrap import Broker, build, initialise
from actas.domain.audit import AuditQuery
from actas.domain.clock import FrozenClock
from actas.domain.roles import Role
from actas.keys import keyring
from actas.keys.keyring import KeyFileError
from actas.keys.seeds import SEALED_PREFIX, SealedSeedError, SeedCipher, new_data_key
from actas.security.passwords import FastTestPasswords
from actas.services import audit as audit_service
from actas.settings import Settings
from actas.store.engine import DatabaseFileError, make_engine
from actas.store.tables import staff
from tests.conftest import People, Persona


def stored_seed(broker: Broker, who: Persona) -> str:
    with broker.engine.connect() as conn:
        return str(conn.execute(select(staff.c.totp_secret).where(staff.c.id == who.id)).scalar())


def store_plain(broker: Broker, who: Persona) -> None:
    """Put the seed back as a broker before migration 0004 wrote it."""
    with broker.engine.begin() as conn:
        conn.execute(update(staff).where(staff.c.id == who.id).values(totp_secret=who.totp_secret))


def sign_in(client: TestClient, who: Persona, clock: FrozenClock) -> int:
    clock.advance(30)
    response = client.post(
        "/v1/auth/login",
        json={"email": who.email, "password": who.password, "code": who.code(clock)},
    )
    return response.status_code


@pytest.fixture
def alice(people: People) -> Persona:
    return people.add("alice", Role.AGENT)


def test_the_database_holds_no_seed_in_clear(
    client: TestClient, alice: Persona, broker: Broker, clock: FrozenClock
) -> None:
    sealed = stored_seed(broker, alice)
    assert sealed.startswith(SEALED_PREFIX)
    assert alice.totp_secret not in sealed
    ring = keyring.load(broker.settings.key_file)
    assert sealed.startswith(f"{SEALED_PREFIX}{ring.data_keys[-1].kid}:")
    assert sign_in(client, alice, clock) == 200


def test_a_plain_seed_signs_in_and_is_sealed_then(
    client: TestClient, alice: Persona, broker: Broker, clock: FrozenClock
) -> None:
    store_plain(broker, alice)
    assert sign_in(client, alice, clock) == 200
    sealed = stored_seed(broker, alice)
    assert sealed.startswith(SEALED_PREFIX)
    assert sign_in(client, alice, clock) == 200


def test_init_seals_plain_seeds_once(
    alice: Persona, broker: Broker, settings: Settings, clock: FrozenClock
) -> None:
    store_plain(broker, alice)
    initialise(settings, clock=clock)
    assert stored_seed(broker, alice).startswith(SEALED_PREFIX)
    initialise(settings, clock=clock)
    sealed = audit_service.read_events(
        broker.services, AuditQuery(type="staff.totp_sealed", limit=10)
    )
    assert [(e["actor"], e["data"]) for e in sealed] == [("actas:init", {"seeds": 1})]


def test_rotation_seals_with_the_newest_key_and_opens_with_any(
    alice: Persona, broker: Broker, settings: Settings, clock: FrozenClock
) -> None:
    before = stored_seed(broker, alice)
    keyring.rotate(settings.key_file, clock())
    rotated = build(settings, clock=clock, passwords=FastTestPasswords())
    try:
        newest = keyring.load(settings.key_file).data_keys[-1].kid
        assert not before.startswith(f"{SEALED_PREFIX}{newest}:")
        with TestClient(create_app(rotated), base_url="https://broker.test") as client:
            assert sign_in(client, alice, clock) == 200  # the old key still opens it
        assert stored_seed(broker, alice).startswith(f"{SEALED_PREFIX}{newest}:")
    finally:
        rotated.engine.dispose()


@pytest.mark.parametrize("damage", ["tampered", "unknown key", "garbage"])
def test_a_seed_that_does_not_open_fails_like_a_wrong_code(
    client: TestClient, alice: Persona, broker: Broker, clock: FrozenClock, damage: str
) -> None:
    sealed = stored_seed(broker, alice)
    head, _, body = sealed.rpartition(":")
    broken = {
        "tampered": f"{head}:{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}",
        "unknown key": f"{SEALED_PREFIX}AAAAAAAAAAAA:{body}",
        "garbage": f"{head}:!!",
    }[damage]
    with broker.engine.begin() as conn:
        conn.execute(update(staff).where(staff.c.id == alice.id).values(totp_secret=broken))
    clock.advance(30)
    response = client.post(
        "/v1/auth/login",
        json={"email": alice.email, "password": alice.password, "code": alice.code(clock)},
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "email, password or code is wrong"


def test_the_cipher_binds_the_key_id(clock: FrozenClock) -> None:
    one, two = new_data_key(clock()), new_data_key(clock())
    cipher = SeedCipher(lambda: [one, two])
    sealed = cipher.seal("JBSWY3DPEHPK3PXP")
    assert cipher.open(sealed) == "JBSWY3DPEHPK3PXP"
    assert cipher.is_current(sealed)
    # The same ciphertext labelled with the other key id does not open, even under that key.
    relabelled = sealed.replace(two.kid, one.kid)
    with pytest.raises(SealedSeedError):
        SeedCipher(lambda: [two, one]).open(relabelled)
    assert one.key.hex() not in repr(one)


def test_the_key_file_keeps_the_data_key_and_an_old_one_gets_one(
    tmp_path: Path, clock: FrozenClock
) -> None:
    path = tmp_path / "keys.json"
    ring, _ = keyring.ensure(path, clock())
    assert len(ring.data_keys) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    payload = json.loads(path.read_text())
    assert payload["data_keys"][0]["alg"] == "A256GCM"
    # A key file from before data keys: the next start adds one, and keeps the signing key.
    del payload["data_keys"]
    path.write_text(json.dumps(payload))
    ring, created = keyring.ensure(path, clock())
    assert not created
    assert len(ring.data_keys) == 1
    assert [k.kid for k in ring.keys] == [payload["keys"][0]["kid"]]


# --- the SQLite file -------------------------------------------------------------------------


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(path: Path) -> dict[str, int]:
    found = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in found if p.exists()}


def test_a_new_database_file_is_private(tmp_path: Path, loose_umask: None) -> None:
    path = tmp_path / "actas.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert set(modes(path)) == {"actas.db", "actas.db-wal", "actas.db-shm"}
        assert set(modes(path).values()) == {0o600}
    engine.dispose()


@pytest.mark.parametrize("which", ["", "-wal", "-shm"])
def test_a_database_file_others_can_read_is_refused(
    tmp_path: Path, loose_umask: None, which: str
) -> None:
    path = tmp_path / "actas.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    loose = Path(f"{path}{which}")
    if not loose.exists():
        loose.touch()
    loose.chmod(0o644)
    with pytest.raises(DatabaseFileError) as caught:
        make_engine(f"sqlite:///{path}")
    assert str(caught.value) == (
        f"ACTAS_DATABASE_URL file {str(loose)!r} is readable by others (mode 644); "
        f"chmod 600 {loose}"
    )
    engine.dispose()


def test_a_broker_without_a_data_key_refuses_to_start_until_init(
    settings: Settings, broker: Broker, clock: FrozenClock
) -> None:
    payload = json.loads(settings.key_file.read_text())
    del payload["data_keys"]
    settings.key_file.write_text(json.dumps(payload))
    with pytest.raises(KeyFileError) as caught:
        build(settings, clock=clock, passwords=FastTestPasswords())
    assert "holds no data key to seal TOTP seeds; run `actas init`" in str(caught.value)
    initialise(settings, clock=clock)
    build(settings, clock=clock, passwords=FastTestPasswords()).engine.dispose()
