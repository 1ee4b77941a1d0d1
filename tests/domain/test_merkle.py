"""The Merkle tree maths against the RFC 6962 reference test vectors (transparency-dev/merkle, see
fixtures/rfc6962_vectors.json), and the store's tiled hashing against the plain definition."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actas.domain import merkle

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "rfc6962_vectors.json").read_text()
)
LEAVES = [merkle.hash_leaf(bytes.fromhex(x)) for x in VECTORS["leaf_inputs"]]
ROOTS = [bytes.fromhex(x) for x in VECTORS["roots"]]


def _hashes(items: list[str]) -> list[bytes]:
    return [bytes.fromhex(x) for x in items]


def _plain_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962's recursive definition, word for word."""
    if not leaves:
        return merkle.EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.hash_children(_plain_mth(leaves[:k]), _plain_mth(leaves[k:]))


def _hasher(leaves: list[bytes]) -> merkle.RangeHasher:
    tiles = [
        merkle.root(leaves[i : i + merkle.TILE])
        for i in range(0, len(leaves) - merkle.TILE + 1, merkle.TILE)
    ]
    return merkle.RangeHasher(
        len(leaves), tiles=lambda count: tiles[:count], leaves=lambda a, b: leaves[a:b]
    )


def _tree_proofs(leaves: list[bytes]) -> merkle.RangeHasher:
    return merkle.RangeHasher(len(leaves), tiles=lambda count: [], leaves=lambda a, b: leaves[a:b])


def test_leaf_hashes_and_roots_match_the_vectors() -> None:
    assert _hashes(VECTORS["leaf_hashes"]) == LEAVES
    assert merkle.root([]) == bytes.fromhex(VECTORS["empty_root"])
    for size in range(1, len(LEAVES) + 1):
        assert merkle.root(LEAVES[:size]) == ROOTS[size - 1]
        assert _tree_proofs(LEAVES[:size]).root() == ROOTS[size - 1]


@pytest.mark.parametrize(
    "case", VECTORS["inclusion_proofs"], ids=lambda c: f"{c['leaf']}-{c['size']}"
)
def test_inclusion_proofs_match_the_vectors(case: dict[str, Any]) -> None:
    index, size, want = case["leaf"] - 1, case["size"], _hashes(case["proof"])
    assert _tree_proofs(LEAVES[:size]).inclusion(index) == want
    root = ROOTS[size - 1]
    assert merkle.verify_inclusion(index, size, LEAVES[index], want, root)
    # The reference's corruptions: each must fail.
    bad = [
        (index - 1, size, LEAVES[index], want),
        (index + 1, size, LEAVES[index], want),
        (index ^ 2, size, LEAVES[index], want),
        (index, size * 2, LEAVES[index], want),
        (index, size // 2, LEAVES[index], want),
        (index, size, b"WrongLeaf", want),
        (index, size, LEAVES[index], [*want, b""]),
        (index, size, LEAVES[index], [*want, root]),
        (index, size, LEAVES[index], [root, *want]),
    ]
    if want:
        bad.append((index, size, LEAVES[index], want[:-1]))
        flipped = [bytes([p[0] ^ 8]) + p[1:] for p in want]
        bad += [(index, size, LEAVES[index], [*want[:i], flipped[i], *want[i + 1 :]])
                for i in range(len(want))]  # fmt: skip
    for probe in bad:
        if probe == (index, size, LEAVES[index], want):
            continue  # the ^2 probe can land on the same index
        assert not merkle.verify_inclusion(*probe, root), probe


@pytest.mark.parametrize(
    "case", VECTORS["consistency_proofs"], ids=lambda c: f"{c['size1']}-{c['size2']}"
)
def test_consistency_proofs_match_the_vectors(case: dict[str, Any]) -> None:
    old, new, want = case["size1"], case["size2"], _hashes(case["proof"])
    assert _tree_proofs(LEAVES[:new]).consistency(old) == want
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    assert merkle.verify_consistency(old, new, r1, r2, want)
    if not want:
        return
    for probe in [
        (old - 1, new, r1, r2, want),
        (old + 1, new, r1, r2, want),
        (old ^ 2, new, r1, r2, want),
        (old, new * 2, r1, r2, want),
        (old, new // 2, r1, r2, want),
        (old, new, b"WrongRoot", r2, want),
        (old, new, r1, b"WrongRoot", want),
        (old, new, r2, r1, want),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*want, b""]),
        (old, new, r1, r2, [*want, r1]),
        (old, new, r1, r2, [r2, *want]),
        (old, new, r1, r2, [want[0], *want]),
        (old, new, r1, r2, want[:-1]),
    ]:
        assert not merkle.verify_consistency(*probe), probe


def test_trivial_and_impossible_sizes() -> None:
    root = ROOTS[0]
    assert merkle.verify_consistency(0, 3, merkle.EMPTY_ROOT, ROOTS[2], [])
    assert not merkle.verify_consistency(0, 3, merkle.EMPTY_ROOT, ROOTS[2], [root])
    assert not merkle.verify_consistency(2, 1, ROOTS[1], root, [])
    assert not merkle.verify_consistency(1, 1, root, ROOTS[1], [])
    assert not merkle.verify_inclusion(0, 0, root, [], root)
    assert not merkle.verify_inclusion(1, 1, root, [], root)
    with pytest.raises(ValueError):
        merkle.inclusion_ranges(3, 3)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(4, 3)
    with pytest.raises(ValueError):
        _tree_proofs(LEAVES).hash(0, 9)
    with pytest.raises(ValueError):
        merkle.RangeHasher(512, tiles=lambda count: [], leaves=lambda a, b: [])


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 1300), data=st.data())
def test_tiled_proofs_equal_the_definition(size: int, data: st.DataObject) -> None:
    """Proofs made from stored 256-leaf tiles equal those of the plain definition, and verify."""
    leaves = [merkle.hash_leaf(i.to_bytes(4, "big")) for i in range(size)]
    hasher = _hasher(leaves)
    root = _plain_mth(leaves)
    assert hasher.root() == root
    index = data.draw(st.integers(0, size - 1))
    proof = hasher.inclusion(index)
    assert proof == [_plain_mth(leaves[a:b]) for a, b in merkle.inclusion_ranges(index, size)]
    assert merkle.verify_inclusion(index, size, leaves[index], proof, root)
    old = data.draw(st.integers(0, size))
    consistency = hasher.consistency(old)
    old_root = _plain_mth(leaves[:old])
    assert merkle.verify_consistency(old, size, old_root, root, consistency)
    if old:
        changed = [*leaves[: old - 1], merkle.hash_leaf(b"edited")]
        assert not merkle.verify_consistency(old, size, _plain_mth(changed), root, consistency)
