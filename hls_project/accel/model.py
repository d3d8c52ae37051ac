"""THE cost model of the accelerator (MODEL: an upper bound, not a synthesis result).

Every cycle and DSP figure of the project comes from here: the planner
(``schedule.build``) asks it which lane counts to use, the hardware report and
the benchmarks print it. Its IIs come from ``rules.py`` (the scheduling rules
the lint checks on the generated code), so a figure here is what the
generated C++ can reach if the tool schedules every loop at the II the rules
allow; a vendor report, when one exists, replaces it.

Per process and frame: ``trips * II + depth`` cycles. The frame pipeline is
simulated frame by frame (ping-pong buffers between stages: a stage starts
frame t when it finished frame t-1, its producer finished frame t, and its
consumer took frame t-2), the recurrence step t after the drain started
frame t and the step t-1 ended.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

import numpy as np

from keras_model.common import fixedtype
from keras_model.common.fixedtype import precision_str
from hls_project.accel import rules
from hls_project.accel.stages import Schedule, Stage, b_lane_digits

ASSUMPTIONS = [
    "MODEL: every pipelined loop at the II the HLS rules allow (hls_project/accel/rules.py; the lint checks the "
    "generated code against them and reports the II per stage), cycles = trips x II + an assumed pipeline depth; "
    "the frame pipeline (ping-pong arrays in a frame loop with DATAFLOW in its body) and the recurrence are "
    "simulated frame by frame. Trip counts are checked by the HT_COUNT_TRIPS csim build; the II and depth a "
    "vendor scheduler reaches are not checked here: the MODEL is an upper bound until a vendor report replaces it.",
    "clips/s = clock / the busiest process's cycles per clip (successive calls overlap: ap_ctrl_chain on the "
    "top); clips_per_s_no_overlap = clock / latency.",
    "DSPs: one DSP48E2 per multiply-add lane up to 27x18-bit operands, 3 for the gate unit, the Dense's "
    "multipliers at its reuse factor, one per softmax output. LUT/FF are not estimated.",
    "BRAM: arrays above 1 Kib in 18-Kib blocks, at least one per bank; smaller ones in LUTRAM/registers.",
]
LABEL = "MODEL (cycle/resource model of the generated code under the HLS rules, not a synthesis result)"
MULT_DEPTH = 3  # a DSP48 multiplier with input and output registers
GATE_DEPTH = 12  # zh read, table index, lookups, three multiplies, state update
LOOP_OVERHEAD = 2  # loop entry and exit


def stage_depth(st: Stage) -> int:
    """Pipeline depth: A/ROM read 1, multiply 3, adder tree, accumulate 1, write 1."""
    return 1 + MULT_DEPTH + rules.tree_depth(st.sum_lanes) + 2


def stage_ii(st: Stage) -> int:
    return rules.acc_ii(st.acc_rows)


def stage_cycles(st: Stage) -> int:
    return st.trips * stage_ii(st) + stage_depth(st)


def regroup_cycles(s: Schedule) -> int:
    return s.box_words + LOOP_OVERHEAD


def drain_cycles(s: Schedule) -> int:
    return (s.n_state if s.kind == "lstm" else s.shape.out_features) + 3


def gate_cycles(s: Schedule) -> int:
    return s.n_state + GATE_DEPTH if s.kind == "lstm" else 0


def output_cycles(s: Schedule) -> int:
    """The LSTM's output word: h copied out one value per cycle."""
    return s.n_state + LOOP_OVERHEAD if s.kind == "lstm" else 0


def recurrence_step_cycles(s: Schedule) -> int:
    if s.kind != "lstm":
        return 0
    out = output_cycles(s) if s.return_sequences else 0
    return sum(stage_cycles(st) for st in s.h_stages) + gate_cycles(s) + out


def reset_cycles(s: Schedule) -> int:
    return max(s.n_state, s.h_box.entries) + LOOP_OVERHEAD if s.kind == "lstm" else 0


def x_processes(s: Schedule) -> Dict[str, int]:
    """Cycles per frame of the frame pipeline's processes, in order. The
    regroup and x0 are joined by a FIFO: they run together at the slower
    one's pace."""
    rows = {"regroup + x0": max(regroup_cycles(s), stage_cycles(s.x_stages[0]))}
    for st in s.x_stages[1:]:
        rows[st.name] = stage_cycles(st)
    rows["drain"] = drain_cycles(s)
    return rows


def process_cycles(s: Schedule) -> Dict[str, int]:
    """Cycles per frame of every process (the recurrence: per step)."""
    rows = dict(x_processes(s))
    if s.kind == "lstm":
        rows["recurrence"] = recurrence_step_cycles(s)
    return rows


def frame_interval(s: Schedule) -> int:
    return max(process_cycles(s).values())


def simulate(s: Schedule) -> Dict[str, int]:
    """Latency of one clip and each process's busy cycles per clip."""
    lens = list(x_processes(s).values())
    t_n = s.n_timesteps
    start = [[0] * len(lens) for _ in range(t_n)]
    end = [[0] * len(lens) for _ in range(t_n)]
    for t in range(t_n):
        for k, ln in enumerate(lens):
            ready = end[t - 1][k] if t else 0
            if k:
                ready = max(ready, end[t][k - 1])
            if t >= 2 and k + 1 < len(lens):
                ready = max(ready, start[t - 1][k + 1])  # ping-pong: the consumer released a buffer
            start[t][k], end[t][k] = ready, ready + ln
    rec_end = 0
    if s.kind == "lstm":
        reset = reset_cycles(s)
        h_part = sum(stage_cycles(st) for st in s.h_stages)
        rec_end = reset
        for t in range(t_n):
            gates_from = max(rec_end + h_part, start[t][-1] + 1)
            rec_end = max(gates_from + gate_cycles(s), end[t][-1] + GATE_DEPTH)
            if s.return_sequences:
                rec_end += output_cycles(s)
        if not s.return_sequences:
            rec_end += output_cycles(s)
    latency = max(rec_end, end[-1][-1])
    busy = {name: t_n * c for name, c in x_processes(s).items()}
    if s.kind == "lstm":
        busy["recurrence"] = t_n * recurrence_step_cycles(s) + reset_cycles(s) + \
            (0 if s.return_sequences else output_cycles(s))
    return {"latency": int(latency), "interval": int(max(busy.values())), **{f"busy {k}": v for k, v in busy.items()}}


def utilisation(s: Schedule, interval: int) -> float:
    lanes = s.mac_lanes
    return s.n_timesteps * s.macs_per_frame() / (lanes * interval) if lanes and interval else 0.0


# --------------------------------------------------------------------------
# Choosing the lanes
# --------------------------------------------------------------------------


def _metric(s: Schedule):
    procs = process_cycles(s)
    return max(procs.values()), sum(procs.values())


def _pins_ok(s: Schedule, pins: Dict[str, int]) -> bool:
    return all(st.lanes <= pins[st.name] for st in s.stages if st.name in pins)


def assign_lanes(s: Schedule, budget: int, options: Dict[str, Dict[str, List[int]]],
                 pins: Optional[Dict[str, int]] = None) -> None:
    """Greedy: starting from one lane everywhere, repeatedly raise the lane
    count of the index (per chain) whose next step shortens the slowest
    process most per added lane, while the lanes stay within ``budget`` and
    each pinned stage within its pin."""
    pins = {str(k): int(v) for k, v in (pins or {}).items()}
    qs = {"x": s.x_q, "h": s.h_q}
    for chain, opts in options.items():
        for i, o in opts.items():
            qs[chain][i] = o[0]
    while True:
        base, base_total = _metric(s), s.mac_lanes
        best = None
        for chain, opts in options.items():
            q = qs[chain]
            for i, o in opts.items():
                k = o.index(q[i])
                if k + 1 >= len(o):
                    continue
                old = q[i]
                q[i] = o[k + 1]
                if s.mac_lanes <= budget and _pins_ok(s, pins):
                    m = _metric(s)
                    if m < base:
                        gain = (base[0] - m[0]) + 1e-6 * (base[1] - m[1])
                        score = gain / max(s.mac_lanes - base_total, 1)
                        if best is None or score > best[0]:
                            best = (score, chain, i, o[k + 1])
                q[i] = old
        if best is None:
            return
        qs[best[1]][best[2]] = best[3]


RECOMMEND_RULE = "the budget (of 16, 32, .., 1024) with the most clips/s per DSP (the smaller one on a tie)"


def recommend_lanes(headline_for, budgets=(16, 32, 64, 128, 192, 256, 320, 384, 512, 768, 1024)) -> int:
    """The recommended ``hls.lanes``: ``headline_for(b)`` gives the MODEL
    headline (clips_per_s, dsp) at budget ``b``; the most efficient budget."""
    best, best_eff = budgets[0], -1.0
    for b in budgets:
        h = headline_for(b)
        eff = h["clips_per_s"] / max(h["dsp"], 1)
        if eff > best_eff * 1.001:
            best, best_eff = b, eff
    return best


# --------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------


def dsp_per_multiplier(wa: int, wb: int) -> int:
    """DSP48 slices (27 x 18-bit multiplier) per wa x wb product: a rule of thumb."""
    a, b = max(wa, wb), min(wa, wb)
    return math.ceil(a / 27) * math.ceil(b / 18)


def ht_dsp(s: Schedule, widths: Dict[str, Any]) -> int:
    """One multiplier per lane (A type x table type), 3 per gate lane."""
    dsp = 0
    for st in s.stages:
        wa, wb = widths["a"][st.name], widths["b"][st.name]
        dsp += st.lanes * dsp_per_multiplier(wa, wb)
    if s.kind == "lstm":
        dsp += 3 * dsp_per_multiplier(widths["act"], widths["state"])
    return dsp


# --------------------------------------------------------------------------
# Figures of a converted hls4ml model
# --------------------------------------------------------------------------

LUTRAM_BITS = 1024  # smaller arrays are assumed to go to LUTRAM/registers
BRAM_18K_BITS = 18 * 1024
SOFTMAX_CYCLES = 8  # hls4ml's stable softmax: max, exp look-ups, sum, inverse, products (assumed)


def buffers(sched: Schedule, w: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Every on-chip buffer: entries, bits each, copies (2: ping-pong), banks."""
    rows = []
    for st in sched.x_stages:
        rows.append({"name": f"{st.name} out (ping-pong)", "entries": st.out_banks * st.out_depth * st.free_lanes,
                     "bits_each": w[f"out {st.name}"], "copies": 2, "banks": st.out_banks * st.free_lanes})
        if st.acc_rows > 1:
            rows.append({"name": f"{st.name} accumulators", "entries": st.acc_rows * st.free_lanes,
                         "bits_each": w[f"out {st.name}"], "copies": 1, "banks": st.free_lanes})
    if sched.kind == "lstm":
        rows.append({"name": "z_x FIFO", "entries": 2 * 4 * sched.n_state, "bits_each": w["z"], "copies": 1,
                     "banks": 1})
        rows.append({"name": "h-box", "entries": sched.h_box.entries, "bits_each": w["state"], "copies": 1,
                     "banks": 1})
        for st in sched.h_stages:
            rows.append({"name": f"{st.name} out", "entries": st.out_banks * st.out_depth * st.free_lanes,
                         "bits_each": w[f"out {st.name}"], "copies": 1, "banks": st.out_banks * st.free_lanes})
        rows.append({"name": "c and h state", "entries": 2 * sched.n_state, "bits_each": w["state"], "copies": 1,
                     "banks": 1})
    for r in rows:
        r["bits"] = int(r["entries"]) * int(r["bits_each"]) * int(r["copies"])
    return rows


def constants(sched: Schedule, w: Dict[str, Any], table_size: int = 0) -> List[Dict[str, Any]]:
    """Every ROM: the stage tables (one word per iteration), bias, gate tables."""
    rows = []
    for st in sched.stages:
        lanes = max(1, int(math.prod(st.q[i] for i in b_lane_digits(st))))
        r = int(math.prod(st.trips_of(i) for i in st.order if i in st.b_idx))
        rows.append({"name": f"{st.name} ROM ({st.cs.b})", "entries": r * lanes, "bits_each": w["b"][st.name],
                     "copies": 1, "banks": lanes})
    if sched.kind == "lstm" and table_size:
        rows.append({"name": "gate tables (3 sigmoid, 2 tanh)", "entries": table_size, "bits_each": w["table"],
                     "copies": 5, "banks": 5})
    for r in rows:
        r["bits"] = int(r["entries"]) * int(r["bits_each"]) * int(r["copies"])
    return rows


def _bram(bits: int, banks: int) -> int:
    per_bank = bits / max(banks, 1)
    return max(banks, 1) * max(1, math.ceil(per_bank / BRAM_18K_BITS)) if per_bank > LUTRAM_BITS else 0


def schedule_figures(sched: Schedule, w: Dict[str, Any], table_size: int = 0) -> Dict[str, Any]:
    """The MODEL figures of one layer's schedule (cycles, lanes, DSP, memory)."""
    sim = simulate(sched)
    interval = sim["interval"]
    stages = [{"stage": st.name, "kind": st.kind, "reads": st.cs.a, "table": st.cs.b, "macs": st.macs,
               "lanes": st.lanes, "free_lanes": st.free_lanes, "sum_lanes": st.sum_lanes, "trips": st.trips,
               "ii": stage_ii(st), "depth": stage_depth(st), "cycles": stage_cycles(st), "acc_rows": st.acc_rows,
               "lanes_by_index": {i: st.q[i] for i in st.order if st.q[i] > 1},
               "utilisation": round(sched.n_timesteps * st.macs / (st.lanes * interval), 4)}
              for st in sched.stages]
    bufs, consts = buffers(sched, w), constants(sched, w, table_size)
    gate_dsp = 3 * dsp_per_multiplier(w["act"], w["state"]) if sched.kind == "lstm" else 0
    return {
        "macs_per_step": int(sched.macs_per_frame()), "macs_per_clip": int(sched.n_timesteps * sched.macs_per_frame()),
        "x_box": {"lo": list(sched.x_box.lo), "size": list(sched.x_box.size)},
        "h_box": {"lo": list(sched.h_box.lo), "size": list(sched.h_box.size)} if sched.h_box else None,
        "stream_width": sched.stream_width, "input_words_per_frame": sched.n_in // sched.stream_width,
        "lanes_budget": sched.lanes_budget, "mac_lanes": sched.mac_lanes, "gate_lanes": sched.gate_lanes,
        "stages": stages, "processes_cycles_per_frame": process_cycles(sched),
        "interval_cycles_per_frame": frame_interval(sched), "cycles_per_clip": sim["latency"],
        "processes_cycles_per_clip": {k[5:]: v for k, v in sim.items() if k.startswith("busy ")},
        "interval_cycles_per_clip": interval, "lane_utilisation": round(utilisation(sched, interval), 4),
        "dsp": int(ht_dsp(sched, w)), "gate_dsp": int(gate_dsp),
        "constants": consts, "constant_bits": int(sum(r["bits"] for r in consts)),
        "buffers": bufs, "buffer_bits": int(sum(r["bits"] for r in bufs)),
        "bram_18k": int(sum(_bram(r["bits"], r["banks"]) for r in bufs + consts)),
    }


def trip_counts(sched: Schedule) -> Dict[str, int]:
    """Iterations of every pipelined loop for one clip (what HT_COUNT_TRIPS counts)."""
    t = sched.n_timesteps
    out = {s.name: s.trips * (t if s.chain == "x" else t) for s in sched.stages}
    out["regroup"] = sched.box_words * t
    out["drain"] = (sched.n_state if sched.kind == "lstm" else sched.shape.out_features) * t
    if sched.kind == "lstm":
        out["gates"] = sched.n_state * t
        out["reset"] = max(sched.n_state, sched.h_box.entries)
        out["output"] = sched.n_state * (t if sched.return_sequences else 1)
    return out


def dense_layer(node) -> Dict[str, Any]:
    n_in, n_out = int(node.get_attr("n_in")), int(node.get_attr("n_out"))
    rf = int(node.get_attr("reuse_factor", 1) or 1)
    mults = math.ceil(n_in * n_out / rf)
    wi = fixedtype.width(node.get_weights("weight").type.precision)
    xi = fixedtype.width(node.get_input_variable().type.precision)
    return {"layer": node.name, "class": node.class_name, "macs": n_in * n_out, "reuse_factor": rf,
            "multipliers": mults, "dsp": mults * dsp_per_multiplier(wi, xi),
            "cycles": rf + math.ceil(math.log2(max(n_in, 2))) + 2,
            "weight_bits": n_in * n_out * wi}


def port_bits(var) -> int:
    """Bits of a top-level port: one stream word (io_stream) or the whole array (io_parallel)."""
    w = fixedtype.width(var.type.precision)
    shape = list(var.shape)
    if type(var).__name__ == "StreamVariable" or getattr(var, "pragma", None) and "stream" in str(var.pragma):
        return w * int(shape[-1])
    return w * int(np.prod(shape))


# --------------------------------------------------------------------------
# hls4ml's own layers beside the HT ones
# --------------------------------------------------------------------------

#: Cycles assumed per table activation call (hls4ml's io_parallel activations are unrolled).
ACTIVATION_CYCLES = 1


def _ceil_div(a: int, b: int) -> int:
    return -(-int(a) // int(b))


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


def other_layer(node, rf_default: int) -> Optional[Dict[str, Any]]:
    cls = node.class_name
    if cls == "Dense":
        n_in, n_out = int(node.get_attr("n_in")), int(node.get_attr("n_out"))
        rf = int(node.get_attr("reuse_factor", rf_default) or 1)
        w = node.get_weights("weight")
        wi = fixedtype.width(w.type.precision)
        xi = fixedtype.width(node.get_input_variable().type.precision)
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
                               "type": precision_str(t.precision), "bits": size * fixedtype.width(t.precision)})
        n = int(node.get_attr("n_in", 0))
        ws = [fixedtype.width(node.get_attr(k).precision) for k in ("exp_table_t", "inv_table_t") if node.get_attr(k)]
        return {"layer": node.name, "class": cls, "macs": 0, "multipliers": n,
                "dsp": n * (dsp_per_multiplier(*ws) if len(ws) == 2 else 1), "cycles": 4, "activation_tables": tables,
                "note": "exp table look-ups, a sum, one inverse look-up and n_in products (~4 cycles assumed)"}
    if cls == "LSTM":  # hls4ml's own (dense) LSTM in the model
        n_in, h, t = int(node.get_attr("n_in")), int(node.get_attr("n_out")), int(node.get_attr("n_timesteps"))
        rf = int(node.get_attr("reuse_factor", rf_default) or 1)
        w = fixedtype.width(node.get_weights("weight").type.precision)
        d = dense_lstm_estimate(n_in, h, t, rf, w)
        return {"layer": node.name, "class": cls, "macs": d["macs_per_clip"], "multipliers": d["multipliers"]["total"],
                "dsp": d["dsp"], "cycles": d["cycles_per_clip"], "cycles_per_step": d["cycles_per_step"],
                "macs_per_step": d["macs_per_step"], "reuse_factor": rf,
                "note": "hls4ml's stock LSTM, estimated as in dense_lstm"}
    if cls in ("Activation", "Sigmoid", "TanH", "ReLU"):
        return {"layer": node.name, "class": cls, "macs": 0, "multipliers": 0, "dsp": 0,
                "cycles": ACTIVATION_CYCLES}
    return None
