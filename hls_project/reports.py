"""The hardware report of a written project: ``hardware_report.json``,
``hardware_report.md`` and ``hardware_kinds.png`` in the project folder.

Two kinds of figures, kept apart everywhere:

* **From the design** (exact): MACs per time step and per clip from the HT
  layers' contraction plan (the schedule the C++ kernel runs), weight storage
  in bits per core from the hls model's weight variables (entries x the width
  of the C++ type each is written with), buffer sizes and activation tables.
* **ANALYTIC ESTIMATE** (not a synthesis result): multipliers, DSPs, cycles
  per time step / per clip and clips/s at the configured clock, from the
  kernel's loop structure (``codegen.stage_report``) and reuse factor; the
  same for hls4ml's stock dense LSTM at the same shape; compared with the
  device ceilings of the configured part.

When vendor synthesis has run (``vendor.synthesize``), or its reports are
copied into the project, their figures are added under ``synthesis``::

    python -m hls_project.reports <project dir>    # re-read synthesis reports, re-write the report
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any, Dict, List, Optional

import numpy as np

from . import codegen
from .precision import parse_fixed, precision_str

JSON_NAME = "hardware_report.json"
MD_NAME = "hardware_report.md"
PLOT_NAME = "hardware_kinds.png"

# Device ceilings. Sources: AMD/Xilinx data sheets and product tables --
# Alveo U250 (DS962, "Alveo U200 and U250 Data Center Accelerator Cards"):
# 1,728K LUTs, 3,456K registers, 12,288 DSP slices, 2,688 36-Kb block RAMs
# (= 5,376 BRAM_18K), 1,280 UltraRAMs; Virtex UltraScale+ VU9P and VU13P
# (DS923 / UltraScale+ FPGA product tables): VU9P 1,182,240 LUTs, 2,364,480 FFs,
# 6,840 DSP48E2, 2,160 36-Kb BRAM (4,320 BRAM_18K), 960 URAM; VU13P
# 1,728,000 LUTs, 3,456,000 FFs, 12,288 DSP, 2,688 36-Kb BRAM, 1,280 URAM;
# Zynq UltraScale+ ZU9EG (DS891 / MPSoC product tables): 274,080 LUTs,
# 548,160 FFs, 2,520 DSP, 912 36-Kb BRAM (1,824 BRAM_18K), no URAM.
# These are also the "Available" figures Vivado/Vitis HLS print for the parts.
DEVICES: Dict[str, Dict[str, Any]] = {
    "xcu250-figd2104-2L-e": {"name": "Alveo U250 (XCU250)", "DSP": 12288, "BRAM_18K": 5376, "LUT": 1728000,
                             "FF": 3456000, "URAM": 1280},
    "xcvu13p-flga2577-2-e": {"name": "Virtex UltraScale+ VU13P (hls4ml's default part)", "DSP": 12288,
                             "BRAM_18K": 5376, "LUT": 1728000, "FF": 3456000, "URAM": 1280},
    "xcvu9p-flga2104-2L-e": {"name": "Virtex UltraScale+ VU9P", "DSP": 6840, "BRAM_18K": 4320, "LUT": 1182240,
                             "FF": 2364480, "URAM": 960},
    "xczu9eg-ffvb1156-2-e": {"name": "Zynq UltraScale+ ZU9EG", "DSP": 2520, "BRAM_18K": 1824, "LUT": 274080,
                             "FF": 548160, "URAM": 0},
}
BRAM_18K_BITS = 18 * 1024
URAM_BITS = 288 * 1024
#: Cycles assumed per entry into a pipelined loop (pipeline fill + loop entry/exit)
#: for the upper cycle estimate; the lower one (codegen.stage_report) ignores it.
LOOP_ENTRY_CYCLES = 5
#: Cycles assumed per table activation call (hls4ml's io_parallel activations are unrolled).
ACTIVATION_CYCLES = 1

_INT = re.compile(r"^\s*ap_(u?)int\s*<\s*(\d+)")


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def type_width(text: str) -> int:
    """Bit width of an ``ap_fixed<..>``/``ap_int<..>`` type string (or an hls4ml precision)."""
    w = getattr(text, "width", None)
    if w is not None:
        return int(w)
    s = str(text)
    m = _INT.match(s)
    if m:
        return int(m.group(2))
    try:
        return parse_fixed(s)[0]
    except ValueError:
        raise ValueError(f"cannot read the bit width of type {s!r}") from None


def dsp_per_multiplier(wa: int, wb: int) -> int:
    """DSP48E2 slices (27 x 18-bit signed multiplier) per multiplier of a
    wa x wb product: ceil(wide/27) * ceil(narrow/18). A rule of thumb; narrow
    products may land in LUTs instead."""
    a, b = max(wa, wb), min(wa, wb)
    return math.ceil(a / 27) * math.ceil(b / 18)


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
    width = type_width(prec)
    return {"variable": var.name, "shape": list(data.shape), "entries": int(data.size), "type": var.type.name,
            "precision": precision_str(prec), "bits_each": width, "bits": int(data.size) * width}


# --------------------------------------------------------------------------
# One HT layer
# --------------------------------------------------------------------------


def ht_layer_report(node) -> Dict[str, Any]:
    """Exact figures and the analytic estimate of one FDHTLSTM / HTDense IR layer."""
    shape = node.ht_shape()
    is_lstm = node.class_name == "FDHTLSTM"
    rf = int(node.get_attr("reuse_factor", 1) or 1)
    su = int(node.get_attr("sum_unroll", 1) or 1)
    steps = shape.plan.steps
    stages = codegen.stage_report(shape, rf, su)
    buf = codegen.buffer_summary(shape)
    bias = np.asarray(node.get_weights("bias").data)
    st = node._stage_types(node.input_bound(), bias if (is_lstm or node.get_attr("use_bias")) else None)

    cores = {}
    for name in shape.core_names:
        row = _var_row(node.get_weights(f"core_{name}"))
        row["core_shape"] = list(shape.core_shape(shape.nodes[shape.core_names.index(name)]))
        cores[name] = row
    bias_row = _var_row(node.get_weights("bias"))
    weight_bits = sum(r["bits"] for r in cores.values()) + bias_row["bits"]

    # C++ element type (and width) of every tensor a stage reads
    in_type = node.get_attr("concat_t").precision if is_lstm else node.get_input_variable().type.precision
    widths = {"x": type_width(in_type)}
    widths.update({n: cores[n]["bits_each"] for n in cores})
    inter_types = list(st["inter"])
    for k in range(len(steps) - 1):
        widths[steps[k].out] = type_width(inter_types[k])

    buffers = []
    for k, step in enumerate(steps):
        last = k == len(steps) - 1
        t = st["out"] if last else inter_types[k]
        buffers.append({"tensor": step.out, "entries": step.out_size, "type": t, "bits": step.out_size * type_width(t),
                        "role": "product output z" if last else "intermediate"})
    if is_lstm:  # v = [x_t ; h_{t-1} ; 0], the product's input, held for the whole product
        ct = node.get_attr("concat_t").precision
        buffers.insert(0, {"tensor": "v", "entries": shape.padded_in, "type": precision_str(ct),
                           "bits": shape.padded_in * type_width(ct), "role": "product input [x ; h ; 0]"})
    inter = [b for b in buffers if b["role"] == "intermediate"]
    largest = max(inter, key=lambda b: (b["entries"], b["bits"])) if inter else None

    n_steps = int(node.get_attr("n_timesteps")) if is_lstm else 1
    macs_step = int(shape.plan.macs)

    # ---- analytic estimate -------------------------------------------------
    stage_rows = []
    lower_product = upper_product = mult_product = dsp_product = 0
    for k, (row, step) in enumerate(zip(stages, steps)):
        inner = codegen.padded_loops(step)["sum"][-1].size
        entries = step.out_size * (step.sum_size // inner)
        dsp_each = dsp_per_multiplier(widths[step.a], widths[step.b])
        stage_rows.append({**row, "operand_bits": [widths[step.a], widths[step.b]], "dsp_per_multiplier": dsp_each,
                           "pipeline_entries": entries,
                           "cycles_upper": row["cycles_estimate"] + entries * LOOP_ENTRY_CYCLES})
        lower_product += row["cycles_estimate"]
        upper_product += row["cycles_estimate"] + entries * LOOP_ENTRY_CYCLES
        mult_product += row["multipliers"]
        dsp_product += row["multipliers"] * dsp_each

    if is_lstm:
        h, n_in, n_pad = int(node.get_attr("n_out")), int(node.get_attr("n_in")), shape.padded_in
        act_w = type_width(node.get_attr("act_t").precision)
        state_w = type_width(node.get_attr("state_t").precision)
        # ConcatX/ConcatH/ConcatPad, GateBias, CellUpdate, HiddenUpdate: pipelined, II = reuse_factor
        loops = {"ConcatX": n_in, "ConcatH": h, "ConcatPad": n_pad - n_in - h, "GateBias": h,
                 "CellUpdate": h, "HiddenUpdate": h}
        n_act_calls = 5  # sigmoid i, f, o; tanh g, c
        ew_lower = sum(n * rf for n in loops.values()) + n_act_calls * ACTIVATION_CYCLES
        ew_upper = ew_lower + sum(1 for n in loops.values() if n) * LOOP_ENTRY_CYCLES
        # CellUpdate: f*c and i*g per iteration; HiddenUpdate: o*tanh(c)
        ew_mult = _ceil_div(2, rf) + _ceil_div(1, rf)
        ew_dsp = _ceil_div(2, rf) * max(dsp_per_multiplier(act_w, state_w), dsp_per_multiplier(act_w, act_w)) \
            + _ceil_div(1, rf) * dsp_per_multiplier(act_w, act_w)
    else:
        loops = {"PadCopy": shape.in_features, "PadZero": shape.padded_in - shape.in_features,
                 "Bias": shape.out_features}
        ew_lower = sum(n * rf for n in loops.values())
        ew_upper = ew_lower + sum(1 for n in loops.values() if n) * LOOP_ENTRY_CYCLES
        ew_mult = ew_dsp = 0

    per_step = {"lower": lower_product + ew_lower, "upper": upper_product + ew_upper}
    estimate = {
        "reuse_factor": rf, "sum_unroll": su,
        "multipliers": mult_product + ew_mult,
        "multipliers_product": mult_product, "multipliers_elementwise": ew_mult,
        "dsp": dsp_product + ew_dsp,
        "cycles_per_step": per_step,
        "cycles_product_per_step": {"lower": lower_product, "upper": upper_product},
        "cycles_elementwise_per_step": {"lower": ew_lower, "upper": ew_upper},
        "cycles_per_clip": {k: v * n_steps for k, v in per_step.items()},
        "elementwise_loops": loops,
        "stages": stage_rows,
    }

    tables = []
    if is_lstm:
        table_t = node.get_attr("table_t").precision
        size = int(node.get_attr("table_size", 1024))
        # distinct template instantiations of hls4ml's table functions:
        # sigmoid<accum_t, act_t>, tanh<accum_t, act_t> and tanh<state_t, act_t>
        n_tanh = 1 if precision_str(node.get_attr("state_t").precision) == st["out"] else 2
        for fn, count in ((node.get_attr("cell_recurrent_activation"), 1), (node.get_attr("cell_activation"), n_tanh)):
            tables.append({"function": fn, "tables": count, "entries": size, "type": precision_str(table_t),
                           "bits": count * size * type_width(table_t)})

    return {
        "layer": node.name, "class": node.class_name,
        "shape": {**shape.to_dict(), "padded_in": shape.padded_in, "out_features": shape.out_features,
                  "plan_method": shape.plan.method, "stages": len(steps)},
        "timesteps": n_steps,
        "macs_per_step": macs_step,
        "macs_per_clip": macs_step * n_steps,
        "weights": {"cores": cores, "bias": bias_row, "total_bits": int(weight_bits),
                    "core_params": int(shape.core_params)},
        "buffers": buffers,
        "buffer_bits": int(sum(b["bits"] for b in buffers)),
        "largest_intermediate": largest,
        "intermediate_entries": buf["intermediate_entries"],
        "activation_tables": tables,
        "estimate": estimate,
    }


# --------------------------------------------------------------------------
# hls4ml's stock dense LSTM at the same shape
# --------------------------------------------------------------------------


def dense_lstm_estimate(n_in: int, h: int, timesteps: int, reuse_factor: int, width: int) -> Dict[str, Any]:
    """hls4ml's LSTM (nnet_recurrent.h): per step z = W_x x + W_h h + b through
    two nnet::dense products (multiplier_limit = DIV_ROUNDUP(n_in*n_out, reuse_factor),
    as hls4ml's recurrent templates compute it). Latency strategy: each product
    is pipelined with II = reuse_factor, both run side by side; cycles per step
    ~ reuse_factor + adder-tree depth (element-wise gate work unrolled, ~1 cycle)."""
    rf = int(reuse_factor)
    mx = _ceil_div(n_in * 4 * h, rf)
    mh = _ceil_div(h * 4 * h, rf)
    params = (n_in + h) * 4 * h + 4 * h
    tree = math.ceil(math.log2(max(n_in, 2)))
    per_step = rf + tree + 1
    return {
        "n_in": n_in, "units": h, "reuse_factor": rf,
        "macs_per_step": (n_in + h) * 4 * h,
        "macs_per_clip": (n_in + h) * 4 * h * timesteps,
        "params": params,
        "weight_bits": params * width,
        "multipliers": {"W_x": mx, "W_h": mh, "total": mx + mh},
        "dsp": (mx + mh) * dsp_per_multiplier(width, width),
        "cycles_per_step": per_step,
        "cycles_per_clip": per_step * timesteps,
    }


# --------------------------------------------------------------------------
# Model kinds at the same shape (for the plot)
# --------------------------------------------------------------------------


def _uniform_rank(ranks) -> int:
    if isinstance(ranks, int):
        return ranks
    values = list(ranks.values()) if isinstance(ranks, dict) else list(ranks)
    return int(max(values))


def kind_comparison(model, cfg: Dict[str, Any], width: int) -> List[Dict[str, Any]]:
    """MACs per time step, parameters and weight bits of the recurrent layer of
    every model kind (fdht / ht / tt / dense) at the model's sample shape and
    hidden size, built with ``models.build_model`` (untrained) and costed with
    ``models.rnn_costs``. The model's own kind is the model itself."""
    from keras_model.errors import FlowError
    from keras_model.models import KINDS, build_model, rnn_costs

    own = rnn_costs(model)
    h = own["units"]
    sample_shape = tuple(int(s) for s in model.input_shape[1:])
    n_classes = int(model.output_shape[-1])
    base = dict(cfg.get("model") or {})
    base["units"] = h
    if own.get("ht"):
        base["ranks"] = own["ht"]["ranks"]
    key = json.dumps([own, sample_shape, n_classes, base, width], sort_keys=True, default=str)
    if key in _KIND_CACHE:  # building the models costs seconds; the figures depend only on the key
        return [dict(r) for r in _KIND_CACHE[key]]
    rows = []
    for kind in KINDS:
        row: Dict[str, Any] = {"kind": kind}
        if kind == own["kind"]:
            costs = own
        else:
            mcfg = {**base, "kind": kind}
            if kind != "fdht":  # configured modes are FDHT's ([x;h] -> 4H): derive W_x modes
                mcfg["input_modes"] = mcfg["output_modes"] = None
            if kind == "tt":
                mcfg["ranks"] = _uniform_rank(mcfg.get("ranks", 6))
            elif isinstance(mcfg.get("ranks"), dict) and kind != own["kind"]:
                mcfg["ranks"] = _uniform_rank(mcfg["ranks"])
            costs = None
            for attempt in (mcfg, {**mcfg, "input_modes": None, "output_modes": None}):
                try:
                    m = build_model(attempt, sample_shape, n_classes, name=f"cost_{kind}")
                    costs = rnn_costs(m)
                    del m
                    break
                except FlowError as e:
                    row["error"] = str(e)
            if costs is None:
                rows.append(row)
                continue
            row.pop("error", None)
        row.update({"params": int(costs["rnn_params"]), "macs_per_step": int(costs["macs_per_step"]),
                    "weight_bits": int(costs["rnn_params"]) * width})
        rows.append(row)
    _KIND_CACHE[key] = [dict(r) for r in rows]
    return rows


_KIND_CACHE: Dict[str, List[Dict[str, Any]]] = {}


def plot_kinds(rows: List[Dict[str, Any]], path: str, title: str) -> Optional[str]:
    """Two log-scale bar charts: MACs per time step and weight bits per kind."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ok = [r for r in rows if "macs_per_step" in r]
    if not ok:
        return None
    fig = Figure(figsize=(9, 4), dpi=110)
    FigureCanvasAgg(fig)
    names = [r["kind"] for r in ok]
    colors = ["#c0392b" if n == "fdht" else "#7f8c8d" for n in names]
    for i, (key, label) in enumerate((("macs_per_step", "MACs per time step"), ("weight_bits", "LSTM weight bits"))):
        ax = fig.add_subplot(1, 2, i + 1)
        vals = [max(r[key], 1) for r in ok]
        bars = ax.bar(names, vals, color=colors)
        ax.set_yscale("log")
        ax.set_title(label)
        ax.grid(axis="y", which="major", alpha=0.3)
        for b, v in zip(bars, vals):
            ax.annotate(f"{v:,.0f}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=8)
        ax.set_ylim(bottom=10 ** math.floor(math.log10(min(vals))) / 2, top=max(vals) * 8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    return path


# --------------------------------------------------------------------------
# The whole model
# --------------------------------------------------------------------------


def _device(part: str, synthesis: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    if part in DEVICES:
        return {"part": part, **DEVICES[part], "source": "data sheet (see hls_project/reports.py)"}
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


def _other_layer(node, rf_default: int) -> Optional[Dict[str, Any]]:
    cls = node.class_name
    if cls == "Dense":
        n_in, n_out = int(node.get_attr("n_in")), int(node.get_attr("n_out"))
        rf = int(node.get_attr("reuse_factor", rf_default) or 1)
        w = node.get_weights("weight")
        wi = type_width(w.type.precision)
        xi = type_width(node.get_input_variable().type.precision)
        mults = _ceil_div(n_in * n_out, rf)
        cycles = rf + math.ceil(math.log2(max(n_in, 2))) + 1
        return {"layer": node.name, "class": cls, "macs": n_in * n_out, "multipliers": mults,
                "dsp": mults * dsp_per_multiplier(wi, xi), "cycles": cycles, "reuse_factor": rf}
    if cls == "Softmax":
        size = int(node.get_attr("table_size", 1024))
        tables = []
        for key, fn in (("exp_table_t", "exp"), ("inv_table_t", "invert")):
            t = node.get_attr(key)
            if t is not None:
                tables.append({"function": f"softmax {fn}", "tables": 1, "entries": size,
                               "type": precision_str(t.precision), "bits": size * type_width(t.precision)})
        n = int(node.get_attr("n_in", 0))
        ws = [type_width(node.get_attr(k).precision) for k in ("exp_table_t", "inv_table_t") if node.get_attr(k)]
        return {"layer": node.name, "class": cls, "macs": 0, "multipliers": n,
                "dsp": n * (dsp_per_multiplier(*ws) if len(ws) == 2 else 1), "cycles": 4, "activation_tables": tables,
                "note": "exp table look-ups, a sum, one inverse look-up and n_in products (~4 cycles assumed)"}
    if cls == "LSTM":  # hls4ml's own (dense) LSTM in the model
        n_in, h, t = int(node.get_attr("n_in")), int(node.get_attr("n_out")), int(node.get_attr("n_timesteps"))
        rf = int(node.get_attr("reuse_factor", rf_default) or 1)
        w = type_width(node.get_weights("weight").type.precision)
        d = dense_lstm_estimate(n_in, h, t, rf, w)
        return {"layer": node.name, "class": cls, "macs": d["macs_per_clip"], "multipliers": d["multipliers"]["total"],
                "dsp": d["dsp"], "cycles": d["cycles_per_clip"], "cycles_per_step": d["cycles_per_step"],
                "macs_per_step": d["macs_per_step"], "reuse_factor": rf,
                "note": "hls4ml's stock LSTM, estimated as in dense_lstm"}
    if cls in ("Activation", "Sigmoid", "TanH", "ReLU"):
        return {"layer": node.name, "class": cls, "macs": 0, "multipliers": 0, "dsp": 0,
                "cycles": ACTIVATION_CYCLES}
    return None


def hardware_report(hls_model, model, cfg: Dict[str, Any], report: Optional[Dict[str, Any]] = None,
                    kinds: bool = True) -> Dict[str, Any]:
    """The hardware report as a dict (see the module docstring)."""
    from keras_model.models import rnn_costs

    h = cfg["hls"]
    clock = float(h["clock_period"])
    rf = int(h["reuse_factor"])
    width = type_width(h["precision"])
    layers, others = [], []
    for node in hls_model.get_layers():
        if node.class_name in ("FDHTLSTM", "HTDense"):
            layers.append(ht_layer_report(node))
        elif node.class_name not in ("Input", "Reshape", "Flatten"):
            o = _other_layer(node, rf)
            if o:
                others.append(o)
    # every weight variable of the model (what the C++ stores)
    weight_rows = []
    for node in hls_model.get_layers():
        for w in node.weights.values():
            if getattr(w.type.precision, "width", None) is None:
                continue
            weight_rows.append({"layer": node.name, **_var_row(w)})
    total_bits = sum(r["bits"] for r in weight_rows)

    costs = rnn_costs(model)
    timesteps = int(model.input_shape[1])
    macs_step = sum(l["macs_per_step"] for l in layers if l["class"] == "FDHTLSTM") or costs["macs_per_step"]
    macs_clip = sum(l["macs_per_clip"] for l in layers) + sum(o["macs"] for o in others)
    est_layers = [l["estimate"] for l in layers]
    cycles_clip = {k: sum(e["cycles_per_clip"][k] for e in est_layers) + sum(o["cycles"] for o in others)
                   for k in ("lower", "upper")}
    cycles_step = {k: sum(e["cycles_per_step"][k] for l, e in zip(layers, est_layers) if l["class"] == "FDHTLSTM")
                   + sum(o.get("cycles_per_step", 0) for o in others) for k in ("lower", "upper")}
    mults = sum(e["multipliers"] for e in est_layers) + sum(o["multipliers"] for o in others)
    dsp = sum(e["dsp"] for e in est_layers) + sum(o["dsp"] for o in others)
    tables = [t for l in layers for t in l["activation_tables"]] + [t for o in others for t in o.get("activation_tables", [])]
    dense = dense_lstm_estimate(costs["features_per_step"], costs["units"], timesteps, rf, width)
    dev = _device(h["part"])
    pipeline_style = getattr(hls_model.config, "pipeline_style", None)

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
            "input_port_bits": int(np.prod(model.input_shape[1:])) * type_width(
                hls_model.get_input_variables()[0].type.precision),
        },
        "layers": layers,
        "other_layers": others,
        "estimate": {
            "label": "ANALYTIC ESTIMATE from the kernel's loop structure, not a synthesis result",
            "multipliers": int(mults), "dsp": int(dsp),
            "cycles_per_step": cycles_step, "cycles_per_clip": cycles_clip,
            "clips_per_s": {"at_lower_cycles": _clips_per_s(cycles_clip["lower"], clock),
                            "at_upper_cycles": _clips_per_s(cycles_clip["upper"], clock)},
            "latency_us_per_clip": {k: v * clock / 1000.0 for k, v in cycles_clip.items()},
            "fit": _fit(dsp, total_bits, dev, total_bits + sum(l["buffer_bits"] for l in layers)
                        + sum(t["bits"] for t in tables)),
            "if_fully_unrolled": {"multipliers": int(macs_clip),
                                  "note": "what a pipelined top function (every loop unrolled) would need at most"},
        },
        "dense_lstm": {**dense, "label": "hls4ml's stock LSTM at the same shape, ANALYTIC ESTIMATE",
                       "clips_per_s": _clips_per_s(dense["cycles_per_clip"], clock),
                       "fit": _fit(dense["dsp"], dense["weight_bits"], dev)},
        "device": dev,
        "assumptions": [
            "Cycle estimate 'lower' = codegen.stage_report: out_size x (outer sum trips) x ceil(inner/sum_unroll) x "
            "reuse_factor per stage, plus the element-wise loops (trip count x reuse_factor) and ~1 cycle per "
            "table activation; no pipeline fill, no loop overhead.",
            f"'upper' adds {LOOP_ENTRY_CYCLES} cycles for every entry into a pipelined loop (fill, entry/exit).",
            "Stages run one after another (they share buffers); no multiplier sharing across stages.",
            "DSPs: one DSP48E2 per multiplier up to 27x18-bit operands (ceil(wide/27) x ceil(narrow/18) above); "
            "narrow products may go to LUTs instead. LUT/FF are not estimated.",
            "clips/s = clock / cycles per clip: one clip at a time (the recurrence serialises the time steps).",
            "'Weights fit BRAM' and 'weights + buffers + tables' divide bits by 18 Kib per BRAM_18K (lower "
            "bounds: partitioning for parallel access needs more blocks; small arrays may go to LUTRAM/registers).",
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
            f"({int(np.prod(model.input_shape[1:])):,} values); that is not routable. Plan a streaming or "
            "memory-mapped input (the HT kernels take io_parallel only).")
    if kinds:
        try:
            out["kinds"] = kind_comparison(model, cfg, width)
        except Exception as e:  # the comparison is informative only; never break the flow for it
            out["kinds"] = [{"error": f"{type(e).__name__}: {e}"}]
    return _jsonable(out)


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------


def _n(v, nd=0) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float) and nd:
        return f"{v:,.{nd}f}"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return f"{int(v):,}"


def _pct(v) -> str:
    return "n/a" if v is None else (f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}")


def _yes(v) -> str:
    return "n/a" if v is None else ("yes" if v else "**NO**")


def render_markdown(hw: Dict[str, Any]) -> str:
    m, e, d, dev = hw["model"], hw["estimate"], hw["dense_lstm"], hw["device"]
    L: List[str] = []
    L.append(f"# Hardware report: {hw.get('config')} ({hw['project_name']})")
    L.append("")
    L.append(f"Backend {hw['backend']}, part `{hw['part']}` ({dev.get('name') or 'unknown device'}), "
             f"clock {hw['clock_period_ns']:g} ns ({hw['clock_mhz']:g} MHz), reuse factor {hw['reuse_factor']}, "
             f"default precision `{hw['precision']}`, hls4ml top-level style `{hw.get('pipeline_style')}`.")
    L.append("")
    for w in hw.get("warnings") or []:
        L.append(f"> **Warning.** {w}")
        L.append("")
    L.append("## From the design (exact)")
    L.append("")
    L.append(f"Model: {m['kind']} LSTM, H = {m['units']}, {m['features_per_step']:,} inputs per step, "
             f"{m['timesteps']} steps, {m['params']:,} parameters ({m['recurrent_params']:,} recurrent).")
    L.append("")
    L.append("| | MACs per time step | MACs per clip | weight storage (bits) |")
    L.append("|---|---:|---:|---:|")
    for l in hw["layers"]:
        L.append(f"| {l['layer']} ({l['class']}) | {_n(l['macs_per_step'])} | {_n(l['macs_per_clip'])} | "
                 f"{_n(l['weights']['total_bits'])} |")
    for o in hw["other_layers"]:
        if o["macs"]:
            L.append(f"| {o['layer']} ({o['class']}) | {_n(o['macs_per_step']) if 'macs_per_step' in o else ''} | "
                     f"{_n(o['macs'])} | |")
    L.append(f"| **model** | {_n(m['macs_per_step'])} | {_n(m['macs_per_clip'])} | {_n(m['weight_bits'])} "
             f"({m['weight_bits'] / 8192:.1f} KiB) |")
    L.append("")
    for l in hw["layers"]:
        s = l["shape"]
        L.append(f"### {l['layer']}: HT cores")
        L.append("")
        L.append(f"Modes {'x'.join(map(str, s['input_modes']))} (padded {s['padded_in']:,}, "
                 f"{s['in_features']:,} real) -> {'x'.join(map(str, s['output_modes']))}, ranks "
                 f"{', '.join(f'{k} {v}' for k, v in s['ranks'].items())}; plan: {s['stages']} stages ({s['plan_method']}).")
        L.append("")
        L.append("| core | shape | entries | type | bits |")
        L.append("|---|---|---:|---|---:|")
        for name, c in l["weights"]["cores"].items():
            L.append(f"| {name} | {'x'.join(map(str, c['core_shape']))} | {c['entries']:,} | `{c['precision']}` | "
                     f"{c['bits']:,} |")
        b = l["weights"]["bias"]
        L.append(f"| bias | {b['entries']} | {b['entries']:,} | `{b['precision']}` | {b['bits']:,} |")
        L.append(f"| **total** | | {sum(c['entries'] for c in l['weights']['cores'].values()) + b['entries']:,} | | "
                 f"**{l['weights']['total_bits']:,}** |")
        L.append("")
        L.append(f"On-chip buffers of the product (v, t0.., z): {l['buffer_bits']:,} bits.")
        L.append("")
        li = l["largest_intermediate"]
        if li:
            L.append(f"Largest intermediate buffer: `{li['tensor']}`, {li['entries']:,} entries of `{li['type']}` "
                     f"= {li['bits']:,} bits (all intermediates: {l['intermediate_entries']:,} entries).")
            L.append("")
        for t in l["activation_tables"]:
            L.append(f"Activation table: {t['function']} x{t['tables']}, {t['entries']:,} entries of `{t['type']}` "
                     f"= {t['bits']:,} bits.")
        if l["activation_tables"]:
            L.append("")
    for o in hw["other_layers"]:
        for t in o.get("activation_tables", []):
            L.append(f"Activation table ({o['layer']}): {t['function']}, {t['entries']:,} entries of `{t['type']}` "
                     f"= {t['bits']:,} bits.")
    L.append(f"All activation tables: {m['activation_table_bits']:,} bits.")
    L.append("")
    L.append("## ANALYTIC ESTIMATE (not a synthesis result)")
    L.append("")
    L.append("| | multipliers | DSP (est.) | cycles per time step | cycles per clip | clips/s |")
    L.append("|---|---:|---:|---:|---:|---:|")
    for l in hw["layers"]:
        le = l["estimate"]
        cps = le["cycles_per_step"]
        cpc = le["cycles_per_clip"]
        L.append(f"| {l['layer']} ({l['class']}, RF {le['reuse_factor']}, sum_unroll {le['sum_unroll']}) | "
                 f"{_n(le['multipliers'])} | {_n(le['dsp'])} | {_n(cps['lower'])} - {_n(cps['upper'])} | "
                 f"{_n(cpc['lower'])} - {_n(cpc['upper'])} | |")
    for o in hw["other_layers"]:
        L.append(f"| {o['layer']} ({o['class']}) | {_n(o['multipliers'])} | {_n(o['dsp'])} | "
                 f"{_n(o['cycles_per_step']) if 'cycles_per_step' in o else ''} | {_n(o['cycles'])} | |")
    cs = e["clips_per_s"]
    L.append(f"| **model** | **{_n(e['multipliers'])}** | **{_n(e['dsp'])}** | "
             f"{_n(e['cycles_per_step']['lower'])} - {_n(e['cycles_per_step']['upper'])} | "
             f"**{_n(e['cycles_per_clip']['lower'])} - {_n(e['cycles_per_clip']['upper'])}** | "
             f"**{_n(cs['at_upper_cycles'], 1)} - {_n(cs['at_lower_cycles'], 1)}** |")
    L.append(f"| hls4ml stock dense LSTM, same shape | {_n(d['multipliers']['total'])} (W_x {_n(d['multipliers']['W_x'])}, "
             f"W_h {_n(d['multipliers']['W_h'])}) | {_n(d['dsp'])} | {_n(d['cycles_per_step'])} | "
             f"{_n(d['cycles_per_clip'])} | {_n(d['clips_per_s'], 1)} |")
    L.append("")
    L.append(f"Latency per clip at {hw['clock_period_ns']:g} ns: {e['latency_us_per_clip']['lower']:,.2f} - "
             f"{e['latency_us_per_clip']['upper']:,.2f} us. The dense LSTM needs {_n(d['macs_per_step'])} MACs per "
             f"step and {_n(d['weight_bits'])} weight bits ({d['params']:,} parameters at "
             f"{hw['precision']}).")
    L.append("")
    if hw["layers"]:
        L.append("Per stage (reuse factor and sum_unroll as configured):")
        L.append("")
    for l in hw["layers"]:
        L.append(f"| {l['layer']} stage | operation | MACs | out entries | operand bits | multipliers | cycles (lower - upper) |")
        L.append("|---|---|---:|---:|---|---:|---:|")
        for r in l["estimate"]["stages"]:
            L.append(f"| {r['stage']} | {r['out']} = {r['a']} . {r['b']} | {r['macs']:,} | {r['out_size']:,} | "
                     f"{r['operand_bits'][0]} x {r['operand_bits'][1]} | {r['multipliers']} | "
                     f"{r['cycles_estimate']:,} - {r['cycles_upper']:,} |")
        ew = l["estimate"]["cycles_elementwise_per_step"]
        L.append(f"| | element-wise ({', '.join(k for k, v in l['estimate']['elementwise_loops'].items() if v)}) | | | | "
                 f"{l['estimate']['multipliers_elementwise']} | {ew['lower']:,} - {ew['upper']:,} |")
        L.append("")
    L.append("## Device ceilings and fit")
    L.append("")
    if dev.get("DSP"):
        L.append(f"`{dev['part']}`: {dev['DSP']:,} DSP, {dev['BRAM_18K']:,} BRAM_18K, {dev['LUT']:,} LUT, "
                 f"{dev['FF']:,} FF, {dev['URAM']:,} URAM ({dev['source']}).")
        L.append("")
        L.append("| | DSP needed (est.) | DSP share | fits DSPs | weights fit BRAM | weights fit BRAM+URAM | "
                 "weights + buffers + tables |")
        L.append("|---|---:|---:|---|---|---|---:|")
        for name, f in (("this design", e["fit"]), ("stock dense LSTM", d["fit"])):
            L.append(f"| {name} | {_n(f['dsp_needed'])} | {_pct(f['dsp_pct'])} % | {_yes(f['dsp_fits'])} | "
                     f"{_yes(f['weights_fit_bram'])} (>= {_n(f['weight_bram_18k_min'])} BRAM_18K) | "
                     f"{_yes(f['weights_fit_bram_uram'])} | >= {_n(f['memory_bram_18k_min'])} BRAM_18K "
                     f"({_pct(f['memory_bram_pct'])} %) |")
    else:
        L.append(f"No ceilings known for `{dev['part']}` ({dev['source']}).")
    L.append("")
    kinds = hw.get("kinds") or []
    if kinds:
        L.append("## Model kinds at this shape (recurrent layer; untrained, same H)")
        L.append("")
        L.append(f"![MACs and weight bits per kind]({PLOT_NAME})")
        L.append("")
        L.append("| kind | parameters | MACs per time step | weight bits |")
        L.append("|---|---:|---:|---:|")
        for r in kinds:
            if "macs_per_step" in r:
                L.append(f"| {r['kind']} | {r['params']:,} | {r['macs_per_step']:,} | {r['weight_bits']:,} |")
            else:
                L.append(f"| {r.get('kind', '?')} | n/a | n/a | n/a ({r.get('error', '')}) |")
        L.append("")
        L.append(f"Weight bits = parameters x {type_width(hw['precision'])} bits (`{hw['precision']}`).")
        L.append("")
    L.append("## Vendor synthesis")
    L.append("")
    s, v = hw.get("synthesis"), hw.get("vendor")
    if v:
        L.append(f"{v.get('tool')}: {v.get('status')}; options "
                 f"{', '.join(f'{k}={x}' for k, x in (v.get('options') or {}).items())}.")
        if v.get("status") != "ok":
            L.append("")
            L.append(f"To run it: `{v.get('later_command')}`")
        ip = v.get("ip")
        if ip:
            L.append("")
            L.append(f"Exported IP (ip_catalog): `{ip['ip_dir']}`" + (f", archive `{ip['zip'][0]}`" if ip.get("zip") else ""))
        L.append("")
    if s and not s.get("error"):
        lat, ns, ii = s["latency_cycles"], s["latency_ns"], s["interval_cycles"]
        L.append(f"C synthesis: target clock {s['target_clock_ns']} ns, estimated {s['estimated_clock_ns']} ns; "
                 f"latency {_n(lat['min'])} - {_n(lat['max'])} cycles ({_n(ns['min'])} - {_n(ns['max'])} ns), "
                 f"II {_n(ii['min'])} - {_n(ii['max'])} cycles.")
        L.append("")
        L.append("| resource | used | available | share |")
        L.append("|---|---:|---:|---:|")
        for k in ("DSP", "LUT", "FF", "BRAM_18K", "URAM"):
            u = s["utilization_pct"].get(k)
            L.append(f"| {k} | {_n(s['resources'].get(k))} | {_n(s['available'].get(k))} | "
                     f"{'n/a' if u is None else _pct(u) + ' %'} |")
        if s.get("vivado_synth"):
            vs = s["vivado_synth"]
            L.append("")
            L.append("Vivado synthesis: " + ", ".join(f"{k} {_n(vs.get(k))}" for k in ("DSP", "LUT", "FF", "BRAM_18K", "URAM")))
        if s.get("cosim"):
            c = s["cosim"]
            L.append("")
            L.append(f"C/RTL co-simulation: {c.get('Status')}, latency {c.get('LatencyMin')} - {c.get('LatencyMax')}, "
                     f"II {c.get('IntervalMin')} - {c.get('IntervalMax')}.")
        est = e["cycles_per_clip"]
        if lat["max"]:
            L.append("")
            L.append(f"Synthesis latency vs the analytic estimate: {lat['max']:,} cycles vs {est['lower']:,} - "
                     f"{est['upper']:,}.")
    elif s and s.get("error"):
        L.append(s["error"])
    else:
        L.append("Not run: no synthesis reports in the project. Run `python build.py ... --synth` (or --export) "
                 "with the vendor tools on PATH, or copy the reports in and run "
                 "`python -m hls_project.reports <project dir>`.")
    L.append("")
    L.append("## Assumptions of the estimate")
    L.append("")
    for a in hw["assumptions"]:
        L.append(f"* {a}")
    L.append("")
    return "\n".join(L)


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
    from . import vendor

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
    from . import vendor

    hw = load(project_dir)
    v = dict(vendor_result)
    synthesis = v.pop("synthesis", None)
    hw["vendor"] = v
    hw["synthesis"] = synthesis if synthesis is not None else vendor.parse_synthesis(project_dir)
    _write(project_dir, hw)
    return hw


def refresh(project_dir: str) -> Dict[str, Any]:
    """Re-read the synthesis reports in ``project_dir`` (e.g. copied in) into its hardware report."""
    from . import vendor

    hw = load(project_dir)
    hw["synthesis"] = vendor.parse_synthesis(project_dir)
    _write(project_dir, hw)
    return hw


def summary_lines(hw: Dict[str, Any]) -> List[str]:
    """A few lines for the console."""
    m, e, d = hw["model"], hw["estimate"], hw["dense_lstm"]
    cpc, cps = e["cycles_per_clip"], e["clips_per_s"]
    fit = e["fit"]
    lines = [
        f"hardware (estimate) {e['multipliers']:,} multipliers, ~{e['dsp']:,} DSP"
        + (f" ({_pct(fit['dsp_pct'])} % of {hw['part']})" if fit.get("dsp_needed") is not None else "")
        + f"; {cpc['lower']:,}-{cpc['upper']:,} cycles/clip = "
          f"{cps['at_upper_cycles']:,.0f}-{cps['at_lower_cycles']:,.0f} clips/s at {hw['clock_mhz']:g} MHz",
        f"  dense LSTM (est.) {d['multipliers']['total']:,} multipliers, ~{d['dsp']:,} DSP"
        + (f" (fits: {'yes' if d['fit']['dsp_fits'] else 'NO'})" if d["fit"].get("dsp_fits") is not None else "")
        + f"; {d['weight_bits']:,} weight bits vs {m['weight_bits']:,}",
    ]
    s = hw.get("synthesis")
    if s and not s.get("error"):
        r = s["resources"]
        lines.append(f"  csynth             latency {s['latency_cycles']['min']}-{s['latency_cycles']['max']} cycles, "
                     f"II {s['interval_cycles']['min']}-{s['interval_cycles']['max']}, DSP {r['DSP']}, LUT {r['LUT']}, "
                     f"FF {r['FF']}, BRAM_18K {r['BRAM_18K']}, URAM {r['URAM']}")
    for w in hw.get("warnings") or []:
        lines.append("  warning: " + w)
    return lines


def build_parser(prog: str = "python -m hls_project.reports"):
    from keras_model.cli import ArgumentParser, add_common

    p = ArgumentParser(prog=prog, description="Re-read the synthesis reports of a written project into its "
                                              "hardware_report.json/.md (e.g. after copying them in).")
    p.add_argument("project_dir")
    return add_common(p)


def run(a) -> int:
    from keras_model.errors import ConfigError

    if not os.path.isfile(os.path.join(a.project_dir, JSON_NAME)):
        raise ConfigError(f"{a.project_dir} has no {JSON_NAME}; write the project with fdht build first")
    hw = refresh(a.project_dir)
    print("\n".join(summary_lines(hw)))
    print(f"report              {os.path.join(a.project_dir, MD_NAME)}")
    return 0


def main(argv=None, prog: str = "python -m hls_project.reports") -> int:
    from keras_model.cli import run_command

    return run_command(build_parser, run, argv, prog)


if __name__ == "__main__":
    import sys

    sys.exit(main())
