"""The whole model's cycle and resource MODEL (not a synthesis result).

From the converted hls4ml graph: every HT layer's ``schedule`` (the same
processes, lanes and partition factors the C++ is generated from), the
classifier Dense (hls4ml's kernel at its reuse factor) and the softmax.
Every figure here is labelled MODEL; synthesis reports, when a vendor tool
ran, are kept beside it and win (``synthesis.py``).

Conventions:

* cycles per clip (latency): the frame pipeline of each HT layer (fill,
  then one frame per interval), then the Dense and softmax once;
* throughput: the top function is a dataflow region, so the next clip may
  enter a process when that process is done with the previous one (successive
  calls overlap, as hls4ml's io_stream layers do). With frame channels
  (Vitis HLS: hls::stream_of_blocks) every HT stage is such a process, busy
  T x its cycles per frame; with the Vivado HLS fallback (a frame loop around
  a per-frame DATAFLOW region) the x-chain is one process, busy for the whole
  frame pipeline's latency. A Dense is busy for its reuse factor. clips/s =
  clock / the busiest process's cycles per clip;
* lanes busy vs instantiated: MACs the HT stages do per clip over
  (lanes x throughput interval);
* DSP: one DSP48 per multiply-add lane up to 27x18-bit operands (more above),
  3 per gate lane (f*c, i*g, o*tanh c), the Dense's multipliers, one per
  softmax output;
* BRAM: every buffer and table of more than ``LUTRAM_BITS`` bits in 18-Kib
  blocks, at least one block per bank (partitioning splits it);
* I/O bound: clips/s if only the input stream limited it (one word per cycle).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List

import numpy as np

from .precision import parse_fixed, precision_str

LABEL = "MODEL (cycle/resource model of the generated code, not a synthesis result)"
BRAM_18K_BITS = 18 * 1024
LUTRAM_BITS = 1024  # smaller arrays are assumed to go to LUTRAM/registers
SOFTMAX_CYCLES = 8  # hls4ml's stable softmax: max, exp look-ups, sum, inverse, products (assumed)


def _width(prec) -> int:
    text = precision_str(prec) if not isinstance(prec, str) else prec
    try:
        return parse_fixed(text)[0]
    except ValueError:
        import re

        m = re.search(r"(\d+)", text)
        return int(m.group(1)) if m else 16


def dsp_per_multiplier(wa: int, wb: int) -> int:
    wide, narrow = max(wa, wb), min(wa, wb)
    return math.ceil(wide / 27) * math.ceil(narrow / 18)


def _bram(bits: int, banks: int) -> int:
    if bits <= LUTRAM_BITS:
        return 0
    per_bank = bits / max(banks, 1)
    return max(banks, 1) * max(1, math.ceil(per_bank / BRAM_18K_BITS)) if per_bank > LUTRAM_BITS else 0


def frame_channels(hls_model) -> bool:
    """True when the generated x-chain uses frame channels (hls::stream_of_blocks:
    Vitis HLS); False for Vivado HLS, which has none (nnet_ht_stream.h's HT_FRAME_PIPO)."""
    backend = getattr(hls_model.config, "backend", None)
    return str(getattr(backend, "name", "")).startswith("Vitis")


def ht_layer(node, channels: bool = True) -> Dict[str, Any]:
    """MODEL figures of one HT layer (FDHTLSTM or HTDense); ``channels``:
    frame channels (see ``frame_channels``)."""
    sched = node.schedule()
    shape = node.ht_shape()
    tables = node.tables()
    t = sched.n_timesteps
    in_w = _width(node.get_input_variable().type.precision)
    stages = []
    dsp = 0
    for st in sched.stages:
        tw = parse_fixed(tables[st.cs.b][1])[0]
        d = st.lanes * dsp_per_multiplier(in_w if st.kind == "stream" else 18, tw)
        dsp += d
        stages.append({"stage": st.name, "kind": st.kind, "reads": st.cs.a, "table": st.cs.b, "macs": st.macs,
                       "lanes": st.lanes, "free_lanes": st.free_lanes, "sum_lanes": st.sum_lanes, "trips": st.trips,
                       "depth": st.depth, "cycles": st.cycles, "a_banks": st.a_banks, "table_banks": st.b_banks,
                       "out_banks": st.out_banks, "utilisation": round(st.macs / (st.lanes * sched.interval), 4)})
    gate_dsp = 3 * sched.gate_lanes if sched.kind == "lstm" else 0
    dsp += gate_dsp
    const_rows = []
    for name, (vals, ttype) in tables.items():
        copies = sum(1 for st in sched.stages if st.cs.b == name)
        bits = int(np.size(vals)) * parse_fixed(ttype)[0]
        banks = max(st.b_banks for st in sched.stages if st.cs.b == name)
        const_rows.append({"name": name, "entries": int(np.size(vals)), "type": ttype, "copies": copies,
                           "bits": bits * copies, "banks": banks,
                           "precomputed": name not in shape.core_names})
    widths = {st.name: 18 for st in sched.stages}
    widths.update({"acc_x0": 24, "zx": 24, "zh": 24, "hbox": 16, "state": 16})
    buffers = _buffers(node, sched)
    act_bits = 0
    if sched.kind == "lstm":
        table_w = _width(node.get_attr("table_t").precision)
        act_bits = 5 * sched.gate_lanes * int(node.get_attr("table_size", 1024)) * table_w
    macs_clip = t * sched.macs_per_frame()
    clip_cycles = sched.cycles_per_clip
    largest = max(buffers, key=lambda r: r["bits"] // r["copies"])
    frame_bits = sched.n_in * in_w
    return {
        "layer": node.name, "class": node.class_name,
        "ht_params": int(shape.core_params), "bias_params": int(shape.out_features),
        "plan_input_macs_per_step": int(shape.plan.macs), "plan_constant_macs_once": int(shape.plan.constant_macs),
        "macs_per_step": int(sched.macs_per_frame()), "macs_per_clip": int(macs_clip),
        "x_box": {"lo": list(sched.x_box.lo), "size": list(sched.x_box.size)},
        "h_box": {"lo": list(sched.h_box.lo), "size": list(sched.h_box.size)} if sched.h_box else None,
        "stream_width": sched.stream_width, "input_words_per_frame": sched.input_words_per_frame,
        "lanes_budget": sched.lanes_budget, "mac_lanes": sched.mac_lanes, "gate_lanes": sched.gate_lanes,
        "stages": stages, "processes_cycles_per_frame": sched.process_cycles(),
        "interval_cycles_per_frame": sched.interval, "cycles_per_clip": int(clip_cycles),
        "frame_channels": bool(channels),
        "processes_cycles_per_clip": sched.process_cycles_per_call() if channels else
        {"x-chain (frame loop)": int(clip_cycles)},
        "interval_cycles_per_clip": int(sched.call_interval(channels)),
        "dsp": int(dsp), "gate_dsp": int(gate_dsp),
        "constants": const_rows, "constant_bits": int(sum(r["bits"] for r in const_rows)),
        "buffers": buffers, "buffer_bits": int(sum(r["bits"] for r in buffers)),
        "largest_buffer": {"name": largest["name"], "bits": int(largest["bits"] // largest["copies"]),
                           "frame_bits": int(frame_bits)},
        "activation_table_bits": int(act_bits),
        "bram_18k": int(sum(_bram(r["bits"], r["banks"]) for r in buffers + const_rows)
                        + (5 * sched.gate_lanes if act_bits else 0)),
    }


def _buffers(node, sched) -> List[Dict[str, Any]]:
    """Every on-chip buffer with its C++ type width."""
    from . import schedule as sch

    # widths of the generated types: intermediates are derived per stage; use
    # the generated struct's choices through the same derivation
    types = _stage_widths(node, sched)
    return sch.buffers(sched, types)


def _stage_widths(node, sched) -> Dict[str, int]:
    from .extension import accel_types

    t = accel_types(node)
    out = {}
    for k, st in enumerate(sched.x_stages):
        out[st.name] = parse_fixed(t["x"]["inter"][k])[0]
    out["acc_x0"] = parse_fixed(t["x"]["accum"][0])[0]
    out["zx"] = parse_fixed(t["x"]["inter"][-1])[0]
    if sched.kind == "lstm":
        for k, st in enumerate(sched.h_stages):
            out[st.name] = parse_fixed(t["h"]["inter"][k])[0]
        out["zh"] = parse_fixed(t["h"]["inter"][-1])[0]
        out["hbox"] = _width(node.get_attr("state_t").precision)
        out["state"] = _width(node.get_attr("state_t").precision)
    return out


def dense_layer(node) -> Dict[str, Any]:
    n_in, n_out = int(node.get_attr("n_in")), int(node.get_attr("n_out"))
    rf = int(node.get_attr("reuse_factor", 1) or 1)
    mults = math.ceil(n_in * n_out / rf)
    wi = _width(node.get_weights("weight").type.precision)
    xi = _width(node.get_input_variable().type.precision)
    return {"layer": node.name, "class": node.class_name, "macs": n_in * n_out, "reuse_factor": rf,
            "multipliers": mults, "dsp": mults * dsp_per_multiplier(wi, xi),
            "cycles": rf + math.ceil(math.log2(max(n_in, 2))) + 2,
            "weight_bits": n_in * n_out * wi}


def port_bits(var) -> int:
    """Bits of a top-level port: one stream word (io_stream) or the whole array (io_parallel)."""
    w = _width(var.type.precision)
    shape = list(var.shape)
    if type(var).__name__ == "StreamVariable" or getattr(var, "pragma", None) and "stream" in str(var.pragma):
        return w * int(shape[-1])
    return w * int(np.prod(shape))


def model_figures(hls_model, clock_ns: float) -> Dict[str, Any]:
    """The whole model's MODEL figures; ``headline`` holds the keys the
    hardware report puts under ``model``."""
    ht_rows, others = [], []
    channels = frame_channels(hls_model)
    for node in hls_model.get_layers():
        if node.class_name in ("FDHTLSTM", "HTDense"):
            ht_rows.append(ht_layer(node, channels))
        elif node.class_name == "Dense":
            others.append(dense_layer(node))
        elif node.class_name == "Softmax":
            n = int(node.get_attr("n_in", 0) or np.prod(node.get_input_variable().shape))
            others.append({"layer": node.name, "class": "Softmax", "multipliers": n, "dsp": n,
                           "cycles": SOFTMAX_CYCLES})
    in_var = hls_model.get_input_variables()[0]
    out_var = hls_model.get_output_variables()[0]
    io_stream = hls_model.config.get_config_value("IOType") == "io_stream"
    in_bits = _width(in_var.type.precision) * (int(in_var.shape[-1]) if io_stream else int(np.prod(in_var.shape)))
    out_bits = _width(out_var.type.precision) * (int(out_var.shape[-1]) if io_stream else int(np.prod(out_var.shape)))
    latency = sum(r["cycles_per_clip"] for r in ht_rows) + sum(o["cycles"] for o in others)
    interval = max([r["interval_cycles_per_clip"] for r in ht_rows] + [o["cycles"] for o in others] + [1])
    clock_hz = 1e9 / float(clock_ns)
    lanes = sum(r["mac_lanes"] for r in ht_rows)
    macs = sum(r["macs_per_clip"] for r in ht_rows)
    util = macs / (lanes * interval) if lanes else 0.0
    dsp = sum(r["dsp"] for r in ht_rows) + sum(o["dsp"] for o in others)
    words = sum(r["input_words_per_frame"] * (r["macs_per_clip"] // max(r["macs_per_step"], 1)) for r in ht_rows[:1])
    io_bound = clock_hz / words if words else None
    headline = {
        "label": LABEL,
        "clips_per_s": round(clock_hz / interval, 2),
        "dsp": int(dsp),
        "lane_utilisation": round(util, 4),
        "top_port_bits": int(max(in_bits, out_bits)),
        "io_bound_clips_per_s": round(io_bound, 2) if io_bound else None,
        "latency_cycles_per_clip": int(latency),
        "frame_channels": "hls::stream_of_blocks (Vitis HLS)" if channels else
        "ping-pong arrays in a per-frame DATAFLOW loop (Vivado HLS: calls do not overlap)",
        "interval_cycles_per_clip": int(interval),
        "mac_lanes": int(lanes),
        "input_port_bits": int(in_bits), "output_port_bits": int(out_bits),
        "buffer_bits": int(sum(r["buffer_bits"] for r in ht_rows)),
        "constant_bits": int(sum(r["constant_bits"] for r in ht_rows)),
        "largest_buffer_bits": int(max((r["largest_buffer"]["bits"] for r in ht_rows), default=0)),
        "frame_bits": int(max((r["largest_buffer"]["frame_bits"] for r in ht_rows), default=0)),
        "bram_18k": int(sum(r["bram_18k"] for r in ht_rows)),
        "ht_params": int(sum(r["ht_params"] for r in ht_rows)),
    }
    return {"headline": headline, "ht_layers": ht_rows, "other_layers": others, "clock_ns": float(clock_ns)}
