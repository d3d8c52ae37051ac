"""The hierarchical Tucker (HT) format of a weight matrix, numpy only.

This module is the single source of truth for everything about an HT matrix:
the dimension tree, the core shapes, the ranks, the zero padding of the input,
the parameter count, the *planned* forward contraction (and its MAC count),
the loop structure the C++ kernel runs for each planned step, the dense
reconstruction (tests only) and HT-SVD (compressing a trained dense matrix).
The Keras layers, the hls4ml extension and the tests all import it; nothing
here is re-derived elsewhere.

Conventions (docs/model.md explains them with the FDHT-LSTM built on them):

* ``y = W x`` with ``W`` of shape ``(M, N)``; input modes ``n`` with
  ``prod(n) = N' >= N`` (``x`` is zero-padded to ``N'``), output modes ``m``
  with ``prod(m) = M``.
* C index order everywhere: ``x.reshape(n_1, ..., n_d)``, ``a_1`` the most
  significant index; the same for ``y`` with ``m``.
* Leaf ``k`` (named ``u{k}``, 1-based) has the core ``U_k`` of shape
  ``(n_k, m_k, r_k)``. Internal node ``t`` over the modes ``lo..hi`` (named
  ``b{lo}_{hi}``) with children ``l``, ``r`` has ``B_t`` of shape
  ``(r_l, r_r, r_t)``; the root has ``r_t = 1`` and keeps that trailing 1.
* ``W[(p_1..p_d), (a_1..a_d)] = sum over rank indices of
  prod_k U_k[a_k, p_k, i_k] * prod_t B_t[i_l, i_r, i_t]``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .common.errors import ShapeError

RanksLike = Union[int, Sequence[int], Dict[str, int]]

# The C++ stage kernel has this many loop levels for free (output) indices and
# for summed indices; the planner merges adjacent levels and pads to these.
MAX_FREE_LEVELS = 6
MAX_SUM_LEVELS = 4

# Exhaustive (optimal) planning is exact but exponential in the number of
# tensors (2d); above this d a greedy planner is used.
MAX_OPTIMAL_D = 6

# Contractions among cores only are done once, at conversion, and stored as
# constant tables; a table may hold at most this many entries (else the
# planner could trade on-chip storage for MACs without limit, up to W itself).
MAX_CONSTANT_ENTRIES = 4096


# --------------------------------------------------------------------------
# The dimension tree
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# The HT shape: modes, ranks, cores
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# The tensor network and its contraction plan
# --------------------------------------------------------------------------
# Index names: "a{k}" input mode k (size n_k), "p{k}" output mode k (size m_k),
# "r_{name}" the rank index of a non-root node. Tensors: "x" (a1..ad), each core
# by node name (leaf: a_k, p_k, r_leaf; internal: r_l, r_r, r_t; the root's
# trailing size-1 index is dropped in the network), intermediates "t0", "t1"...


def network(shape: HTShape) -> Tuple[Dict[str, Tuple[str, ...]], Dict[str, int], Tuple[str, ...]]:
    """Tensors (name -> index tuple in storage order), index sizes, output indices."""
    d = shape.d
    sizes: Dict[str, int] = {}
    tensors: Dict[str, Tuple[str, ...]] = {"x": tuple(f"a{k + 1}" for k in range(d))}
    for k in range(d):
        sizes[f"a{k + 1}"] = shape.input_modes[k]
        sizes[f"p{k + 1}"] = shape.output_modes[k]
    for node in shape.nodes[:-1]:
        sizes[f"r_{node.name}"] = shape.rank(node)
    for node in shape.nodes:
        if node.is_leaf:
            k = node.modes[0] + 1
            tensors[node.name] = (f"a{k}", f"p{k}", f"r_{node.name}")
        else:
            left, right = (shape.nodes[c] for c in node.children)
            idx = (f"r_{left.name}", f"r_{right.name}")
            if node is not shape.root:
                idx = idx + (f"r_{node.name}",)
            tensors[node.name] = idx
    out = tuple(f"p{k + 1}" for k in range(d))
    return tensors, sizes, out


@dataclass(frozen=True)
class Loop:
    """One loop level of a stage: its trip count and the stride it adds to the
    flat offset of operand A, operand B and the output (0 = not indexed)."""

    size: int
    a_stride: int
    b_stride: int
    out_stride: int


@dataclass
class Step:
    """One pairwise contraction ``out[out_idx] = sum a[a_idx] * b[b_idx]``."""

    a: str
    b: str
    out: str
    a_idx: Tuple[str, ...]
    b_idx: Tuple[str, ...]
    out_idx: Tuple[str, ...]
    macs: int
    free_loops: List[Loop]  # outermost first; the out offset is row-major
    sum_loops: List[Loop]  # outermost first
    constant: bool = False  # both operands derive from cores only: done once, at conversion

    @property
    def out_size(self) -> int:
        return int(np.prod([lp.size for lp in self.free_loops])) if self.free_loops else 1

    @property
    def sum_size(self) -> int:
        return int(np.prod([lp.size for lp in self.sum_loops])) if self.sum_loops else 1


@dataclass
class Plan:
    steps: List[Step]
    sizes: Dict[str, int]
    method: str

    @property
    def input_steps(self) -> List[Step]:
        """The steps that depend on x, in order: the work of every forward pass."""
        return [s for s in self.steps if not s.constant]

    @property
    def constant_steps(self) -> List[Step]:
        """Core-only steps: computed once at conversion into constant tables."""
        return [s for s in self.steps if s.constant]

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one forward pass (batch 1) that depend on
        the input; core-only steps cost 0 here (see ``constant_macs``)."""
        return int(sum(s.macs for s in self.input_steps))

    @property
    def constant_macs(self) -> int:
        """MACs of the core-only steps, spent once at conversion."""
        return int(sum(s.macs for s in self.constant_steps))

    @property
    def constant_tables(self) -> List[str]:
        """Names of the constant operands the input steps read (cores or
        precomputed tables), in step order."""
        return [s.b for s in self.input_steps]

    @property
    def max_intermediate(self) -> int:
        """Largest intermediate tensor (entries), the output included."""
        return max(s.out_size for s in self.steps)

    def einsum_steps(self, batch: bool = False) -> List[Tuple[str, str, str, str]]:
        """(a, b, out, einsum spec) per step; with ``batch`` every tensor that
        depends on x gets a leading batch index."""
        letters = {}
        pool = iter("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxy")
        for name in self.sizes:
            letters[name] = next(pool)
        has_x = {"x"}
        out = []
        for s in self.steps:
            def sub(name, idx):
                prefix = "z" if (batch and name in has_x) else ""
                return prefix + "".join(letters[i] for i in idx)

            a_sub, b_sub = sub(s.a, s.a_idx), sub(s.b, s.b_idx)
            if s.a in has_x or s.b in has_x:
                has_x.add(s.out)
            out.append((s.a, s.b, s.out, f"{a_sub},{b_sub}->{sub(s.out, s.out_idx)}"))
        return out


def _merge_loops(loops: List[Loop]) -> List[Loop]:
    """Fuse adjacent levels that walk every tensor contiguously (outer stride =
    inner stride x inner size for A, B and out), and drop size-1 levels."""
    merged: List[Loop] = []
    for lp in loops:
        if lp.size == 1:
            continue
        if merged:
            o = merged[-1]
            if (
                o.a_stride == lp.a_stride * lp.size
                and o.b_stride == lp.b_stride * lp.size
                and o.out_stride == lp.out_stride * lp.size
            ):
                merged[-1] = Loop(o.size * lp.size, lp.a_stride, lp.b_stride, lp.out_stride)
                continue
        merged.append(lp)
    return merged


def _strides(idx: Sequence[str], sizes: Dict[str, int]) -> Dict[str, int]:
    out, acc = {}, 1
    for i in reversed(idx):
        out[i] = acc
        acc *= sizes[i]
    return out


def _make_step(a, b, out, a_idx, b_idx, out_idx, sizes, constant=False) -> Step:
    sa, sb, so = _strides(a_idx, sizes), _strides(b_idx, sizes), _strides(out_idx, sizes)
    free = [Loop(sizes[i], sa.get(i, 0), sb.get(i, 0), so[i]) for i in out_idx]
    summed = [i for i in a_idx if i not in out_idx]
    sums = [Loop(sizes[i], sa[i], sb[i], 0) for i in summed]
    every = set(a_idx) | set(b_idx)
    macs = int(np.prod([sizes[i] for i in every]))
    return Step(a, b, out, tuple(a_idx), tuple(b_idx), tuple(out_idx), macs, _merge_loops(free), _merge_loops(sums),
                constant)


def _optimal_order(tensors: List[Tuple[str, ...]], sizes, out_idx, x_pos: int = 0,
                   max_constant: int = MAX_CONSTANT_ENTRIES) -> List[Tuple[int, int]]:
    """Exact pairwise contraction tree by dynamic programming over subsets
    (the search ``numpy.einsum_path(optimize='optimal')`` does), returned as a
    sequence of (i, j) positions in a shrinking operand list (einsum_path's
    convention: the result is appended at the end).

    Cost model: a contraction whose operands contain ``tensors[x_pos]`` (x)
    costs its MACs every forward pass; one among cores only costs nothing per
    pass (it is precomputed), but its result, a constant table, may hold at
    most ``max_constant`` entries. Ties go to fewer constant MACs. The first
    contraction of x must sum a trailing block of x's modes (``a_j..a_d``), so
    that it can consume x as it arrives in C order, without buffering it."""
    n = len(tensors)
    all_idx = sorted(sizes)
    bit = {i: 1 << k for k, i in enumerate(all_idx)}
    tmask = [sum(bit[i] for i in set(t)) for t in tensors]
    out_mask = sum(bit[i] for i in out_idx)
    logsize = {bit[i]: sizes[i] for i in all_idx}
    xbit = 1 << x_pos
    x_idx = list(tensors[x_pos])
    suffixes = {sum(bit[i] for i in x_idx[j:]) for j in range(len(x_idx))}
    x_mask = tmask[x_pos]

    def prod(mask):
        p = 1
        while mask:
            low = mask & -mask
            p *= logsize[low]
            mask ^= low
        return p

    full = (1 << n) - 1
    # indices touched by each subset, and indices needed outside it
    touched = [0] * (1 << n)
    for s in range(1, 1 << n):
        low = s & -s
        touched[s] = touched[s ^ low] | tmask[low.bit_length() - 1]
    def open_idx(s):
        return touched[s] & (touched[full ^ s] | out_mask)

    best = {}
    choice = {}
    for k in range(n):
        best[1 << k] = (0, 0)
    for s in sorted(range(1, 1 << n), key=lambda v: bin(v).count("1")):
        if s in best:
            continue
        if not s & xbit and prod(open_idx(s)) > max_constant:
            continue  # the table would be too large
        best_cost, best_split = None, None
        sub = (s - 1) & s
        low = s & -s
        while sub:
            if sub & low:  # each unordered split once
                other = s ^ sub
                if sub in best and other in best:
                    if xbit in (sub, other):
                        rest = other if sub == xbit else sub
                        if (open_idx(rest) & x_mask) not in suffixes:
                            sub = (sub - 1) & s
                            continue
                    macs = prod(open_idx(sub) | open_idx(other))
                    a, b = best[sub], best[other]
                    cost = (a[0] + b[0] + macs, a[1] + b[1]) if s & xbit else (a[0] + b[0], a[1] + b[1] + macs)
                    if best_cost is None or cost < best_cost:
                        best_cost, best_split = cost, (sub, other)
            sub = (sub - 1) & s
        if best_split is not None:
            best[s] = best_cost
            choice[s] = best_split
    if full not in best:
        raise ShapeError("no contraction plan satisfies the constant-table limit and the streaming order")

    # Emit the tree as a post-order sequence of pair contractions.
    order: List[Tuple[int, int]] = []
    live = list(range(n))  # subset masks of the live operands, by position
    live_masks = [1 << k for k in range(n)]

    def emit(s):
        if s in choice:
            l, r = choice[s]
            emit(l)
            emit(r)
            i, j = live_masks.index(l), live_masks.index(r)
            order.append((i, j))
            for p in sorted((i, j), reverse=True):
                live_masks.pop(p)
            live_masks.append(s)

    emit(full)
    del live
    return order


def _greedy_order(tensors, sizes, out_idx) -> List[Tuple[int, int]]:
    """Repeatedly contract the pair with the cheapest MACs (connected pairs
    first)."""
    ops = [set(t) for t in tensors]
    order = []
    while len(ops) > 1:
        best = None
        for i, j in itertools.combinations(range(len(ops)), 2):
            rest = set(out_idx).union(*[o for k, o in enumerate(ops) if k not in (i, j)])
            union = ops[i] | ops[j]
            cost = int(np.prod([sizes[x] for x in union]))
            connected = bool(ops[i] & ops[j])
            key = (not connected, cost)
            if best is None or key < best[0]:
                best = (key, i, j, union & (rest))
        _, i, j, new = best
        order.append((i, j))
        for p in sorted((i, j), reverse=True):
            ops.pop(p)
        ops.append(new)
    return order


def plan_contraction(shape: HTShape, method: Optional[str] = None) -> Plan:
    """Plan ``y = W x`` as a sequence of pairwise contractions (batch 1).

    ``method``: 'optimal' (exact DP; default for d <= MAX_OPTIMAL_D) or
    'greedy'. Each step writes its output in the order (A's free indices,
    then B's free indices), except the last, which writes ``p1..pd`` in C
    order, so the result is ``y`` as a flat vector.
    """
    tensors, sizes, out_idx = network(shape)
    if method is None:
        method = "optimal" if shape.d <= MAX_OPTIMAL_D else "greedy"
    names = list(tensors)
    idx_list = [tensors[n] for n in names]
    order = (_optimal_order if method == "optimal" else _greedy_order)(idx_list, sizes, out_idx)

    live = list(zip(names, idx_list))
    steps: List[Step] = []
    has_x = {"x"}
    for k, (i, j) in enumerate(order):
        (an, ai), (bn, bi) = live[i], live[j]
        # Operand A is the one derived from x (or the larger of two constant
        # ones), so the output walks the x-derived tensor in storage order.
        a_x, b_x = an in has_x, bn in has_x
        if bi and (b_x and not a_x or (a_x == b_x and _size(bi, sizes) > _size(ai, sizes))):
            (an, ai), (bn, bi) = (bn, bi), (an, ai)
        rest = set(out_idx)
        for p, (_, idx) in enumerate(live):
            if p not in (i, j):
                rest |= set(idx)
        last = k == len(order) - 1
        if last:
            oi = tuple(out_idx)
        else:
            oi = tuple(x for x in ai if x in rest) + tuple(x for x in bi if x in rest and x not in ai)
        on = f"t{k}"
        constant = not ({an, bn} & has_x)
        if not constant:
            has_x.add(on)
        steps.append(_make_step(an, bn, on, ai, bi, oi, sizes, constant))
        for p in sorted((i, j), reverse=True):
            live.pop(p)
        live.append((on, oi))
    for s in steps:
        if len(s.free_loops) > MAX_FREE_LEVELS or len(s.sum_loops) > MAX_SUM_LEVELS:
            raise ShapeError(
                f"contraction step {s.out} needs {len(s.free_loops)} output and {len(s.sum_loops)} summed "
                f"loop levels (the kernel has {MAX_FREE_LEVELS} and {MAX_SUM_LEVELS}); use fewer modes (d)"
            )
    return Plan(steps, sizes, method)


def _size(idx, sizes) -> int:
    return int(np.prod([sizes[i] for i in idx])) if idx else 1


# --------------------------------------------------------------------------
# Numerics: forward, reconstruction, initialisation, HT-SVD
# --------------------------------------------------------------------------


def pad_input(x: np.ndarray, shape: HTShape) -> np.ndarray:
    """Zero-pad the last axis of ``x`` from ``in_features`` to ``prod(input_modes)``."""
    x = np.asarray(x)
    if x.shape[-1] != shape.in_features:
        raise ShapeError(f"input has {x.shape[-1]} features, the HT matrix expects {shape.in_features}")
    pad = shape.padded_in - shape.in_features
    if pad:
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (pad,), x.dtype)], axis=-1)
    return x


def forward(x: np.ndarray, cores: Dict[str, np.ndarray], shape: HTShape) -> np.ndarray:
    """``y = W x`` for a batch ``x: (B, in_features)`` -> ``(B, out_features)``,
    run as the planned pairwise contractions (never building ``W``)."""
    x = pad_input(np.asarray(x), shape)
    batch = x.shape[0]
    vals = {"x": x.reshape((batch,) + shape.input_modes)}
    root = shape.root.name
    for name, arr in cores.items():
        vals[name] = arr[..., 0] if name == root else arr
    for a, b, out, spec in shape.plan.einsum_steps(batch=True):
        vals[out] = np.einsum(spec, vals[a], vals[b])
    return vals[shape.plan.steps[-1].out].reshape(batch, shape.out_features)


def reconstruct(cores: Dict[str, np.ndarray], shape: HTShape) -> np.ndarray:
    """The dense ``W: (out_features, in_features)`` (tests and HT-SVD only)."""
    vals: Dict[str, np.ndarray] = {}
    for node in shape.nodes:  # post-order: children first
        core = np.asarray(cores[node.name])
        if node.is_leaf:
            vals[node.name] = core  # (a, p, r)
            continue
        left, right = (vals[shape.nodes[c].name] for c in node.children)
        # left: (A_l, P_l, r_l), right: (A_r, P_r, r_r) -> (A_l A_r, P_l P_r, r_t)
        t = np.einsum("xpi,yqj,ijt->xypqt", left, right, core)
        al, pl, _ = left.shape
        ar, pr, _ = right.shape
        vals[node.name] = t.reshape(al * ar, pl * pr, core.shape[-1])
    full = vals[shape.root.name][..., 0]  # (N', M)
    return full.T[:, : shape.in_features]


def init_cores(shape: HTShape, rng: np.random.Generator, target_var: Optional[float] = None) -> Dict[str, np.ndarray]:
    """Cores drawn i.i.d. normal, rescaled so the *reconstructed* W has the
    Glorot variance ``2 / (in_features + out_features)``.

    With unit-variance cores, Var(W) = prod of the non-root ranks (each rank
    sum adds that many independent terms); every core is scaled by the same
    factor so the product of the core variances cancels it.
    """
    std = core_stddev(shape, target_var)
    return {n.name: rng.standard_normal(shape.core_shape(n)) * std for n in shape.nodes}


def core_stddev(shape: HTShape, target_var: Optional[float] = None) -> float:
    """Standard deviation of every core so that W has variance ``target_var``
    (default Glorot, ``2 / (in_features + out_features)``); see init_cores."""
    if target_var is None:
        target_var = 2.0 / (shape.in_features + shape.out_features)
    rank_prod = float(np.prod([shape.rank(n) for n in shape.nodes[:-1]]))
    return math.sqrt((target_var / rank_prod) ** (1.0 / len(shape.nodes)))


# Above this many entries a matricisation's leading left singular vectors come
# from the eigenvectors of its smaller Gram matrix (a BLAS product and a
# symmetric eigensolver, many times faster than a full SVD of a tall/wide
# matrix; accurate for the singular values that matter, those well above
# sqrt(machine epsilon) x the largest). Small matrices keep the exact SVD.
GRAM_SVD_MIN_ENTRIES = 2_000_000


def _leading_left_singular_vectors(mat: np.ndarray, rank: int) -> np.ndarray:
    """Up to ``rank`` leading left singular vectors of ``mat`` (columns)."""
    rows, cols = mat.shape
    if mat.size < GRAM_SVD_MIN_ENTRIES:
        u, _, _ = np.linalg.svd(mat, full_matrices=False)
        return u[:, :rank]
    from scipy.linalg import eigh  # only the leading eigenpairs are computed

    gram = mat @ mat.T if rows <= cols else mat.T @ mat
    n = gram.shape[0]
    k = min(rank, n)
    vals, vecs = eigh(gram, subset_by_index=[n - k, n - 1])
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    if rows <= cols:
        return vecs
    keep = vals > vals[0] * 1e-24  # right singular vectors v; u = M v / s for the non-zero s
    return mat @ vecs[:, keep] / np.sqrt(vals[keep])


def ht_svd(w: np.ndarray, shape: HTShape) -> Dict[str, np.ndarray]:
    """Decompose a dense ``w: (out_features, in_features)`` into HT cores at
    ``shape``'s ranks by hierarchical (truncated) SVD.

    Each leaf/internal node keeps the leading left singular vectors of the
    matricisation that has the node's (input, output) mode pairs as rows;
    transfer tensors project the children's bases onto the parent's. At full
    rank it is exact; truncated, it is quasi-optimal (within sqrt(2d-3) of
    the best HT approximation). Ranks above what a node can hold are padded
    with zero columns.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (shape.out_features, shape.in_features):
        raise ShapeError(
            f"matrix has shape {w.shape}, the HT shape expects {(shape.out_features, shape.in_features)}"
        )
    d = shape.d
    wp = np.zeros((shape.out_features, shape.padded_in))
    wp[:, : shape.in_features] = w
    t = wp.reshape(shape.output_modes + shape.input_modes)
    # order (a1, p1, a2, p2, ...) so that leaf k owns the combined index (a_k, p_k)
    perm = [x for k in range(d) for x in (d + k, k)]
    t = t.transpose(perm).reshape([shape.input_modes[k] * shape.output_modes[k] for k in range(d)])
    q = t.shape
    bases: Dict[str, np.ndarray] = {}

    def basis(node: Node, rank: int) -> np.ndarray:
        lo, hi = node.modes[0], node.modes[-1] + 1
        rows = int(np.prod(q[lo:hi]))
        mat = np.moveaxis(t, list(range(lo, hi)), list(range(hi - lo))).reshape(rows, -1)
        u = _leading_left_singular_vectors(mat, rank)
        if u.shape[1] < rank:
            u = np.concatenate([u, np.zeros((rows, rank - u.shape[1]))], axis=1)
        return u

    cores: Dict[str, np.ndarray] = {}
    for node in shape.nodes[:-1]:
        bases[node.name] = basis(node, shape.rank(node))
    for node in shape.nodes:
        if node.is_leaf:
            k = node.modes[0]
            cores[node.name] = bases[node.name].reshape(shape.input_modes[k], shape.output_modes[k], -1)
            continue
        left, right = (shape.nodes[c] for c in node.children)
        ul, ur = bases[left.name], bases[right.name]
        if node is shape.root:
            ut = t.reshape(ul.shape[0], ur.shape[0], 1)
        else:
            ut = bases[node.name].reshape(ul.shape[0], ur.shape[0], -1)
        cores[node.name] = np.einsum("xyt,xi,yj->ijt", ut, ul, ur)
    return cores


# --------------------------------------------------------------------------
# Choosing modes
# --------------------------------------------------------------------------


def _balanced_factors(n: int, d: int) -> Optional[Tuple[int, ...]]:
    """Factor ``n`` exactly into ``d`` factors (largest first) minimising the
    largest factor, then the spread."""
    best = None

    def rec(rem: int, k: int, smallest: int, acc: List[int]) -> None:
        nonlocal best
        if k == 1:
            cand = tuple(sorted(acc + [rem], reverse=True))
            key = (cand[0], cand[0] - cand[-1])
            if best is None or key < best[0]:
                best = (key, cand)
            return
        f = smallest
        while f ** k <= rem:  # the remaining k-1 factors are all >= f
            if rem % f == 0:
                rec(rem // f, k - 1, f, acc + [f])
            f += 1

    rec(n, d, 1, [])
    return best[1] if best else None


def factorize(n: int, d: int, max_pad: float = 0.10) -> Tuple[int, ...]:
    """``d`` modes whose product is the smallest number >= ``n`` (within
    ``max_pad`` relative padding) that splits into near-equal factors.

    Among candidates ``n .. n (1 + max_pad)`` the one with the smallest
    largest factor wins (ties: less padding), so leaf cores stay small.
    """
    if n < 1 or d < 1:
        raise ShapeError(f"cannot factorise {n} into {d} modes")
    best = None
    hi = max(n, int(math.floor(n * (1 + max_pad))))
    for cand in range(n, hi + 1):
        f = _balanced_factors(cand, d)
        if f is None:
            continue
        key = (max(f), cand)
        if best is None or key < best[0]:
            best = (key, f)
    return best[1]


def factorize_exact(n: int, d: int) -> Tuple[int, ...]:
    """``d`` near-equal modes whose product is exactly ``n`` (1s allowed),
    for output modes, where no padding is possible."""
    if n < 1 or d < 1:
        raise ShapeError(f"cannot factorise {n} into {d} modes")
    return _balanced_factors(n, d)


# --------------------------------------------------------------------------
# Chains: the input-dependent steps run over a box of the input index space
# --------------------------------------------------------------------------
# The product is linear in v, so z = W v can be split by which positions of v
# are non-zero: W [x ; 0 ; 0] + W [0 ; h ; 0] for an LSTM. Each part runs the
# plan's input steps over the bounding box of its positions only (the
# x-derived tensors get the box's extents in the input modes, the constant
# operands are read at the box's offset); positions of the box outside the
# part are fed as zeros. The padding beyond the last part is never visited.


@dataclass(frozen=True)
class Box:
    """``lo[k] <= a_k < lo[k] + size[k]`` for every input mode k."""

    lo: Tuple[int, ...]
    size: Tuple[int, ...]

    @property
    def entries(self) -> int:
        return int(np.prod(self.size))

    def flat_positions(self, modes: Sequence[int]) -> np.ndarray:
        """Global flat (C-order) position of every box entry, in the box's own C order."""
        grids = np.meshgrid(*[np.arange(l, l + n) for l, n in zip(self.lo, self.size)], indexing="ij")
        return np.ravel_multi_index([g.ravel() for g in grids], tuple(modes))


def bounding_box(modes: Sequence[int], start: int, stop: int) -> Box:
    """Smallest box of the C-order index space of ``modes`` that holds the
    flat positions ``start .. stop-1``."""
    if not 0 <= start < stop <= int(np.prod(modes)):
        raise ShapeError(f"positions {start}..{stop - 1} do not lie in a tensor of modes {list(modes)}")
    first = np.unravel_index(start, tuple(modes))
    last = np.unravel_index(stop - 1, tuple(modes))
    lo, size = [], []
    differ = False
    for k, n in enumerate(modes):
        if differ:
            lo.append(0)
            size.append(int(n))
            continue
        lo.append(int(first[k]))
        size.append(int(last[k]) - int(first[k]) + 1)
        differ = first[k] != last[k]
    return Box(tuple(lo), tuple(size))


@dataclass(frozen=True)
class ChainLoop:
    """One loop level of a chain step: trip count and strides into A (the
    x-derived operand, stored over the box), B (the constant operand, stored
    whole) and the output; ``summed`` levels do not index the output."""

    size: int
    a: int
    b: int
    out: int
    summed: bool


@dataclass
class ChainStep:
    """``out = sum A * B`` of one input step over a box. ``a`` is the
    x-derived operand (``x`` or an earlier step's output), ``b`` the constant
    one (a core or a precomputed table) read from ``b_base`` on."""

    step: Step
    a: str
    b: str
    out: str
    a_size: int
    b_size: int
    out_size: int
    b_base: int
    loops: List[ChainLoop]  # outermost first: the free levels, then the summed ones

    @property
    def free(self) -> List[ChainLoop]:
        return [lp for lp in self.loops if not lp.summed]

    @property
    def summed(self) -> List[ChainLoop]:
        return [lp for lp in self.loops if lp.summed]

    @property
    def macs(self) -> int:
        return int(np.prod([lp.size for lp in self.loops])) if self.loops else 1


def _merge_chain(loops: List[ChainLoop]) -> List[ChainLoop]:
    merged: List[ChainLoop] = []
    for lp in loops:
        if lp.size == 1:
            continue
        if merged:
            o = merged[-1]
            if (o.summed == lp.summed and o.a == lp.a * lp.size and o.b == lp.b * lp.size
                    and o.out == lp.out * lp.size):
                merged[-1] = ChainLoop(o.size * lp.size, lp.a, lp.b, lp.out, lp.summed)
                continue
        merged.append(lp)
    return merged


def chain(shape: HTShape, box: Box) -> List[ChainStep]:
    """The plan's input steps run over ``box`` (see the section comment)."""
    plan = shape.plan
    full = dict(plan.sizes)
    boxed = dict(full)
    for k in range(shape.d):
        boxed[f"a{k + 1}"] = box.size[k]
    lo = {f"a{k + 1}": box.lo[k] for k in range(shape.d)}
    out = []
    for st in plan.input_steps:
        sa = _strides(st.a_idx, boxed)
        sb = _strides(st.b_idx, full)  # the constant operand is stored whole
        so = _strides(st.out_idx, boxed)
        b_base = sum(lo[i] * sb[i] for i in st.b_idx if i in lo)
        summed = [i for i in st.a_idx if i not in st.out_idx]
        loops = [ChainLoop(boxed[i], sa.get(i, 0), sb.get(i, 0), so[i], False) for i in st.out_idx]
        loops += [ChainLoop(boxed[i], sa[i], sb[i], 0, True) for i in summed]
        free = _merge_chain([lp for lp in loops if not lp.summed])
        sums = _merge_chain([lp for lp in loops if lp.summed])
        out.append(ChainStep(st, st.a, st.b, st.out, _size(st.a_idx, boxed), _size(st.b_idx, full),
                             _size(st.out_idx, boxed), int(b_base), free + sums))
    return out


def constant_tables(cores: Dict[str, np.ndarray], shape: HTShape) -> Dict[str, np.ndarray]:
    """Every constant operand an input step reads, by name, as stored (flat,
    C order over the step's index tuple): cores as given, precomputed tables
    from the plan's core-only steps (float64)."""
    vals: Dict[str, np.ndarray] = {}
    root = shape.root.name
    for name, arr in cores.items():
        arr = np.asarray(arr, dtype=np.float64)
        vals[name] = arr[..., 0] if name == root else arr
    specs = {o: (a, b, spec) for a, b, o, spec in shape.plan.einsum_steps(batch=False)}
    for st in shape.plan.constant_steps:
        a, b, spec = specs[st.out]
        vals[st.out] = np.einsum(spec, vals[a], vals[b])
    return {name: vals[name].reshape(-1) for name in shape.plan.constant_tables}


def chain_forward(v_box: np.ndarray, tables: Dict[str, np.ndarray], steps: List[ChainStep],
                  every: bool = False):
    """Reference (numpy, float64) of a chain on the box values ``v_box`` (flat,
    box C order), written from the loop description alone; tests compare it
    with ``forward``. With ``every``, all step outputs by name."""
    cur = {steps[0].a: np.asarray(v_box, dtype=np.float64).reshape(-1)}
    for cs in steps:
        a, b = cur[cs.a], np.asarray(tables[cs.b], dtype=np.float64).reshape(-1)
        out = np.zeros(cs.out_size)
        grids = np.meshgrid(*[np.arange(lp.size) for lp in cs.loops], indexing="ij")
        ia = sum(g * lp.a for g, lp in zip(grids, cs.loops))
        ib = cs.b_base + sum(g * lp.b for g, lp in zip(grids, cs.loops))
        io = sum(g * lp.out for g, lp in zip(grids, cs.loops))
        np.add.at(out, np.ravel(io), np.ravel(a[np.ravel(ia)] * b[np.ravel(ib)]))
        cur[cs.out] = out
    return cur if every else cur[steps[-1].out]
