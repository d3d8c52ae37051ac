"""The hardware report of a written project: ``hardware_report.json``,
``hardware_report.md`` and ``hardware_kinds.png`` in the project folder.

Two kinds of figures, kept apart everywhere:

* **From the design** (exact): MACs per time step and per clip from the HT
  layers' contraction plan (the schedule the C++ kernel runs), weight storage
  in bits per core from the hls model's weight variables (entries x the width
  of the C++ type each is written with), buffer sizes and activation tables.
* **ANALYTIC ESTIMATE** (not a synthesis result): multipliers, DSPs, cycles
  per time step / per clip and clips/s at the configured clock, from the
  loop structure and reuse factor; the
  same for hls4ml's stock dense LSTM at the same shape; compared with the
  device ceilings of the configured part.

When vendor synthesis has run (``vendor.synthesize``), or its reports are
copied into the project, their figures are added under ``synthesis``::

    fdht report <project dir>    # re-read synthesis reports, re-write the report
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, Optional

import numpy as np

from keras_model.common import fixedtype
from keras_model.common.fixedtype import precision_str
from hls_project.report.kinds import kind_comparison, plot_kinds
from hls_project.report import figures
from hls_project.accel import model as cycle_model
from hls_project.report.markdown import render_markdown

JSON_NAME = "hardware_report.json"
MD_NAME = "hardware_report.md"
from hls_project.report.markdown import PLOT_NAME  # noqa: E402,F401

from hls_project.accel.devices import DEVICES  # noqa: E402  (the device table)
from hls_project.accel.model import BRAM_18K_BITS  # noqa: E402

URAM_BITS = 288 * 1024



# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _ceil_div(a: int, b: int) -> int:
    return -(-int(a) // int(b))


def _clips_per_s(cycles: int, clock_ns: float) -> float:
    return 1e9 / (float(clock_ns) * cycles) if cycles else float("inf")


def _jsonable(o):
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def _var_row(var) -> Dict[str, Any]:
    data = np.asarray(var.data)
    prec = var.type.precision
    width = fixedtype.width(prec)
    return {"variable": var.name, "shape": list(data.shape), "entries": int(data.size), "type": var.type.name,
            "precision": precision_str(prec), "bits_each": width, "bits": int(data.size) * width}


# --------------------------------------------------------------------------
# One HT layer
# --------------------------------------------------------------------------


def ht_layer_report(node) -> Dict[str, Any]:
    """Exact storage figures and the cycle/resource MODEL of one FDHTLSTM /
    HTDense IR layer (``accel.model.ht_layer``: the schedule the C++ was
    generated from)."""


    shape = node.ht_shape()
    is_lstm = node.class_name == "FDHTLSTM"
    cores = {}
    for name in shape.core_names:
        row = _var_row(node.get_weights(f"core_{name}"))
        row["core_shape"] = list(shape.core_shape(shape.nodes[shape.core_names.index(name)]))
        cores[name] = row
    bias_row = _var_row(node.get_weights("bias"))
    weight_bits = sum(r["bits"] for r in cores.values()) + bias_row["bits"]
    m = figures.ht_layer(node)
    n_steps = int(node.get_attr("n_timesteps")) if is_lstm else 1
    tables = []
    if is_lstm:
        table_t = node.get_attr("table_t").precision
        size = int(node.get_attr("table_size", 1024))
        g = m["gate_lanes"]
        for fn, count in ((node.get_attr("cell_recurrent_activation"), 3 * g), (node.get_attr("cell_activation"), 2 * g)):
            tables.append({"function": fn, "tables": count, "entries": size, "type": precision_str(table_t),
                           "bits": count * size * fixedtype.width(table_t)})
    largest = max(m["buffers"], key=lambda r: r["bits"] // r["copies"])
    return {
        "layer": node.name, "class": node.class_name,
        "shape": {**shape.to_dict(), "padded_in": shape.padded_in, "out_features": shape.out_features,
                  "plan_method": shape.plan.method, "stages": len(shape.plan.steps),
                  "input_stages": len(shape.plan.input_steps), "constant_stages": len(shape.plan.constant_steps)},
        "timesteps": n_steps,
        "macs_per_step": m["macs_per_step"],
        "macs_per_clip": m["macs_per_clip"],
        "weights": {"cores": cores, "bias": bias_row, "total_bits": int(weight_bits),
                    "core_params": int(shape.core_params)},
        "constants": m["constants"], "constant_bits": m["constant_bits"],
        "buffers": m["buffers"],
        "buffer_bits": m["buffer_bits"],
        "largest_intermediate": {"tensor": largest["name"], "entries": int(largest["entries"]),
                                 "bits": int(largest["bits"] // largest["copies"]),
                                 "type": f"{largest['bits_each']}-bit"},
        "activation_tables": tables,
        "estimate": m,
    }


# --------------------------------------------------------------------------
# hls4ml's stock dense LSTM at the same shape
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Model kinds at the same shape (for the plot)
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# The whole model
# --------------------------------------------------------------------------


def _device(part: str, synthesis: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    if part in DEVICES:
        return {"part": part, **DEVICES[part], "source": "data sheet (see hls_project/accel/devices.py)"}
    avail = (synthesis or {}).get("available") or {}
    if avail.get("DSP"):
        return {"part": part, "name": part, **{k: avail.get(k) for k in ("DSP", "BRAM_18K", "LUT", "FF", "URAM")},
                "source": "the synthesis report"}
    return {"part": part, "name": None, "DSP": None, "BRAM_18K": None, "LUT": None, "FF": None, "URAM": None,
            "source": f"unknown part; known: {', '.join(DEVICES)}"}


def _fit(dsp: int, weight_bits: int, dev: Dict[str, Any], memory_bits: Optional[int] = None) -> Dict[str, Any]:
    """DSP and on-chip memory against the part. ``memory_bits``: weights +
    buffers + tables (defaults to the weights alone)."""
    if not dev.get("DSP"):
        return {"dsp_fits": None, "weights_fit_bram": None}
    bram_bits = dev["BRAM_18K"] * BRAM_18K_BITS
    mem_bits = bram_bits + (dev.get("URAM") or 0) * URAM_BITS
    memory_bits = int(weight_bits if memory_bits is None else memory_bits)
    return {
        "dsp_needed": int(dsp), "dsp_available": dev["DSP"], "dsp_pct": round(100.0 * dsp / dev["DSP"], 2),
        "dsp_fits": bool(dsp <= dev["DSP"]),
        "weight_bram_18k_min": _ceil_div(weight_bits, BRAM_18K_BITS),
        "weights_fit_bram": bool(weight_bits <= bram_bits),
        "weights_fit_bram_uram": bool(weight_bits <= mem_bits),
        "memory_bits": memory_bits,
        "memory_bram_18k_min": _ceil_div(memory_bits, BRAM_18K_BITS),
        "memory_bram_pct": round(100.0 * _ceil_div(memory_bits, BRAM_18K_BITS) / dev["BRAM_18K"], 2),
    }


def _layer_rows(hls_model, rf: int):
    """(HT layer reports, other layers' MODEL rows, every weight variable as the C++ stores it)."""
    layers, others, weight_rows = [], [], []
    for node in hls_model.get_layers():
        if node.class_name in ("FDHTLSTM", "HTDense"):
            layers.append(ht_layer_report(node))
        elif node.class_name not in ("Input", "Reshape", "Flatten"):
            o = cycle_model.other_layer(node, rf)
            if o:
                others.append(o)
        for w in node.weights.values():
            if getattr(w.type.precision, "width", None) is not None:
                weight_rows.append({"layer": node.name, **_var_row(w)})
    return layers, others, weight_rows


def hardware_report(hls_model, model, cfg: Dict[str, Any], report: Optional[Dict[str, Any]] = None,
                    kinds: bool = True) -> Dict[str, Any]:
    """The hardware report as a dict (see the module docstring)."""
    from keras_model.models import rnn_costs

    h = cfg["hls"]
    clock = float(h["clock_period"])
    rf = int(h["reuse_factor"])
    width = fixedtype.width(h["precision"])
    layers, others, weight_rows = _layer_rows(hls_model, rf)
    total_bits = sum(r["bits"] for r in weight_rows)
    costs = rnn_costs(model)
    timesteps = int(model.input_shape[1])
    fig = figures.model_figures(hls_model, clock)
    head = fig["headline"]
    macs_step = sum(l["macs_per_step"] for l in layers if l["class"] == "FDHTLSTM") or costs["macs_per_step"]
    macs_clip = sum(l["macs_per_clip"] for l in layers) + sum(o["macs"] for o in others)
    mults = head["multipliers"]
    dsp = head["dsp"]
    tables = [t for l in layers for t in l["activation_tables"]] + [t for o in others for t in o.get("activation_tables", [])]
    dense = cycle_model.dense_lstm_estimate(costs["features_per_step"], costs["units"], timesteps, rf, width)
    dev = _device(h["part"])
    pipeline_style = getattr(hls_model.config, "pipeline_style", None)
    memory = total_bits + sum(l["buffer_bits"] + l["constant_bits"] for l in layers) + sum(t["bits"] for t in tables)

    out: Dict[str, Any] = {
        "config": cfg.get("_name"),
        "project_name": h["project_name"],
        "backend": h["backend"], "part": h["part"], "clock_period_ns": clock,
        "clock_mhz": round(1000.0 / clock, 3), "reuse_factor": rf, "precision": h["precision"],
        "pipeline_style": pipeline_style,
        "model": {
            "kind": costs["kind"], "units": costs["units"], "features_per_step": costs["features_per_step"],
            "timesteps": timesteps, "params": costs["model_params"], "recurrent_params": costs["rnn_params"],
            "macs_per_step": int(macs_step), "macs_per_clip": int(macs_clip),
            "weight_bits": int(total_bits), "weights": weight_rows,
            "largest_intermediate": max((l["largest_intermediate"] for l in layers if l["largest_intermediate"]),
                                        key=lambda b: b["entries"], default=None),
            "activation_tables": tables,
            "activation_table_bits": int(sum(t["bits"] for t in tables)),
            "buffer_bits": int(sum(l["buffer_bits"] for l in layers)),
            "constant_bits": int(sum(l["constant_bits"] for l in layers)),
            "input_port_bits": head["input_port_bits"],
            # headline MODEL figures of the whole model
            **{k: head[k] for k in ("clips_per_s", "dsp", "lane_utilisation", "top_port_bits",
                                    "io_bound_clips_per_s", "clips_per_s_no_overlap", "interval_cycles_per_clip",
                                    "latency_cycles_per_clip")},
            # the same figures under the names the RTL twin's measured tier uses
            "interval_cycles": head["interval_cycles_per_clip"],
            "latency_cycles": head["latency_cycles_per_clip"],
            "model_label": cycle_model.LABEL,
        },
        "layers": layers,
        "other_layers": others,
        "estimate": {
            "label": cycle_model.LABEL,
            "multipliers": int(mults), "dsp": int(dsp),
            "cycles_per_clip": head["latency_cycles_per_clip"],
            "interval_cycles_per_clip": head["interval_cycles_per_clip"],
            "clips_per_s": head["clips_per_s"],
            "latency_us_per_clip": head["latency_cycles_per_clip"] * clock / 1000.0,
            "fit": _fit(dsp, total_bits, dev, memory),
        },
        "accelerator": fig,
        "lint": (report or {}).get("lint"),
        "dense_lstm": {**dense, "label": "hls4ml's stock LSTM at the same shape, ANALYTIC ESTIMATE",
                       "clips_per_s": _clips_per_s(dense["cycles_per_clip"], clock),
                       "fit": _fit(dense["dsp"], dense["weight_bits"], dev)},
        "device": dev,
        "assumptions": [
            *cycle_model.ASSUMPTIONS,
        ],
        "synthesis": None,
        "vendor": None,
    }
    if report:
        c = report.get("csim") or {}
        out["source"] = {"model_path": report.get("model_path"), "weights_sha256": report.get("weights_sha256"),
                         "csim_top1_agreement": c.get("top1_agreement"), "csim_samples": c.get("samples")}
    if pipeline_style == "pipeline":
        out["warnings"] = [
            "The top function is written with '#pragma HLS PIPELINE' (hls4ml's io_parallel + Latency default). "
            "Vivado/Vitis HLS fully unroll every loop below a pipelined function, so synthesis would not use the "
            f"loop schedule estimated here but up to {int(macs_clip):,} multipliers (MACs per clip). Set the model's "
            "Strategy to Resource or PipelineStyle to dataflow in the hls4ml config for the looped schedule."
        ]
    port = out["model"]["input_port_bits"]
    if h.get("io_type", "io_parallel") == "io_parallel" and port > 100000:
        out.setdefault("warnings", []).append(
            f"io_parallel makes the top function's input one fully reshaped port of {port:,} bits "
            f"({int(np.prod(model.input_shape[1:])):,} values); that is not routable. Use hls.io_type: "
            "io_stream (the input then arrives as a stream of hls.stream_width-value words).")
    if kinds:
        try:
            out["kinds"] = kind_comparison(model, cfg, width)
        except Exception as e:  # the comparison is informative only; never break the flow for it
            out["kinds"] = [{"error": f"{type(e).__name__}: {e}"}]
    return _jsonable(out)


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def _write(project_dir: str, hw: Dict[str, Any]) -> None:
    hw = _jsonable(hw)
    for name, text in ((JSON_NAME, json.dumps(hw, indent=2)), (MD_NAME, render_markdown(hw))):
        tmp = os.path.join(project_dir, f".{name}.tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, os.path.join(project_dir, name))


def write_hardware_report(hls_model, model, cfg: Dict[str, Any], project_dir: str,
                          report: Optional[Dict[str, Any]] = None, kinds: bool = True) -> Dict[str, Any]:
    """Compute the report and write hardware_report.json / .md (and the kinds
    plot) into ``project_dir``; synthesis reports already there are included."""
    from hls_project.flow import vendor
    hw = hardware_report(hls_model, model, cfg, report, kinds=kinds)
    hw["synthesis"] = vendor.parse_synthesis(project_dir)
    if kinds and hw.get("kinds"):
        shape = model.input_shape[1:]
        title = (f"{hw['config']}: LSTM kinds at input {tuple(shape)}, H = {hw['model']['units']} "
                 f"(weights at {hw['precision']})")
        try:
            hw["plot"] = PLOT_NAME if plot_kinds(hw["kinds"], os.path.join(project_dir, PLOT_NAME), title) else None
        except Exception as e:  # a plot never breaks the flow
            hw["plot"] = None
            hw["plot_error"] = f"{type(e).__name__}: {e}"
    _write(project_dir, hw)
    return hw


def load(project_dir: str) -> Dict[str, Any]:
    with open(os.path.join(project_dir, JSON_NAME)) as f:
        return json.load(f)


def record_vendor(project_dir: str, vendor_result: Dict[str, Any]) -> Dict[str, Any]:
    """Add a vendor run (or the command to run later) and the synthesis figures
    found in the project to its hardware report; re-write JSON and Markdown."""
    from hls_project.flow import vendor
    hw = load(project_dir)
    v = dict(vendor_result)
    synthesis = v.pop("synthesis", None)
    hw["vendor"] = v
    hw["synthesis"] = synthesis if synthesis is not None else vendor.parse_synthesis(project_dir)
    _write(project_dir, hw)
    return hw


def record_rtl(project_dir: str, rtl_report: Dict[str, Any]) -> Dict[str, Any]:
    """Add the RTL twin's MEASURED figures (``rtl/rtl_report.json``: cycles
    from Verilator, counts from Yosys, Fmax from nextpnr) to the project's
    hardware report, next to the MODEL; re-write JSON and Markdown."""
    hw = load(project_dir)
    keep = ("top", "scope", "output", "bit_exact", "samples", "samples_equal", "csim_log", "interval_cycles",
            "latency_cycles", "yosys", "ecp5", "model", "tools")
    hw["rtl"] = {k: rtl_report.get(k) for k in keep if rtl_report.get(k) is not None}
    hw["rtl"]["label"] = "MEASURED (RTL twin: Verilator cycles, Yosys counts, nextpnr Fmax; not Vivado's)"
    _write(project_dir, hw)
    return hw


def refresh(project_dir: str) -> Dict[str, Any]:
    """Re-read the synthesis reports in ``project_dir`` (e.g. copied in) into its hardware report."""
    from hls_project.flow import vendor
    hw = load(project_dir)
    hw["synthesis"] = vendor.parse_synthesis(project_dir)
    _write(project_dir, hw)
    return hw
