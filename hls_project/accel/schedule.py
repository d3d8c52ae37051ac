"""Building a layer's schedule: its boxes and stages (``stages.py``), and the
lane count of every index, chosen by the cost model (``model.assign_lanes``)
within the layer's lane budget and the layout rules (``lane_options``).
How the word layout makes every bank static: ``stages.py``."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from keras_model import ht
from keras_model.common.errors import ConfigError

from hls_project.accel import model
from hls_project.accel.stages import Schedule, Stage, _divisors, _rename, gate_split, is_gate  # noqa: F401  (the schedule's types)


# --------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------


def _stage_list(shape, box, chain_name, split, sizes, q, lstm) -> List[Stage]:
    steps = ht.chain(shape, box)
    out = []
    for k, cs in enumerate(steps):
        a_idx, b_idx, o_idx = (_rename(t, split) for t in (cs.step.a_idx, cs.step.b_idx, cs.step.out_idx))
        if any(i in b_idx for i in a_idx if i in o_idx):
            raise ConfigError(f"plan step {cs.out}: an index is in A, B and the output (not a contraction)")
        kind = "stream" if (chain_name == "x" and k == 0) else "buffer"
        summed = [i for i in a_idx if i not in o_idx]
        a_free = [i for i in a_idx if i in o_idx]
        b_free = [i for i in o_idx if i not in a_idx]
        if kind == "stream":
            if list(a_idx) != a_free + summed:
                raise ConfigError(f"the plan's first step sums x's modes {summed} but they are not x's trailing "
                                  f"modes; the input stream cannot be consumed in arrival order")
            order = tuple(a_free + summed + b_free)
        else:
            order = tuple(a_free + b_free + summed)
        last = k == len(steps) - 1
        out.append(Stage(f"{chain_name}{k}", chain_name, kind, cs, a_idx, b_idx, o_idx, order, sizes, q,
                         out_banked=lstm and last))
    return out


def _sizes(shape: ht.HTShape, box: ht.Box, split) -> Dict[str, int]:
    sizes = dict(shape.plan.sizes)
    for k in range(shape.d):
        sizes[f"a{k + 1}"] = box.size[k]
    for name, parts in split.items():
        for n, s in parts:
            sizes[n] = s
    return sizes


def _free_indices(stages: List[Stage], fixed: Dict[str, Tuple[int, ...]]) -> Dict[str, List[int]]:
    """Lane options per index of a chain (divisors of its size unless fixed)."""
    opts: Dict[str, List[int]] = {}
    for st in stages:
        for i in st.a_idx + st.b_idx + st.out_idx:
            if i not in opts:
                opts[i] = list(fixed.get(i, _divisors(st.sizes[i])))
    return opts


def check_positive(value, what: str, knob: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what}: {knob} must be a positive integer, got {value!r}")
    return value


def check_stream_width(n_in: int, width: int, what: str) -> int:
    check_positive(width, what, "stream_width")
    if n_in % width:
        raise ConfigError(f"{what}: stream_width {width} does not divide the {n_in} input values per step; "
                          f"choose a divisor of {n_in}")
    return width


def build(shape: ht.HTShape, n_in: int, n_timesteps: int = 1, kind: str = "lstm", stream_width: int = 1,
          lanes: int = 64, overrides: Optional[Dict[str, int]] = None, out_width: int = 1,
          what: str = "layer", return_sequences: bool = False) -> Schedule:
    """The schedule of an FDHT-LSTM (``kind='lstm'``) or an HTDense
    (``kind='dense'``): boxes, stages, and lane counts chosen by the cost
    model (``model.assign_lanes``) within ``lanes`` multiply-add lanes."""
    check_stream_width(n_in, stream_width, what)
    check_positive(lanes, what, "lanes")
    lstm = kind == "lstm"
    split = gate_split(shape.output_modes) if lstm else {}
    h = shape.out_features // 4 if lstm else 0
    x_box = ht.bounding_box(shape.input_modes, 0, n_in)
    if x_box.lo[-1] != 0 or x_box.entries != int(np.prod(x_box.size)):
        raise ConfigError(f"{what}: the input box does not start at 0")
    x_q: Dict[str, int] = {}
    xs = _stage_list(shape, x_box, "x", split, _sizes(shape, x_box, split), x_q, lstm)
    h_box, hs, h_q, off = None, [], {}, 0
    if lstm:
        h_box = ht.bounding_box(shape.input_modes, n_in, n_in + h)
        pos = h_box.flat_positions(shape.input_modes)
        off = int(np.flatnonzero(pos == n_in)[0])
        if not np.array_equal(pos[off:off + h], np.arange(n_in, n_in + h)):
            raise ConfigError(f"{what}: h is not contiguous in its box")
        hs = _stage_list(shape, h_box, "h", split, _sizes(shape, h_box, split), h_q, lstm)
    sched = Schedule(shape, kind, n_in, h, n_timesteps, stream_width, out_width, x_box, h_box, xs, hs, x_q, h_q,
                     lanes, off, return_sequences)
    model.assign_lanes(sched, lanes, lane_options(sched), overrides or {})
    return sched


def lane_options(sched: Schedule) -> Dict[str, Dict[str, List[int]]]:
    """Allowed lane counts per index, per chain. x-chain: input modes 1,
    except the last one (a divisor of both its size and the stream word, so
    words regroup by shifts); HTDense outputs 1 (written in C order). h-chain:
    input and output modes 1 (h is read one value per cycle, z_h one hidden
    unit per cycle). Gate digits: 1."""
    d = sched.shape.d
    xs, hs = sched.x_stages, sched.h_stages
    last = f"a{d}"
    fixed_x: Dict[str, Tuple[int, ...]] = {f"a{k + 1}": (1,) for k in range(d - 1)}
    fixed_x[last] = tuple(v for v in _divisors(xs[0].sizes[last]) if sched.stream_width % v == 0)
    fixed_h: Dict[str, Tuple[int, ...]] = {f"a{k + 1}": (1,) for k in range(d)}
    outs = set(xs[-1].out_idx)
    for i in outs:
        if is_gate(i) or sched.kind != "lstm":
            fixed_x[i] = (1,)
        fixed_h[i] = (1,)
    return {"x": _free_indices(xs, fixed_x), "h": _free_indices(hs, fixed_h) if hs else {}}
