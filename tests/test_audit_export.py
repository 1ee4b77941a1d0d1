"""A customer's export carries what they need to check it without trusting our database."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.scenario import World, redeem, started_session


def test_jsonl_export_verifies_independently(world: World) -> None:
    session, code, _ = started_session(world)
    redeem(world, code)
    head = world.broker.store.checkpoint()
    assert head is not None
    response = world.client.get(
        "/v1/audit/export", params={"account": "acme"}, headers=world.as_(world.sam)
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jsonl")
    lines = [json.loads(line) for line in response.text.splitlines()]
    header, events = lines[0], lines[1:]
    assert header["type"] == "actas.audit.export"
    assert header["filters"] == {"account": "acme"}
    assert {e["account"] for e in events} == {"acme"}
    assert session in {e["session"] for e in events}

    checkpoint = header["checkpoint"]
    # The export signs the head first (sam's sign-in came after ``head``), so it covers all.
    latest = world.broker.services.chain.checkpoint()
    assert latest is None
    assert checkpoint["seq"] > head.seq
    key = checkpoint["public_key"]
    raw = base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4))
    Ed25519PublicKey.from_public_bytes(raw).verify(
        base64.b64decode(checkpoint["signature"]), checkpoint["signed_message"].encode()
    )  # raises if the signature is not the broker's
    assert checkpoint["signed_message"].split("\n")[1] == str(checkpoint["seq"])

    for event in events:
        body = {k: v for k, v in event.items() if k not in {"prev_hash", "hash", "proof"}}
        leaf = b"\x00" + bytes.fromhex(event["prev_hash"]) + rfc8785.dumps(body)
        assert hashlib.sha256(leaf).hexdigest() == event["hash"]


def test_csv_export_carries_the_checkpoint_in_comments(world: World) -> None:
    started_session(world)
    world.broker.store.checkpoint()
    response = world.client.get(
        "/v1/audit/export",
        params={"account": "acme", "format": "csv"},
        headers=world.as_(world.sam),
    )
    assert response.headers["content-type"].startswith("text/csv")
    comments = [ln[2:] for ln in response.text.splitlines() if ln.startswith("# ")]
    assert json.loads("\n".join(comments))["checkpoint"]["kid"]
    rows = list(csv.DictReader(io.StringIO("\n".join(
        ln for ln in response.text.splitlines() if not ln.startswith("#")
    ))))  # fmt: skip
    assert rows
    assert {r["account"] for r in rows} == {"acme"}


def test_only_security_exports(world: World) -> None:
    response = world.client.get("/v1/audit/export", headers=world.as_(world.alice))
    assert response.status_code == 403
