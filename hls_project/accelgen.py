"""C++ of the streaming HT accelerator (templates/nnet_ht_stream.h) from a
``schedule.Schedule``: one config struct per layer holding its sizes, types,
constant tables and processes (static functions), in hls4ml's idiom
(``static const`` members, labelled loops, pragmas from the schedule).

Pure Python: the loop structure comes from ``keras_model.ht`` (chains over
boxes), lanes and partition factors from ``schedule``, types and table
values from the caller (``extension`` derives them, ``precision`` bounds
them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from keras_model import ht

from .schedule import Schedule, Stage


@dataclass
class ChainTypes:
    """C++ types of one chain: per stage its accumulator and output type;
    the last stage's output is z (x-chain: before the bias)."""

    accum: List[str]
    out: List[str]


def _carray(values: Sequence[float]) -> str:
    out = []
    for k, v in enumerate(values):
        out.append(repr(float(v)))
    lines = []
    for k in range(0, len(out), 12):
        lines.append("        " + ", ".join(out[k:k + 12]))
    return ",\n".join(lines)


def _uarray(values: Sequence[int]) -> str:
    return ", ".join(str(int(v)) for v in values)


def _lane_tables(st: Stage):
    """Per (free lane f, sum lane s): offsets into A, B; per f: into out (and
    the stream stage's accumulators)."""
    free = [lv for lv in st.levels if not lv.summed]
    summed = [lv for lv in st.levels if lv.summed]

    def offsets(levels, attr):
        offs = [0]
        for lv in levels:
            offs = [o + j * getattr(lv, attr) for o in offs for j in range(lv.lanes)]
        return offs

    fa, fb, fo = offsets(free, "a"), offsets(free, "b"), offsets(free, "out")
    sa, sb = offsets(summed, "a"), offsets(summed, "b")
    a = [x + y for x in fa for y in sa]
    b = [x + y for x in fb for y in sb]
    bf = [lv for lv in free if lv.a == 0]
    acc = offsets(bf, "out") if st.kind == "stream" else list(range(st.free_lanes))
    return a, b, fo, acc


def _acc_strides(st: Stage) -> Dict[int, int]:
    """Stream stage: accumulator stride of each B-free level (C order over them)."""
    bf = [i for i, lv in enumerate(st.levels) if not lv.summed and lv.a == 0]
    strides, acc = {}, 1
    for i in reversed(bf):
        strides[i] = acc
        acc *= st.levels[i].size
    return strides


def stage_function(st: Stage, prefix: str, a_t: str, b_t: str, accum_t: str, out_t: str,
                   table: np.ndarray, n_in: int = 0, stream_width: int = 1, out_size: Optional[int] = None) -> str:
    """``static void {name}(in, out)`` of one stage, with its constant table."""
    cs = st.cs
    a_off, b_off, o_off, acc_off = _lane_tables(st)
    FL, SL = st.free_lanes, st.sum_lanes
    name = st.name
    pfx = f"{prefix}.{name}"
    lines = []
    if st.kind == "stream":
        lines.append("    template <class word_T>")
        lines.append(f"    static void {name}(hls::stream<word_T> &x, {out_t} out[{out_size or cs.out_size}]) {{")
    else:
        lines.append(f"    static void {name}(const {a_t} a[{cs.a_size}], {out_t} out[{out_size or cs.out_size}]) {{")
    lines.append("        #pragma HLS INLINE off")
    lines.append(f"        // {cs.out} = sum {cs.a} * {cs.b}: {cs.macs} MACs per frame, {st.lanes} lanes "
                 f"({FL} parallel sums x {SL} terms each), {st.trips} iterations")
    # one constant per partitioned array: the pragma and the bank probe read the same value
    lines.append(f"        static const unsigned a_banks = {st.a_banks}, b_banks = {st.b_banks}, "
                 f"out_banks = {st.out_banks}, acc_banks = {st.acc_banks};")
    lines.append(f"        static const {b_t} tab[{cs.b_size}] = {{\n{_carray(table)}}};")
    lines.append("        #pragma HLS ARRAY_PARTITION variable=tab cyclic factor=b_banks")
    if st.kind != "stream":
        lines.append("        #pragma HLS ARRAY_PARTITION variable=a cyclic factor=a_banks")
    lines.append("        #pragma HLS ARRAY_PARTITION variable=out cyclic factor=out_banks")
    lines.append(f"        static const unsigned a_lane[{FL * SL}] = {{{_uarray(a_off)}}};")
    lines.append(f"        static const unsigned b_lane[{FL * SL}] = {{{_uarray(b_off)}}};")
    lines.append(f"        static const unsigned o_lane[{FL}] = {{{_uarray(o_off)}}};")
    if st.kind == "stream":
        n_acc = int(math.prod(lv.size for lv in st.levels if not lv.summed and lv.a == 0))
        lines.append(f"        static const unsigned c_lane[{FL}] = {{{_uarray(acc_off)}}};")
        lines.append(f"        {accum_t} acc[{n_acc}];")
        lines.append("        #pragma HLS ARRAY_PARTITION variable=acc cyclic factor=acc_banks")
        lines.append(f"        HT_BANK_PROBE(probe_acc, \"{pfx}.acc\", acc_banks);")
        lines.append("        word_T w;")
    else:
        lines.append(f"        {accum_t} acc[{FL}];")
        lines.append("        #pragma HLS ARRAY_PARTITION variable=acc complete")
        lines.append(f"        HT_BANK_PROBE(probe_a, \"{pfx}.a\", a_banks);")
    lines.append(f"        HT_BANK_PROBE(probe_b, \"{pfx}.tab\", b_banks);")
    lines.append(f"        HT_BANK_PROBE(probe_o, \"{pfx}.out\", out_banks);")
    # loop nest
    acc_strides = _acc_strides(st) if st.kind == "stream" else {}
    indent = "        "
    for i, lv in enumerate(st.levels):
        lines.append(f"{indent}L{i}:")
        lines.append(f"{indent}for (unsigned i{i} = 0; i{i} < {lv.trips}; i{i}++) {{")
        indent += "    "
    lines.append(f"{indent}#pragma HLS PIPELINE II=1")
    lines.append(f"{indent}HT_TRIP(\"{pfx}\");")

    def addr(attr, base=0, levels=None):
        terms = [str(base)] if base else []
        for i, lv in enumerate(st.levels):
            stride = getattr(lv, attr) * lv.lanes
            if stride and (levels is None or i in levels):
                terms.append(f"i{i} * {stride}")
        return " + ".join(terms) or "0"

    summed_idx = [i for i, lv in enumerate(st.levels) if lv.summed]
    first = " && ".join(f"i{i} == 0" for i in summed_idx) or "true"
    last = " && ".join(f"i{i} == {st.levels[i].trips - 1}" for i in summed_idx) or "true"
    lines.append(f"{indent}const unsigned pa = {addr('a')};")
    lines.append(f"{indent}const unsigned pb = {addr('b', cs.b_base)};")
    lines.append(f"{indent}const unsigned po = {addr('out')};")
    lines.append(f"{indent}const bool first = {first}, last = {last};")
    if st.kind == "stream":
        terms = [f"i{i} * {acc_strides[i] * st.levels[i].lanes}" for i in acc_strides]
        lines.append(f"{indent}const unsigned pc = {' + '.join(terms) or '0'};")
        bf0 = " && ".join(f"i{i} == 0" for i in acc_strides) or "true"
        lines.append(f"{indent}// a new word starts every {stream_width} positions; positions from {n_in} on are zero")
        lines.append(f"{indent}if ({bf0} && pa % {stream_width} == 0 && pa < {n_in}) w = x.read();")
    if st.kind == "stream":
        # the summed lanes' pixels of this iteration (the same for every free lane)
        lines.append(f"{indent}{a_t} v[{SL}];")
        lines.append(f"{indent}#pragma HLS ARRAY_PARTITION variable=v complete")
        lines.append(f"{indent}for (unsigned s = 0; s < {SL}; s++) {{")
        lines.append(f"{indent}    #pragma HLS UNROLL")
        lines.append(f"{indent}    const unsigned ia = pa + a_lane[s];")
        lines.append(f"{indent}    v[s] = ia < {n_in} ? {a_t}(w[ia % {stream_width}]) : {a_t}(0);")
        lines.append(f"{indent}}}")
    lines.append(f"{indent}for (unsigned f = 0; f < {FL}; f++) {{")
    lines.append(f"{indent}    #pragma HLS UNROLL")
    if st.kind == "stream":
        lines.append(f"{indent}    const unsigned ic = pc + c_lane[f];")
        lines.append(f"{indent}    HT_BANK_READ(probe_acc, ic);")
        lines.append(f"{indent}    {accum_t} sum = first ? {accum_t}(0) : acc[ic];")
    else:
        lines.append(f"{indent}    {accum_t} sum = first ? {accum_t}(0) : acc[f];")
    lines.append(f"{indent}    for (unsigned s = 0; s < {SL}; s++) {{")
    lines.append(f"{indent}        #pragma HLS UNROLL")
    lines.append(f"{indent}        const unsigned ib = pb + b_lane[f * {SL} + s];")
    lines.append(f"{indent}        HT_BANK_READ(probe_b, ib);")
    if st.kind == "stream":
        lines.append(f"{indent}        sum += ({accum_t})(v[s] * tab[ib]);")
    else:
        lines.append(f"{indent}        const unsigned ia = pa + a_lane[f * {SL} + s];")
        lines.append(f"{indent}        HT_BANK_READ(probe_a, ia);")
        lines.append(f"{indent}        sum += ({accum_t})(a[ia] * tab[ib]);")
    lines.append(f"{indent}    }}")
    if st.kind == "stream":
        lines.append(f"{indent}    acc[ic] = sum;")
        lines.append(f"{indent}    HT_BANK_WRITE(probe_acc, ic);")
    else:
        lines.append(f"{indent}    acc[f] = sum;")
    lines.append(f"{indent}    if (last) {{")
    lines.append(f"{indent}        out[po + o_lane[f]] = ({out_t})sum;")
    lines.append(f"{indent}        HT_BANK_WRITE(probe_o, po + o_lane[f]);")
    lines.append(f"{indent}    }}")
    lines.append(f"{indent}}}")
    if st.kind == "stream":
        lines.append(f"{indent}HT_BANK_END(probe_acc);")
    else:
        lines.append(f"{indent}HT_BANK_END(probe_a);")
    lines.append(f"{indent}HT_BANK_END(probe_b);")
    lines.append(f"{indent}HT_BANK_END(probe_o);")
    for i in range(len(st.levels)):
        indent = indent[:-4]
        lines.append(f"{indent}}}")
    lines.append("    }")
    return "\n".join(lines) + "\n"


def drain_function(sched: Schedule, prefix: str, z_t: str, bias_t: str, bias: np.ndarray, zsum_t: str) -> str:
    """Adds the bias to z_x and writes it as words: for an LSTM, word jj holds
    gate g's hidden units jj*G .. jj*G+G-1 at [g*G + l]; for an HTDense,
    consecutive outputs."""
    m = sched.shape.out_features
    w = sched.zx_width
    banks = sched.x_stages[-1].out_banks
    lines = [
        "    template <class zword_T>",
        f"    static void drain(const {z_t} z[{m}], hls::stream<zword_T> &zs) {{",
        "        #pragma HLS INLINE off",
        f"        #pragma HLS ARRAY_PARTITION variable=z cyclic factor={banks}",
        f"        static const {bias_t} bias[{m}] = {{\n{_carray(bias)}}};",
        f"        #pragma HLS ARRAY_PARTITION variable=bias cyclic factor={banks}",
        f"        HT_BANK_PROBE(probe_z, \"{prefix}.drain\", {banks});",
        "    Drain:",
        f"        for (unsigned jj = 0; jj < {m // w}; jj++) {{",
        "            #pragma HLS PIPELINE II=1",
        f"            HT_TRIP(\"{prefix}.drain\");",
        "            zword_T word;",
        f"            for (unsigned k = 0; k < {w}; k++) {{",
        "                #pragma HLS UNROLL",
    ]
    if sched.kind == "lstm":
        g, h = sched.gate_lanes, sched.n_state
        lines.append(f"                const unsigned i = (k / {g}) * {h} + jj * {g} + k % {g};")
    else:
        lines.append(f"                const unsigned i = jj * {w} + k;")
    lines += [
        "                HT_BANK_READ(probe_z, i);",
        f"                word[k] = nnet::ht_cast<{zsum_t}>(z[i]) + ({zsum_t})bias[i];",
        "            }",
        "            HT_BANK_END(probe_z);",
        "            zs.write(word);",
        "        }",
        "    }",
    ]
    return "\n".join(lines) + "\n"


def _frame_processes(sched: Schedule, x_types: ChainTypes) -> str:
    """The frame-channel form of the x-chain: per stage a process looping
    over the frames of a call, handing each frame's tensor on through a
    stream of blocks; ``x_chain`` places them in the caller's DATAFLOW region
    (or, with HT_FRAME_PIPO, loops ``x_frame``)."""
    xs = sched.x_stages
    t = sched.n_timesteps
    L: List[str] = []
    for k, st in enumerate(xs):
        L.append(f"    typedef {st.name}_out_t blk_{st.name}_t[{st.cs.out_size}];")
    L.append("#if !HT_FRAME_PIPO")
    for k, st in enumerate(xs):
        out = f"nnet::ht_write_lock<blk_{st.name}_t> o(out);"
        if k == 0:
            L.append("    template <class word_T>")
            L.append(f"    static void {st.name}_frames(hls::stream<word_T> &x, nnet::ht_blocks<blk_{st.name}_t> &out) {{")
            body = f"{out} {st.name}<word_T>(x, o);"
        else:
            prev = xs[k - 1].name
            L.append(f"    static void {st.name}_frames(nnet::ht_blocks<blk_{prev}_t> &in, "
                     f"nnet::ht_blocks<blk_{st.name}_t> &out) {{")
            body = f"nnet::ht_read_lock<blk_{prev}_t> a(in); {out} {st.name}(a, o);"
        L += ["        #pragma HLS INLINE off", f"    {st.name.upper()}Frames:",
              f"        for (unsigned t = 0; t < {t}; t++) {{", f"            {body}", "        }", "    }"]
    last = xs[-1].name
    L += ["    template <class zword_T>",
          f"    static void drain_frames(nnet::ht_blocks<blk_{last}_t> &in, hls::stream<zword_T> &zs) {{",
          "        #pragma HLS INLINE off", "    DrainFrames:",
          f"        for (unsigned t = 0; t < {t}; t++) {{",
          f"            nnet::ht_read_lock<blk_{last}_t> z(in); drain(z, zs);", "        }", "    }", "#endif"]
    L += ["    // all frames of one call through the x-chain (see nnet_ht_stream.h)",
          "    template <class word_T, class zword_T>",
          "    static void x_chain(hls::stream<word_T> &x, hls::stream<zword_T> &zs) {",
          "#if HT_FRAME_PIPO", "    XFrames:", f"        for (unsigned t = 0; t < {t}; t++) {{",
          "            x_frame<word_T, zword_T>(x, zs);", "        }", "#else",
          "        #pragma HLS INLINE"]
    for k, st in enumerate(xs):
        L.append(f"        nnet::ht_blocks<blk_{st.name}_t> c_{st.name};")
        if st.out_banks > 1:
            L.append(f"        #pragma HLS ARRAY_PARTITION variable=c_{st.name} cyclic factor={st.out_banks}")
    for k, st in enumerate(xs):
        src = "x" if k == 0 else f"c_{xs[k - 1].name}"
        tmpl = "<word_T>" if k == 0 else ""
        L.append(f"        {st.name}_frames{tmpl}({src}, c_{st.name});")
    L += [f"        drain_frames<zword_T>(c_{last}, zs);", "#endif", "    }"]
    return "\n".join(L)


def _stage_types(stages: Sequence[Stage], types: ChainTypes, table_types: Dict[str, str]):
    """(typedef name, type) per stage: its accumulator, output and table type."""
    return [(f"{st.name}_{what}_t", t) for k, st in enumerate(stages)
            for what, t in (("acc", types.accum[k]), ("out", types.out[k]), ("tab", table_types[st.cs.b]))]


def _fast_typedefs(named) -> List[str]:
    """The layer's stage types through ``nnet::ht_fast_if<fast_csim, T>``:
    the fast csim emulation only when every one of them has one."""
    ok = " &&\n        ".join(f"nnet::ht_fast_ok<{t} >::value" for _, t in named)
    L = ["    // stage types: T itself, except in a C simulation built with -DHT_FAST_CSIM, where",
         "    // they are T's exact integer emulation (nnet_ht_fast.h) if all of them have one",
         f"    static const bool fast_csim =\n        {ok};"]
    L += [f"    typedef nnet::ht_fast_if<fast_csim, {t} >::type {name};" for name, t in named]
    return L


def layer_struct(sched: Schedule, prefix: str, base: str, tables: Dict[str, np.ndarray], table_types: Dict[str, str],
                 x_types: ChainTypes, h_types: Optional[ChainTypes], in_t: str, bias: np.ndarray, bias_t: str,
                 zsum_t: str, extra: str = "") -> str:
    """The layer's config struct ``{prefix} : nnet::{base}``: sizes, types,
    stages x0.., drain, x_frame; for an LSTM also h0.., h_reset, h_scatter,
    h_chain. ``extra``: more member lines (types, activation configs)."""
    shape = sched.shape
    m = shape.out_features
    L: List[str] = [f"struct {prefix} : nnet::{base} {{"]
    L.append(f"    // MODEL schedule: {sched.mac_lanes} multiply-add lanes, stream words of {sched.stream_width} values")
    L.append(f"    static const unsigned n_in = {sched.n_in};")
    L.append(f"    static const unsigned n_out = {m if sched.kind != 'lstm' else sched.n_state};")
    L.append(f"    static const unsigned stream_width = {sched.stream_width};")
    L.append(f"    static const unsigned zx_width = {sched.zx_width};")
    L.append(f"    typedef nnet::array<{in_t}, {sched.stream_width}> word_t;")
    L.append(f"    typedef {zsum_t} z_t;")
    L.append(f"    typedef nnet::array<z_t, {sched.zx_width}> zword_t;")
    L.append(extra)
    # x stages
    xs = sched.x_stages
    named = [("in_fast_t", in_t)] + _stage_types(xs, x_types, table_types)
    if sched.kind == "lstm":
        named += [("hbox_t", "h_t")] + _stage_types(sched.h_stages, h_types, table_types)
    L += _fast_typedefs(named)
    for k, st in enumerate(xs):
        a_t = "in_fast_t" if k == 0 else f"{xs[k - 1].name}_out_t"
        L.append(stage_function(st, prefix, a_t, f"{st.name}_tab_t", f"{st.name}_acc_t", f"{st.name}_out_t",
                                tables[st.cs.b], sched.n_in, sched.stream_width))
    L.append(drain_function(sched, prefix, f"{xs[-1].name}_out_t", bias_t, bias, zsum_t))
    L.append("    template <class word_T, class zword_T>")
    L.append("    static void x_frame(hls::stream<word_T> &x, hls::stream<zword_T> &zs) {")
    L.append("        #pragma HLS DATAFLOW")
    for k, st in enumerate(xs):
        L.append(f"        {st.name}_out_t t_{st.name}[{st.cs.out_size}];")
    for k, st in enumerate(xs):
        src = "x" if k == 0 else f"t_{xs[k - 1].name}"
        L.append(f"        {st.name}({src}, t_{st.name});")
    L.append(f"        drain(t_{xs[-1].name}, zs);")
    L.append("    }")
    L.append(_frame_processes(sched, x_types))
    if sched.kind == "lstm":
        hs = sched.h_stages
        box = sched.h_box
        pos = box.flat_positions(shape.input_modes)
        local = {int(p): i for i, p in enumerate(pos)}
        hpos = [local[sched.n_in + j] for j in range(sched.n_state)]
        hbox_t = "hbox_t"
        L.append(f"    static const unsigned hbox_size = {box.entries};")
        L.append(f"    typedef {hs[-1].name}_out_t zh_t;")
        L.append(f"    static const unsigned zh_banks = {sched.zh_banks};")
        L.append(f"    static const unsigned state_banks = {sched.state_banks};")
        L.append(f"    static const unsigned gate_lanes = {sched.gate_lanes};")
        L.append(f"    static const unsigned zx_depth = {2 * m // sched.zx_width};")
        L.append(f"    static const char *probe_zh() {{ return \"{prefix}.zh\"; }}")
        L.append(f"    static const char *probe_state() {{ return \"{prefix}.state\"; }}")
        L.append(f"    static const char *trip_gates() {{ return \"{prefix}.gates\"; }}")
        L.append(f"    static const char *trip_reset() {{ return \"{prefix}.reset\"; }}")
        L.append(f"    static const char *trip_last() {{ return \"{prefix}.last\"; }}")
        for k, st in enumerate(hs):
            a_t = hbox_t if k == 0 else f"{hs[k - 1].name}_out_t"
            L.append(stage_function(st, prefix, a_t, f"{st.name}_tab_t", f"{st.name}_acc_t", f"{st.name}_out_t",
                                    tables[st.cs.b]))
        L.append(f"    static void h_reset({hbox_t} hbox[{box.entries}]) {{")
        L.append("    HBoxReset:")
        L.append(f"        for (unsigned i = 0; i < {box.entries}; i++) {{")
        L.append("            #pragma HLS PIPELINE II=1")
        L.append(f"            HT_TRIP(\"{prefix}.hbox_reset\");")
        L.append("            hbox[i] = 0;")
        L.append("        }")
        L.append("    }")
        L.append(f"    static void h_scatter(const h_t h[{sched.n_state}], {hbox_t} hbox[{box.entries}]) {{")
        L.append("        // h_{t-1} into its place in the h-box (the rest of the box stays 0)")
        L.append(f"        static const unsigned pos[{sched.n_state}] = {{{_uarray(hpos)}}};")
        L.append("    Scatter:")
        L.append(f"        for (unsigned j = 0; j < {sched.n_state}; j++) {{")
        L.append("            #pragma HLS PIPELINE II=1")
        L.append(f"            HT_TRIP(\"{prefix}.scatter\");")
        L.append("            hbox[pos[j]] = h[j];")
        L.append("        }")
        L.append("    }")
        L.append(f"    static void h_chain(const {hbox_t} hbox[{box.entries}], zh_t zh[{m}]) {{")
        for k, st in enumerate(hs[:-1]):
            L.append(f"        {st.name}_out_t t_{st.name}[{st.cs.out_size}];")
        for k, st in enumerate(hs):
            src = "hbox" if k == 0 else f"t_{hs[k - 1].name}"
            dst = "zh" if k == len(hs) - 1 else f"t_{st.name}"
            L.append(f"        {st.name}({src}, {dst});")
        L.append("    }")
    L.append("};")
    return "\n".join(L) + "\n"


def quantize(values: np.ndarray, type_str: str) -> np.ndarray:
    """Round to nearest on an ``ap_fixed<W, I>`` grid, saturating."""
    from .precision import parse_fixed

    w, i, signed = parse_fixed(type_str)
    f = w - i
    q = np.round(np.asarray(values, dtype=np.float64) * 2.0 ** f)
    lo = -(2 ** (w - 1)) if signed else 0
    hi = 2 ** (w - 1) - 1 if signed else 2 ** w - 1
    return np.clip(q, lo, hi) / 2.0 ** f


def table_type(values: np.ndarray, width: int) -> str:
    """``ap_fixed<width, I>`` with just enough integer bits (I may be < 1 for
    small tables: more fraction bits)."""
    bound = float(np.max(np.abs(values))) if np.size(values) else 0.0
    if bound <= 0:
        return f"ap_fixed<{width},1>"
    i = int(math.floor(math.log2(bound * (1 + 1e-9)))) + 2
    return f"ap_fixed<{width},{i}>"
