"""The HT shape of a weight matrix: modes, ranks, core shapes, parameter
count; :func:`make_shape` validates all of it. The shape's contraction plan
(:mod:`.plan`) is computed on first use (``shape.plan``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..common.errors import ShapeError
from .plan import Plan, plan_contraction
from .tree import Node, balanced_tree

RanksLike = Union[int, Sequence[int], Dict[str, int]]


def _as_modes(value, what: str) -> Tuple[int, ...]:
    try:
        modes = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ShapeError(f"{what} must be a list of positive integers, got {value!r}") from None
    if any(int(v) != v for v in value):
        raise ShapeError(f"{what} must be integers, got {list(value)}")
    if any(m < 1 for m in modes):
        raise ShapeError(f"{what} must all be >= 1, got {list(modes)}")
    return modes


@dataclass
class HTShape:
    """Modes, tree and ranks of one HT matrix ``W: (out_features, in_features)``.

    Build it with :func:`make_shape`, which validates everything.
    """

    input_modes: Tuple[int, ...]
    output_modes: Tuple[int, ...]
    in_features: int
    nodes: List[Node]
    ranks: Dict[str, int]  # one per non-root node, by node name
    _plan: Optional["Plan"] = field(default=None, repr=False, compare=False)

    # -- sizes ---------------------------------------------------------------
    @property
    def d(self) -> int:
        return len(self.input_modes)

    @property
    def padded_in(self) -> int:
        return int(np.prod(self.input_modes))

    @property
    def out_features(self) -> int:
        return int(np.prod(self.output_modes))

    @property
    def root(self) -> Node:
        return self.nodes[-1]

    def rank(self, node: Node) -> int:
        return 1 if node is self.root else self.ranks[node.name]

    def core_shape(self, node: Node) -> Tuple[int, int, int]:
        if node.is_leaf:
            k = node.modes[0]
            return (self.input_modes[k], self.output_modes[k], self.rank(node))
        left, right = (self.nodes[c] for c in node.children)
        return (self.rank(left), self.rank(right), self.rank(node))

    @property
    def core_names(self) -> List[str]:
        return [n.name for n in self.nodes]

    @property
    def core_shapes(self) -> Dict[str, Tuple[int, int, int]]:
        return {n.name: self.core_shape(n) for n in self.nodes}

    @property
    def core_params(self) -> int:
        return int(sum(np.prod(s) for s in self.core_shapes.values()))

    def params(self, use_bias: bool = True) -> int:
        """P = sum_k n_k m_k r_k + sum_t r_l r_r r_t (+ M for a bias)."""
        return self.core_params + (self.out_features if use_bias else 0)

    @property
    def dense_params(self) -> int:
        return self.in_features * self.out_features

    # -- the plan ----------------------------------------------------------
    @property
    def plan(self) -> "Plan":
        if self._plan is None:
            self._plan = plan_contraction(self)
        return self._plan

    def to_dict(self) -> dict:
        return {
            "input_modes": list(self.input_modes),
            "output_modes": list(self.output_modes),
            "in_features": self.in_features,
            "ranks": dict(self.ranks),
        }


def make_shape(
    input_modes: Sequence[int],
    output_modes: Sequence[int],
    ranks: RanksLike,
    in_features: Optional[int] = None,
    out_features: Optional[int] = None,
) -> HTShape:
    """Validate modes and ranks and build the HT shape.

    ``ranks``: one int (uniform), a list with one rank per non-root node in
    node order (leaves ``u1..ud`` then internal nodes in post-order), or a dict
    ``{node_name: rank}`` that gives every non-root node.
    ``in_features`` defaults to ``prod(input_modes)``; it may be smaller (the
    input is zero-padded) but never larger. ``out_features``, when given, must
    equal ``prod(output_modes)``.
    """
    n = _as_modes(input_modes, "input_modes")
    m = _as_modes(output_modes, "output_modes")
    if len(n) != len(m):
        raise ShapeError(
            f"input_modes {list(n)} and output_modes {list(m)} must have the same length d; "
            "give both the same number of modes (pad with 1s)"
        )
    nodes = balanced_tree(len(n))
    padded = int(np.prod(n))
    if in_features is None:
        in_features = padded
    if in_features > padded:
        raise ShapeError(
            f"input_modes {list(n)} multiply to {padded}, smaller than the {in_features} inputs; "
            f"choose modes whose product is >= {in_features}"
        )
    if in_features < 1:
        raise ShapeError(f"in_features must be >= 1, got {in_features}")
    if out_features is not None and out_features != int(np.prod(m)):
        raise ShapeError(
            f"output_modes {list(m)} multiply to {int(np.prod(m))}, not the {out_features} outputs; "
            f"choose modes whose product is exactly {out_features}"
        )
    non_root = [nd.name for nd in nodes[:-1]]
    rank_map: Dict[str, int]
    if isinstance(ranks, dict):
        unknown = sorted(set(ranks) - set(non_root))
        missing = [k for k in non_root if k not in ranks]
        if unknown:
            raise ShapeError(f"ranks names unknown node(s) {unknown}; the non-root nodes are {non_root}")
        if missing:
            raise ShapeError(f"ranks misses node(s) {missing}; give a rank for each of {non_root}")
        rank_map = {k: ranks[k] for k in non_root}
    elif isinstance(ranks, (list, tuple)):
        if len(ranks) != len(non_root):
            raise ShapeError(
                f"ranks has {len(ranks)} entries but the tree has {len(non_root)} non-root nodes "
                f"{non_root}; give one rank per node or a single integer"
            )
        rank_map = dict(zip(non_root, ranks))
    else:
        rank_map = {k: ranks for k in non_root}
    for k, r in rank_map.items():
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)):
            if isinstance(r, float) and r.is_integer():
                r = int(r)
            else:
                raise ShapeError(f"rank of node {k} must be a positive integer, got {r!r}")
        if r < 1:
            raise ShapeError(f"rank of node {k} must be >= 1, got {r}; ranks are positive integers")
        rank_map[k] = int(r)
    shape = HTShape(n, m, int(in_features), nodes, rank_map)
    _check_useful_ranks(shape)
    return shape


def rank_bound(shape: "HTShape", node: Node) -> int:
    """The largest rank node ``node`` can use: the rank of W's matricization
    that separates its modes from the others, at most
    min(prod over its modes of n_k m_k, prod over the other modes of n_k m_k)."""
    inside = int(np.prod([shape.input_modes[k] * shape.output_modes[k] for k in node.modes]))
    outside = int(np.prod([shape.input_modes[k] * shape.output_modes[k] for k in range(shape.d)
                           if k not in node.modes]))
    return min(inside, outside)


_RANK_CHECK_MIN_PARAMS = 1_000_000


def _check_useful_ranks(shape: "HTShape") -> None:
    """Refuse ranks above what their nodes can use when they make the HT
    layer bigger than the dense matrix it stands for: such a rank adds
    parameters and nothing else, and a very large one would only surface as
    an out-of-memory error in TensorFlow. (A uniform rank a little above a
    small leaf's bound is common and harmless, saved models use it, and tiny
    shapes below ``_RANK_CHECK_MIN_PARAMS`` are left alone.)"""
    params = shape.params()
    if params <= max(shape.dense_params + shape.out_features, _RANK_CHECK_MIN_PARAMS):
        return
    for node in shape.nodes[:-1]:
        bound = rank_bound(shape, node)
        if shape.ranks[node.name] > bound:
            raise ShapeError(
                f"rank {shape.ranks[node.name]} of node {node.name} is more than it can use: at most {bound} "
                f"(the modes below and beside it allow no more); with these ranks the HT layer would have "
                f"{params:,} parameters, more than the {shape.dense_params:,} of the dense matrix; give ranks "
                f"<= {bound} for {node.name}")
