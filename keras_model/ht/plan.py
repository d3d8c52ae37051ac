"""The tensor network of ``y = W x`` and its contraction plan: the order of
pairwise contractions (exact dynamic programming for small d, greedy above),
which of them are input-independent (done once, into constant tables), their
MACs, and the loop levels the C++ stage kernel runs for each step."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..common.errors import ShapeError

if TYPE_CHECKING:  # the shape builds its plan: plan_contraction(shape)
    from .shape import HTShape

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


def strides(idx: Sequence[str], sizes: Dict[str, int]) -> Dict[str, int]:
    """Row-major stride of every index of a tensor stored in ``idx`` order."""
    out, acc = {}, 1
    for i in reversed(idx):
        out[i] = acc
        acc *= sizes[i]
    return out


def _make_step(a, b, out, a_idx, b_idx, out_idx, sizes, constant=False) -> Step:
    sa, sb, so = strides(a_idx, sizes), strides(b_idx, sizes), strides(out_idx, sizes)
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
        if bi and (b_x and not a_x or (a_x == b_x and index_size(bi, sizes) > index_size(ai, sizes))):
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


def index_size(idx, sizes) -> int:
    """Entries of a tensor with indices ``idx`` (1 for a scalar)."""
    return int(np.prod([sizes[i] for i in idx])) if idx else 1
