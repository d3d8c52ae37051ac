"""The layer's C++ config: per-stage ``CONFIG_T`` structs, constant tables
(stage ROMs, bias, gate tables, unit order) and the calls that connect the
processes of ``templates/nnet_ht_stream.h``. No loop nests are written here:
the loops are the templates'.

Every table is laid out by numpy so that a stage iteration reads one ROM word
(``rom[row][lane]``); the values are the caller's (already on their types'
grids), so they are written exactly (``repr`` of a double).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from hls_project.accel.stages import Schedule, Stage, _c_strides, b_lane_digits, is_gate
from hls_project.accel import tables as gate_tables
@dataclass
class ChainTypes:
    """C++ types of one chain: per stage its accumulator and output type."""

    accum: List[str]
    out: List[str]


@dataclass
class GateTables:
    """The gate tables' parameters (hls4ml's layout; bits > 0: QKeras grid)."""

    size: int
    table_t: str
    act_bits: int = 0
    act_symmetric: bool = False
    recr_bits: int = 0
    recr_symmetric: bool = False


def carray(values: Sequence[float], per_line: int = 12, indent: str = "        ") -> str:
    vals = [repr(float(v)) for v in np.ravel(values)]
    return ",\n".join(indent + ", ".join(vals[k:k + per_line]) for k in range(0, len(vals), per_line))


def _c2d(arr: np.ndarray) -> str:
    rows = [("{" + ", ".join(repr(float(v)) for v in row) + "}") for row in np.asarray(arr)]
    return ",\n".join("        " + r for r in rows)


def _i2d(arr: np.ndarray) -> str:
    return ",\n".join("        {" + ", ".join(str(int(v)) for v in row) + "}" for row in np.asarray(arr))


def _bits(values: np.ndarray, type_str: str) -> np.ndarray:
    """The ap_fixed bit patterns of values on the type's grid (as signed ints)."""
    from keras_model.common.fixedtype import parse_fixed

    w, i, _ = parse_fixed(type_str)
    raw = np.round(np.asarray(values, dtype=np.float64) * 2.0 ** (w - i)).astype(np.int64)
    return raw


def _uarr(values: Sequence[int]) -> str:
    return ", ".join(str(int(v)) for v in values)


# --------------------------------------------------------------------------
# ROM layout
# --------------------------------------------------------------------------


def b_lane_map(st: Stage) -> List[int]:
    """Each product's lane in the ROM word (B does not depend on the A-only lanes)."""
    return st.lane_map(b_lane_digits(st))


def rom(st: Stage, table: np.ndarray, full: Dict[str, int], lo: Dict[str, int]) -> np.ndarray:
    """``rom[row][lane]``: row = the B levels' counters (loop order), lane =
    the B lanes. ``full``: stored sizes of B's indices; ``lo``: box offsets."""
    b = np.asarray(table, dtype=np.float64).reshape([full[i] for i in st.b_idx])
    rows = [i for i in st.order if i in st.b_idx]
    lanes = b_lane_digits(st)
    grids = np.meshgrid(*[np.arange(st.trips_of(i)) for i in rows], *[np.arange(st.q[i]) for i in lanes],
                        indexing="ij")
    c = dict(zip(rows, grids[:len(rows)]))
    j = dict(zip(lanes, grids[len(rows):]))
    shape_ = [int(math.prod(st.trips_of(i) for i in rows)), int(math.prod(st.q[i] for i in lanes))]
    idx = []
    for i in st.b_idx:
        v = lo.get(i, 0) + c.get(i, 0) * st.q[i] + j.get(i, 0)
        idx.append(np.broadcast_to(v, grids[0].shape) if grids else np.asarray(v))
    vals = b[tuple(idx)] if idx else b
    return np.asarray(vals).reshape(shape_)


def unit_order(sched: Schedule) -> np.ndarray:
    """Hidden unit j of the k-th word the drain writes (word order, then lanes)."""
    st = sched.x_stages[-1]
    rest = [i for i in st.out_idx if not is_gate(i)]
    n_str = dict(zip(rest, _c_strides([st.sizes[i] for i in rest])))
    lanes = [i for i in rest if st.q[i] > 1]
    grids = np.meshgrid(*[np.arange(st.trips_of(i)) for i in rest], *[np.arange(st.q[i]) for i in lanes],
                        indexing="ij")
    c = dict(zip(rest, grids[:len(rest)]))
    j = dict(zip(lanes, grids[len(rest):]))
    n = sum((c[i] * st.q[i] + j.get(i, 0)) * n_str[i] for i in rest)
    return np.ravel(n).astype(int)


# --------------------------------------------------------------------------
# Structs
# --------------------------------------------------------------------------


def _arr(name: str, values: Sequence[int]) -> str:
    return f"        static constexpr unsigned {name}[{max(len(values), 1)}] = {{{_uarr(values) or '0'}}};"


def stage_config(st: Stage, prefix: str) -> List[str]:
    """The stage's ``CONFIG_T``: sizes, lanes, loop levels and lane maps."""
    s = st.strides()
    n = len(st.order)
    L = [f"    struct {st.name}_cfg {{",
         f"        // {st.cs.out} = sum {st.cs.a} x {st.cs.b}: {st.macs} MACs per frame, "
         f"{st.free_lanes} x {st.sum_lanes} lanes, {st.trips} iterations",
         f"        // loop levels (outermost first): {', '.join(st.order)}",
         f"        typedef {st.name}_acc_t accum_t;",
         f"        static const unsigned n_levels = {n}, trips = {st.trips};",
         f"        static const unsigned free_lanes = {st.free_lanes}, sum_lanes = {st.sum_lanes}, "
         f"rom_lanes = {max(1, int(math.prod(st.q[i] for i in b_lane_digits(st))))};",
         f"        static const unsigned a_lanes = {st.word_lanes(st.a_idx)}, a_words = {st.words(st.a_idx)};",
         f"        static const unsigned rom_rows = {int(math.prod(st.trips_of(i) for i in st.order if i in st.b_idx))};",
         f"        static const unsigned out_banks = {st.out_banks}, out_depth = {st.out_depth}, "
         f"acc_rows = {st.acc_rows};",
         _arr("lv_trips", s["trips"]), _arr("lv_a", s["a"]), _arr("lv_b", s["b"]), _arr("lv_o", s["o"]),
         _arr("lv_g", s["bank"]), _arr("lv_sum", s["summed"]), _arr("lv_bonly", s["b_only"]),
         _arr("a_lane", st.a_lane_map()), _arr("b_lane", b_lane_map(st)),
         f"        static const char *trip_name() {{ return \"{prefix}.{st.name}\"; }}",
         "    };"]
    return L


CFG_ARRAYS = ("lv_trips", "lv_a", "lv_b", "lv_o", "lv_g", "lv_sum", "lv_bonly", "a_lane", "b_lane")


def odr_definitions(prefix: str, stages: Sequence[Stage]) -> str:
    """C++11/14 need a namespace-scope definition of an odr-used constexpr member."""
    lines = ["#if __cplusplus < 201703L"]
    lines += [f"constexpr unsigned {prefix}::{st.name}_cfg::{a}[];" for st in stages for a in CFG_ARRAYS]
    lines.append("#endif")
    return "\n".join(lines) + "\n"


def _buffer_decl(t: str, name: str, banks: int, depth: int, lanes: int, indent: str) -> List[str]:
    return [f"{indent}{t} {name}[{banks}][{depth}][{lanes}];",
            f"{indent}#pragma HLS ARRAY_PARTITION variable={name} complete dim=1",
            f"{indent}#pragma HLS ARRAY_PARTITION variable={name} complete dim=3"]


def stage_wrapper(st: Stage, a_decl: str, values: np.ndarray) -> List[str]:
    out_decl = f"{st.name}_out_t out[{st.out_banks}][{st.out_depth}][{st.free_lanes}]"
    kernel = "ht_stage_stream" if st.kind == "stream" else "ht_stage"
    a_t = "aword_t" if st.kind == "stream" else a_decl.split()[1]
    rows, lanes = values.shape
    return [f"    static void {st.name}({a_decl}, {out_decl}) {{",
            "        #pragma HLS INLINE off",
            f"        static const {st.name}_tab_t rom[{rows}][{lanes}] = {{\n{_c2d(values)}}};",
            "        #pragma HLS ARRAY_PARTITION variable=rom complete dim=2",
            f"        nnet::{kernel}<{a_t}, {st.name}_out_t, {st.name}_tab_t, {st.name}_cfg>(a, out, rom);",
            "    }"]


def _chain_stages(stages: List[Stage], prefix: str, tables, full_sizes, lo, first_a_t: str = "",
                  first_words: int = 0) -> List[str]:
    """Per stage its config struct and its process (ROM + kernel call); an
    h-chain's first stage reads the h-box (``first_a_t``, ``first_words``)."""
    L: List[str] = []
    for k, st in enumerate(stages):
        L += stage_config(st, prefix)
        if st.kind == "stream":
            a_decl = "hls::stream<aword_t> &a"
        elif k == 0:
            a_decl = f"const {first_a_t} a[1][{first_words}][1]"
        else:
            p = stages[k - 1]
            a_decl = f"const {p.name}_out_t a[1][{p.out_depth}][{p.free_lanes}]"
        L += stage_wrapper(st, a_decl, rom(st, tables[st.cs.b], full_sizes[st.chain], lo[st.chain]))
    return L


def _fast_typedefs(named) -> List[str]:
    ok = " &&\n        ".join(f"nnet::ht_fast_ok<{t} >::value" for _, t in named)
    L = ["    // stage types: T itself, except in a C simulation built with -DHT_FAST_CSIM, where",
         "    // they are T's exact integer emulation (nnet_ht_fast.h) if all of them have one",
         f"    static const bool fast_csim =\n        {ok};"]
    return L + [f"    typedef nnet::ht_fast_if<fast_csim, {t} >::type {name};" for name, t in named]


def _stage_types(stages, types: ChainTypes, table_types):
    return [(f"{st.name}_{what}_t", t) for k, st in enumerate(stages)
            for what, t in (("acc", types.accum[k]), ("out", types.out[k]), ("tab", table_types[st.cs.b]))]


def _x_chain(sched: Schedule, prefix: str, zword: str) -> List[str]:
    xs = sched.x_stages
    L = [f"    template <class data_T, class {zword}>",
         f"    static void x_chain(hls::stream<data_T> &x, hls::stream<{zword}> &zs) {{",
         "        #pragma HLS INLINE off",
         "    Frames:",
         f"        for (unsigned t = 0; t < {sched.n_timesteps}; t++) {{",
         "            #pragma HLS DATAFLOW",
         "            hls::stream<aword_t> a0(\"ht_a0\");"]
    for st in xs:
        L += _buffer_decl(f"{st.name}_out_t", f"b_{st.name}", st.out_banks, st.out_depth, st.free_lanes,
                          "            ")
    L.append("            regroup<data_T>(x, a0);")
    for k, st in enumerate(xs):
        src = "a0" if k == 0 else f"b_{xs[k - 1].name}"
        L.append(f"            {st.name}({src}, b_{st.name});")
    L.append(f"            drain<{zword}>(b_{xs[-1].name}, zs);")
    L += ["        }", "    }"]
    return L


def _drain(sched: Schedule, prefix: str, bias: np.ndarray, bias_t: str) -> List[str]:
    st = sched.x_stages[-1]
    if sched.kind == "lstm":
        h = sched.n_state
        order = unit_order(sched)
        b = np.asarray(bias, dtype=np.float64).reshape(4, h)[:, order].T  # [k][g]
        return ["    template <class zword_T>",
                f"    static void drain(const {st.name}_out_t z[4][{st.out_depth}][{st.free_lanes}], "
                "hls::stream<zword_T> &zs) {",
                "        #pragma HLS INLINE off",
                f"        static const {bias_t} bias[{h}][4] = {{\n{_c2d(b)}}};",
                "        #pragma HLS ARRAY_PARTITION variable=bias complete dim=2",
                f"        nnet::ht_drain_gates<{st.name}_out_t, zword_T, {bias_t}, {prefix}>(z, zs, bias);",
                "    }"]
    m = sched.shape.out_features
    return ["    template <class oword_T>",
            f"    static void drain(const {st.name}_out_t z[1][{m}][1], hls::stream<oword_T> &zs) {{",
            "        #pragma HLS INLINE off",
            f"        static const {bias_t} bias[{m}] = {{\n{carray(bias)}}};",
            f"        nnet::ht_drain_dense<{st.name}_out_t, oword_T, {bias_t}, {prefix}>(z, zs, bias);",
            "    }"]


def _recurrence(sched: Schedule, prefix: str, gt: GateTables) -> List[str]:
    h, n = sched.n_state, gt.size
    order = unit_order(sched)
    hl = sched.h_stages[-1]
    zh_addr = order  # z_h: one lane, C order over the non-gate output modes: the word of unit j is j
    sig = gate_tables.to_fixed(gate_tables.sigmoid_table(n, gt.recr_bits, gt.recr_symmetric), gt.table_t)
    tnh = gate_tables.to_fixed(gate_tables.tanh_table(n, gt.act_bits, gt.act_symmetric), gt.table_t)
    L = [f"    static const unsigned hbox_size = {sched.h_box.entries}, hbox_offset = {sched.h_offset};",
         f"    static const unsigned zh_depth = {hl.out_depth}, table_size = {n};",
         f"    static const unsigned reset_trips = {max(h, sched.h_box.entries)};",
         f"    static const unsigned zx_depth = {2 * h};",
         f"    typedef {hl.name}_out_t zh_t;",
         f"    static void h_chain(const hbox_t hbox[1][{sched.h_box.entries}][1], zh_t zh[4][{hl.out_depth}][1]) {{",
         "        #pragma HLS INLINE off"]
    hs = sched.h_stages
    for st in hs[:-1]:
        L += _buffer_decl(f"{st.name}_out_t", f"b_{st.name}", 1, st.out_depth, st.free_lanes, "        ")
    for k, st in enumerate(hs):
        src = "hbox" if k == 0 else f"b_{hs[k - 1].name}"
        dst = "zh" if k == len(hs) - 1 else f"b_{st.name}"
        L.append(f"        {st.name}({src}, {dst});")
    L += ["    }",
          "    template <class res_T>",
          "    static void recurrence(hls::stream<zword_t> &zx, hls::stream<res_T> &y) {",
          "        #pragma HLS INLINE off",
          "        typedef typename ACT_CONFIG_T::table_t table_t;",
          "        // the gate tables as constants (hls4ml's layout and values, hls_project/accel/tables.py)",
          "        // stored as the values' bit patterns (integers compile fast; the same ROM)",
          f"        static const int sig[3][{n}] = {{\n{_i2d(np.stack([_bits(sig, gt.table_t)] * 3))}}};",
          f"        static const int tnh[2][{n}] = {{\n{_i2d(np.stack([_bits(tnh, gt.table_t)] * 2))}}};",
          "        #pragma HLS ARRAY_PARTITION variable=sig complete dim=1",
          "        #pragma HLS ARRAY_PARTITION variable=tnh complete dim=1",
          f"        static const unsigned unit_j[{h}] = {{{_uarr(order)}}};",
          f"        static const unsigned zh_addr[{h}] = {{{_uarr(zh_addr)}}};",
          f"        nnet::fdht_recurrence<res_T, table_t, {prefix}>(zx, y, sig, tnh, unit_j, zh_addr);",
          "    }"]
    return L


def _trip_names(prefix: str, lstm: bool) -> List[str]:
    names = ["regroup", "drain"] + (["gates", "reset", "output"] if lstm else [])
    return [f"    static const char *trip_{k}() {{ return \"{prefix}.{k}\"; }}" for k in names]


def layer_struct(sched: Schedule, prefix: str, base: str, tables: Dict[str, np.ndarray],
                 table_types: Dict[str, str], x_types: ChainTypes, h_types: Optional[ChainTypes], in_t: str,
                 bias: np.ndarray, bias_t: str, zsum_t: str, extra: str = "",
                 gates: Optional[GateTables] = None) -> str:
    """The layer's config struct ``{prefix} : nnet::{base}`` and its tables."""
    lstm = sched.kind == "lstm"
    xs, hs = sched.x_stages, sched.h_stages
    L: List[str] = [f"struct {prefix} : nnet::{base} {{",
                    f"    // MODEL schedule: {sched.mac_lanes} multiply-add lanes (hls_project/accel)",
                    f"    static const unsigned n_in = {sched.n_in};",
                    f"    static const unsigned n_out = {sched.n_state if lstm else sched.shape.out_features};",
                    f"    static const unsigned stream_width = {sched.stream_width};",
                    f"    static const unsigned box_words = {sched.box_words}, "
                    f"in_words = {sched.n_in // sched.in_lanes};",
                    f"    static const unsigned z_depth = {xs[-1].out_depth}, z_lanes = {xs[-1].free_lanes};",
                    f"    typedef nnet::array<{in_t}, {sched.stream_width}> word_t;",
                    f"    typedef {zsum_t} z_t;",
                    "    typedef nnet::array<z_t, 4> zword_t;",
                    extra]
    if not lstm:
        L.append("    static const unsigned n_timesteps = 1;")
    named = [("in_fast_t", in_t)] + _stage_types(xs, x_types, table_types)
    if lstm:
        named += [("hbox_t", "h_t")] + _stage_types(hs, h_types, table_types)
    L += _fast_typedefs(named)
    L.append(f"    typedef nnet::array<in_fast_t, {sched.in_lanes}> aword_t;")
    L += _trip_names(prefix, lstm)
    full = {"x": dict(xs[0].sizes), "h": dict(hs[0].sizes) if hs else {}}
    lo: Dict[str, Dict[str, int]] = {"x": {}, "h": {}}
    d = sched.shape.d
    for k in range(d):
        full["x"][f"a{k + 1}"] = sched.shape.input_modes[k]
        lo["x"][f"a{k + 1}"] = sched.x_box.lo[k]
        if hs:
            full["h"][f"a{k + 1}"] = sched.shape.input_modes[k]
            lo["h"][f"a{k + 1}"] = sched.h_box.lo[k]
    L += _chain_stages(xs, prefix, tables, full, lo)
    L += ["    template <class data_T>",
          "    static void regroup(hls::stream<data_T> &x, hls::stream<aword_t> &a) {",
          "        #pragma HLS INLINE off",
          f"        nnet::ht_regroup<data_T, aword_t, {prefix}>(x, a);",
          "    }"]
    L += _drain(sched, prefix, bias, bias_t)
    if lstm:
        L += _chain_stages(hs, prefix, tables, full, lo, "hbox_t", sched.h_box.entries)
        L += _recurrence(sched, prefix, gates)
    L += _x_chain(sched, prefix, "zword_T" if lstm else "oword_T")
    L.append("};")
    return "\n".join(L) + "\n" + odr_definitions(prefix, sched.stages)


def quantize(values: np.ndarray, type_str: str) -> np.ndarray:
    """Round to nearest on an ``ap_fixed<W, I>`` grid, saturating."""
    from keras_model.common.fixedtype import parse_fixed

    w, i, signed = parse_fixed(type_str)
    f = w - i
    q = np.round(np.asarray(values, dtype=np.float64) * 2.0 ** f)
    lo = -(2 ** (w - 1)) if signed else 0
    hi = 2 ** (w - 1) - 1 if signed else 2 ** w - 1
    return np.clip(q, lo, hi) / 2.0 ** f


def table_type(values: np.ndarray, width: int) -> str:
    """``ap_fixed<width, I>`` with just enough integer bits."""
    bound = float(np.max(np.abs(values))) if np.size(values) else 0.0
    if bound <= 0:
        return f"ap_fixed<{width},1>"
    i = int(math.floor(math.log2(bound * (1 + 1e-9)))) + 2
    return f"ap_fixed<{width},{i}>"
