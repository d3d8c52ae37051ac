"""Chains: the plan's input steps run over a box of the input index space.

The product is linear in v, so z = W v can be split by which positions of v
are non-zero: W [x ; 0 ; 0] + W [0 ; h ; 0] for an LSTM. Each part runs the
plan's input steps over the bounding box of its positions only (the
x-derived tensors get the box's extents in the input modes, the constant
operands are read at the box's offset); positions of the box outside the
part are fed as zeros. The padding beyond the last part is never visited.
This is the loop structure the hardware runs (hls_project's schedule and
accelerator generator read it) and its numpy reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from .boxes import Box
from .plan import Step, index_size, strides
from .shape import HTShape


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
    """The plan's input steps run over ``box`` (see the module docstring)."""
    plan = shape.plan
    full = dict(plan.sizes)
    boxed = dict(full)
    for k in range(shape.d):
        boxed[f"a{k + 1}"] = box.size[k]
    lo = {f"a{k + 1}": box.lo[k] for k in range(shape.d)}
    out = []
    for st in plan.input_steps:
        sa = strides(st.a_idx, boxed)
        sb = strides(st.b_idx, full)  # the constant operand is stored whole
        so = strides(st.out_idx, boxed)
        b_base = sum(lo[i] * sb[i] for i in st.b_idx if i in lo)
        summed = [i for i in st.a_idx if i not in st.out_idx]
        loops = [ChainLoop(boxed[i], sa.get(i, 0), sb.get(i, 0), so[i], False) for i in st.out_idx]
        loops += [ChainLoop(boxed[i], sa[i], sb[i], 0, True) for i in summed]
        free = _merge_chain([lp for lp in loops if not lp.summed])
        sums = _merge_chain([lp for lp in loops if lp.summed])
        out.append(ChainStep(st, st.a, st.b, st.out, index_size(st.a_idx, boxed), index_size(st.b_idx, full),
                             index_size(st.out_idx, boxed), int(b_base), free + sums))
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
