"""The accelerator's stages and schedule as data: lanes and the word layout of every buffer.

Pure Python, from ``keras_model.ht`` (plan, chains, boxes) only.

The rule that makes every bank static
-------------------------------------
Every tensor of a chain (the input box, each stage's output, z) is stored as
*words*: ``buf[banks][depth][lanes]``, partitioned completely on the first and
last dimension, so each lane and each bank is its own memory. Which values
share a word is fixed per chain: every index ``i`` (an input mode, a rank, an
output mode) has one lane count ``q_i`` (a divisor of its size) for the whole
chain, and a value with ``idx_i = c_i * q_i + j_i`` lives in the word at the
C-order address of the counters ``c`` and in the lane at the C-order position
of the digits ``j``. A stage iteration reads one A word and one word of its
constant table (ROM), multiplies ``free_lanes x sum_lanes`` pairs, reduces
the ``sum_lanes`` products of each output lane in an adder tree and adds the
result to one accumulator. Since every producer writes whole words and every
consumer reads whole words, each lane of each access is a compile-time
constant: no access ever computes a bank from an address.

Gate digit (LSTM): the output index n = g * H + j. The output modes are split
so that g is a digit of its own (e.g. p1 = 16 -> g = 4 x p1' = 4); z (and z_h)
keep the gates in 4 banks, so the drain and the gates read the 4 gates of one
hidden unit in one cycle.

Processes of a layer
--------------------
``regroup`` (input words of ``stream_width`` values -> words of the first
stage, zero words for the box padding), ``x0 .. xK`` (the x-chain), ``drain``
(bias; LSTM: one hidden unit's 4 gates per cycle into the z_x FIFO; HTDense:
output words), and for an LSTM the ``recurrence`` (per step the h-chain
stages h0.. one after another, then the gates, one hidden unit per cycle).
The cycle MODEL of all of them is in ``model.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from keras_model import ht
from keras_model.common.errors import ConfigError

GATE = "g"  # the gate digit's index name


def _divisors(n: int) -> List[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _c_strides(sizes: Sequence[int]) -> List[int]:
    out, acc = [0] * len(sizes), 1
    for k in range(len(sizes) - 1, -1, -1):
        out[k] = acc
        acc *= int(sizes[k])
    return out


# --------------------------------------------------------------------------
# Index names after the gate split
# --------------------------------------------------------------------------


def gate_split(out_modes: Sequence[int]) -> Dict[str, Tuple[Tuple[str, int], ...]]:
    """How the output modes p1.. are split so that the gate g = n // (M / 4)
    is made of whole digits: {mode name: ((new name, size), ...)} for the
    modes that change; the gate digits are named ``g``, ``g2``, ... ."""
    need, out, k = 4, {}, 0
    for m, size in enumerate(out_modes):
        if need == 1:
            break
        name = f"p{m + 1}"
        gname = GATE if k == 0 else f"{GATE}{k + 1}"
        if size % need == 0:
            out[name] = ((gname, need),) + (((f"{name}r", size // need),) if size > need else ())
            need = 1
        elif need % size == 0:
            out[name] = ((gname, size),)
            need //= size
        else:
            raise ConfigError(f"output modes {list(out_modes)}: the gate index (n // H) is not made of whole "
                              f"digits of the output modes; choose output modes whose leading factors multiply "
                              f"to 4 (e.g. [4, ...] or [2, 2, ...] or [16, ...])")
        k += 1
    return out


def _rename(idx: Sequence[str], split: Dict[str, Tuple[Tuple[str, int], ...]]) -> Tuple[str, ...]:
    out: List[str] = []
    for i in idx:
        out += [n for n, _ in split[i]] if i in split else [i]
    return tuple(out)


# --------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------


@dataclass
class Stage:
    """One contraction stage ``out[o] = sum_s A[a] * B[b]`` of a chain."""

    name: str  # 'x0', .., 'h0', ..
    chain: str  # 'x' or 'h'
    kind: str  # 'stream' (A arrives once, in order) or 'buffer' (A in a word buffer)
    cs: ht.ChainStep  # the step over its box (types and tables are keyed by it)
    a_idx: Tuple[str, ...]
    b_idx: Tuple[str, ...]
    out_idx: Tuple[str, ...]
    order: Tuple[str, ...]  # loop levels, outermost first
    sizes: Dict[str, int]  # boxed sizes of every index
    q: Dict[str, int]  # the chain's lane counts (shared)
    out_banked: bool = False  # z / z_h: gate digits select one of 4 banks

    # ---- index sets --------------------------------------------------
    @property
    def summed(self) -> Tuple[str, ...]:
        return tuple(i for i in self.a_idx if i not in self.out_idx)

    @property
    def b_free(self) -> Tuple[str, ...]:
        return tuple(i for i in self.out_idx if i not in self.a_idx)

    def trips_of(self, i: str) -> int:
        return self.sizes[i] // self.q[i]

    # ---- lanes and trips ---------------------------------------------
    @property
    def free_lanes(self) -> int:
        return int(math.prod(self.q[i] for i in self.out_idx))

    @property
    def sum_lanes(self) -> int:
        return int(math.prod(self.q[i] for i in self.summed))

    @property
    def lanes(self) -> int:
        return self.free_lanes * self.sum_lanes

    @property
    def trips(self) -> int:
        return int(math.prod(self.trips_of(i) for i in self.order))

    @property
    def acc_rows(self) -> int:
        """Accumulator rows: the stream stage's B-only levels (inside the sum)."""
        if self.kind != "stream":
            return 1
        return int(math.prod(self.trips_of(i) for i in self.b_free))

    @property
    def macs(self) -> int:
        return self.cs.macs

    # ---- word layouts --------------------------------------------------
    def words(self, idx: Sequence[str]) -> int:
        return int(math.prod(self.trips_of(i) for i in idx))

    def word_lanes(self, idx: Sequence[str]) -> int:
        return int(math.prod(self.q[i] for i in idx))

    def strides(self) -> Dict[str, List[int]]:
        """Per loop level: its stride into the A word address, the ROM row,
        the out word address (depth) and the out bank."""
        a = dict(zip(self.a_idx, _c_strides([self.trips_of(i) for i in self.a_idx])))
        b_lv = [i for i in self.order if i in self.b_idx or i in self.b_free]
        b = dict(zip(b_lv, _c_strides([self.trips_of(i) for i in b_lv])))
        gates = [i for i in self.out_idx if self.out_banked and is_gate(i)]
        rest = [i for i in self.out_idx if i not in gates]
        o = dict(zip(rest, _c_strides([self.trips_of(i) for i in rest])))
        g = dict(zip(gates, _c_strides([self.trips_of(i) for i in gates])))
        return {"a": [a.get(i, 0) for i in self.order], "b": [b.get(i, 0) for i in self.order],
                "o": [o.get(i, 0) for i in self.order], "bank": [g.get(i, 0) for i in self.order],
                "trips": [self.trips_of(i) for i in self.order],
                "summed": [int(i in self.summed) for i in self.order],
                "b_only": [int(i in self.b_free) for i in self.order]}

    @property
    def out_banks(self) -> int:
        return int(math.prod(self.sizes[i] for i in self.out_idx if self.out_banked and is_gate(i)))

    @property
    def out_depth(self) -> int:
        return self.words(self.out_idx) // self.out_banks

    def lane_digits(self, idx: Sequence[str]) -> List[Dict[str, int]]:
        """Every lane of a word over ``idx``, in lane order: its digit j_i per index."""
        lv = [i for i in idx if self.q[i] > 1]
        grids = np.meshgrid(*[np.arange(self.q[i]) for i in lv], indexing="ij") if lv else []
        n = int(math.prod(self.q[i] for i in lv))
        return [{i: int(g.ravel()[k]) for i, g in zip(lv, grids)} for k in range(n)]

    def lane_map(self, word: Sequence[str]) -> List[int]:
        """For product (f, s) (f: output lane, s: sum lane): its lane in a word
        whose lane digits are ``word`` (C order)."""
        strides = dict(zip(word, _c_strides([self.q[i] for i in word])))
        out = []
        for f in self.lane_digits(self.out_idx):
            for s in self.lane_digits(self.summed):
                d = {**f, **s}
                out.append(sum(d.get(i, 0) * strides[i] for i in word))
        return out

    def a_lane_map(self) -> List[int]:
        """Each product's lane in the A word."""
        return self.lane_map([i for i in self.a_idx if self.q[i] > 1])


def is_gate(i: str) -> bool:
    return i == GATE or (i.startswith(GATE) and i[1:].isdigit())


@dataclass
class Schedule:
    """All processes of one HT layer, their lanes and word layouts."""

    shape: ht.HTShape
    kind: str  # 'lstm' or 'dense'
    n_in: int
    n_state: int
    n_timesteps: int
    stream_width: int
    out_width: int
    x_box: ht.Box
    h_box: Optional[ht.Box]
    x_stages: List[Stage]
    h_stages: List[Stage]
    x_q: Dict[str, int]
    h_q: Dict[str, int]
    lanes_budget: int
    h_offset: int = 0  # h_j sits at h-box entry h_offset + j
    return_sequences: bool = False

    @property
    def stages(self) -> List[Stage]:
        return self.x_stages + self.h_stages

    @property
    def mac_lanes(self) -> int:
        return sum(s.lanes for s in self.stages)

    @property
    def gate_lanes(self) -> int:
        return 1 if self.kind == "lstm" else 0

    @property
    def in_lanes(self) -> int:
        """Values per word of the first stage (the last input mode's lanes)."""
        return self.x_q[self.x_stages[0].a_idx[-1]]

    @property
    def box_words(self) -> int:
        return self.x_box.entries // self.in_lanes

    @property
    def z_lanes(self) -> int:
        return self.x_stages[-1].free_lanes

    @property
    def z_words(self) -> int:
        """Words of the x-chain's output per bank."""
        return self.x_stages[-1].out_depth

    def macs_per_frame(self) -> int:
        return sum(s.macs for s in self.stages)


def b_lane_digits(st: Stage) -> List[str]:
    """Indices whose lanes index the ROM word: the B-only ones, then the summed ones."""
    return [i for i in st.out_idx if i in st.b_free and st.q[i] > 1] + [i for i in st.summed if st.q[i] > 1]
