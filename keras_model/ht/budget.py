"""Choosing an FDHT-LSTM's modes and ranks for a parameter or MAC budget.

The FDHT matrix is ``W_mega: (4H, N + H)``. A candidate is a choice of

* input modes: ``d`` factors of a padded length ``N' >= N + H`` (at most
  ``max_pad`` relative padding); a few near-equal factorisations of
  different padded lengths are tried (the one with the smallest largest
  factor for each new largest factor);
* output modes: ``d`` near-equal factors of exactly ``4H``, paired with the
  input modes in the same order (largest with largest) or reversed;
* ranks: one rank ``r`` for every non-root node, capped per node at what
  the node can hold (the rank of its matricisation, ``min(rows, cols)``),
  since a larger rank adds parameters and nothing else.

Counted like ``rnn_params`` of an fdht model: **the recurrent layer's
parameters = HT cores + the 4H bias**; MACs per time step = the planned
contraction of ``plan_contraction`` (:mod:`.plan`) (gate element-wise work not counted).

:func:`choose` returns the chosen candidate and the alternatives it
considered (for each mode choice the largest rank that fits); with a trained
``W_mega`` it decomposes each alternative by HT-SVD and picks the smallest
relative reconstruction error, else the one with the most parameters (fewest
MACs on ties). It never returns a candidate over a budget; when nothing
fits it raises a one-line ``ShapeError`` naming the smallest possible size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..common.errors import ShapeError
from .mega import relative_error
from .modes import balanced_factors, factorize_exact
from .ops import reconstruct
from .shape import HTShape, make_shape
from .svd import ht_svd
from .tree import balanced_tree

MAX_RANK = 64  # uniform ranks tried: 1 .. MAX_RANK (capped per node)


@dataclass
class Candidate:
    shape: HTShape
    rank: int  # the uniform rank before per-node capping
    params: int  # cores + bias
    macs: int
    error: Optional[float] = None  # relative Frobenius error of HT-SVD of the trained W_mega
    chosen: bool = False
    cores: Optional[Dict[str, np.ndarray]] = field(default=None, repr=False)  # that HT-SVD (chosen one only)

    def to_dict(self) -> Dict:
        return {**self.shape.to_dict(), "rank": self.rank, "params": self.params, "macs_per_step": self.macs,
                "reconstruction_error": self.error, "chosen": self.chosen}


def node_max_ranks(input_modes: Sequence[int], output_modes: Sequence[int]) -> Dict[str, int]:
    """The largest useful rank of every non-root node: the rank bound
    ``min(rows, cols)`` of the matricisation that has the node's (input,
    output) mode pairs as rows. HT-SVD at these ranks is exact."""
    sizes = [int(a) * int(p) for a, p in zip(input_modes, output_modes)]
    total = math.prod(sizes)
    out = {}
    for node in balanced_tree(len(sizes))[:-1]:
        rows = math.prod(sizes[k] for k in node.modes)
        out[node.name] = int(min(rows, total // rows))
    return out


def capped_ranks(input_modes, output_modes, rank: int) -> Dict[str, int]:
    return {k: min(int(rank), m) for k, m in node_max_ranks(input_modes, output_modes).items()}


def full_rank_shape(in_features: int, out_features: int, input_modes, output_modes) -> HTShape:
    """The HT shape at the ranks where HT-SVD is exact."""
    return make_shape(input_modes, output_modes, node_max_ranks(input_modes, output_modes),
                         in_features=in_features, out_features=out_features)


def input_mode_options(n: int, d: int, max_pad: float = 0.10, limit: int = 3) -> List[Tuple[int, ...]]:
    """Up to ``limit`` factorisations of padded lengths ``n .. n (1 + max_pad)``:
    walking up from ``n``, each one whose largest factor is smaller than all
    before it (the first is the least padding that factorises at all)."""
    opts: List[Tuple[int, ...]] = []
    best_max = None
    hi = max(n, int(math.floor(n * (1 + max_pad))))
    for cand in range(n, hi + 1):
        f = balanced_factors(cand, d)
        if f is None:
            continue
        if best_max is None or max(f) < best_max:
            opts.append(f)
            best_max = max(f)
    # the most useful are the smallest largest factors: keep the last ``limit``
    return opts[-limit:][::-1]


def shape_options(n_in: int, units: int, d: int, input_modes=None, output_modes=None,
                  max_pad: float = 0.10) -> List[Tuple[Tuple[int, ...], Tuple[int, ...]]]:
    """(input modes, output modes) pairs to try; given modes are used as given."""
    out_f = 4 * units
    if input_modes is not None and output_modes is not None:
        return [(tuple(input_modes), tuple(output_modes))]
    if input_modes is not None:
        d = len(input_modes)
    if output_modes is not None:
        d = len(output_modes)
    ins = [tuple(input_modes)] if input_modes is not None else input_mode_options(n_in, d, max_pad)
    outs = [tuple(output_modes)] if output_modes is not None else [factorize_exact(out_f, d)]
    pairs = []
    for mi in ins:
        for mo in outs:
            pairs.append((mi, mo))
            if output_modes is None and tuple(reversed(mo)) != mo:
                pairs.append((mi, tuple(reversed(mo))))
    return pairs


def _candidate(n_in: int, units: int, mi, mo, rank: int) -> Candidate:
    shape = make_shape(mi, mo, capped_ranks(mi, mo, rank), in_features=n_in, out_features=4 * units)
    return Candidate(shape, rank, shape.params(use_bias=True), 0)


def _fits(c: Candidate, param_budget, mac_budget) -> bool:
    return (param_budget is None or c.params <= param_budget) and (mac_budget is None or c.macs <= mac_budget)


def choose(n_in: int, units: int, param_budget: Optional[int] = None, mac_budget: Optional[int] = None,
           d: int = 4, input_modes=None, output_modes=None, w_mega: Optional[np.ndarray] = None,
           max_rank: int = MAX_RANK, log: Optional[Callable[[str], None]] = None
           ) -> Tuple[Candidate, List[Candidate]]:
    """The FDHT shape for ``[x;h]`` of ``n_in = N + H`` features and ``4H`` outputs
    under the budget(s); returns (chosen, alternatives considered)."""
    if param_budget is None and mac_budget is None:
        raise ShapeError("give a parameter budget or a MAC budget (or both)")
    for name, value in (("parameter", param_budget), ("MAC", mac_budget)):
        if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
            raise ShapeError(f"the {name} budget must be a positive integer, got {value!r}")
    options = shape_options(n_in, units, d, input_modes, output_modes)
    considered: List[Candidate] = []
    smallest: Optional[Candidate] = None
    for mi, mo in options:
        first = _candidate(n_in, units, mi, mo, 1)
        first.macs = first.shape.plan.macs
        if smallest is None or (first.params, first.macs) < (smallest.params, smallest.macs):
            smallest = first
        # parameters and planned MACs never decrease with the rank, so the
        # scan stops at the first rank over a budget
        best_here, prev_ranks = None, None
        for r in range(1, max_rank + 1):
            c = first if r == 1 else _candidate(n_in, units, mi, mo, r)
            if c.shape.ranks == prev_ranks:  # every node already at its cap
                break
            prev_ranks = dict(c.shape.ranks)
            if param_budget is not None and c.params > param_budget:
                break
            c.macs = c.shape.plan.macs
            if not _fits(c, param_budget, mac_budget):
                break
            best_here = c
        if best_here is not None:
            considered.append(best_here)
    if not considered:
        what = " and ".join(x for x in (
            f"{param_budget:,} parameters" if param_budget is not None else "",
            f"{mac_budget:,} MACs per step" if mac_budget is not None else "") if x)
        raise ShapeError(
            f"no FDHT-LSTM for {n_in - units} inputs and H = {units} fits {what}: the smallest one tried "
            f"(modes {'x'.join(map(str, smallest.shape.input_modes))} -> "
            f"{'x'.join(map(str, smallest.shape.output_modes))}, rank 1) has {smallest.params:,} parameters "
            f"and {smallest.macs:,} MACs per step; raise the budget or lower H")
    if w_mega is not None:

        for c in considered:
            if log:
                log(f"  HT-SVD of W_mega at {describe(c)} ...")
            c.cores = ht_svd(w_mega, c.shape)
            c.error = relative_error(w_mega, reconstruct(c.cores, c.shape))
        best = min(considered, key=lambda c: (c.error, c.params))
        for c in considered:  # keep the chosen one's cores only (the caller uses them)
            if c is not best:
                c.cores = None
    else:
        best = max(considered, key=lambda c: (c.params, -c.macs))
    best.chosen = True
    for c in considered:  # invariant the callers rely on
        assert _fits(c, param_budget, mac_budget)
    return best, considered


def describe(c: Candidate) -> str:
    mi = "x".join(map(str, c.shape.input_modes))
    mo = "x".join(map(str, c.shape.output_modes))
    ranks = sorted(set(c.shape.ranks.values()))
    r = str(ranks[0]) if len(ranks) == 1 else f"{c.rank} (capped: {','.join(map(str, c.shape.ranks.values()))})"
    return f"{mi} -> {mo}, rank {r}"


def format_alternatives(considered: List[Candidate], dense_params: Optional[int] = None) -> str:
    """The alternatives as a text table, the chosen one marked with '*'."""
    head = f"  {'':1} {'modes (input -> output), ranks':<44} {'params':>10} {'MACs/step':>12}"
    if dense_params:
        head += f" {'compression':>11}"
    if any(c.error is not None for c in considered):
        head += f" {'rel. error':>10}"
    lines = [head]
    for c in considered:
        line = f"  {'*' if c.chosen else ' ':1} {describe(c):<44} {c.params:>10,} {c.macs:>12,}"
        if dense_params:
            line += f" {dense_params / c.params:>10.1f}x"
        if c.error is not None:
            line += f" {c.error:>10.4f}"
        lines.append(line)
    return "\n".join(lines)
