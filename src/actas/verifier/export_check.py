"""Offline verification of an audit export (``actas audit verify-export``).

Trusts nothing in the file but what the broker's key signed: the checkpoint note (checked
against a JWKS the customer fetched from the broker, matched by the C2SP key ID), then for each
event its hash over its content, its inclusion proof up to the signed root, its account, and its
``account_prev`` link to the event before it, so an event changed, added or dropped between the
first and the last, or a checkpoint swapped, is named. ``docs/audit-export.md`` describes the
same steps for customers who write their own verifier.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from actas.domain import merkle, notes
from actas.domain.audit import application_of
from actas.domain.errors import InvalidInput

Kind = Literal[
    "malformed", "checkpoint", "checkpoint_signature", "edited", "not_in_log", "foreign",
    "order", "missing",
]  # fmt: skip
#: The keys an export adds to each event; everything else was hashed.
ADDED = frozenset({"prev_hash", "hash", "proof"})


@dataclass(frozen=True)
class Finding:
    kind: Kind
    seq: int | None
    detail: str


@dataclass
class ExportReport:
    events: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    tree_size: int | None = None
    origin: str | None = None
    findings: list[Finding] = field(default_factory=list)
    #: Why some events' ``account_prev`` links could not be checked (the header is not signed:
    #: a file that says it is filtered by type has gaps by design), or None.
    unchecked: str | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        if self.ok:
            line = (
                f"export OK: {self.events} events (seq {self.first_seq} to {self.last_seq}), "
                f"each proven in the log {self.origin} signed at {self.tree_size} events"
            )
            return line if self.unchecked is None else f"{line}; NOT checked: {self.unchecked}"
        lines = [f"export FAILED: {len(self.findings)} problem(s)"]
        lines += [f"  {f.kind}: {f.detail}" for f in self.findings[:50]]
        if len(self.findings) > 50:
            lines.append(f"  ... and {len(self.findings) - 50} more")
        return "\n".join(lines)


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def ed25519_keys(jwks: dict[str, Any]) -> list[bytes]:
    """The raw Ed25519 public keys of a JWKS."""
    keys = []
    for jwk in jwks.get("keys", []):
        if isinstance(jwk, dict) and jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            try:
                raw = _unb64url(str(jwk["x"]))
            except (KeyError, ValueError, binascii.Error):
                continue
            if len(raw) == 32:
                keys.append(raw)
    return keys


def check_note(note: str, jwks: dict[str, Any]) -> notes.SignedCheckpoint:
    """Parse a checkpoint note and check that a key of ``jwks`` signed it under the note's
    origin; raise :class:`InvalidInput` saying why not."""
    parsed = notes.parse(note)
    for sig in parsed.signatures:
        if sig.name != parsed.origin:
            continue
        for raw in ed25519_keys(jwks):
            if notes.key_id(sig.name, raw) != sig.key_id:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(raw).verify(sig.signature, parsed.text.encode())
            except InvalidSignature:
                continue
            return parsed
    raise InvalidInput("the checkpoint is not signed by any key of the JWKS under its origin")


class _Check:
    def __init__(self, report: ExportReport) -> None:
        self.report = report

    def add(self, kind: Kind, seq: int | None, detail: str) -> None:
        self.report.findings.append(Finding(kind, seq, detail))


def verify_export(lines: Iterable[str], jwks: dict[str, Any]) -> ExportReport:
    report = ExportReport()
    check = _Check(report)
    rows = iter(lines)
    try:
        header = json.loads(next(rows))
    except (StopIteration, ValueError):
        check.add("malformed", None, "the file does not start with an export header line")
        return report
    if not isinstance(header, dict) or header.get("type") != "actas.audit.export":
        check.add("malformed", None, "the first line is not an actas audit export header")
        return report
    signed = header.get("checkpoint") or {}
    if not isinstance(signed, dict) or not isinstance(signed.get("note"), str):
        check.add("checkpoint", None, "the export carries no signed Merkle tree checkpoint")
        return report
    try:
        tree = check_note(signed["note"], jwks)
    except InvalidInput as exc:
        check.add("checkpoint_signature", None, str(exc))
        return report
    report.tree_size, report.origin = tree.size, tree.origin
    filters = header.get("filters")
    _events(check, rows, tree, filters if isinstance(filters, dict) else {})
    return report


@dataclass
class _Links:
    """Where each account's events were last seen in the export, to check ``account_prev``.

    Since migration 0015 an event names its application and links to the previous event of
    the same account of the same application; before it, an event linked to the previous
    event of the same account id in any application (``legacy``)."""

    filters: dict[str, Any]
    by_app: dict[tuple[str | None, str], int] = field(default_factory=dict)
    by_account: dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """An export of whole accounts: a filter by actor, subject or type leaves gaps."""
        return not any(self.filters.get(name) for name in ("subject", "actor", "type"))

    def check(self, check: _Check, event: dict[str, Any], seq: int) -> None:
        account = event.get("account")
        if not isinstance(account, str) or "account_prev" not in event:
            return
        if not self.complete:
            check.report.unchecked = (
                "that no event is missing (the file says it is filtered by actor, subject or type)"
            )
            return
        app = application_of(event)
        if "application" in event:
            previous = self.by_app.get((app, account))
        elif self.filters.get("application") is None:
            previous = self.by_account.get(account)
        else:  # linked across applications: the other applications' events are not here
            previous = None
            check.report.unchecked = (
                "that no event from before the broker's migration 0015 is missing (they were "
                "linked across applications)"
            )
        if previous is not None:
            _link(check, event["account_prev"], seq, previous)
        self.by_app[app, account] = seq
        self.by_account[account] = seq


def _events(
    check: _Check, rows: Iterator[str], tree: notes.SignedCheckpoint, filters: dict[str, Any]
) -> None:
    report = check.report
    account, application = filters.get("account"), filters.get("application")
    links = _Links(filters)
    previous: int | None = None
    swapped = False
    for number, line in enumerate(rows, start=2):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            seq = event["seq"]
            leaf = bytes.fromhex(event["hash"])
            body = {k: v for k, v in event.items() if k not in ADDED}
            entry = bytes.fromhex(event["prev_hash"]) + rfc8785.dumps(body)
        except (ValueError, KeyError, TypeError, rfc8785.CanonicalizationError):
            check.add("malformed", None, f"line {number} is not an exported event")
            continue
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            check.add("malformed", None, f"line {number} has no valid seq")
            continue
        report.events += 1
        report.first_seq = report.first_seq or seq
        report.last_seq = seq
        if hashlib.sha256(b"\x00" + entry).digest() != leaf:
            check.add("edited", seq, f"event {seq} does not match its hash: it was changed")
        swapped = _proof(check, event.get("proof"), seq, leaf, tree, swapped)
        if account is not None and event.get("account") != account:
            check.add("foreign", seq, f"event {seq} is about account {event.get('account')!r}")
        elif application is not None and application_of(event) != application:
            check.add("foreign", seq, f"event {seq} is about application {application_of(event)!r}")
        if previous is not None and seq <= previous:
            check.add(
                "order", seq, f"event {seq} comes after event {previous}: repeated or reordered"
            )
            continue
        links.check(check, event, seq)
        previous = seq


def _proof(
    check: _Check, proof: Any, seq: int, leaf: bytes, tree: notes.SignedCheckpoint, swapped: bool
) -> bool:
    """Check one inclusion proof; returns whether a swapped checkpoint was reported already."""
    try:
        size, index = proof["tree_size"], proof["leaf_index"]
        hashes = [base64.b64decode(h, validate=True) for h in proof["hashes"]]
    except (TypeError, KeyError, ValueError, binascii.Error):
        check.add("not_in_log", seq, f"event {seq} carries no readable inclusion proof")
        return swapped
    if size != tree.size:
        if not swapped:
            check.add(
                "checkpoint",
                None,
                f"the proofs are for a tree of {size} events but the checkpoint signs "
                f"{tree.size}: the checkpoint was swapped",
            )
        return True
    if index != seq - 1 or not merkle.verify_inclusion(index, size, leaf, hashes, tree.root):
        check.add(
            "not_in_log",
            seq,
            f"event {seq} is not in the signed log: its inclusion proof does not lead to the "
            "checkpoint's root (it was added or altered)",
        )
    return swapped


def _link(check: _Check, linked: Any, seq: int, previous: int) -> None:
    """``linked`` (the event's ``account_prev``) must be ``previous``, the account's event
    before it in the export."""
    if linked == previous:
        return
    if isinstance(linked, int) and linked > previous:
        check.add(
            "missing",
            linked,
            f"event {linked} about this account is missing: event {seq} follows it, but the "
            f"export goes from event {previous} to {seq}",
        )
    else:
        check.add(
            "order",
            seq,
            f"event {seq} follows event {linked} of this account, not event {previous}: "
            f"event {previous} does not belong between them",
        )
