"""The RTL twin of the accelerator: the model (its FDHT-LSTM or HTDense layer, the
classifier and the softmax / argmax) as Verilog, the layer on the
schedule of ``hls_project/accel`` (``generate``), simulated cycle-accurately
in Verilator against the bit-exact model (``sim``), synthesised by Yosys and
placed and routed by nextpnr-ecp5 (``synth``); all open tools from PyPI
(``tools``).

    from hls_project import rtl
    rep = rtl.build("build/hls/default")      # -> build/hls/default/rtl/rtl_report.json
    fdht rtl build/hls/default [--samples N] [--yosys] [--ecp5]

MEASURED here (cycles by simulation, resources by synthesis) next to the
MODEL of ``accel.model``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from typing import Any, Dict, List, Optional

import numpy as np

REPORT = "rtl_report.json"


def layer_node(hls_model):
    nodes = [n for n in hls_model.get_layers() if n.class_name in ("FDHTLSTM", "HTDense")]
    if not nodes:
        from keras_model.common.errors import ConfigError

        raise ConfigError("RTL: the model has no FDHT-LSTM or HTDense layer")
    return nodes[0]


def layer_io(hls_model, x: np.ndarray, whole: bool = False):
    """(the FDHT-LSTM / HTDense layer's input, the reference output) for model inputs
    ``x`` (as the testbench feeds them), from the bit-exact model: the
    layer's output, or with ``whole`` the model's."""
    from hls_project.numerics import bitexact
    node = layer_node(hls_model)
    rec = bitexact.trace(hls_model, np.asarray(x, dtype=np.float64).reshape(len(x), -1))
    names = [n.name for n in hls_model.get_layers()]
    k = names.index(node.name)
    return rec[names[k - 1]], rec[names[-1] if whole else node.name]


def signed_raw(t, values) -> np.ndarray:
    return t.signed(t.raw(values))


def compare_logs(rtl_log: str, csim_log: Optional[str], n: int) -> Optional[Dict[str, Any]]:
    """rtl_results.log against the first ``n`` lines of csim_results.log, line by line."""
    if not csim_log or not os.path.isfile(csim_log):
        return None
    with open(rtl_log) as f:
        got = f.read().splitlines()
    with open(csim_log) as f:
        ref = f.read().splitlines()[:n]
    same = [k for k in range(min(len(got), len(ref))) if got[k] == ref[k]]
    out = {"csim_log": csim_log, "lines_compared": len(ref), "lines_equal": len(same),
           "equal": len(got) == len(ref) == len(same) == n}
    if not out["equal"]:
        bad = next((k for k in range(max(len(got), len(ref))) if k not in set(same)), None)
        out["first_difference"] = {"line": bad, "rtl": got[bad] if bad is not None and bad < len(got) else None,
                                   "csim": ref[bad] if bad is not None and bad < len(ref) else None}
    return out


def _model_figures(hls_model, d) -> Dict[str, Any]:
    """The MODEL's interval and latency: the layer's (``accel.model.simulate``),
    or for the whole model ``report.figures.model_figures`` (the layer plus the
    Dense and softmax cycles it assumes)."""
    from hls_project.accel import model
    ms = model.simulate(d.schedule)
    out = {"interval_cycles": ms["interval"], "latency_cycles": ms["latency"],
           "layer": {"interval_cycles": ms["interval"], "latency_cycles": ms["latency"]}}
    if d.head is not None:
        from hls_project.report.figures import model_figures

        clock = float(hls_model.config.get_config_value("ClockPeriod") or 5)
        fig = model_figures(hls_model, clock)
        out.update(interval_cycles=fig["headline"]["interval_cycles_per_clip"],
                   latency_cycles=fig["headline"]["latency_cycles_per_clip"],
                   other_layers={o["layer"]: o["cycles"] for o in fig["other_layers"]})
    return out


def _check_inputs(x: np.ndarray, d) -> np.ndarray:
    from keras_model.common.errors import ConfigError

    x = np.asarray(x, dtype=np.float64)
    per_clip = d.n_timesteps * d.n_in
    if x.ndim < 1 or len(x) == 0:
        raise ConfigError("RTL: no input samples")
    x = x.reshape(len(x), -1)
    if x.shape[1] != per_clip:
        raise ConfigError(f"RTL: an input sample has {x.shape[1]} values, the model takes {per_clip}")
    return x


def simulate(hls_model, x: np.ndarray, rtl_dir: str, ready: float = 0.5, seed: int = 1, timing_clips: int = 16,
             design=None, mutate=None, log=print, whole: bool = True, csim_log: Optional[str] = None,
             ap_types: Optional[str] = None, stage_arith: str = "dsp") -> Dict[str, Any]:
    """Generate, build and simulate the RTL on inputs ``x``: the whole model
    (``whole``: the FDHT-LSTM layer, the classifier, the softmax / argmax),
    or the layer alone. Every sample is compared with the bit-exact model
    (bitexact.py); the testbench's ``rtl_results.log`` (csim's format) with
    the first lines of ``csim_log`` when given. Latency and interval from a
    second run without back-pressure on ``timing_clips`` clips.
    ``stage_arith`` shift_add: the stages ``shiftadd.eligible`` admits take
    their products from shift-add adder graphs instead of multipliers.
    ``mutate(rtl_dir)`` edits the written sources before the build (tests of
    the check itself)."""
    from hls_project.rtl import generate, ipxact, sim

    d = design or generate.model_design(hls_model, whole=whole, stage_arith=stage_arith)
    x = _check_inputs(x, d)
    rtl_dir = os.path.abspath(rtl_dir)  # the simulator runs in rtl_dir: a relative path would not find it
    srcs = generate.write(d, rtl_dir)
    ipxact.write(d, rtl_dir, srcs)
    if mutate is not None:
        mutate(rtl_dir)
    t0 = time.time()
    exe = sim.build(d, rtl_dir, srcs, ap_types=ap_types)
    build_s = time.time() - t0
    xin, ref = layer_io(hls_model, x, whole=d.head is not None)
    raw = signed_raw(d.in_t, xin)
    results_log = os.path.join(rtl_dir, "rtl_results.log")
    r = sim.run(exe, rtl_dir, raw, ready=ready, seed=seed, tag="bitexact", results_log=results_log)
    got = d.out_t.value(np.mod(r["outputs"], 1 << d.out_t.w)).reshape(len(x), -1)
    ref = np.asarray(ref, dtype=np.float64).reshape(len(x), -1)
    same = np.all(got == ref, axis=1) if got.shape == ref.shape else np.zeros(len(x), dtype=bool)
    if d.head is None:
        with open(os.path.join(rtl_dir, "rtl_layer_outputs.log"), "w") as f:
            for row in got:
                f.write(" ".join(repr(float(v)) for v in row) + "\n")
    n_t = max(4, int(timing_clips))
    tr = sim.run(exe, rtl_dir, np.tile(raw, (-(-n_t // len(raw)), 1))[:n_t], ready=1.0, seed=seed, tag="timing")
    cyc = sim.cycles(tr["timing"])
    mf = _model_figures(hls_model, d)
    out = {
        "top": d.top, "layer": d.node_name, "scope": "model" if d.head is not None else "layer",
        "output": d.head.output if d.head is not None else "layer",
        "head": [o.name for o in d.head.ops] if d.head is not None else [],
        "bit_exact": bool(np.all(same)), "samples": int(len(x)), "samples_equal": int(np.sum(same)),
        "reference": "hls_project/numerics/bitexact.py (the model's output)" if d.head is not None
        else "hls_project/numerics/bitexact.py (the layer's output h_T)",
        "csim_log": compare_logs(results_log, csim_log, len(x)),
        "back_pressure": {"output_tready_probability": ready, "seed": seed},
        "interval_cycles": cyc.get("interval_cycles"), "latency_cycles": cyc["latency_cycles"],
        "timing": {**cyc, "clips": n_t, "note": "no back-pressure; interval: mean distance between successive "
                   "clips' first input beats over the second half of the clips; latency: first clip, first input beat "
                   "accepted to its output word valid"},
        "model": mf,
        "interval_vs_model": round(cyc["interval_cycles"] / mf["interval_cycles"] - 1, 4)
        if cyc.get("interval_cycles") else None,
        "latency_vs_model": round(cyc["latency_cycles"] / mf["latency_cycles"] - 1, 4),
        "sim": {"verilator_build_s": round(build_s, 1), "seconds_per_clip": round(r["seconds"] / len(x), 5)},
        "schedule": {"mac_lanes": d.schedule.mac_lanes,
                     "stages": {s.name: {"free_lanes": s.params["FREE"], "sum_lanes": s.params["SUML"],
                                         "trips": s.params["TRIPS"]} for s in d.x + d.h}},
        "sources": srcs, "data_files": sorted(d.files), "ipxact": "component.xml",
        "stage_arith": arith_summary(d),
    }
    if not out["bit_exact"]:
        bad = np.flatnonzero(~same)
        out["first_mismatch"] = {"sample": int(bad[0]), "rtl": got[bad[0]].tolist()[:8] if len(got) > bad[0] else None,
                                 "reference": ref[bad[0]].tolist()[:8]}
    out["_design"] = d
    return out


def arith_summary(d) -> Dict[str, Any]:
    """hls.stage_arith and, per stage, dsp (with why, under shift_add) or
    shift_add (with its adder-graph figures)."""
    stages = {}
    for s in d.x + d.h:
        if s.shift_add:
            stages[s.name] = {"arith": "shift_add", "module": s.shift_add["module"], **s.shift_add["figures"]}
        else:
            why = s.kept or "hls.stage_arith"
            stages[s.name] = {"arith": "dsp", "multipliers": s.params["FREE"] * s.params["SUML"], "why": why}
    return {"mode": d.stage_arith, "stages": stages}


def _written_types(project_dir: str) -> Dict[str, str]:
    """typedef name -> the ap_fixed type text, from the project's firmware/defines.h."""
    import re

    path = os.path.join(project_dir, "firmware", "defines.h")
    if not os.path.isfile(path):
        return {}
    out = {}
    with open(path) as f:
        for m in re.finditer(r"typedef\s+(?:nnet::array<)?(ap_u?fixed<[^>]*>).*?\s(\w+);", f.read()):
            out[m.group(2)] = m.group(1)
    return out


def _type_mismatches(hls_model, written: Dict[str, str]) -> List[str]:
    """The model's types that differ from the project's written ones."""
    from hls_project.rtl.generate import Fx

    bad = []
    for node in hls_model.get_layers():
        types = [node.get_output_variable().type] + [v for k, v in node.attributes.items()
                                                     if k.endswith("_t") and hasattr(v, "precision")]
        for t in types:
            name = getattr(t, "name", None)
            if name in written and getattr(t.precision, "width", None) is not None:
                if vars(Fx.of(t.precision)) | {"text": ""} != vars(Fx.of(written[name])) | {"text": ""}:
                    bad.append(f"{name}: {Fx.of(t.precision).cpp()} vs written {written[name]}")
    return bad


def _from_project_config(project_dir: str, report: Dict[str, Any], cfg: Dict[str, Any]):
    """The flow's Keras model converted with the project's own hls4ml
    configuration (hls4ml_config.yml's HLSConfig: the types the project was
    written with)."""
    import contextlib
    import io

    import hls4ml
    import yaml

    from keras_model.models import load_keras_model

    from hls_project.ext import register

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("", lambda loader, tag, node: None)  # the pickled Keras model: not needed
    with open(os.path.join(project_dir, "hls4ml_config.yml")) as f:
        hc = yaml.load(f, Loader=_Loader)
    register()
    h = cfg["hls"]
    with contextlib.redirect_stdout(io.StringIO()):
        return hls4ml.converters.convert_from_keras_model(
            load_keras_model(report["model_path"]), hls_config=hc["HLSConfig"], output_dir=project_dir,
            project_name=h["project_name"], backend=hc.get("Backend", h["backend"]),
            clock_period=hc.get("ClockPeriod", h["clock_period"]), io_type=hc.get("IOType", h["io_type"]),
            part=hc.get("Part", h["part"]))


def project_model(project_dir: str, cfg: Optional[Dict[str, Any]] = None):
    """The project's hls4ml model, re-converted (``vendor.hls_model_for``),
    checked against the types in its firmware/defines.h; when they differ,
    converted again with the project's own hls4ml_config.yml."""
    from keras_model.common.config import load_config
    from keras_model.common.errors import ConfigError

    from hls_project.flow import vendor
    path = os.path.join(project_dir, "csim_report.json")
    if not os.path.isfile(path):
        raise ConfigError(f"RTL: {project_dir} is not a written project (no csim_report.json); run the flow first")
    with open(path) as f:
        report = json.load(f)
    if cfg is None:
        cfg = load_config(report.get("config"))
    hm = vendor.hls_model_for(cfg, project_dir, report)
    written = _written_types(project_dir)
    if _type_mismatches(hm, written) and os.path.isfile(os.path.join(project_dir, "hls4ml_config.yml")):
        hm = _from_project_config(project_dir, report, cfg)
    bad = _type_mismatches(hm, written)
    if bad:
        raise ConfigError(f"RTL: the re-converted model's types differ from {project_dir}'s firmware: {bad[0]}")
    return hm, cfg


def project_inputs(project_dir: str, samples: Optional[int] = None) -> np.ndarray:
    from keras_model.common.errors import ConfigError

    from hls_project.numerics import bitexact
    path = os.path.join(project_dir, "tb_data", "tb_input_features.dat")
    if not os.path.isfile(path):
        raise ConfigError(f"RTL: no test inputs ({path}); run the flow first or pass x")
    rows: List[str] = []
    with open(path) as f:  # line by line: a UCF11-size file holds 345,600 values a line
        for ln in f:
            if ln.strip():
                rows.append(ln)
            if samples and len(rows) >= int(samples):
                break
    return bitexact.testbench_input(rows)


def _replace_dir(tmp: str, final: str) -> None:
    """Move the finished ``tmp`` to ``final``; the previous ``final`` goes
    only once the new one is in place."""
    old = None
    if os.path.exists(final):
        old = tempfile.mkdtemp(prefix=".rtl-old-", dir=os.path.dirname(final))
        os.rmdir(old)
        os.rename(final, old)
    os.rename(tmp, final)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def _synth(rep: Dict[str, Any], d, rtl_dir: str, cfg, yosys: bool, ecp5: bool, log) -> None:
    from hls_project.rtl import synth

    part = (cfg or {}).get("hls", {}).get("part") or "xcvu9p-flga2104-2L-e"
    if yosys:
        y = synth.yosys_xilinx(rtl_dir, rep["sources"], d.top, synth.family_of(part))
        y["part"] = part
        y["ramb18"], y["ramb36"] = int(y.get("bram18", 0)), int(y.pop("bram36", 0))
        y["bram18"] = y["ramb18"] + 2 * y["ramb36"]  # in 18-Kb blocks (a RAMB36 is two)
        y["script"] = y.pop("flow")
        rep["yosys"] = y
        log(f"RTL: Yosys ({y['script']}) {y['family']}: LUT {y['lut']}, FF {y['ff']}, DSP {y['dsp']}, "
            f"BRAM18 {y['bram18']}")
    if ecp5:
        rep["ecp5"] = synth.ecp5(rtl_dir, rep["sources"], d.top)
        log(f"RTL: ECP5 {rep['ecp5']['device']}: Fmax {rep['ecp5']['fmax_mhz']} MHz")


def build(project_dir: str, hls_model=None, cfg: Optional[Dict[str, Any]] = None, x: Optional[np.ndarray] = None,
          samples: Optional[int] = None, yosys: bool = False, ecp5: bool = False, ready: float = 0.5,
          log=print, whole: bool = True, csim_log: Optional[str] = None,
          stage_arith: Optional[str] = None) -> Dict[str, Any]:
    """The RTL of the project's model (``whole``; else the FDHT-LSTM layer
    alone) in ``<project_dir>/rtl``, simulated on the project's test inputs
    (``x``, else tb_data; the first ``samples``) and compared with bitexact.py
    and, on tb_data's inputs, with ``tb_data/csim_results.log`` (with ``x``:
    with ``csim_log`` when given, a csim log of the same inputs); optionally
    synthesised (``yosys``: synth_xilinx for the configured part; ``ecp5``:
    synth_ecp5 + nextpnr-ecp5 on an LFE5U-85F). ``stage_arith`` (dsp,
    shift_add; default the config's ``hls.stage_arith``): how the stages
    multiply by their constant cores. Writes and returns
    ``rtl/rtl_report.json``. Everything is written into a temporary folder
    first: on any error the previous ``rtl/`` stays as it was. Raises
    ConfigError (bad input, an unsupported layer) or RTLToolError (a tool
    missing or failing), each with one line."""
    from keras_model.common.errors import ConfigError

    from hls_project.rtl import tools

    project_dir = os.path.abspath(project_dir)
    if not os.path.isdir(project_dir):
        raise ConfigError(f"RTL: no project folder {project_dir}")
    if samples is not None and int(samples) < 1:
        raise ConfigError(f"RTL: samples must be >= 1, got {samples}")
    if hls_model is None:
        hls_model, cfg = project_model(project_dir, cfg)
    if stage_arith is None:
        stage_arith = ((cfg or {}).get("hls") or {}).get("stage_arith") or "dsp"
    if x is None:
        x = project_inputs(project_dir, samples)
        csim_log = os.path.join(project_dir, "tb_data", "csim_results.log") if whole else None
    else:
        csim_log = csim_log if whole else None
        if samples:
            x = np.asarray(x)[:int(samples)]
    rtl_dir = os.path.join(project_dir, "rtl")
    tmp = tempfile.mkdtemp(prefix=".rtl-", dir=project_dir)
    try:
        log(f"RTL: generating and simulating {len(x)} samples (written to {rtl_dir} when done)")
        rep = simulate(hls_model, x, tmp, ready=ready, log=log, whole=whole, csim_log=csim_log,
                       ap_types=_ap_types(project_dir), stage_arith=stage_arith)
        d = rep.pop("_design")
        from hls_project.rtl import shiftadd

        sa = [n for n, v in rep["stage_arith"]["stages"].items() if v["arith"] == "shift_add"]
        if stage_arith == "shift_add":
            log(f"RTL: shift-add stages {', '.join(sa) or 'none'} (the others keep their multipliers: ROMs over "
                f"{shiftadd.MAX_ROWS} rows or over {shiftadd.MAX_ADDERS_PER_MULTIPLIER} adders per multiplier)")
        log(f"RTL: bit-exact {rep['bit_exact']} ({rep['samples_equal']}/{rep['samples']}); interval "
            f"{rep['interval_cycles']} cycles (MODEL {rep['model']['interval_cycles']}), latency "
            f"{rep['latency_cycles']} (MODEL {rep['model']['latency_cycles']})")
        _synth(rep, d, tmp, cfg, yosys, ecp5, log)
        rep["tools"] = tools.versions()
        rep["rtl_dir"] = rtl_dir
        if rep.get("csim_log"):
            rep["csim_log"]["csim_log"] = os.path.relpath(rep["csim_log"]["csim_log"], project_dir)
        with open(os.path.join(tmp, REPORT), "w") as f:
            json.dump(rep, f, indent=2, default=str)
        _replace_dir(tmp, rtl_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return rep


def _ap_types(project_dir: str) -> Optional[str]:
    from hls_project.rtl.sim import ap_types_dir

    return ap_types_dir(project_dir)
