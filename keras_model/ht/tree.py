"""The dimension tree of an HT matrix: leaves ``u1..ud`` (one per mode),
internal nodes ``b{lo}_{hi}`` over contiguous modes, the root last."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

from ..common.errors import ShapeError


@dataclass(frozen=True)
class Node:
    """One node of the dimension tree.

    ``modes`` are the 0-based leaf positions below the node (contiguous);
    ``children`` are node indices into ``HTShape.nodes`` (empty for a leaf).
    """

    index: int
    name: str
    modes: Tuple[int, ...]
    children: Tuple[int, ...] = ()

    @property
    def is_leaf(self) -> bool:
        return not self.children


def balanced_tree(d: int) -> List[Node]:
    """Nodes of the balanced tree over ``d`` modes: leaves first (``u1..ud``),
    then internal nodes in post-order (children before parents), root last.

    A node over modes ``lo..hi`` is split into the first ``ceil(len/2)`` modes
    and the rest, recursively.
    """
    if d < 2:
        raise ShapeError(f"an HT matrix needs d >= 2 modes, got d = {d}; use at least two input and output modes")
    nodes: List[Node] = [Node(k, f"u{k + 1}", (k,)) for k in range(d)]

    def build(lo: int, hi: int) -> int:  # modes lo..hi-1
        if hi - lo == 1:
            return lo
        mid = lo + (hi - lo + 1) // 2
        left = build(lo, mid)
        right = build(mid, hi)
        node = Node(len(nodes), f"b{lo + 1}_{hi}", tuple(range(lo, hi)), (left, right))
        nodes.append(node)
        return node.index

    build(0, d)
    return nodes
