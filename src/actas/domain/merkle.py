"""RFC 6962 / RFC 9162 Merkle tree maths over the audit log's leaf hashes (standard library only).

The tree's leaves are the events' stored hashes. Each is already an RFC 6962 leaf hash,
``SHA-256(0x00 || entry)`` with ``entry = prev_hash || canonical JSON``, so the tree over the
log's entries has exactly these leaf hashes; interior nodes are ``SHA-256(0x01 || left ||
right)``. Proofs are lists of 32-byte hashes, bottom-up, as RFC 9162 sections 2.1.3 and 2.1.4
define them; the test vectors of the reference implementation pass (tests/domain/test_merkle.py).

Proofs are built from *ranges*: every element of an inclusion or consistency proof is the hash of
a range ``[start, end)`` of leaves (RFC 6962's ``MTH(D[start:end])``). :func:`inclusion_ranges`
and :func:`consistency_ranges` say which; :class:`RangeHasher` hashes ranges from whatever the
store keeps (leaf hashes and the hashes of complete 256-leaf subtrees), so a proof costs a few
hundred hashes, not a walk of the whole log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256
#: Leaves per stored subtree ("tile"): the store keeps the hash of every complete, aligned
#: subtree of this many leaves, so proofs never read more than one tile of leaves per event.
TILE = 256

Range = tuple[int, int]


def hash_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1): RFC 6962's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The compact state of a growing tree: the roots of its perfect subtrees, left to right.

    Appending costs one hash amortised; the root of the tree so far costs ``log n`` hashes.
    """

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        # Called once per event by the log's verification: the hash is spelled out here.
        size = self.size
        self.size = size + 1
        stack = self.stack
        node = leaf
        while size & 1:
            node = _sha256(b"\x01" + stack.pop() + node).digest()
            size >>= 1
        stack.append(node)

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        node = self.stack[-1]
        for left in reversed(self.stack[:-1]):
            node = hash_children(left, node)
        return node


def root(leaves: Sequence[bytes]) -> bytes:
    """``MTH(D[n])`` of the given leaf hashes."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose hashes form the inclusion proof of leaf ``index`` in a tree of ``size``
    leaves (RFC 6962 ``PATH``), bottom-up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    top_down: list[Range] = []
    low, high = 0, size
    while high - low > 1:
        k = _split(high - low)
        if index < low + k:
            top_down.append((low + k, high))
            high = low + k
        else:
            top_down.append((low, low + k))
            low += k
    return top_down[::-1]


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The ranges whose hashes prove that the tree of ``old`` leaves is a prefix of the tree of
    ``new`` leaves (RFC 6962 ``PROOF``/``SUBPROOF``), bottom-up. Empty when ``old`` is 0 or
    equals ``new``."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new} leaves")
    if old in (0, new):
        return []
    top_down: list[Range] = []
    low, high, m, whole = 0, new, old, True
    while True:
        n = high - low
        if m == n:
            if not whole:
                top_down.append((low, high))
            return top_down[::-1]
        k = _split(n)
        if m <= k:
            top_down.append((low + k, high))
            high = low + k
        else:
            top_down.append((low, low + k))
            low += k
            m -= k
            whole = False


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, node = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = hash_children(p, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = hash_children(node, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == root_hash


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2 (an empty tree is consistent with every tree)."""
    if not 0 <= old <= new or any(len(p) != HASH_SIZE for p in proof):
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # an exact power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


#: Memoise ranges at least this wide: narrower ones are cheaper to rehash than to keep.
_MEMO_WIDTH = 16


class RangeHasher:
    """``MTH(D[start:end])`` of ranges of one tree of ``size`` leaves, from stored parts.

    ``tiles(count)`` returns the hashes of the first ``count`` complete tiles (tile ``i`` covers
    leaves ``[i*TILE, (i+1)*TILE)``); ``leaves(start, end)`` returns leaf hashes. A proof for any
    leaf reads one tile of leaves and hashes at most a few hundred nodes; the wide ranges near
    the root are hashed once and shared by every proof against the same tree.
    """

    def __init__(
        self,
        size: int,
        *,
        tiles: Callable[[int], Sequence[bytes]],
        leaves: Callable[[int, int], Sequence[bytes]],
    ) -> None:
        self.size = size
        self._tiles = list(tiles(size // TILE))
        if len(self._tiles) != size // TILE:
            raise ValueError("the stored tree tiles do not cover the tree")
        self._read_leaves = leaves
        self._tile_leaves: dict[int, list[Sequence[bytes]]] = {}
        self._memo: dict[Range, bytes] = {}

    def _levels(self, tile: int) -> list[Sequence[bytes]]:
        """The levels of one tile, leaves first: each level of a complete tile in one tight
        loop (255 hashes), rather than node by node."""
        cached = self._tile_leaves.get(tile)
        if cached is None:
            if len(self._tile_leaves) >= 8:  # exports walk forwards: keep the last few tiles
                self._tile_leaves.pop(next(iter(self._tile_leaves)))
            start = tile * TILE
            level = self._read_leaves(start, min(start + TILE, self.size))
            cached = [level]
            if len(level) == TILE:
                sha256 = hashlib.sha256
                while len(level) > 1:
                    level = [
                        sha256(b"\x01" + left + right).digest()
                        for left, right in zip(level[::2], level[1::2], strict=True)
                    ]
                    cached.append(level)
            self._tile_leaves[tile] = cached
        return cached

    def hash(self, start: int, end: int) -> bytes:
        if not 0 <= start < end <= self.size:
            raise ValueError(f"range [{start}, {end}) is not in a tree of {self.size} leaves")
        n = end - start
        if n == TILE and start % TILE == 0:
            return self._tiles[start // TILE]
        if n <= TILE and n & (n - 1) == 0 and start % n == 0:
            # An aligned perfect subtree inside one tile: a node of that tile's levels.
            levels = self._levels(start // TILE)
            height = n.bit_length() - 1
            if height < len(levels):
                return levels[height][(start % TILE) >> height]
        memo = n >= _MEMO_WIDTH
        if memo and (hit := self._memo.get((start, end))) is not None:
            return hit
        k = _split(n)
        node = hash_children(self.hash(start, start + k), self.hash(start + k, end))
        if memo:
            self._memo[(start, end)] = node
        return node

    def root(self) -> bytes:
        return self.hash(0, self.size) if self.size else EMPTY_ROOT

    def inclusion(self, index: int) -> list[bytes]:
        return [self.hash(a, b) for a, b in inclusion_ranges(index, self.size)]

    def consistency(self, old: int) -> list[bytes]:
        return [self.hash(a, b) for a, b in consistency_ranges(old, self.size)]
