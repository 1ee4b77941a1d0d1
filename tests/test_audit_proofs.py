"""Customer-verifiable exports: every event of an account with an inclusion proof in the Merkle
tree the broker signed, checked offline; any change, drop, addition or swapped checkpoint named;
and a witness that catches a truncated log whose later checkpoints were deleted."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from actas.audit.witness import FileWitness
from actas.bootstrap import build
from actas.domain.audit import AuditEvent, AuditQuery, leaf_hash
from actas.domain.clock import FrozenClock
from actas.domain.notes import read_witness
from actas.keys import keyring
from actas.keys.keyring import KeySource
from actas.services import audit as audit_service
from actas.settings import load_settings
from actas.store.tables import audit_checkpoints, audit_events, audit_head, audit_tree_tiles
from actas.store.uow import Store
from actas.verifier.export_check import ExportReport, verify_export
from tests.scenario import World
from tests.test_audit_chain import tampered, verify
from tests.test_cli import Cli, clean_environment, cli, ready  # noqa: F401 (fixtures)

ACCOUNTS = ("acme", "globex", "initech")


def fill(store: Store, count: int, *, per_transaction: int = 25, start: int = 0) -> None:
    """``count`` events over three accounts (and some with none), a checkpoint now and then."""
    for first in range(start, start + count, per_transaction):
        with store.transaction() as uow:
            for n in range(first, min(first + per_transaction, start + count)):
                account = ACCOUNTS[n % 3] if n % 7 else None
                uow.audit.record(
                    AuditEvent(
                        type="test.event",
                        actor=f"staff-{n % 4}",
                        account=account,
                        application="notes" if account else None,
                        data={"n": n},
                    )
                )
        if first % 200 == 0:
            store.checkpoint()


def export_lines(world: World, account: str = "acme") -> list[str]:
    response = world.client.get(
        "/v1/audit/export", params={"account": account}, headers=world.as_(world.sam)
    )
    assert response.status_code == 200, response.text
    return response.text.splitlines(keepends=True)


def jwks(world: World) -> dict[str, Any]:
    return dict(world.client.get("/.well-known/jwks.json").json())


def rehash(event: dict[str, Any]) -> None:
    """What a forger does after changing an event: recompute its hash (no key needed)."""
    body = {k: v for k, v in event.items() if k not in {"prev_hash", "hash", "proof"}}
    entry = bytes.fromhex(event["prev_hash"]) + rfc8785.dumps(body)
    event["hash"] = hashlib.sha256(b"\x00" + entry).hexdigest()


def kinds(report: ExportReport) -> set[tuple[str, int | None]]:
    return {(f.kind, f.seq) for f in report.findings}


@pytest.fixture
def filled(world: World) -> World:
    fill(world.broker.store, 700)  # more than two 256-leaf tiles
    return world


def test_export_verifies_offline_and_holds_every_event_of_the_account(filled: World) -> None:
    lines = export_lines(filled)
    header, events = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert header["version"] == 2
    in_db = [
        e["seq"]
        for e in audit_service.read_events(
            filled.broker.services, AuditQuery(account="acme", limit=1000)
        )
    ]
    assert [e["seq"] for e in events] == in_db
    assert len(events) > 200
    size = header["checkpoint"]["tree_size"]
    assert size >= events[-1]["seq"]  # the head was signed for the export
    assert all(e["proof"]["tree_size"] == size for e in events)
    # Linked per account: each event names the one before it.
    assert [e["account_prev"] for e in events[1:]] == [e["seq"] for e in events[:-1]]
    report = verify_export(lines, jwks(filled))
    assert report.ok, report.summary()
    assert report.events == len(events)


def test_every_kind_of_tampering_is_named(filled: World) -> None:
    lines = export_lines(filled)
    keys = jwks(filled)
    events = [json.loads(line) for line in lines[1:]]
    middle = events[len(events) // 2]
    seq = middle["seq"]

    def changed(edit: Callable[[list[Any]], None]) -> ExportReport:
        items: list[Any] = [json.loads(line) for line in lines]
        edit(items)
        return verify_export([json.dumps(item) + "\n" for item in items], keys)

    def edit_field(items: list[Any]) -> None:
        items[1 + len(events) // 2]["data"]["n"] = -1

    assert kinds(changed(edit_field)) == {("edited", seq)}

    def edit_and_rehash(items: list[Any]) -> None:
        items[1 + len(events) // 2]["type"] = "nothing.happened"
        rehash(items[1 + len(events) // 2])

    assert kinds(changed(edit_and_rehash)) == {("not_in_log", seq)}

    def drop(items: list[Any]) -> None:
        del items[1 + len(events) // 2]

    assert kinds(changed(drop)) == {("missing", seq)}

    def add_forged(items: list[Any]) -> None:
        forged = dict(middle, seq=seq + 1, id="00000000-0000-0000-0000-000000000000")
        rehash(forged)
        items.insert(2 + len(events) // 2, forged)

    found = kinds(changed(add_forged))
    assert ("not_in_log", seq + 1) in found
    assert {kind for kind, _ in found} <= {"not_in_log", "order"}

    other = [json.loads(line) for line in export_lines(filled, "globex")[1:]]
    stranger = next(e for e in other if seq < e["seq"] < events[len(events) // 2 + 1]["seq"])

    def add_foreign(items: list[Any]) -> None:
        items.insert(2 + len(events) // 2, stranger)

    found = kinds(changed(add_foreign))
    assert ("foreign", stranger["seq"]) in found

    with filled.broker.engine.connect() as conn:
        first_note = conn.execute(
            select(audit_checkpoints.c.note).order_by(audit_checkpoints.c.seq).limit(1)
        ).scalar_one()

    def swap_checkpoint(items: list[Any]) -> None:
        items[0]["checkpoint"]["note"] = first_note

    assert kinds(changed(swap_checkpoint)) == {("checkpoint", None)}

    def forge_checkpoint(items: list[Any]) -> None:
        note: str = items[0]["checkpoint"]["note"]
        origin, size, _root, rest = note.split("\n", 3)
        forged_root = base64.b64encode(bytes(32)).decode()
        items[0]["checkpoint"]["note"] = "\n".join([origin, size, forged_root, rest])

    assert kinds(changed(forge_checkpoint)) == {("checkpoint_signature", None)}

    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"  # RFC 8037's example key: not ours
    stranger_keys = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x}]}
    assert kinds(verify_export(lines, stranger_keys)) == {("checkpoint_signature", None)}
    assert verify_export(lines, keys).ok  # the original still verifies


def test_a_damaged_tree_stops_the_export(filled: World) -> None:
    """Tiles are a cache: one edited in the database fails the export's own check of each proof
    against the signed root, instead of handing the customer a proof that does not verify."""
    export_lines(filled)  # signs the head, so the tiles are in use
    with tampered(filled.broker.engine) as conn:
        conn.execute(
            update(audit_tree_tiles).where(audit_tree_tiles.c.idx == 0).values(hash=bytes(32))
        )
    made = audit_service.export(filled.broker.services, AuditQuery(account="acme"), "jsonl")
    with pytest.raises(RuntimeError, match="does not verify against the signed root"):
        list(made.body)


def test_verify_recomputes_each_signed_root(filled: World) -> None:
    filled.broker.store.checkpoint()
    report = filled.broker.services.chain.verify()
    assert report.ok, report.summary()
    assert report.checkpoints >= 4
    # Rewrite the chain from event 20 on (re-hashing needs no key): the signed roots disagree.
    rewrite_from(filled.broker.engine, 20)
    with filled.broker.engine.connect() as conn:
        first_after = conn.execute(
            select(audit_checkpoints.c.seq).where(audit_checkpoints.c.seq >= 20).limit(1)
        ).scalar_one()
    report = filled.broker.services.chain.verify()
    assert (report.problem, report.first_bad_seq) == ("checkpoint_mismatch", first_after)


def test_no_checkpoint_is_signed_over_a_damaged_tree(filled: World) -> None:
    """Damaged tiles would make the next checkpoint sign a wrong root: it refuses instead."""
    store = filled.broker.store
    store.checkpoint()
    with tampered(filled.broker.engine) as conn:
        conn.execute(
            update(audit_tree_tiles).where(audit_tree_tiles.c.idx == 1).values(hash=bytes(32))
        )
    fill(store, 5, start=1)
    with pytest.raises(RuntimeError, match="refusing to sign"):
        store.checkpoint()


def rewrite_from(engine: Engine, first: int) -> None:
    """Edit event ``first`` and re-hash the chain after it, as someone with the database can."""
    with tampered(engine) as conn:
        rows = conn.execute(
            select(audit_events.c.seq, audit_events.c.canonical, audit_events.c.prev_hash)
            .where(audit_events.c.seq >= first)
            .order_by(audit_events.c.seq)
        ).all()
        prev = bytes(rows[0].prev_hash)
        for n, row in enumerate(rows):
            canonical = row.canonical.replace('"n":', '"n":1') if n == 0 else row.canonical
            digest = leaf_hash(prev, canonical.encode())
            conn.execute(
                update(audit_events)
                .where(audit_events.c.seq == row.seq)
                .values(canonical=canonical, prev_hash=prev, hash=digest)
            )
            prev = digest
        conn.execute(update(audit_head).values(hash=prev))


@pytest.fixture
def witnessed_store(engine: Engine, clock: FrozenClock, tmp_path: Path) -> tuple[Store, Path]:
    key_path = tmp_path / "keys.json"
    keyring.ensure(key_path, clock())
    witness = tmp_path / "witness" / "checkpoints.jsonl"
    witness.parent.mkdir()
    store = Store(
        engine,
        clock=clock,
        signer=KeySource(key_path, clock),
        checkpoint_every=50,
        origin="broker.test/audit",
        witness=FileWitness(witness),
    )
    return store, witness


def test_truncating_and_deleting_checkpoints_fails_verify_witness(
    engine: Engine, witnessed_store: tuple[Store, Path]
) -> None:
    store, witness = witnessed_store
    fill(store, 300, per_transaction=10)
    held = read_witness(witness.read_text())
    assert [int(note.split("\n")[1]) for note, _ in held][:4] == [10, 50, 100, 150]
    checker = store.signer
    assert isinstance(checker, KeySource)
    assert verify(engine, checker, witnessed=held).ok

    # Someone with the database cuts the log after event 120 and deletes the checkpoints (and
    # tiles) that would show it, and points the head at event 120.
    with tampered(engine) as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq > 120))
        conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.seq > 120))
        conn.execute(delete(audit_tree_tiles))
        last = conn.execute(
            select(audit_events.c.hash).where(audit_events.c.seq == 120)
        ).scalar_one()
        conn.execute(update(audit_head).values(seq=120, hash=last))

    assert verify(engine, checker).ok  # the database alone no longer shows it
    report = verify(engine, checker, witnessed=held)
    assert not report.ok
    assert (report.problem, report.first_bad_seq) == ("truncated", 121)
    assert "witness" in (report.detail or "")


def test_a_rewritten_log_fails_verify_witness(
    engine: Engine, witnessed_store: tuple[Store, Path]
) -> None:
    store, witness = witnessed_store
    fill(store, 120, per_transaction=10)
    held = read_witness(witness.read_text())
    rewrite_from(engine, 11)  # after the first witnessed checkpoint (10), before the next (50)
    with tampered(engine) as conn:
        conn.execute(delete(audit_checkpoints))
    checker = store.signer
    assert isinstance(checker, KeySource)
    assert verify(engine, checker).ok
    report = verify(engine, checker, witnessed=held)
    assert (report.problem, report.first_bad_seq) == ("witness_mismatch", 50)

    forged = [(note.replace("\n10\n", "\n11\n"), kid) for note, kid in held]
    report = verify(engine, checker, witnessed=forged)
    assert report.problem == "checkpoint_signature"


def test_cli_export_verify_export_and_verify_witness(ready: Cli, tmp_path: Path) -> None:  # noqa: F811
    witness = tmp_path / "witness.jsonl"
    env = {"ACTAS_AUDIT_WITNESS_FILE": str(witness), "ACTAS_CHECKPOINT_EVERY": "40"}
    broker = build(load_settings({**ready.env, **env}))
    try:
        fill(broker.store, 300, per_transaction=10)
        jwks_file = tmp_path / "jwks.json"
        jwks_file.write_text(json.dumps(broker.keys.ring().jwks(broker.clock())))
    finally:
        broker.engine.dispose()
    out = tmp_path / "acme.jsonl"
    run = Cli({**ready.env, **env})
    result = run("audit", "export", "--account", "acme", "--since", "90d", "-o", str(out))
    assert result.exit_code == 0, (result.stdout, result.stderr)
    checked = run.ok("audit", "verify-export", str(out), "--jwks", str(jwks_file))
    assert "export OK" in checked.stdout

    lines = out.read_text().splitlines(keepends=True)
    del lines[5]
    (tmp_path / "dropped.jsonl").write_text("".join(lines))
    failed = run(
        "audit", "verify-export", str(tmp_path / "dropped.jsonl"), "--jwks", str(jwks_file)
    )
    assert failed.exit_code == 1
    assert "missing: event" in failed.stdout

    assert (
        "witnessed checkpoints checked"
        in run.ok("audit", "verify", "--witness", str(witness)).stdout
    )
    broker = build(load_settings(run.env))
    try:
        with tampered(broker.engine) as conn:
            conn.execute(delete(audit_events).where(audit_events.c.seq > 100))
            conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.seq > 100))
            last = conn.execute(
                select(audit_events.c.hash).where(audit_events.c.seq == 100)
            ).scalar_one()
            conn.execute(update(audit_head).values(seq=100, hash=last))
    finally:
        broker.engine.dispose()
    assert run("audit", "verify").exit_code == 0
    result = run("audit", "verify", "--witness", str(witness))
    assert result.exit_code == 1
    assert "truncated" in result.stdout
