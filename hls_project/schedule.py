"""The accelerator's schedule: processes, lanes, memory banks, and its cycle MODEL.

Pure Python, from ``keras_model.ht`` (plan, chains, boxes) only. The C++
generator (``codegen``) emits exactly these processes with these lane counts
and partition factors, and the cycle model below counts the same loops, so
the instrumented csim builds (loop trip counts, per-bank access checks) can
check the model against the code.

Structure of an FDHT-LSTM (an HTDense is the x-chain and a bias stage):

* **x-chain**, a dataflow pipeline over frames: stage x0 consumes the frame's
  input stream word by word (each word: ``stream_width`` values) and sums
  the trailing modes of x into a small accumulator; stages x1.. read the
  previous stage's output from a ping-pong buffer; a drain process writes
  ``z_x = W [x_t ; 0 ; 0]`` into a FIFO as words of ``4 * gate_lanes`` values.
  Frame t+1 enters the x-chain while frame t is still in later stages: none of
  this depends on h.
* **recurrence**, one process per time step: scatter h_{t-1} into the
  h-box, the h-chain (``W [0 ; h ; 0]`` over the small box that holds h),
  then the gates (``gate_lanes`` hidden units per cycle) with c, h updates.

Every stage process is one flattened loop nest with II = 1: ``trips`` =
product over its levels of ``size / lanes_on_level``; it does ``lanes``
multiply-adds per iteration (free-level lanes are parallel accumulators,
summed-level lanes an adder tree). Cycles of a process per frame =
``trips + depth`` (``depth``: the pipeline depth this model assumes, see
``stage_depth``). A linear dataflow chain of processes p with per-frame
cycles L_p over T frames takes ``sum_p L_p + (T - 1) * max_p L_p``.

Banks: every array a process touches is partitioned cyclically; the factor
is the smallest F for which, in every iteration of every process touching
it, no bank gets more than one write or more than two accesses (a dual-port
RAM). Those are exactly the rules the ``HT_CHECK_BANKS`` csim build checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from keras_model import ht
from keras_model.errors import ConfigError

# Pipeline depth assumed per stage (MODEL, not a scheduler result): operand
# read 1, multiplier 3 (a DSP48 with its input and output registers), one
# cycle per adder-tree level, accumulate 1, write 1.
MULT_DEPTH = 3
GATE_DEPTH = 12  # table index, lookup, three multiplies, state update


def _divisors(n: int) -> List[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass(frozen=True)
class Level:
    """One loop level of a stage in execution order (outermost first)."""

    size: int
    lanes: int
    a: int
    b: int
    out: int
    summed: bool

    @property
    def trips(self) -> int:
        return self.size // self.lanes


@dataclass
class Stage:
    """One contraction stage process."""

    name: str  # 'x0', 'x1', ... or 'h0', ...
    chain: str  # 'x' or 'h'
    kind: str  # 'stream' (reads the input words) or 'array'
    cs: ht.ChainStep
    levels: List[Level]  # execution order
    a_banks: int = 1
    b_banks: int = 1
    out_banks: int = 1
    acc_banks: int = 1  # stream stage: accumulators over the B-free levels

    @property
    def lanes(self) -> int:
        return int(math.prod(lv.lanes for lv in self.levels))

    @property
    def free_lanes(self) -> int:
        return int(math.prod(lv.lanes for lv in self.levels if not lv.summed))

    @property
    def sum_lanes(self) -> int:
        return int(math.prod(lv.lanes for lv in self.levels if lv.summed))

    @property
    def trips(self) -> int:
        return int(math.prod(lv.trips for lv in self.levels))

    @property
    def macs(self) -> int:
        return self.cs.macs

    @property
    def depth(self) -> int:
        return stage_depth(self.sum_lanes)

    @property
    def cycles(self) -> int:
        return self.trips + self.depth

    # offsets (relative to the iteration's base address) touched in one iteration
    def lane_offsets(self, which: str, levels: Optional[List[Level]] = None) -> List[int]:
        lv = [x for x in (levels or self.levels) if x.lanes > 1]
        if which == "out":
            lv = [x for x in lv if not x.summed]
        offs = [0]
        for x in lv:
            stride = getattr(x, which)
            offs = [o + j * stride for o in offs for j in range(x.lanes)]
        return offs

    def acc_offsets(self) -> List[int]:
        """Stream stage: accumulator index offsets (the B-free levels, C order)."""
        return self.lane_offsets("out", [x for x in self.levels if not x.summed and x.a == 0])


def stage_depth(sum_lanes: int) -> int:
    return 1 + MULT_DEPTH + max(0, math.ceil(math.log2(sum_lanes))) + 2


# --------------------------------------------------------------------------
# Banks
# --------------------------------------------------------------------------


def _fits(offsets_sets: Sequence[Tuple[Sequence[int], Sequence[int]]], f: int) -> bool:
    """Each (reads, writes) pair is one process's iteration: per bank at most
    one write and at most two accesses (distinct addresses; a broadcast read
    of one address is one access)."""
    for reads, writes in offsets_sets:
        r = [0] * f
        w = [0] * f
        for o in set(reads):
            r[o % f] += 1
        for o in set(writes):
            w[o % f] += 1
        if any(x > 1 for x in w) or any(a + b > 2 for a, b in zip(r, w)):
            return False
    return True


def bank_factor(offsets_sets, size: int, limit: int = 4096) -> int:
    """Smallest cyclic partition factor satisfying ``_fits`` (<= size)."""
    for f in range(1, min(size, limit) + 1):
        if _fits(offsets_sets, f):
            return f
    return min(size, limit)


# --------------------------------------------------------------------------
# Building the stages
# --------------------------------------------------------------------------


def _stage_levels(cs: ht.ChainStep, kind: str) -> List[Level]:
    if kind == "stream":
        hi = [lp for lp in cs.free if lp.a != 0]
        bf = [lp for lp in cs.free if lp.a == 0]
        order = hi + cs.summed + bf
    else:
        order = cs.free + cs.summed
    return [Level(lp.size, 1, lp.a, lp.b, lp.out, lp.summed) for lp in order]


def lane_options(levels: List[Level], kind: str, stream_width: int = 1, limit: int = 4096) -> List[Tuple[int, ...]]:
    """Per-level lane counts the stage may use (divisors of each level's
    size; product at most ``limit``). The stream stage walks its output
    groups in arrival order (no lanes there) and its summed lanes stay within
    one input word (the innermost summed level, divisors of the word)."""
    n = len(levels)
    allowed = [[1] for _ in range(n)]
    summed = [i for i in range(n) if levels[i].summed]
    free = [i for i in range(n) if not levels[i].summed]
    if kind == "stream":
        free = [i for i in free if levels[i].a == 0]
        summed = summed[-1:]
    for i in summed:
        ds = _divisors(levels[i].size)
        if kind == "stream":
            ds = [d for d in ds if stream_width % d == 0]
        allowed[i] = ds
    for i in free:
        allowed[i] = _divisors(levels[i].size)
    combos = [()]
    for opts in allowed:
        combos = [c + (o,) for c in combos for o in opts if math.prod(c) * o <= limit]
    return combos


def _with_lanes(levels: List[Level], lanes: Sequence[int]) -> List[Level]:
    return [Level(lv.size, p, lv.a, lv.b, lv.out, lv.summed) for lv, p in zip(levels, lanes)]


@dataclass
class Schedule:
    """All processes of one HT layer and the knobs that shaped them."""

    shape: ht.HTShape
    kind: str  # 'lstm' or 'dense'
    n_in: int
    n_state: int
    n_timesteps: int
    stream_width: int
    x_box: ht.Box
    h_box: Optional[ht.Box]
    x_stages: List[Stage]
    h_stages: List[Stage]
    gate_lanes: int
    lanes_budget: int
    zx_width: int = 1
    zh_banks: int = 1
    state_banks: int = 1

    @property
    def stages(self) -> List[Stage]:
        return self.x_stages + self.h_stages

    @property
    def mac_lanes(self) -> int:
        return sum(s.lanes for s in self.stages)

    # ---- per-frame processes ------------------------------------------
    @property
    def drain_cycles(self) -> int:
        m = self.shape.out_features
        return m // self.zx_width + 2

    @property
    def scatter_cycles(self) -> int:
        return self.n_state + 2 if self.h_box is not None else 0

    @property
    def gate_cycles(self) -> int:
        return self.n_state // self.gate_lanes + GATE_DEPTH if self.kind == "lstm" else 0

    @property
    def recurrence_cycles(self) -> int:
        """One time step of the recurrence process (scatter, h-chain, gates:
        sequential, since each needs the previous one's result)."""
        if self.kind != "lstm":
            return 0
        return self.scatter_cycles + sum(s.cycles for s in self.h_stages) + self.gate_cycles

    def process_cycles(self) -> Dict[str, int]:
        """Cycles per frame of every process of the frame pipeline."""
        rows = {f"stage {s.name}": s.cycles for s in self.x_stages}
        rows["drain z_x" if self.kind == "lstm" else "bias + output"] = self.drain_cycles
        if self.kind == "lstm":
            rows["recurrence"] = self.recurrence_cycles
        return rows

    @property
    def interval(self) -> int:
        """Cycles between frames in steady state (the slowest process)."""
        return max(self.process_cycles().values())

    @property
    def cycles_per_clip(self) -> int:
        """The layer's latency for one clip: fill of the chain, then one
        frame per interval, plus the LSTM's state reset and last output."""
        procs = list(self.process_cycles().values())
        return sum(procs) + (self.n_timesteps - 1) * max(procs) + self.per_call_extra

    @property
    def per_call_extra(self) -> int:
        """The LSTM's once-per-call loops: state reset, h-box reset, last output."""
        return (2 * self.n_state + self.h_box.entries + 4) if self.kind == "lstm" else 0

    def process_cycles_per_call(self) -> Dict[str, int]:
        """With frame channels: the cycles each process of the layer is busy
        per call (every stage is its own process looping over the frames)."""
        t = self.n_timesteps
        rows = {k: t * v for k, v in self.process_cycles().items()}
        if self.kind == "lstm":
            rows["recurrence"] += self.per_call_extra
        return rows

    def call_interval(self, frame_channels: bool) -> int:
        """Cycles between calls (clips) in steady state: with frame channels
        the busiest process's cycles per call (the next clip enters each
        process when that process is done with this one); with a frame loop
        around a per-frame DATAFLOW region, the x-chain process's latency."""
        if frame_channels:
            return max(self.process_cycles_per_call().values())
        return self.cycles_per_clip

    @property
    def input_words_per_frame(self) -> int:
        return self.n_in // self.stream_width

    def macs_per_frame(self) -> int:
        return sum(s.macs for s in self.stages)

    def trip_counts(self) -> Dict[str, int]:
        """Iterations of every pipelined loop for one clip (what HT_COUNT_TRIPS counts)."""
        t = self.n_timesteps
        out = {f"{s.name}": s.trips * t for s in self.stages}
        out["drain"] = (self.shape.out_features // self.zx_width) * t
        if self.kind == "lstm":
            out["scatter"] = self.n_state * t
            out["gates"] = (self.n_state // self.gate_lanes) * t
            out["reset"] = self.n_state
            out["hbox_reset"] = self.h_box.entries
            out["last"] = self.n_state  # the last h, unless return_sequences
        return out


def _build_stages(chain_steps: List[ht.ChainStep], chain: str, first_kind: str) -> List[Stage]:
    out = []
    for k, cs in enumerate(chain_steps):
        kind = first_kind if k == 0 else "array"
        out.append(Stage(f"{chain}{k}", chain, kind, cs, _stage_levels(cs, kind)))
    return out


def _set_lanes(stage: Stage, combo: Sequence[int]) -> None:
    stage.levels = _with_lanes(stage.levels, combo)


def _options(stage: Stage, stream_width: int) -> List[Tuple[int, Tuple[int, ...]]]:
    """(lanes, combo) sorted by lanes, the best-balanced combo per lane count
    (fewest summed-level lanes beyond what is needed: smaller adder trees)."""
    seen: Dict[int, Tuple[Tuple[int, int], Tuple[int, ...]]] = {}
    base = [Level(lv.size, 1, lv.a, lv.b, lv.out, lv.summed) for lv in stage.levels]
    for c in lane_options(base, stage.kind, stream_width):
        p = int(math.prod(c))
        spread = sum((x - 1) * (lv.a + lv.b + lv.out) for x, lv in zip(c, base))
        key = (spread, sum(1 for x in c if x > 1))
        if p not in seen or key < seen[p][0]:
            seen[p] = (key, c)
    return sorted((p, c) for p, (_, c) in seen.items())


def assign_lanes(sched: Schedule, budget: int, overrides: Optional[Dict[str, int]] = None) -> None:
    """Spread ``budget`` multiply-add lanes over the stages (and gate lanes
    over the hidden units): greedily give the process that limits the frame
    interval its next larger lane count while the total stays within the
    budget. ``overrides`` pins a stage's lane count (by name 'x0', 'h1',
    'gates'); the nearest available count not above it is used."""
    overrides = dict(overrides or {})
    opts = {s.name: _options(s, sched.stream_width) for s in sched.stages}
    pos = {s.name: 0 for s in sched.stages}
    for s in sched.stages:
        _set_lanes(s, opts[s.name][0][1])
        if s.name in overrides:
            want = int(overrides[s.name])
            i = max(i for i, (p, _) in enumerate(opts[s.name]) if p <= max(want, 1))
            pos[s.name] = i
            _set_lanes(s, opts[s.name][i][1])
    gate_opts = _divisors(sched.n_state) if sched.kind == "lstm" else [1]
    gpos = 0
    if "gates" in overrides:
        gpos = max(i for i, g in enumerate(gate_opts) if g <= max(int(overrides["gates"]), 1))
    sched.gate_lanes = gate_opts[gpos]
    pinned = set(overrides)

    def total():
        return sched.mac_lanes + (sched.gate_lanes if sched.kind == "lstm" else 0)

    while True:
        procs = [(s.cycles, s.name) for s in sched.x_stages]
        if sched.kind == "lstm":
            procs.append((sched.recurrence_cycles, "rec"))
        procs.sort(reverse=True)
        moved = False
        for _, name in procs[:1]:
            if name == "rec":
                parts = [(s.cycles, s.name) for s in sched.h_stages]
                if sched.kind == "lstm":
                    parts.append((sched.gate_cycles, "gates"))
                cands = [n for _, n in sorted(parts, reverse=True)]
            else:
                cands = [name]
            for n in cands:
                if n in pinned:
                    continue
                if n == "gates":
                    if gpos + 1 < len(gate_opts) and total() - sched.gate_lanes + gate_opts[gpos + 1] <= budget:
                        gpos += 1
                        sched.gate_lanes = gate_opts[gpos]
                        moved = True
                        break
                    continue
                st = next(s for s in sched.stages if s.name == n)
                nxt = pos[n] + 1
                while nxt < len(opts[n]):
                    p, combo = opts[n][nxt]
                    if total() - st.lanes + p <= budget:
                        old = st.cycles
                        _set_lanes(st, combo)
                        if st.cycles < old:
                            pos[n] = nxt
                            moved = True
                            break
                        _set_lanes(st, opts[n][pos[n]][1])
                    nxt += 1
                if moved:
                    break
        if not moved:
            break


def assign_banks(sched: Schedule) -> None:
    """Partition factors from every process's per-iteration access offsets."""
    for chain in (sched.x_stages, sched.h_stages):
        for k, st in enumerate(chain):
            st.b_banks = bank_factor([(st.lane_offsets("b"), [])], st.cs.b_size)
            if st.kind == "stream":
                acc = st.acc_offsets()
                size = int(math.prod(lv.size for lv in st.levels if not lv.summed and lv.a == 0))
                st.acc_banks = bank_factor([(acc, acc)], size)
            else:
                writer = [] if k == 0 else chain[k - 1].lane_offsets("out")
                st.a_banks = bank_factor([(st.lane_offsets("a"), []), ([], writer)], st.cs.a_size)
                if k > 0:
                    chain[k - 1].out_banks = st.a_banks
    # the last stage of each chain writes z: read by the drain (x) / the gates (h)
    m = sched.shape.out_features
    if sched.kind == "lstm":
        h = sched.n_state
        zx_reads = [g * h + j for g in range(4) for j in range(sched.gate_lanes)]
        sched.zx_width = 4 * sched.gate_lanes
        sched.x_stages[-1].out_banks = bank_factor(
            [(list(range(0)), sched.x_stages[-1].lane_offsets("out")), (zx_reads, [])], m)
        if sched.h_stages:
            sched.h_stages[-1].out_banks = bank_factor(
                [([], sched.h_stages[-1].lane_offsets("out")), (zx_reads, [])], m)
            sched.zh_banks = sched.h_stages[-1].out_banks
        sched.state_banks = bank_factor([(list(range(sched.gate_lanes)), list(range(sched.gate_lanes)))], h)
    else:
        w = sched.zx_width
        sched.x_stages[-1].out_banks = bank_factor(
            [([], sched.x_stages[-1].lane_offsets("out")), (list(range(w)), [])], m)


def check_stream_width(n_in: int, width: int, what: str) -> int:
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ConfigError(f"{what}: stream_width must be a positive integer, got {width!r}")
    if n_in % width:
        raise ConfigError(f"{what}: stream_width {width} does not divide the {n_in} input values per step; "
                          f"choose a divisor of {n_in}")
    return width


def build(shape: ht.HTShape, n_in: int, n_timesteps: int = 1, kind: str = "lstm", stream_width: int = 1,
          lanes: int = 1, overrides: Optional[Dict[str, int]] = None, out_width: int = 1,
          what: str = "layer") -> Schedule:
    """The schedule of an FDHT-LSTM (``kind='lstm'``, ``n_in`` inputs per
    step, H = out_features / 4) or an HTDense (``kind='dense'``).
    ``lanes``: multiply-add lanes for the whole layer (a budget)."""
    check_stream_width(n_in, stream_width, what)
    if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1:
        raise ConfigError(f"{what}: lanes must be a positive integer, got {lanes!r}")
    if kind == "lstm":
        h = shape.out_features // 4
        x_box = ht.bounding_box(shape.input_modes, 0, n_in)
        h_box = ht.bounding_box(shape.input_modes, n_in, n_in + h)
    else:
        h = 0
        x_box = ht.bounding_box(shape.input_modes, 0, n_in)
        h_box = None
    x_steps = ht.chain(shape, x_box)
    if x_steps[0].a != "x" or any(lp.a == 0 for lp in x_steps[0].summed):
        raise ConfigError(f"{what}: the plan's first step does not read x")
    sched = Schedule(shape, kind, n_in, h, n_timesteps, stream_width, x_box, h_box,
                     _build_stages(x_steps, "x", "stream"),
                     _build_stages(ht.chain(shape, h_box), "h", "array") if h_box is not None else [],
                     1, lanes)
    if kind != "lstm":
        sched.zx_width = out_width
    assign_lanes(sched, lanes, overrides)
    assign_banks(sched)
    return sched


# --------------------------------------------------------------------------
# Storage
# --------------------------------------------------------------------------


def buffers(sched: Schedule, widths: Dict[str, int]) -> List[Dict[str, object]]:
    """Every on-chip buffer of the layer: name, entries, bits each, copies
    (2 for a ping-pong buffer), banks. ``widths``: bit width by role
    (``x0``.. stage outputs by stage name, 'acc_x0', 'zx', 'zh', 'hbox', 'state')."""
    rows = []
    xs = sched.x_stages
    st0 = xs[0]
    acc = int(math.prod(lv.size for lv in st0.levels if not lv.summed and lv.a == 0))
    rows.append({"name": "x0 accumulators", "entries": acc, "bits_each": widths["acc_x0"], "copies": 1,
                 "banks": st0.acc_banks})
    for st in xs[:-1]:
        rows.append({"name": f"{st.name} -> next (ping-pong)", "entries": st.cs.out_size,
                     "bits_each": widths[st.name], "copies": 2, "banks": st.out_banks})
    rows.append({"name": "z_x (ping-pong)", "entries": sched.shape.out_features, "bits_each": widths["zx"],
                 "copies": 2, "banks": xs[-1].out_banks})
    if sched.kind == "lstm":
        rows.append({"name": "z_x FIFO", "entries": 2 * sched.shape.out_features, "bits_each": widths["zx"],
                     "copies": 1, "banks": 1})
        rows.append({"name": "h-box", "entries": sched.h_box.entries, "bits_each": widths["hbox"], "copies": 1,
                     "banks": sched.h_stages[0].a_banks if sched.h_stages else 1})
        for st in sched.h_stages[:-1]:
            rows.append({"name": f"{st.name} -> next", "entries": st.cs.out_size, "bits_each": widths[st.name],
                         "copies": 1, "banks": st.out_banks})
        rows.append({"name": "z_h", "entries": sched.shape.out_features, "bits_each": widths["zh"], "copies": 1,
                     "banks": sched.zh_banks})
        rows.append({"name": "c and h state", "entries": 2 * sched.n_state, "bits_each": widths["state"],
                     "copies": 1, "banks": sched.state_banks})
    for r in rows:
        r["bits"] = int(r["entries"]) * int(r["bits_each"]) * int(r["copies"])
    return rows
