"""The RTL twin of the accelerator: the FDHT-LSTM layer as Verilog on the
schedule of ``hls_project/accel`` (``generate``), simulated cycle-accurately
in Verilator against the bit-exact model (``sim``), synthesised by Yosys and
placed and routed by nextpnr-ecp5 (``synth``); all open tools from PyPI
(``tools``).

    from hls_project import rtl
    rtl.build("build/hls/default")            # -> build/hls/default/rtl/rtl_report.json
    fdht rtl build/hls/default [--samples N] [--yosys] [--ecp5]

MEASURED here (cycles by simulation, resources by synthesis) next to the
MODEL of ``accel.model``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, Optional

import numpy as np

REPORT = "rtl_report.json"


def layer_node(hls_model):
    nodes = [n for n in hls_model.get_layers() if n.class_name == "FDHTLSTM"]
    if not nodes:
        from keras_model.common.errors import ConfigError

        raise ConfigError("RTL: the model has no FDHT-LSTM layer")
    return nodes[0]


def layer_io(hls_model, x: np.ndarray):
    """(the FDHT-LSTM layer's input, its output) for model inputs ``x`` (as
    the testbench feeds them), from the bit-exact model."""
    from hls_project.numerics import bitexact
    node = layer_node(hls_model)
    rec = bitexact.trace(hls_model, np.asarray(x, dtype=np.float64).reshape(len(x), -1))
    names = [n.name for n in hls_model.get_layers()]
    k = names.index(node.name)
    return rec[names[k - 1]], rec[node.name]


def signed_raw(t, values) -> np.ndarray:
    raw = t.raw(values).astype(np.int64)
    return np.where(raw >= (1 << (t.w - 1)), raw - (1 << t.w), raw) if t.s else raw


def simulate(hls_model, x: np.ndarray, rtl_dir: str, ready: float = 0.5, seed: int = 1, timing_clips: int = 16,
             design=None, mutate=None, log=print) -> Dict[str, Any]:
    """Generate, build and simulate the layer's RTL on inputs ``x``; compare
    every sample with the bit-exact model; measure latency and interval
    (a second run without back-pressure on the first ``timing_clips``
    clips, repeated if there are fewer). ``mutate(rtl_dir)``: edits the
    written sources before the build (tests of the check itself)."""
    from hls_project.accel import model
    from hls_project.rtl import generate, sim

    node = layer_node(hls_model)
    d = design or generate.design(node)
    srcs = generate.write(d, rtl_dir)
    if mutate is not None:
        mutate(rtl_dir)
    t0 = time.time()
    exe = sim.build(d, rtl_dir, srcs)
    build_s = time.time() - t0
    xin, ref = layer_io(hls_model, x)
    raw = signed_raw(d.in_t, xin)
    r = sim.run(exe, rtl_dir, raw, ready=ready, seed=seed, tag="bitexact")
    got = d.res_t.value(np.mod(r["outputs"], 1 << d.res_t.w)).reshape(len(x), -1)
    ref = np.asarray(ref, dtype=np.float64).reshape(len(x), -1)
    same = np.all(got == ref, axis=1) if got.shape == ref.shape else np.zeros(len(x), dtype=bool)
    with open(os.path.join(rtl_dir, "rtl_layer_outputs.log"), "w") as f:
        for row in got:
            f.write(" ".join(repr(float(v)) for v in row) + "\n")
    n_t = max(4, int(timing_clips))
    reps = -(-n_t // len(raw))
    tr = sim.run(exe, rtl_dir, np.tile(raw, (reps, 1))[:n_t], ready=1.0, seed=seed, tag="timing")
    cyc = sim.cycles(tr["timing"])
    ms = model.simulate(d.schedule)
    out = {
        "top": d.top, "layer": d.node_name, "bit_exact": bool(np.all(same)), "samples": int(len(x)),
        "samples_equal": int(np.sum(same)), "reference": "hls_project/numerics/bitexact.py (the layer's output h_T)",
        "back_pressure": {"output_tready_probability": ready, "seed": seed},
        "interval_cycles": cyc.get("interval_cycles"), "latency_cycles": cyc["latency_cycles"],
        "timing": {**cyc, "clips": n_t, "note": "no back-pressure; interval: mean distance between successive "
                   "clips' first input beats over the second half of the clips; latency: first clip, first input beat "
                   "accepted to its output word valid"},
        "model": {"interval_cycles": ms["interval"], "latency_cycles": ms["latency"]},
        "interval_vs_model": round(cyc["interval_cycles"] / ms["interval"] - 1, 4) if cyc.get("interval_cycles") else None,
        "latency_vs_model": round(cyc["latency_cycles"] / ms["latency"] - 1, 4),
        "sim": {"verilator_build_s": round(build_s, 1), "seconds_per_clip": round(r["seconds"] / len(x), 5)},
        "schedule": {"mac_lanes": d.schedule.mac_lanes,
                     "stages": {s.name: {"free_lanes": s.params["FREE"], "sum_lanes": s.params["SUML"],
                                         "trips": s.params["TRIPS"]} for s in d.x + d.h}},
        "sources": srcs,
    }
    if not out["bit_exact"]:
        bad = np.flatnonzero(~same)
        out["first_mismatch"] = {"sample": int(bad[0]), "rtl": got[bad[0]].tolist()[:8] if len(got) > bad[0] else None,
                                 "reference": ref[bad[0]].tolist()[:8]}
    out["_design"] = d
    return out


def _project_model(project_dir: str, cfg: Optional[Dict[str, Any]] = None):
    from keras_model.common.config import load_config

    from hls_project.flow import vendor
    with open(os.path.join(project_dir, "csim_report.json")) as f:
        report = json.load(f)
    if cfg is None:
        cfg = load_config(report.get("config"))
    return vendor.hls_model_for(cfg, project_dir, report), cfg


def project_inputs(project_dir: str, samples: Optional[int] = None) -> np.ndarray:
    from hls_project.numerics import bitexact
    with open(os.path.join(project_dir, "tb_data", "tb_input_features.dat")) as f:
        rows = [ln for ln in f.read().splitlines() if ln.strip()]
    if samples:
        rows = rows[:int(samples)]
    return bitexact.testbench_input(rows)


def build(project_dir: str, hls_model=None, cfg: Optional[Dict[str, Any]] = None, x: Optional[np.ndarray] = None,
          samples: Optional[int] = None, yosys: bool = False, ecp5: bool = False, ready: float = 0.5,
          log=print) -> Dict[str, Any]:
    """The RTL of the project's FDHT-LSTM layer in ``<project_dir>/rtl``,
    simulated on the project's test inputs (``x``, else tb_data; the first
    ``samples``), optionally synthesised (``yosys``: synth_xilinx for the
    configured part; ``ecp5``: synth_ecp5 + nextpnr-ecp5 on an LFE5U-85F).
    Writes and returns ``rtl/rtl_report.json``."""
    from hls_project.rtl import synth, tools

    project_dir = os.path.abspath(project_dir)
    if hls_model is None:
        hls_model, cfg = _project_model(project_dir, cfg)
    if x is None:
        x = project_inputs(project_dir, samples)
    elif samples:
        x = x[:int(samples)]
    rtl_dir = os.path.join(project_dir, "rtl")
    log(f"RTL: generating and simulating {len(x)} samples in {rtl_dir}")
    rep = simulate(hls_model, x, rtl_dir, ready=ready, log=log)
    d = rep.pop("_design")
    log(f"RTL: bit-exact {rep['bit_exact']} ({rep['samples_equal']}/{rep['samples']}); interval "
        f"{rep['interval_cycles']} cycles (MODEL {rep['model']['interval_cycles']}), latency {rep['latency_cycles']} "
        f"(MODEL {rep['model']['latency_cycles']})")
    part = (cfg or {}).get("hls", {}).get("part") or "xcvu9p-flga2104-2L-e"
    if yosys:
        rep["yosys"] = synth.yosys_xilinx(rtl_dir, rep["sources"], d.top, synth.family_of(part))
        rep["yosys"]["part"] = part
        log(f"RTL: Yosys {rep['yosys']['family']}: {rep['yosys']}")
    if ecp5:
        rep["ecp5"] = synth.ecp5(rtl_dir, rep["sources"], d.top)
        log(f"RTL: ECP5 {rep['ecp5']['device']}: Fmax {rep['ecp5']['fmax_mhz']} MHz")
    rep["tools"] = tools.versions()
    with open(os.path.join(rtl_dir, REPORT), "w") as f:
        json.dump(rep, f, indent=2, default=str)
    return rep
