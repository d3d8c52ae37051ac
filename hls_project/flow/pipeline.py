"""The flow: config -> trained Keras model -> hls4ml graph -> written C++
project (atomic) -> g++ csim -> comparison -> csim_report.json.

Everything is written into a temporary folder beside the output folder and
moved into place only when the project is complete, so an interrupted or
failed run leaves a previous project untouched and no stray temp folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import numpy as np

from keras_model.common import fixedtype
from keras_model.common.atomic import replace_dir
from keras_model.common.config import build_dir
from keras_model.common.errors import ConfigError, DataError, FlowError, ToolError
from keras_model.common.logs import chatter, info
from keras_model.data import frames_to_float, load_dataset

from hls_project.flow import csim
from hls_project.flow.compare import compare
from hls_project.numerics import autoprec, fidelity, profiling
from hls_project.report import assemble as reports
from hls_project.flow.convert import convert, hardware_model
from hls_project.numerics.profiling import dense_output_ranges  # noqa: F401  (re-exported: flow.dense_output_ranges)

SUPPORTED_KERAS = {"InputLayer", "Reshape", "Flatten", "Dense", "Activation", "FDHTLSTM", "HTDense", "LSTM",
                   "QDense", "QActivation", "Dropout"}


# files that mark a folder as a project this flow wrote (and may replace)
PROJECT_MARKERS = ("csim_report.json", "hls4ml_config.yml", "build_prj.tcl")


class Timer:
    def __init__(self, log):
        self.times: Dict[str, float] = {}
        self.log = log

    @contextmanager
    def stage(self, name: str):
        self.log(f"[{name}] ...")
        t = time.time()
        try:
            yield
        finally:
            self.times[name] = round(time.time() - t, 2)
            self.log(f"[{name}] done in {self.times[name]:.1f} s")


def output_dir_for(cfg: Dict[str, Any]) -> str:
    out = cfg["hls"].get("output_dir") or os.path.join(build_dir(), "hls", cfg["_name"])
    return os.path.abspath(out if os.path.isabs(out) else os.path.join(os.getcwd(), out))


def check_output_dir(out_dir: str) -> str:
    """Fail early (before any heavy step) if the output folder's parent
    cannot be written."""
    parent = os.path.dirname(out_dir.rstrip(os.sep)) or "."
    try:
        os.makedirs(parent, exist_ok=True)
        probe = tempfile.mkdtemp(prefix=".probe-", dir=parent)
        os.rmdir(probe)
    except OSError as e:
        raise ConfigError(f"output dir {out_dir} cannot be written ({e.strerror}); choose another --output-dir") from None
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ConfigError(f"output dir {out_dir} exists and is not a folder; choose another --output-dir")
    if any(ch in out_dir for ch in '"\\'):
        # hls4ml's build_lib.sh writes the path into a C string literal
        raise ConfigError(f"output dir {out_dir!r} contains a quote or backslash, which hls4ml's build script "
                          "cannot handle; choose another --output-dir")
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not any(
            os.path.exists(os.path.join(out_dir, marker)) for marker in PROJECT_MARKERS):
        raise ConfigError(f"output dir {out_dir} is a non-empty folder that is not an HLS project of this flow; "
                          "it would be replaced, so choose an empty or new --output-dir")
    return out_dir


def check_model_layers(model) -> None:
    for layer in model.layers:
        cls = type(layer).__name__
        if cls not in SUPPORTED_KERAS:
            raise ConfigError(f"model layer '{layer.name}' ({cls}) is not supported by the flow; "
                              f"supported: {', '.join(sorted(SUPPORTED_KERAS))}")


def model_costs(model) -> Dict[str, Any]:
    """``models.rnn_costs`` for a recurrent model; for one without an LSTM
    (e.g. HTDense layers) the MACs of one forward pass and no LSTM figures."""
    from keras_model.common.keras2 import keras

    from keras_model.models import rnn_costs

    if any(isinstance(l, keras.layers.RNN) for l in model.layers):
        return rnn_costs(model)
    macs = 0
    for layer in model.layers:
        if type(layer).__name__ == "HTDense":
            macs += layer.ht_shape.plan.macs
        elif type(layer).__name__ in ("Dense", "QDense"):
            macs += int(np.prod(layer.kernel.shape))
    params = int(model.count_params())
    return {"kind": "feedforward", "model_params": params, "rnn_params": 0, "macs_per_step": int(macs),
            "dense_lstm_params": None, "dense_lstm_macs_per_step": None}


def weight_bits(hls_model) -> Dict[str, Any]:
    """Bits of every weight variable (size x width), per layer."""
    per_layer = {}
    for layer in hls_model.get_layers():
        rows = {}
        for wname, w in layer.weights.items():
            width = getattr(w.type.precision, "width", None)
            if width is None:
                continue
            rows[w.name] = {"entries": int(np.size(w.data)), "bits_each": int(width),
                            "bits": int(np.size(w.data)) * int(width), "type": str(w.type.name)}
        if rows:
            per_layer[layer.name] = rows
    total = sum(v["bits"] for rows in per_layer.values() for v in rows.values())
    return {"total_bits": int(total), "per_layer": per_layer}


def _max_abs(x) -> float:
    """max |value| of model inputs (uint8 frames scaled as the model sees
    them) without converting the whole array to float."""
    x = np.asarray(x)
    peak = x.max() if x.dtype == np.uint8 else np.abs(x).max()
    return float(frames_to_float(np.asarray([peak], dtype=x.dtype))[0])


def check_io_parallel(h: Dict[str, Any], sample_shape) -> None:
    """io_parallel makes the whole clip one top-level port (and one reshaped
    array): refused where that passes the tools' limits."""
    from hls_project.accel import rules
    if h.get("io_type") != "io_parallel":
        return
    n = int(np.prod(sample_shape))
    try:
        width = fixedtype.width(h.get("precision"))
    except ValueError:  # 'auto' (chosen later) or hls4ml's own spelling: its 16-bit default
        width = 16
    if n * width > rules.MAX_PORT_BITS or n > rules.MAX_PARTITION:
        raise ConfigError(f"hls.io_type: io_parallel makes the input one {n * width:,}-bit port of {n:,} values "
                          f"(limits: {rules.MAX_PORT_BITS:,} bits, {rules.MAX_PARTITION:,} values); use io_stream")


def chain_calls(project: str, name: str) -> None:
    """io_stream: ``ap_ctrl_chain`` on the top function, so the next call
    (clip) may enter a process while later ones finish the previous clip
    (UG1399, block-level control protocols); the MODEL's clips/s assumes it."""
    path = os.path.join(project, "firmware", f"{name}.cpp")
    if not os.path.isfile(path):
        return
    with open(path) as f:
        text = f.read()
    if "#pragma HLS DATAFLOW" in text and "ap_ctrl_chain" not in text and "INTERFACE axis" in text:
        text = text.replace("    #pragma HLS DATAFLOW", "    #pragma HLS INTERFACE ap_ctrl_chain port=return\n"
                            "    #pragma HLS DATAFLOW", 1)
        with open(path, "w") as f:
            f.write(text)


def run_lint(project: str, h: Dict[str, Any], log) -> Dict[str, Any]:
    """The HLS-rules lint on the written project (accel/lint.py): one summary
    line; a failed rule stops the build unless hls.lint is 'warn'."""
    from hls_project.accel import lint
    res = lint.lint(project)
    log(lint.summary(res))
    for r in res["rules"]:
        for f in r["failures"]:
            log(f"  {r['rule']}: {f}")
    if res["failed"] and h.get("lint", "error") != "warn":
        raise FlowError(f"{lint.summary(res)}; the design breaks an HLS scheduling rule (details above; "
                        f"hls.lint: warn writes it anyway)")
    return {"rules": len(res["rules"]), "failed": res["failed"], "ii": res["ii"]}


@dataclass
class Run:
    """What the stages of one flow hand on, in the order they fill it."""
    cfg: Dict[str, Any]
    model_path: Optional[str]
    samples: Optional[int]
    csim_enabled: bool
    with_predict: bool
    profile: bool
    log: Any
    timer: Timer
    out_dir: str
    report: Dict[str, Any]
    dataset: Any = None
    model: Any = None
    metrics: Dict[str, Any] = field(default_factory=dict)
    hw_model: Any = None  # the Keras model the hardware implements (hls.output)
    x_tb: Any = None  # the simulated test samples, as the model sees them
    y_lab: Any = None
    input_range: float = 1.0
    keras_probs: Any = None
    tmp: str = ""  # the project's temporary folder
    hm: Any = None  # the hls4ml model
    ranges: Dict[str, Any] = field(default_factory=dict)
    result: Dict[str, Any] = field(default_factory=dict)  # the comparison
    costs: Dict[str, Any] = field(default_factory=dict)  # parameters and MACs of the model (model_costs)


def _data(run: Run) -> None:
    with run.timer.stage("data"):
        run.dataset = load_dataset(run.cfg["data"])
    check_io_parallel(run.cfg["hls"], run.dataset.sample_shape)


def _model_stage(run: Run) -> None:
    with run.timer.stage("model"):
        run.model, run.metrics = _model(run.cfg, run.dataset, run.model_path, run.report, run.log)
    d = run.dataset
    n = len(d.x_test) if run.samples is None else min(int(run.samples), len(d.x_test))
    run.x_tb, run.y_lab = frames_to_float(d.x_test[:n]), d.y_test[:n]  # only the simulated samples
    run.input_range = max(_max_abs(d.x_train), float(np.abs(run.x_tb).max()), 1e-6)
    run.hw_model = hardware_model(run.model, run.cfg["hls"].get("output") or "probabilities")


def _precision(run: Run) -> None:
    if str(run.cfg["hls"].get("precision")).strip().lower() == "auto":
        run.cfg = _auto_precision(run.cfg, run.hw_model, run.dataset, run.input_range, run.timer, run.report, run.log)


def _keras(run: Run) -> None:
    with run.timer.stage("keras predict"):
        run.keras_probs = run.hw_model.predict(run.x_tb, verbose=0, batch_size=256)


def _write(run: Run) -> None:
    n = len(run.x_tb)
    with run.timer.stage("convert + write"):
        x_cal = frames_to_float(run.dataset.x_train[:256])  # calibration: the training data, not the test set
        # kept in the report: a later conversion of this project (vendor steps, the RTL twin) gives the same types
        run.report["dense_ranges"] = dense_output_ranges(run.hw_model, x_cal)
        run.hm = convert(run.hw_model, run.cfg, run.tmp, run.x_tb.reshape(n, -1), run.keras_probs, run.input_range,
                         run.report["dense_ranges"])
        with chatter("hls4ml"):
            run.hm.write()
        chain_calls(run.tmp, run.cfg["hls"].get("project_name") or "myproject")


def _lint(run: Run) -> None:
    with run.timer.stage("HLS rules lint"):
        run.report["lint"] = run_lint(run.tmp, run.cfg["hls"], run.log)


def _range_check(run: Run) -> None:
    run.ranges = _ranges(run.hm, run.hw_model, run.x_tb, run.tmp, run.out_dir, run.profile, run.timer, run.log)


def _csim(run: Run) -> None:
    if run.csim_enabled:
        run.result = _csim_and_compare(run.hm, run.hw_model, run.cfg["hls"], run.tmp, run.x_tb, run.y_lab,
                                       run.keras_probs, run.cfg["hls"].get("output") or "probabilities",
                                       run.with_predict, run.timer)


def _figures(run: Run) -> None:
    run.costs = model_costs(run.model)
    run.report.update(_report_fields(run.cfg["hls"], run.model, run.costs, run.hm, run.metrics,
                                     run.input_range, run.ranges, run.result, run.timer))


def _hardware(run: Run) -> None:
    if run.costs["kind"] == "feedforward":
        run.log("hardware report: written for recurrent models only (this one has no LSTM layer); skipped")
        return
    with run.timer.stage("hardware report"):
        reports.write_hardware_report(run.hm, run.hw_model, run.cfg, run.tmp, run.report)
        run.report["hardware_report"] = os.path.join(run.out_dir, reports.JSON_NAME)


def _rtl(run: Run) -> None:
    if run.cfg["hls"].get("rtl"):
        synth = "".join(f", {s}" for s in run.cfg["hls"].get("rtl_synth") or [])
        with run.timer.stage(f"RTL twin (Verilator{synth})"):
            run.report["rtl"] = run_rtl(run.hm, run.cfg, run.tmp, run.x_tb, run.log)


def _save(run: Run) -> None:
    """csim_report.json, then the finished folder replaces the output folder."""
    with open(os.path.join(run.tmp, "csim_report.json"), "w") as f:
        json.dump(run.report, f, indent=2, default=str)
    for leftover in ("tb_input.npy", "tb_output.npy"):
        if os.path.exists(os.path.join(run.tmp, leftover)):
            os.remove(os.path.join(run.tmp, leftover))
    _fix_paths(run.tmp, run.out_dir)
    replace_dir(run.tmp, run.out_dir)


#: the stages before anything is written, then the stages inside the project's temporary folder
PREPARE = (_data, _model_stage, _precision, _keras)
PROJECT = (_write, _lint, _range_check, _csim, _figures, _hardware, _rtl, _save)


def run_flow(cfg: Dict[str, Any], model_path: Optional[str] = None, samples: Optional[int] = None,
             csim_enabled: bool = True, log=info, with_predict: bool = True,
             profile: bool = False) -> Dict[str, Any]:
    """Run the whole flow; returns the report (also written to
    ``<output_dir>/csim_report.json``). The stages, in order (``PREPARE``,
    then ``PROJECT``): data, model (cached or trained), precision (``auto``:
    the search), Keras's outputs; conversion into a temporary folder, the
    HLS-rules lint, range check, g++ csim and the comparison, the report's
    figures, hardware report, RTL twin (``hls.rtl``), and the folder replaces
    the output folder only when complete."""
    out_dir = check_output_dir(output_dir_for(cfg))
    if csim_enabled:
        csim.find_compiler()  # fail before training if there is no compiler
    run = Run(cfg=cfg, model_path=model_path, samples=samples, csim_enabled=csim_enabled, with_predict=with_predict,
              profile=profile, log=log, timer=Timer(log), out_dir=out_dir,
              report={"config": cfg["_name"], "output_dir": out_dir})
    for stage in PREPARE:
        stage(run)
    run.tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}-tmp-", dir=os.path.dirname(out_dir))
    os.chmod(run.tmp, 0o755)  # mkdtemp makes it private; the project is an ordinary folder
    try:
        for stage in PROJECT:
            stage(run)
    except BaseException:
        shutil.rmtree(run.tmp, ignore_errors=True)
        raise
    return run.report


def run_rtl(hm, cfg: Dict[str, Any], project_dir: str, x: np.ndarray, log=info) -> Dict[str, Any]:
    """The RTL twin of the written project (``hls_project.rtl``) on the
    simulated inputs; its MEASURED figures go into the hardware report.
    Returns the summary the csim report keeps."""
    from hls_project import rtl
    from hls_project.report import assemble as reports

    from hls_project.rtl.tools import RTLToolError

    synth = set(cfg["hls"].get("rtl_synth") or [])
    csim_log = os.path.join(project_dir, "tb_data", "csim_results.log")  # csim's run of the same inputs
    try:
        rep = rtl.build(project_dir, hls_model=hm, cfg=cfg, x=x, samples=len(x), yosys="yosys" in synth,
                        ecp5="ecp5" in synth, log=log, csim_log=csim_log if os.path.isfile(csim_log) else None)
    except RTLToolError as e:  # a missing or failing open tool: exit 3, the previous project untouched
        raise ToolError(f"RTL twin: {e}") from None
    if os.path.isfile(os.path.join(project_dir, reports.JSON_NAME)):
        reports.record_rtl(project_dir, rep)
    out = {k: rep.get(k) for k in ("top", "samples", "interval_cycles", "latency_cycles")}
    # every sample equal to the bit-exact model, and rtl_results.log to csim_results.log where csim ran
    out["bit_exact"] = bool(rep.get("bit_exact")) and (rep.get("csim_log") is None or rep["csim_log"]["equal"])
    return out


def _model(cfg, dataset, model_path, report, log):
    """The Keras model (``model_path``, or the trained one cached for this
    config, trained now if missing) and its training metrics; it must fit the
    data and hold finite weights."""
    from keras_model.models import load_keras_model
    from keras_model.train import cached_or_train

    if model_path:
        model, metrics = load_keras_model(model_path), {}
        report["model_path"] = os.path.abspath(model_path)
    else:
        model, metrics, path, cached = cached_or_train(cfg, dataset=dataset, log=log)
        report["model_path"] = path
        report["model_cached"] = cached
    check_model_layers(model)
    if tuple(model.input_shape[1:]) != tuple(dataset.sample_shape):
        raise DataError(f"the model takes samples of shape {tuple(model.input_shape[1:])} but the data has "
                        f"{tuple(dataset.sample_shape)}; pass matching --data and --model")
    if int(model.output_shape[-1]) != int(dataset.n_classes):
        raise DataError(f"the model predicts {model.output_shape[-1]} classes but the data has "
                        f"{dataset.n_classes}; pass matching --data and --model")
    for w in model.weights:
        if not np.all(np.isfinite(w.numpy())):
            raise DataError(f"model weight {w.name} contains NaN/Inf; retrain the model")
    return model, metrics


def _auto_precision(cfg, hw_model, dataset, input_range, timer, report, log) -> Dict[str, Any]:
    """``hls.precision: auto``: the search on training data; returns the
    config with the chosen types (the search's figures go into the report)."""
    h = cfg["hls"]
    with timer.stage("precision auto (calibration on training data, bit-exact model)"):
        pick = np.random.default_rng(0).permutation(len(dataset.x_train))[:autoprec.CALIBRATION]
        x_cal = frames_to_float(dataset.x_train[np.sort(pick)])
        x_marg = frames_to_float(dataset.x_train[:autoprec.MARGIN_SAMPLES])
        auto = autoprec.choose(cfg, hw_model, x_cal, input_range, float(h["min_agreement"]), log=log,
                               x_margins=x_marg)
    cfg = auto.pop("cfg")
    report["precision_auto"] = auto
    log(autoprec.summary(auto))
    return cfg


def _ranges(hm, hw_model, x_tb, tmp, out_dir, profile, timer, log) -> Dict[str, Any]:
    """Values outside their fixed-point types (with plots when ``profile``)."""
    if profile:
        with timer.stage("profile"):
            ranges = profiling.profile(hm, hw_model, x_tb[:64], os.path.join(tmp, "profile"), log=log)
            ranges["plots"] = [os.path.join(out_dir, os.path.relpath(p, tmp)) for p in ranges["plots"]]
    else:
        ranges = profiling.range_check(hm, hw_model, x_tb)
    if ranges["out_of_range_total"]:
        log(f"warning: {ranges['out_of_range_total']} values lie outside their fixed-point types "
            f"({', '.join(ranges['out_of_range_tensors'][:5])}); they saturate or wrap in hardware. "
            "See range_check in csim_report.json")
    return ranges


def _csim_and_compare(hm, hw_model, h, tmp, x_tb, y_lab, keras_probs, output, with_predict, timer
                      ) -> Dict[str, Any]:
    """g++ build (csim binary and hls4ml's predict library in parallel), csim
    run, comparison with Keras, logits and error attribution."""
    n = len(x_tb)
    with timer.stage("g++ build (csim + predict library, in parallel)"):
        proc = csim.start_build(tmp, h["project_name"], fast=h["csim_arithmetic"] == "fast")
        try:
            if with_predict:
                # hm.compile() would write() the project again (re-copying
                # ap_types under the running g++); it was just written.
                hm._compile()
            csim.wait_build(proc, tmp, float(h["csim_timeout"]))
        except Exception as e:
            csim.stop(proc)
            if isinstance(e, FlowError):
                raise
            raise ToolError(f"hls4ml compile (build_lib.sh) failed: {str(e).splitlines()[0]}") from None
        except BaseException:  # Ctrl-C: no g++ left writing into the removed folder
            csim.stop(proc)
            raise
    with timer.stage("csim"):
        t = time.time()
        csim.run(tmp, float(h["csim_timeout"]))
        csim_seconds = time.time() - t
        csim_probs = csim.read_results(tmp, n, keras_probs.shape[1])
    predict_probs = None
    if with_predict:
        with timer.stage("hls_model.predict"):
            predict_probs = np.asarray(hm.predict(np.ascontiguousarray(x_tb.reshape(n, -1)))).reshape(n, -1)
    result = compare(keras_probs, csim_probs, predict_probs, y_lab, output)
    result["csim_seconds_per_sample"] = round(csim_seconds / n, 5)
    with timer.stage("logits + error attribution (bit-exact model)"):
        result["logits"] = fidelity.report(hm, tmp, hw_model, x_tb, csim_probs, keras_probs)
    return result


def _report_fields(h, model, costs, hm, metrics, input_range, ranges, result, timer) -> Dict[str, Any]:
    """The csim report's figures of the design, the comparison and the run."""
    from keras_model.train import versions, weights_hash

    wb = weight_bits(hm)
    return {
        "backend": h["backend"], "part": h["part"], "clock_period_ns": h["clock_period"],
        "io_type": h["io_type"], "precision": h["precision"], "reuse_factor": h["reuse_factor"],
        "parameters": {"model": costs["model_params"], "recurrent": costs["rnn_params"],
                       "dense_lstm_recurrent": costs["dense_lstm_params"]},
        "macs_per_step": costs["macs_per_step"], "dense_lstm_macs_per_step": costs["dense_lstm_macs_per_step"],
        "weight_bits": wb["total_bits"], "weight_bits_per_layer": wb["per_layer"],
        "input_range": input_range,
        "range_check": ranges,
        "csim": result,
        "min_agreement": h["min_agreement"],
        "passed": (result.get("top1_agreement", 0.0) >= float(h["min_agreement"])) if result else None,
        "seeds": metrics.get("seeds"), "weights_sha256": weights_hash(model),
        "training": {k: metrics.get(k) for k in ("test_accuracy", "epochs_run", "train_seconds")} if metrics else None,
        "versions": versions(),
        "stage_seconds": timer.times,
    }


def _fix_paths(tmp: str, out_dir: str) -> None:
    """hls4ml records its output folder in a few text files; point them at
    the final folder."""
    for name in ("hls4ml_config.yml",):
        p = os.path.join(tmp, name)
        if os.path.isfile(p):
            with open(p) as f:
                text = f.read()
            with open(p, "w") as f:
                f.write(text.replace(tmp, out_dir))
