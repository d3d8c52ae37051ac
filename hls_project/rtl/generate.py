"""The RTL of an FDHT-LSTM (or HTDense) layer: the parameterised modules of
``templates/rtl/`` (copied as they are) plus a generated top that instantiates
them on the layer's schedule (``hls_project/accel``: stages, lanes, loop
levels, strides, lane maps, word layouts) and ``$readmemh`` files of its
constants (stage ROMs ``rom[row][lane]``, bias, unit order, gate tables),
laid out by the same functions as the HLS config (``accel.writer``).

Process for process the same as the HLS kernels (templates/nnet_ht_stream.h):
regroup -> FIFO -> x0 (stream stage) -> ping-pong word buffers -> x1.. ->
drain -> z_x FIFO (2H) -> the recurrence (reset, per step the h-chain stages
one after another, the gates one hidden unit per cycle, the output word).
HTDense: the same x-chain (one frame per clip), then ``ht_drain_dense`` ->
the layer's output FIFO (``nnet::ht_dense_stream``).
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from keras_model.common.errors import ConfigError
from hls_project.rtl import shiftadd
from hls_project.rtl.verilog import (TEMPLATES, Fx, hex_words as _hex_words,
                                     inst as _inst, packed as _packed)

MODULES = ("fx_cast.v", "fx_mul.v", "ht_fifo.v", "ht_wbuf.v", "ht_pp.v", "ht_tree.v", "ht_stage.v",
           "ht_regroup.v", "ht_zbias.v", "ht_drain_gates.v", "ht_table_index.v", "fdht_cell.v")
DENSE_MODULES = ("fx_cast.v", "fx_mul.v", "ht_fifo.v", "ht_wbuf.v", "ht_pp.v", "ht_tree.v", "ht_stage.v",
                 "ht_regroup.v", "ht_zbias.v", "ht_drain_dense.v")
HEAD_MODULES = ("nn_dense.v", "nn_act.v", "nn_softmax.v")
MUL_STAGES = 3  # as accel.model.MULT_DEPTH
ARITHS = ("dsp", "shift_add")  # hls.stage_arith


def _steps(strides: List[int], trips: List[int]) -> List[int]:
    """Per loop level (outermost first): the address change when that level
    counts and every inner level wraps to 0, as 32-bit two's complement."""
    out = []
    for l in range(len(strides)):
        d = strides[l] - sum((trips[m] - 1) * strides[m] for m in range(l + 1, len(strides)))
        out.append(d % (1 << 32))
    return out


@dataclass
class StageRTL:
    name: str
    params: Dict[str, object]
    a_t: Fx
    out_t: Fx
    free: int
    a_lanes: int
    out_banks: int
    out_depth: int
    shift_add: Optional[Dict[str, object]] = None  # hls.stage_arith shift_add: module, text, figures
    kept: str = ""  # with shift_add: why the stage keeps its multipliers (shiftadd.eligible)

    @property
    def products_width(self) -> int:
        """Bits of the stage's exact products, all FREE x SUML of them (the sa_p port)."""
        return self.params["FREE"] * self.params["SUML"] * (self.params["AW"] + self.params["BW"] + 2)


@dataclass
class Design:
    """Everything the generated top needs, from one converted layer."""

    top: str
    node_name: str
    n_in: int
    n_state: int
    n_timesteps: int
    stream_width: int
    return_sequences: bool
    in_t: Fx
    res_t: Fx
    x: List[StageRTL]
    h: List[StageRTL]
    cell: Dict[str, object]
    drain: Dict[str, object]
    regroup: Dict[str, object]
    files: Dict[str, str] = field(default_factory=dict)  # hex file name -> text
    schedule: object = None
    head: object = None  # head.Head: the layers after the FDHT-LSTM, or None (the layer alone)
    stage_arith: str = "dsp"  # hls.stage_arith: dsp, or shift_add (the eligible stages without multipliers)
    kind: str = "lstm"  # the schedule's kind: "lstm" (FDHT-LSTM) or "dense" (HTDense: no h, cell empty)
    out_width: int = 0  # HTDense: values per output word (the layer writes n_state / out_width words)

    @property
    def in_words_per_clip(self) -> int:
        return self.n_timesteps * self.n_in // self.stream_width

    @property
    def layer_words_per_clip(self) -> int:
        if self.kind == "dense":
            return self.n_state // self.out_width
        return self.n_timesteps if self.return_sequences else 1

    @property
    def layer_word(self) -> int:
        """Values per word of the layer's output stream."""
        return self.out_width if self.kind == "dense" else self.n_state

    @property
    def out_words_per_clip(self) -> int:
        return 1 if self.head is not None else self.layer_words_per_clip

    @property
    def out_t(self) -> "Fx":
        return self.head.out_t if self.head is not None else self.res_t

    @property
    def out_values(self) -> int:
        return self.head.n_out if self.head is not None else self.layer_word

    def modules(self) -> List[str]:
        return list(DENSE_MODULES if self.kind == "dense" else MODULES) + \
            (list(HEAD_MODULES) if self.head is not None else [])


def _stage(st, tag: str, a_t: Fx, b_t: Fx, acc_t: Fx, out_t: Fx, rom_vals: np.ndarray, files: Dict[str, str],
           mul_stages: int, arith: str = "dsp", top: str = "fdht_top") -> StageRTL:
    from hls_project.accel import writer
    if acc_t.sat != 0 or not acc_t.s:
        raise ConfigError(f"RTL: stage {st.name}: the accumulator type must be a signed wrapping ap_fixed, "
                          f"got {acc_t.text}")
    s = st.strides()
    lanes_b = max(1, int(math.prod(st.q[i] for i in writer.b_lane_digits(st))))
    rows = int(math.prod(st.trips_of(i) for i in st.order if i in st.b_idx))
    if rom_vals.shape != (rows, lanes_b):
        raise ConfigError(f"RTL: stage {st.name}: ROM shape {rom_vals.shape} != ({rows}, {lanes_b})")
    fname = f"rom_{tag}.hex"
    files[fname] = _hex_words(b_t.raw(rom_vals), b_t.w)
    p = {"STREAM": int(st.kind == "stream"), "NL": len(st.order), "TRIPS": st.trips,
         "LVT": _packed(s["trips"]), "LVA": _packed(s["a"]), "LVB": _packed(s["b"]), "LVO": _packed(s["o"]),
         "LVG": _packed(s["bank"]), "LVS": _packed(s["summed"]), "LVBO": _packed(s["b_only"]),
         "LDA": _packed(_steps(s["a"], s["trips"]), 32), "LDB": _packed(_steps(s["b"], s["trips"]), 32),
         "LDO": _packed(_steps(s["o"], s["trips"]), 32), "LDG": _packed(_steps(s["bank"], s["trips"]), 32),
         "FREE": st.free_lanes, "SUML": st.sum_lanes, "A_LANES": st.word_lanes(st.a_idx), "ROM_ROWS": rows,
         "ROM_LANES": lanes_b, "ACC_ROWS": st.acc_rows,
         "A_LANE": _packed(st.a_lane_map()), "B_LANE": _packed(writer.b_lane_map(st)),
         "AW": a_t.w, "AF": a_t.f, "AS": a_t.s, "BW": b_t.w, "BF": b_t.f, "BS": b_t.s,
         "CW": acc_t.w, "CF": acc_t.f, "CRND": acc_t.rnd,
         "OW": out_t.w, "OF": out_t.f, "OS": out_t.s, "ORND": out_t.rnd, "OSAT": out_t.sat,
         "MUL_STAGES": mul_stages, "ARITH": 0, "ROM_FILE": f'"{fname}"'}
    sa, kept = None, ""
    if arith == "shift_add":
        kept = shiftadd.eligible(rows) or ("" if mul_stages >= 3 else "MUL_STAGES < 3")
        if not kept:
            mod = f"{top}_{tag}_sa"
            text, figs = shiftadd.stage_module(mod, b_t.signed(b_t.raw(rom_vals)), st.a_lane_map(),
                                               writer.b_lane_map(st), st.word_lanes(st.a_idx), a_t.w, a_t.s, b_t.w,
                                               stage=st.name)
            kept = shiftadd.eligible(rows, figs["adders"], figs["products"])
            if not kept:
                p["ARITH"] = 1
                sa = {"module": mod, "text": text, "figures": figs}
    return StageRTL(st.name, p, a_t, out_t, st.free_lanes, st.word_lanes(st.a_idx), st.out_banks, st.out_depth, sa,
                    kept)


def _chains(node, sched, t, in_t: Fx, state_t, files: Dict[str, str], mul_stages: int, arith: str = "dsp",
            top: str = "fdht_top"):
    """The x-chain's stages (and the h-chain's, for an FDHT-LSTM) as StageRTL,
    their ROMs laid out by ``accel.writer.rom`` into ``files``."""
    from hls_project.accel import writer

    if arith not in ARITHS:
        raise ConfigError(f"RTL: stage_arith {arith!r} is not one of {', '.join(ARITHS)}")
    tabs = t["tables"]
    chains = ("x", "h") if sched.kind == "lstm" else ("x",)
    boxes = {"x": sched.x_box, "h": sched.h_box}
    lo: Dict[str, Dict[str, int]] = {c: {} for c in chains}
    full = {"x": dict(sched.x_stages[0].sizes)}
    if sched.kind == "lstm":
        full["h"] = dict(sched.h_stages[0].sizes)
    for k in range(sched.shape.d):
        for c in chains:
            full[c][f"a{k + 1}"] = sched.shape.input_modes[k]
            lo[c][f"a{k + 1}"] = boxes[c].lo[k]

    def chain(stages, types, first_a: Fx, tag: str) -> List[StageRTL]:
        out, a_t = [], first_a
        for k, st in enumerate(stages):
            if k and tuple(stages[k - 1].out_idx) != tuple(st.a_idx):
                raise ConfigError(f"RTL: stage {st.name} reads {st.a_idx} but {stages[k - 1].name} writes "
                                  f"{stages[k - 1].out_idx}")
            vals, b_type = tabs[st.cs.b]
            rom = writer.rom(st, vals, full[st.chain], lo[st.chain])
            acc_t, out_t = Fx.of(types["accum"][k]), Fx.of(types["inter"][k])
            out.append(_stage(st, f"{tag}{k}", a_t, Fx.of(b_type), acc_t, out_t, rom, files, mul_stages, arith,
                              top))
            a_t = out_t
        return out

    xs = chain(sched.x_stages, t["x"], in_t, "x")
    hs = chain(sched.h_stages, t["h"], state_t, "h") if sched.kind == "lstm" else []
    return xs, hs


def _z_type(t) -> Fx:
    z_t = Fx.of(t["z"])
    if z_t.rnd or z_t.sat or not z_t.s:
        raise ConfigError(f"RTL: z_t {t['z']} must be a plain signed ap_fixed")
    return z_t


def _regroup(sched, in_t: Fx) -> Dict[str, object]:
    return {"W": sched.stream_width, "Q": sched.in_lanes, "VW": in_t.w, "BOX_WORDS": sched.box_words,
            "IN_WORDS": sched.n_in // sched.in_lanes}


def design(node, top: str = "fdht_top", mul_stages: int = MUL_STAGES, stage_arith: str = "dsp") -> Design:
    """The RTL design of one converted FDHT-LSTM (or HTDense: ``dense_design``) layer (an hls4ml node);
    ``stage_arith`` shift_add: the stages ``shiftadd.eligible`` admits without multipliers."""
    from hls_project.accel import tables as gate_tables
    from hls_project.accel import writer
    from hls_project.ext.node import accel_types

    if node.class_name == "HTDense":
        return dense_design(node, top, mul_stages, stage_arith)
    if node.class_name != "FDHTLSTM":
        raise ConfigError(f"RTL: layer {node.name} ({node.class_name}): only the FDHT-LSTM and HTDense are generated")
    sched = node.schedule()
    t = accel_types(node)
    files: Dict[str, str] = {}
    in_t = Fx.of(node.get_input_variable().type.precision)
    state_t = Fx.of(node.get_attr("state_t").precision)
    act_t = Fx.of(node.get_attr("act_t").precision)
    table_t = Fx.of(node.get_attr("table_t").precision)
    res_t = Fx.of(node.get_output_variable().type.precision)
    if not state_t.s:
        raise ConfigError("RTL: state_t must be signed")
    xs, hs = _chains(node, sched, t, in_t, state_t, files, mul_stages, stage_arith, top)
    z_t = _z_type(t)
    h = sched.n_state
    order = writer.unit_order(sched)
    bias_t = Fx.of(t["bias_t"])
    bias = np.asarray(t["bias"], dtype=np.float64).reshape(4, h)[:, order].T  # [k][g]
    files["bias.hex"] = _hex_words(bias_t.raw(bias), bias_t.w)
    files["unit.hex"] = _hex_words(np.asarray(order)[:, None], 16)
    n = int(node.get_attr("table_size", 1024))
    logn = int(round(math.log2(n)))
    if 1 << logn != n:
        raise ConfigError(f"RTL: table_size {n} is not a power of two")
    from keras_model.common.fixedtype import precision_str

    tt = precision_str(node.get_attr("table_t").precision)
    sig = gate_tables.to_fixed(gate_tables.sigmoid_table(n, int(node.get_attr("recr_act_bits", 0)),
                                                         bool(node.get_attr("recr_act_symmetric", False))), tt)
    tnh = gate_tables.to_fixed(gate_tables.tanh_table(n, int(node.get_attr("act_bits", 0)),
                                                      bool(node.get_attr("act_symmetric", False))), tt)
    files["sigmoid.hex"] = _hex_words(table_t.raw(sig)[:, None], table_t.w)
    files["tanh.hex"] = _hex_words(table_t.raw(tnh)[:, None], table_t.w)
    zv, zh = xs[-1].out_t, hs[-1].out_t
    last = sched.x_stages[-1]
    drain = {"H": h, "L": last.free_lanes, "DEPTH": last.out_depth, "VW": zv.w, "VF": zv.f,
             "ZW": z_t.w, "ZF": z_t.f, "BW": bias_t.w, "BF": bias_t.f, "BS": bias_t.s,
             "FIFO_DEPTH": 2 * h, "BIAS_FILE": '"bias.hex"'}
    if not zv.s or zv.rnd or zv.sat or not zh.s:
        raise ConfigError("RTL: z and z_h must keep signed wrapping accumulator types")
    cell = {"H": h, "T": sched.n_timesteps, "LOGN": logn, "RETSEQ": int(bool(sched.return_sequences)),
            "HBOX": sched.h_box.entries, "HOFF": sched.h_offset, "RESET_TRIPS": max(h, sched.h_box.entries),
            "ZW": z_t.w, "ZF": z_t.f, "ZHW": zh.w, "ZHF": zh.f, "TW": table_t.w, "TF": table_t.f, "TS": table_t.s,
            "AW": act_t.w, "AF": act_t.f, "AS": act_t.s, "ARND": act_t.rnd, "ASAT": act_t.sat,
            "SW": state_t.w, "SF": state_t.f, "SRND": state_t.rnd, "SSAT": state_t.sat,
            "RW": res_t.w, "RF": res_t.f, "RS": res_t.s, "RRND": res_t.rnd, "RSAT": res_t.sat,
            "SIG_FILE": '"sigmoid.hex"', "TANH_FILE": '"tanh.hex"', "UNIT_FILE": '"unit.hex"'}
    return Design(top, node.name, sched.n_in, h, sched.n_timesteps, sched.stream_width,
                  bool(sched.return_sequences), in_t, res_t, xs, hs, cell, drain, _regroup(sched, in_t), files, sched,
                  stage_arith=stage_arith)


def dense_design(node, top: str = "fdht_top", mul_stages: int = MUL_STAGES, stage_arith: str = "dsp") -> Design:
    """The RTL design of one converted HTDense layer: the x-chain on the
    layer's schedule, then the drain (``ht_drain_dense``: z + bias in z_t,
    cast to the layer's result type, words of ``out_width`` values)."""
    from hls_project.ext.node import accel_types

    sched = node.schedule()
    t = accel_types(node)
    files: Dict[str, str] = {}
    in_t = Fx.of(node.get_input_variable().type.precision)
    res_t = Fx.of(node.get_output_variable().type.precision)
    xs, _ = _chains(node, sched, t, in_t, None, files, mul_stages, stage_arith, top)
    z_t = _z_type(t)
    m, wout = sched.shape.out_features, int(sched.out_width)
    last = sched.x_stages[-1]
    if (last.out_banks, last.free_lanes, last.out_depth) != (1, 1, m):
        raise ConfigError(f"RTL: HTDense {node.name}: the last stage writes {last.out_banks} x {last.out_depth} x "
                          f"{last.free_lanes}, the drain reads 1 x {m} x 1")
    if wout < 1 or m % wout:
        raise ConfigError(f"RTL: HTDense {node.name}: out_width {wout} does not divide its {m} outputs")
    zv = xs[-1].out_t
    if not zv.s or zv.rnd or zv.sat:
        raise ConfigError("RTL: z must keep a signed wrapping accumulator type")
    bias_t = Fx.of(t["bias_t"])
    files["bias.hex"] = _hex_words(bias_t.raw(np.asarray(t["bias"], dtype=np.float64).reshape(m, 1)), bias_t.w)
    words = m // wout
    drain = {"N": m, "WOUT": wout, "VW": zv.w, "VF": zv.f, "ZW": z_t.w, "ZF": z_t.f,
             "BW": bias_t.w, "BF": bias_t.f, "BS": bias_t.s,
             "OW": res_t.w, "OF": res_t.f, "OS": res_t.s, "ORND": res_t.rnd, "OSAT": res_t.sat,
             "FIFO_DEPTH": words, "BIAS_FILE": '"bias.hex"'}
    return Design(top, node.name, sched.n_in, m, 1, sched.stream_width, False, in_t, res_t, xs, [], {}, drain,
                  _regroup(sched, in_t), files, sched, stage_arith=stage_arith, kind="dense", out_width=wout)


def model_design(hls_model, top: str = "fdht_top", mul_stages: int = MUL_STAGES, whole: bool = True,
                 stage_arith: str = "dsp") -> Design:
    """The RTL design of a converted model: its FDHT-LSTM or HTDense layer
    and, with ``whole``, the layers after it (``head.head_design``: the
    activation, the classifier and the softmax / argmax)."""
    from hls_project.rtl.head import head_design

    nodes = [n for n in hls_model.get_layers() if n.class_name in ("FDHTLSTM", "HTDense")]
    if len(nodes) != 1:
        raise ConfigError(f"RTL: the model needs exactly one FDHT-LSTM or HTDense layer, it has {len(nodes)}")
    d = design(nodes[0], top, mul_stages, stage_arith)
    if whole:
        d.head = head_design(hls_model, nodes[0], d.res_t, d.layer_words_per_clip, d.layer_word, mul_stages)
        if d.head is not None:
            d.files.update(d.head.files)
    return d


# --------------------------------------------------------------------------
# The top
# --------------------------------------------------------------------------


def _stage_sigs(s: StageRTL) -> List[str]:
    L = [f"    wire {s.name}_busy, {s.name}_done, {s.name}_a_re, {s.name}_we;",
         f"    wire [15:0] {s.name}_a_addr, {s.name}_bank, {s.name}_addr;",
         f"    wire [{s.free * s.out_t.w - 1}:0] {s.name}_wdata;"]
    if s.shift_add:  # the stage's products from its shift-add module
        L += [f"    wire [{s.a_lanes * s.a_t.w - 1}:0] {s.name}_sa_a;", f"    wire [15:0] {s.name}_sa_row;",
              f"    wire [{s.products_width - 1}:0] {s.name}_sa_p;",
              f"    {s.shift_add['module']} {s.name}_sa (.clk(clk), .a({s.name}_sa_a), .row({s.name}_sa_row), "
              f".p({s.name}_sa_p));"]
    return L


def _stage_ports(s: StageRTL, start: str, a_data: str, stream: bool) -> Dict[str, str]:
    return {"clk": "clk", "rst": "rst", "start": start, "busy": f"{s.name}_busy", "done": f"{s.name}_done",
            "a_re": f"{s.name}_a_re", "a_addr": f"{s.name}_a_addr", "a_data": a_data,
            "s_valid": "a0_valid" if stream else "1'b0", "s_ready": "a0_ready" if stream else "",
            "s_data": "a0_data" if stream else f"{{{s.a_lanes * s.a_t.w}{{1'b0}}}}",
            "o_we": f"{s.name}_we", "o_bank": f"{s.name}_bank", "o_addr": f"{s.name}_addr",
            "o_data": f"{s.name}_wdata", "sa_a": f"{s.name}_sa_a" if s.shift_add else "",
            "sa_row": f"{s.name}_sa_row" if s.shift_add else "",
            "sa_p": f"{s.name}_sa_p" if s.shift_add else f"{{{s.products_width}{{1'b0}}}}"}


def _recurrence_verilog(d: Design) -> List[str]:
    """The top's recurrence: h-box, the h-chain (one buffer each), z_h, the cell."""
    L: List[str] = []
    c = d.cell
    sw_ = c["SW"]
    L += ["    wire hb_we, chain_start, zh_re;", "    wire [15:0] hb_addr, zh_addr;", f"    wire [{sw_ - 1}:0] hb_data;",
          f"    wire [{sw_ - 1}:0] hbox_rdata;", f"    wire [{4 * c['ZHW'] - 1}:0] zh_rdata;"]
    hs = d.h
    for s in hs:
        L += _stage_sigs(s)
        if s is not hs[-1]:
            L += [f"    wire [{s.free * s.out_t.w - 1}:0] b_{s.name}_rdata;"]
    L += _inst("ht_wbuf", "hbox", {"BANKS": 1, "DEPTH": c["HBOX"], "LANES": 1, "W": sw_, "SLOTS": 1},
               {"clk": "clk", "we": "hb_we", "wslot": "1'b0", "wbank": "16'd0", "waddr": "hb_addr",
                "wdata": "hb_data", "re": f"{hs[0].name}_a_re", "rslot": "1'b0", "raddr": f"{hs[0].name}_a_addr",
                "rdata": "hbox_rdata"})
    for k, s in enumerate(hs):
        start = "chain_start" if k == 0 else f"{hs[k - 1].name}_done"
        a_data = "hbox_rdata" if k == 0 else f"b_{hs[k - 1].name}_rdata"
        L += _inst("ht_stage", s.name, s.params, _stage_ports(s, start, a_data, False))
        if s is hs[-1]:
            L += _inst("ht_wbuf", "zh", {"BANKS": 4, "DEPTH": s.out_depth, "LANES": 1, "W": s.out_t.w, "SLOTS": 1},
                       {"clk": "clk", "we": f"{s.name}_we", "wslot": "1'b0", "wbank": f"{s.name}_bank",
                        "waddr": f"{s.name}_addr", "wdata": f"{s.name}_wdata", "re": "zh_re", "rslot": "1'b0",
                        "raddr": "zh_addr", "rdata": "zh_rdata"})
        else:
            L += _inst("ht_wbuf", f"b_{s.name}", {"BANKS": 1, "DEPTH": s.out_depth, "LANES": s.free,
                                                  "W": s.out_t.w, "SLOTS": 1},
                       {"clk": "clk", "we": f"{s.name}_we", "wslot": "1'b0", "wbank": f"{s.name}_bank",
                        "waddr": f"{s.name}_addr", "wdata": f"{s.name}_wdata", "re": f"{hs[k + 1].name}_a_re",
                        "rslot": "1'b0", "raddr": f"{hs[k + 1].name}_a_addr", "rdata": f"b_{s.name}_rdata"})
    o = "h" if d.head is not None else "m_axis"  # the cell's output: into the head, or the top's
    if d.head is not None:
        L += ["    wire h_tvalid, h_tready, h_tlast;", f"    wire [{d.n_state * d.res_t.w - 1}:0] h_tdata;"]
    L += _inst("fdht_cell", "u_cell", c,
               {"clk": "clk", "rst": "rst", "zx_valid": "zx_valid", "zx_ready": "zx_ready", "zx_data": "zx_data",
                "zh_re": "zh_re", "zh_addr": "zh_addr", "zh_data": "zh_rdata", "hb_we": "hb_we", "hb_addr": "hb_addr",
                "hb_data": "hb_data", "chain_start": "chain_start", "chain_done": f"{hs[-1].name}_done",
                "m_tvalid": f"{o}_tvalid", "m_tready": f"{o}_tready", "m_tdata": f"{o}_tdata",
                "m_tlast": f"{o}_tlast"})
    if d.head is not None:
        from hls_project.rtl.head import head_verilog

        L += head_verilog(d.head, "h")
    return L


def _lstm_drain_verilog(d: Design) -> List[str]:
    """The FDHT-LSTM's drain (``ht_drain_gates``) into the z_x FIFO (2H words)."""
    last = d.x[-1]
    L = ["    wire zx_valid, zx_ready, zx_in_valid;", f"    wire [{4 * d.drain['ZW'] - 1}:0] zx_data, zx_in_data;",
         "    wire [15:0] zx_count;"]
    L += _inst("ht_drain_gates", "drain", d.drain,
               {"clk": "clk", "rst": "rst", "start": f"pp_{last.name}_full", "busy": "drain_busy",
                "done": "drain_done", "z_re": "drain_z_re", "z_addr": "drain_z_addr", "z_data": f"b_{last.name}_rdata",
                "zx_valid": "zx_in_valid", "zx_data": "zx_in_data", "zx_count": "zx_count"})
    L += _inst("ht_fifo", "fifo_zx", {"W": 4 * d.drain["ZW"], "DEPTH": d.drain["FIFO_DEPTH"]},
               {"clk": "clk", "rst": "rst", "in_valid": "zx_in_valid", "in_ready": "", "in_data": "zx_in_data",
                "out_valid": "zx_valid", "out_ready": "zx_ready", "out_data": "zx_data", "count": "zx_count"})
    return L


def _dense_drain_verilog(d: Design) -> List[str]:
    """The HTDense's drain (``ht_drain_dense``) into the layer's output FIFO
    (a word and its TLAST bit), then the head or the top's output."""
    last = d.x[-1]
    ww = d.out_width * d.res_t.w
    o = "y" if d.head is not None else "m_axis"
    L = ["    wire y_in_valid;", f"    wire [{ww}:0] y_in_data, y_word;", "    wire [15:0] y_count;"]
    if d.head is not None:
        L += ["    wire y_tvalid, y_tready;", f"    wire [{ww - 1}:0] y_tdata;"]
    L += _inst("ht_drain_dense", "drain", d.drain,
               {"clk": "clk", "rst": "rst", "start": f"pp_{last.name}_full", "busy": "drain_busy",
                "done": "drain_done", "z_re": "drain_z_re", "z_addr": "drain_z_addr", "z_data": f"b_{last.name}_rdata",
                "y_valid": "y_in_valid", "y_data": "y_in_data", "y_count": "y_count"})
    L += _inst("ht_fifo", "fifo_y", {"W": ww + 1, "DEPTH": d.drain["FIFO_DEPTH"]},
               {"clk": "clk", "rst": "rst", "in_valid": "y_in_valid", "in_ready": "", "in_data": "y_in_data",
                "out_valid": f"{o}_tvalid", "out_ready": f"{o}_tready", "out_data": "y_word", "count": "y_count"})
    L.append(f"    assign {o}_tdata = y_word[{ww - 1}:0];")
    if d.head is None:
        return L + [f"    assign m_axis_tlast = y_word[{ww}];"]
    from hls_project.rtl.head import head_verilog

    return L + head_verilog(d.head, "y")


def top_verilog(d: Design) -> str:
    sw, iw = d.stream_width, d.in_t.w
    H, rw = d.out_values, d.out_t.w
    layer = f"the {'HTDense' if d.kind == 'dense' else 'FDHT-LSTM'} layer {d.node_name}"
    what = (f"the model ({layer}, then {', '.join(o.name for o in d.head.ops)}: {d.head.output})"
            if d.head is not None else layer)
    L: List[str] = [
        f"// {d.top}: {what} as RTL, generated by hls_project/rtl/generate.py",
        "// from the layer's schedule (hls_project/accel); the modules are templates/rtl/*.v.",
        f"// In: AXI4-Stream, {sw} x {d.in_t.cpp()} per beat ({d.in_words_per_clip} beats per clip, TLAST on the last).",
        f"// Out: AXI4-Stream, {H} x {d.out_t.cpp()} per beat ({d.out_words_per_clip} per clip, TLAST on the last).",
        f"module {d.top} (",
        "    input  wire clk,",
        "    input  wire rst,",
        f"    input  wire [{sw * iw - 1}:0] s_axis_tdata,",
        "    input  wire s_axis_tvalid,",
        "    output wire s_axis_tready,",
        "    input  wire s_axis_tlast,",
        f"    output wire [{H * rw - 1}:0] m_axis_tdata,",
        "    output wire m_axis_tvalid,",
        "    input  wire m_axis_tready,",
        "    output wire m_axis_tlast",
        ");",
    ]
    q = d.regroup["Q"]
    L += ["    wire a0_valid, a0_ready, r_valid, r_ready;", f"    wire [{q * iw - 1}:0] a0_data, r_data;",
          "    wire [15:0] a0_count;"]
    L += _inst("ht_regroup", "regroup", d.regroup,
               {"clk": "clk", "rst": "rst", "in_valid": "s_axis_tvalid", "in_ready": "s_axis_tready",
                "in_data": "s_axis_tdata", "out_valid": "r_valid", "out_ready": "r_ready", "out_data": "r_data"})
    L += _inst("ht_fifo", "fifo_a0", {"W": q * iw, "DEPTH": 2},
               {"clk": "clk", "rst": "rst", "in_valid": "r_valid", "in_ready": "r_ready", "in_data": "r_data",
                "out_valid": "a0_valid", "out_ready": "a0_ready", "out_data": "a0_data", "count": "a0_count"})

    # ---- x-chain: stages joined by ping-pong word buffers ----
    xs = d.x
    for k, s in enumerate(xs):
        L += _stage_sigs(s)
        L += [f"    wire pp_{s.name}_free, pp_{s.name}_full, pp_{s.name}_wslot, pp_{s.name}_rslot, "
              f"pp_{s.name}_cdone;",
              f"    wire [{s.out_banks * s.free * s.out_t.w - 1}:0] b_{s.name}_rdata;",
              f"    wire b_{s.name}_re;", f"    wire [15:0] b_{s.name}_raddr;"]
    L += ["    wire drain_busy, drain_done, drain_z_re;", "    wire [15:0] drain_z_addr;"]
    for k, s in enumerate(xs):
        if k == 0:
            start = f"pp_{s.name}_free"
            a_data = f"{{{s.a_lanes * s.a_t.w}{{1'b0}}}}"
        else:
            p = xs[k - 1]
            start = f"pp_{p.name}_full && pp_{s.name}_free"
            a_data = f"b_{p.name}_rdata[{s.a_lanes * s.a_t.w - 1}:0]"
        L += _inst("ht_stage", s.name, s.params, _stage_ports(s, start, a_data, k == 0))
        consumer = f"{xs[k + 1].name}" if k + 1 < len(xs) else "drain"
        L += _inst("ht_pp", f"pp_{s.name}", {},
                   {"clk": "clk", "rst": "rst", "p_done": f"{s.name}_done", "c_done": f"{consumer}_done",
                    "p_free": f"pp_{s.name}_free", "c_full": f"pp_{s.name}_full", "wslot": f"pp_{s.name}_wslot",
                    "rslot": f"pp_{s.name}_rslot"})
        L += [f"    assign b_{s.name}_re = {consumer}_a_re;" if k + 1 < len(xs) else
              f"    assign b_{s.name}_re = drain_z_re;",
              f"    assign b_{s.name}_raddr = {consumer}_a_addr;" if k + 1 < len(xs) else
              f"    assign b_{s.name}_raddr = drain_z_addr;"]
        L += _inst("ht_wbuf", f"b_{s.name}", {"BANKS": s.out_banks, "DEPTH": s.out_depth, "LANES": s.free,
                                              "W": s.out_t.w, "SLOTS": 2},
                   {"clk": "clk", "we": f"{s.name}_we", "wslot": f"pp_{s.name}_wslot", "wbank": f"{s.name}_bank",
                    "waddr": f"{s.name}_addr", "wdata": f"{s.name}_wdata", "re": f"b_{s.name}_re",
                    "rslot": f"pp_{s.name}_rslot", "raddr": f"b_{s.name}_raddr", "rdata": f"b_{s.name}_rdata"})
    L += _dense_drain_verilog(d) if d.kind == "dense" else _lstm_drain_verilog(d) + _recurrence_verilog(d)
    L.append("endmodule")
    return "\n".join(L) + "\n"


def ooc_verilog(d: Design) -> str:
    """``<top>_ooc``: the top behind serial I/O (a shift register loads the
    input word, the output word is XOR-reduced into one registered bit), so
    that a place and route on a real package can time the core whose AXI
    words are wider than the package has pins. Used only for ECP5 Fmax."""
    ib, ob = d.stream_width * d.in_t.w, d.out_values * d.out_t.w
    return f"""// {d.top}_ooc: {d.top} with serial I/O for place and route (Fmax); not for use
module {d.top}_ooc (
    input  wire clk,
    input  wire rst,
    input  wire din,
    input  wire s_valid,
    input  wire s_last,
    output wire s_ready,
    input  wire m_ready,
    output reg  dout,
    output wire m_valid,
    output wire m_last
);
    reg [{ib - 1}:0] sh;
    wire [{ob - 1}:0] md;
    always @(posedge clk) begin
        sh <= {{sh[{max(ib - 2, 0)}:0], din}};
        dout <= ^md;
    end
    {d.top} core (.clk(clk), .rst(rst), .s_axis_tdata(sh), .s_axis_tvalid(s_valid), .s_axis_tready(s_ready),
        .s_axis_tlast(s_last), .m_axis_tdata(md), .m_axis_tvalid(m_valid), .m_axis_tready(m_ready),
        .m_axis_tlast(m_last));
endmodule
"""


def write(d: Design, rtl_dir: str) -> List[str]:
    """Write the design into ``rtl_dir``: the modules, the top, the hex files.
    Returns the Verilog sources (top last)."""
    os.makedirs(rtl_dir, exist_ok=True)
    srcs = []
    for m in d.modules():
        shutil.copyfile(os.path.join(TEMPLATES, m), os.path.join(rtl_dir, m))
        srcs.append(m)
    for name, text in d.files.items():
        with open(os.path.join(rtl_dir, name), "w") as f:
            f.write(text)
    for s in d.x + d.h:
        if s.shift_add:
            with open(os.path.join(rtl_dir, f"{s.shift_add['module']}.v"), "w") as f:
                f.write(s.shift_add["text"])
            srcs.append(f"{s.shift_add['module']}.v")
    with open(os.path.join(rtl_dir, f"{d.top}.v"), "w") as f:
        f.write(top_verilog(d))
    srcs.append(f"{d.top}.v")
    with open(os.path.join(rtl_dir, f"{d.top}_ooc.v"), "w") as f:
        f.write(ooc_verilog(d))
    return srcs
