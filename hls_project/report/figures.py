"""MODEL figures of a converted hls4ml model: per HT layer (its schedule,
with the widths of the types the extension derived) and for the whole model.
The numbers come from ``model.py``; this module only reads the converted graph."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from hls_project.ext.node import accel_types
from keras_model.common.fixedtype import parse_fixed, width
from hls_project.accel.model import LABEL, SOFTMAX_CYCLES, dense_layer, schedule_figures
from hls_project.accel.stages import Schedule


def _layer_widths(node, sched: Schedule) -> Dict[str, Any]:
    t = accel_types(node)
    tabs = t["tables"]
    a, b = {}, {}
    in_w = width(node.get_input_variable().type.precision)
    for chain, stages in (("x", sched.x_stages), ("h", sched.h_stages)):
        for k, st in enumerate(stages):
            prev = in_w if (k == 0 and chain == "x") else (
                width(node.get_attr("state_t").precision) if k == 0 else parse_fixed(t[chain]["inter"][k - 1])[0])
            a[st.name] = prev
            b[st.name] = parse_fixed(tabs[st.cs.b][1])[0]
    out = {"a": a, "b": b, "in": in_w}
    for chain, stages in (("x", sched.x_stages), ("h", sched.h_stages)):
        for k, st in enumerate(stages):
            out[f"out {st.name}"] = parse_fixed(t[chain]["inter"][k])[0]
    if sched.kind == "lstm":
        out["act"] = width(node.get_attr("act_t").precision)
        out["state"] = width(node.get_attr("state_t").precision)
        out["table"] = width(node.get_attr("table_t").precision)
    out["z"] = parse_fixed(t["z"])[0]
    return out


def ht_layer(node) -> Dict[str, Any]:
    """MODEL figures of one HT layer (FDHTLSTM or HTDense) of a converted model."""
    sched = node.schedule()
    shape = node.ht_shape()
    w = _layer_widths(node, sched)
    lstm = sched.kind == "lstm"
    out = schedule_figures(sched, w, int(node.get_attr("table_size", 1024)) if lstm else 0)
    largest = max(out["buffers"], key=lambda r: r["bits"] // r["copies"])
    out.update({
        "layer": node.name, "class": node.class_name,
        "ht_params": int(shape.core_params), "bias_params": int(shape.out_features),
        "plan_input_macs_per_step": int(shape.plan.macs), "plan_constant_macs_once": int(shape.plan.constant_macs),
        "largest_buffer": {"name": largest["name"], "bits": int(largest["bits"] // largest["copies"]),
                           "frame_bits": int(sched.n_in * w["in"])},
    })
    return out


def model_figures(hls_model, clock_ns: float) -> Dict[str, Any]:
    """The whole model's MODEL figures; ``headline`` holds the keys the
    hardware report puts under ``model``."""
    ht_rows, others = [], []
    for node in hls_model.get_layers():
        if node.class_name in ("FDHTLSTM", "HTDense"):
            ht_rows.append(ht_layer(node))
        elif node.class_name == "Dense":
            others.append(dense_layer(node))
        elif node.class_name == "Softmax":
            n = int(node.get_attr("n_in", 0) or np.prod(node.get_input_variable().shape))
            others.append({"layer": node.name, "class": "Softmax", "multipliers": n, "dsp": n,
                           "cycles": SOFTMAX_CYCLES})
    in_var = hls_model.get_input_variables()[0]
    out_var = hls_model.get_output_variables()[0]
    io_stream = hls_model.config.get_config_value("IOType") == "io_stream"
    in_bits = width(in_var.type.precision) * (int(in_var.shape[-1]) if io_stream else int(np.prod(in_var.shape)))
    out_bits = width(out_var.type.precision) * (int(out_var.shape[-1]) if io_stream else int(np.prod(out_var.shape)))
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
        "frame_pipeline": "a frame loop with DATAFLOW in its body, ping-pong arrays between stages",
        "clips_per_s_no_overlap": round(clock_hz / latency, 2),
        "interval_cycles_per_clip": int(interval),
        "mac_lanes": int(lanes),
        "multipliers": int(lanes + sum(3 * r["gate_lanes"] for r in ht_rows) + sum(o["multipliers"] for o in others)),
        "input_port_bits": int(in_bits), "output_port_bits": int(out_bits),
        "buffer_bits": int(sum(r["buffer_bits"] for r in ht_rows)),
        "constant_bits": int(sum(r["constant_bits"] for r in ht_rows)),
        "largest_buffer_bits": int(max((r["largest_buffer"]["bits"] for r in ht_rows), default=0)),
        "frame_bits": int(max((r["largest_buffer"]["frame_bits"] for r in ht_rows), default=0)),
        "bram_18k": int(sum(r["bram_18k"] for r in ht_rows)),
        "ht_params": int(sum(r["ht_params"] for r in ht_rows)),
    }
    return {"headline": headline, "ht_layers": ht_rows, "other_layers": others, "clock_ns": float(clock_ns)}
