"""End to end: Keras model -> hls4ml (our HT extension) -> written project ->
real g++ testbench build -> C simulation -> comparison, through
``python build.py --csim`` and ``hls_project.flow.pipeline.run_flow``.

Small shapes keep it fast: every model here has 4 time steps and H = 8, and
is saved to a tmp ``.h5`` and passed with ``--model`` (no training). Built
projects are module-scoped fixtures shared between tests; a project costs
one g++ build of the testbench plus one of hls4ml's predict library (they
run in parallel), about 20-40 s on 2 cores, which dominates the runtime.

Untrained models give near-uniform softmax outputs, where any fixed-point
error can flip the arg-max. The test sets are therefore the most
*decisive* samples of a random pool (largest Keras logit margin between the
top two classes), and the classifier is rescaled to a fixed column norm
(which also bounds how far an error in h moves a logit): a top-1 agreement
check that tests the C++ rather than noise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import error_lines, stray_folders, tree_hash

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GXX = shutil.which("g++")
pytestmark = pytest.mark.skipif(GXX is None, reason="needs g++ on PATH")

BUILD_PY = str(ROOT / "build.py")
T, H, N_CLASSES = 4, 8, 4
N_TEST = 16
BUILD_TIMEOUT = 900  # s, per build.py call (generous: the machine may be shared)
LSB16 = 2.0**-10  # ap_fixed<16,6>, the default precision


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _keras():
    from keras_model.common.keras2 import keras

    return keras


def _logits_model(model):
    keras = _keras()
    return keras.Model(model.input, model.get_layer("classifier").output)


# Largest L1 norm of a classifier column: it sets how much an error in h can
# move a logit (see prob_tolerance), so every model here is rescaled to it.
CLASSIFIER_L1 = 8.0


def _rescale_classifier(model, l1=CLASSIFIER_L1):
    """Scale the Dense classifier's kernel so its largest column L1 norm is ``l1``."""
    clf = model.get_layer("classifier")
    w, b = clf.get_weights()
    clf.set_weights([w * (l1 / np.abs(w).sum(axis=0).max()), b])


def _decisive(model, x, n=N_TEST):
    """Indices of the ``n`` samples of ``x`` with the largest top-1/top-2 logit margin."""
    z = _logits_model(model).predict(x, verbose=0, batch_size=256)
    top2 = np.sort(z, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    order = np.argsort(-margin)[:n]
    return order, float(margin[order].min())


def _save_case(tmp: Path, name: str, model, pool):
    """Save ``model`` (.h5) and a tiny .npz whose test set is the decisive
    samples of ``pool``; returns a dict with paths, the test inputs and the
    Keras probabilities."""
    from keras_model.data import Dataset, frames_to_float, save_npz

    x_float = frames_to_float(pool)
    _rescale_classifier(model)
    pick, margin = _decisive(model, x_float)
    x_test = pool[pick]
    probs = model.predict(frames_to_float(x_test), verbose=0)
    y_test = probs.argmax(1).astype(np.int64)
    x_train = pool[np.setdiff1d(np.arange(len(pool)), pick)[:16]]
    y_train = np.arange(len(x_train), dtype=np.int64) % N_CLASSES  # covers every class
    data = tmp / f"{name}.npz"
    save_npz(data, Dataset(x_train, y_train, x_test, y_test, [f"c{k}" for k in range(N_CLASSES)]))
    model_path = tmp / f"{name}.h5"
    model.save(model_path)
    return {"model": model, "model_path": str(model_path), "data": str(data), "x_test": x_test, "x_train": x_train,
            "keras_probs": probs, "min_logit_margin": margin}


def _sequences(rng, n=2048, f=16):
    return rng.normal(size=(n, T, f)).astype(np.float32)


def _frames(rng, n=2048, size=8):
    return rng.integers(0, 256, size=(n, T, size, size, 1), dtype=np.uint8)


def _build_py(*args, env=None, timeout=BUILD_TIMEOUT):
    e = dict(os.environ)
    e.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if env:
        e.update(env)
    return subprocess.run([sys.executable, BUILD_PY, *map(str, args)], cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=timeout)


def _run_flow(case, out_dir, **hls):
    """run_flow in this process (no second TF start-up), as build.py would call it."""
    from hls_project.flow.pipeline import run_flow
    from keras_model.common.config import CONFIG_DIR, load_config

    overrides = {"data": {"source": case["data"], "frames": None, "size": None},
                 "hls": {"output_dir": str(out_dir), **hls}}
    cfg = load_config(os.path.join(CONFIG_DIR, "default.yml"), overrides)
    return run_flow(cfg, model_path=case["model_path"], samples=None, log=lambda *a, **k: None)


def _csim_log(project: Path) -> np.ndarray:
    rows = [[float(v) for v in line.split()] for line in
            (project / "tb_data" / "csim_results.log").read_text().splitlines() if line.strip()]
    return np.asarray(rows)


def _fixed(text: str, type_name: str):
    """(signed, width, integer bits) of ``typedef ap_[u]fixed<W,I,...> type_name;`` in ``text``."""
    m = re.search(rf"typedef\s+ap_(u?)fixed<\s*(\d+)\s*,\s*(-?\d+)[^;]*?>\s+{type_name}\s*;", text)
    assert m, f"no typedef of {type_name}"
    return m.group(1) != "u", int(m.group(2)), int(m.group(3))


def _table_bucket(integer_bits: int, table_size: int = 1024) -> float:
    """hls4ml's softmax tables are indexed by the top log2(table_size) bits of
    their input type, signed or not: a bucket spans 2^(I - log2(size))."""
    return 2.0 ** (integer_bits - int(np.log2(table_size)))


# Budget for the error of the LSTM output h: one step of the tanh table
# (1024 entries over [-4, 4): 2^-7), the coarsest table in the cell (sigmoid:
# 1024 over [-8, 8), slope <= 1/4: 2^-8). This end-to-end budget is an
# assumption, checked on the models below (largest logit error / classifier
# column L1 norm: about 2^-8): a worst-case bound through T steps grows
# geometrically with ||W_h|| (about 100 at T = 4 here), so the pinned
# figures are per stage instead: tests/test_numerics.py bounds every HT
# stage, the cell and the softmax from their types, and tests/test_bitexact.py
# pins the arithmetic exactly.
EPS_H = 2.0**-7


def _logit_int_bits(case) -> int:
    """The logit type's integer bits as the design promises them (the flow's
    calibration on the training data: room for twice 1.5x the largest logit,
    at least the default's 6), computed here from the model, not read back."""
    from keras_model.data import frames_to_float

    z = _logits_model(case["model"]).predict(frames_to_float(case["x_train"]), verbose=0)
    bound = 1.5 * 2.0 * float(np.abs(z).max())
    return max(6, int(np.floor(np.log2(bound * (1 + 1e-6)))) + 2)


def prob_tolerance(project: Path, keras_probs: np.ndarray, classifier_kernel: np.ndarray, logit_int_bits: int):
    """Per-entry bounds on |csim - Keras| for the softmax outputs: ``(tol_p,
    tol_q, dz)``, for the raw outputs, for the outputs renormalised to sum 1,
    and the bound on a logit's error.

    Derived from hls4ml 1.3.0's ``softmax_stable`` (the exp and 1/sum
    tables, 1024 entries each, are indexed by the top 10 bits of their input
    and hold the value at the bucket's lower edge), with the input types the
    design promises (the exp table's: hls4ml derives it from the logit type,
    ``_logit_int_bits``; the 1/sum table's), never read from the project:

    * exp table, input ``inp_norm_t`` = x_max - x_i (ap_ufixed<15,5>: buckets
      of 2^-5): exp over-estimated by at most ``e^bucket - 1`` (3.2 %);
    * 1/sum table, input ``inv_inp_t`` with floor(log2(classes)) + 2 integer
      bits (hls4ml's default ap_fixed<18,8> would give buckets of 0.25 and
      errors up to 33 %): 1/S over-estimated by up to ``bucket / (S - bucket)``,
      where S = sum_k exp(z_k - z_max) = 1 / p_max. It scales every class of
      a sample by the same factor, so it does not move the arg-max, and it
      cancels when the outputs are renormalised (``tol_q``);
    * logits: |dz| <= ||classifier column||_1 * EPS_H + 2 LSB; through the
      softmax, p_j changes by a factor within e^(+-2|dz|);
    * output truncation to ap_fixed<16,6> and the tables' own 10 fraction
      bits: 2 LSB.
    """
    # hls4ml's exp-table input: the logit type unsigned, one integer bit less
    b_exp = _table_bucket(logit_int_bits - 1)
    # the 1/sum table's input type is what the design promises (integer bits
    # for the number of classes), not read back from the project: a project
    # with a coarser type fails here instead of loosening its own tolerance
    b_inv = _table_bucket(int(np.floor(np.log2(keras_probs.shape[1]))) + 2)

    p = np.asarray(keras_probs, dtype=np.float64)
    s = 1.0 / p.max(axis=1, keepdims=True)
    e_exp = np.exp(b_exp) - 1.0
    e_inv = b_inv / np.maximum(s - b_inv, 1e-3)
    dz = np.abs(classifier_kernel).sum(axis=0).max() * EPS_H + 2 * LSB16
    e_z = np.exp(2.0 * dz) - 1.0
    tol_p = p * ((1 + e_exp) * (1 + e_inv) * (1 + e_z) - 1.0) + 2 * LSB16
    tol_q = p * ((1 + e_exp) * (1 + e_z) - 1.0) + 4 * LSB16
    return tol_p, tol_q, dz + b_exp


REPORT_FIELDS = ("config", "output_dir", "backend", "io_type", "precision", "reuse_factor", "parameters",
                 "macs_per_step", "dense_lstm_macs_per_step", "weight_bits", "weight_bits_per_layer", "csim",
                 "min_agreement", "passed", "weights_sha256", "versions", "stage_seconds")
CSIM_FIELDS = ("samples", "top1_agreement", "max_abs_diff", "mean_abs_diff", "csim_vs_predict_max_abs_diff",
               "csim_equals_predict", "keras_accuracy", "csim_accuracy", "csim_seconds_per_sample")


def _check_numerics(project: Path, case, report):
    """csim vs Keras (entry-wise tolerance), vs hls4ml predict, and the report's own figures."""
    c = report["csim"]
    assert c["samples"] == N_TEST
    assert c["top1_agreement"] >= 0.99, c
    assert c["csim_equals_predict"] is True, c
    csim = _csim_log(project)
    keras_probs = case["keras_probs"]
    assert csim.shape == keras_probs.shape
    # The testbench prints 6 significant digits: identical up to that printing.
    assert c["csim_vs_predict_max_abs_diff"] <= 5e-6 * np.abs(csim).max(), c
    diff = np.abs(csim - keras_probs)
    assert c["max_abs_diff"] == pytest.approx(float(diff.max()), abs=1e-9)
    kernel = case["model"].get_layer("classifier").get_weights()[0]
    tol_p, tol_q, dz = prob_tolerance(project, keras_probs, kernel, _logit_int_bits(case))
    # the samples are decisive enough that no error within the bounds can flip the arg-max
    assert case["min_logit_margin"] > 2 * dz, (case["min_logit_margin"], dz)
    q = csim / csim.sum(axis=1, keepdims=True)
    for name, d, tol in (("|csim - keras|", diff, tol_p), ("|csim/sum(csim) - keras|", np.abs(q - keras_probs), tol_q)):
        worst = np.unravel_index(np.argmax(d - tol), d.shape)
        assert np.all(d <= tol), f"{name} = {d[worst]:.4g} > tolerance {tol[worst]:.4g} at {worst}; max {d.max():.4g}"
    np.testing.assert_array_equal(csim.argmax(1), keras_probs.argmax(1))


# --------------------------------------------------------------------------
# fixtures: one model/data pair per case, one build per project
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("flow")


@pytest.fixture(scope="module")
def fdht_case(work):
    """FDHT-LSTM on (N, 4, 16) sequences: [x;h] = 24 = 2x3x2x2, 4H = 32 = 4x2x2x2, rank 3."""
    from keras_model.models import build_model

    model = build_model({"kind": "fdht", "units": H, "input_modes": [2, 3, 2, 2], "output_modes": [4, 2, 2, 2],
                         "ranks": 3, "seed": 1}, (T, 16), N_CLASSES)
    return _save_case(work, "fdht", model, _sequences(np.random.default_rng(1)))


@pytest.fixture(scope="module")
def fdht_rf1(work, fdht_case):
    out = work / "fdht_rf1"
    proc = _build_py("--csim", "--model", fdht_case["model_path"], "--data", fdht_case["data"],
                     "--output-dir", out, "--reuse-factor", 1)
    return proc, out


@pytest.fixture(scope="module")
def fdht_lanes3(work, fdht_case):
    """The same model with 3 multiply-add lanes instead of the default: other
    loop nests, lane tables and partition factors in the generated C++."""
    out = work / "fdht_lanes3"
    return _run_flow(fdht_case, out, lanes=3), out


def _ok(proc, out: Path):
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads((out / "csim_report.json").read_text())


# --------------------------------------------------------------------------
# FDHT-LSTM through build.py
# --------------------------------------------------------------------------


def test_fdht_lstm_build_py_csim(fdht_rf1, fdht_case):
    proc, out = fdht_rf1
    report = _ok(proc, out)
    for key in REPORT_FIELDS:
        assert key in report, key
    for key in CSIM_FIELDS:
        assert key in report["csim"], key
    assert report["output_dir"] == str(out) and report["passed"] is True
    assert report["reuse_factor"] == 1 and report["io_type"] == "io_stream"  # the default
    assert report["model_path"] == fdht_case["model_path"]
    # cost figures of the recurrent layer: the plan's MACs, the model's parameter count
    rnn = fdht_case["model"].get_layer("fdhtlstm")
    assert report["macs_per_step"] == rnn.cell.ht_shape.plan.macs
    assert report["parameters"]["model"] == fdht_case["model"].count_params()
    assert report["dense_lstm_macs_per_step"] == (16 + H) * 4 * H
    assert report["weight_bits"] > 0
    _check_numerics(out, fdht_case, report)
    # the printed summary and a clean project folder
    assert "top-1 agreement" in proc.stdout and "identical" in proc.stdout
    assert not error_lines(proc.stderr)
    # no TensorFlow / absl / Keras chatter in the default output (shown with -v)
    chatter = [l for l in (proc.stdout + proc.stderr).splitlines()
               if re.match(r"^[IWEF]\d{4} \d\d:|WARNING: All log messages|.*(UserWarning|DeprecationWarning)|"
                           r"WARNING:tensorflow|.*oneDNN|.*cuda", l)]
    assert chatter == []
    assert not (out / "tb_input.npy").exists() and not (out / "tb_output.npy").exists()
    assert str(out) in (out / "hls4ml_config.yml").read_text()
    assert ".fdht_rf1-tmp-" not in (out / "hls4ml_config.yml").read_text()
    assert stray_folders(out.parent) == []
    for f in ("csim", "firmware/myproject.cpp", "firmware/parameters.h", "firmware/nnet_utils/nnet_ht_stream.h",
              "tb_data/tb_input_features.dat", "tb_data/tb_output_predictions.dat", "tb_data/csim_results.log"):
        assert (out / f).exists(), f
    assert "nnet::fdht_lstm_stream<" in (out / "firmware" / "myproject.cpp").read_text()
    # the HLS-rules lint ran on the written project: every rule holds
    hw = json.loads((out / "hardware_report.json").read_text())
    assert hw["lint"]["failed"] == [] and hw["lint"]["rules"] == 8
    assert "HLS rules: 8/8 hold" in proc.stdout + proc.stderr


def test_lanes_change_the_hardware_not_the_results(fdht_rf1, fdht_lanes3):
    """hls.lanes is a hardware knob: fewer lanes give other loop nests and
    partition factors and more cycles in the MODEL, and bit-identical outputs."""
    r1 = _ok(*fdht_rf1)
    r3, out3 = fdht_lanes3
    out1 = fdht_rf1[1]
    p1 = (out1 / "firmware" / "parameters.h").read_text()
    p3 = (out3 / "firmware" / "parameters.h").read_text()
    # per stage: free_lanes x sum_lanes multiply-adds per iteration, as the config structs declare them
    lanes = lambda text: [int(f) * int(s) for f, s in
                          re.findall(r"static const unsigned free_lanes = (\d+), sum_lanes = (\d+),", text)]
    assert lanes(p3) and max(lanes(p3)) <= 3 < max(lanes(p1)), (lanes(p1), lanes(p3))
    # within the budget of 3, but never under one lane per stage
    assert sum(lanes(p3)) <= max(3, len(lanes(p3))) < sum(lanes(p1))
    # the word layouts (lanes per A word, per ROM word, per output word) differ
    words = lambda text: re.findall(r"rom_lanes = (\d+);\n\s+static const unsigned a_lanes = (\d+)", text)
    assert words(p1) and words(p1) != words(p3)
    hw1 = json.loads((out1 / "hardware_report.json").read_text())["model"]
    hw3 = json.loads((out3 / "hardware_report.json").read_text())["model"]
    assert hw3["clips_per_s"] < hw1["clips_per_s"] / 2 and hw3["dsp"] < hw1["dsp"]
    log1 = (out1 / "tb_data" / "csim_results.log").read_bytes()
    log3 = (out3 / "tb_data" / "csim_results.log").read_bytes()
    assert log1 and log1 == log3 and r3["csim"]["top1_agreement"] == r1["csim"]["top1_agreement"]


# --------------------------------------------------------------------------
# other model shapes, through run_flow
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seq_flatten_case(work):
    """FDHTLSTM(return_sequences=True) -> Flatten -> Dense -> softmax."""
    from keras_model.layers import FDHTLSTM

    keras = _keras()
    keras.utils.set_random_seed(2)
    inp = keras.Input((T, 12), name="sequence")
    x = FDHTLSTM(H, input_modes=[5, 2, 2, 1], output_modes=[4, 2, 2, 2], ranks=3, seed=2,
                 return_sequences=True, name="fdhtlstm")(inp)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(N_CLASSES, name="classifier")(x)
    out = keras.layers.Activation("softmax", name="softmax")(x)
    model = keras.Model(inp, out, name="fdht_seq_flatten")
    return _save_case(work, "seq_flatten", model, _sequences(np.random.default_rng(2), f=12))


def test_return_sequences_flatten_dense(work, seq_flatten_case):
    """Flatten after the (T, H) sequence output works in io_parallel (a
    4 x 12 input: a 768-bit port, within the limit): hls4ml turns it into a
    no-op reshape of the flat array (C order, step 0 first, as Keras
    flattens (T, H))."""
    out = work / "seq_flatten"
    report = _run_flow(seq_flatten_case, out, io_type="io_parallel")
    assert report["passed"] is True
    _check_numerics(out, seq_flatten_case, report)
    cpp = (out / "firmware" / "myproject.cpp").read_text()
    assert "nnet::fdht_lstm_array<" in cpp
    assert re.search(r"auto&\s+\w+\s*=\s*layer2_out;", cpp), "Flatten is not a plain alias of the LSTM output"
    assert "return_sequences = true" in (out / "firmware" / "parameters.h").read_text()


@pytest.fixture(scope="module")
def htdense_case(work):
    """(4, 12) -> Flatten -> HTDense(16) -> relu -> Dense -> softmax.

    The flow reads only (N, T, F) sequences or (N, T, H, W, C) frames
    (keras_model.data rejects (N, F) arrays), so the flat (F,) input of
    HTDense comes from a Flatten of a (T, F) sample."""
    from keras_model.layers import HTDense

    keras = _keras()
    keras.utils.set_random_seed(3)
    inp = keras.Input((T, 12), name="sequence")
    x = keras.layers.Flatten(name="flatten")(inp)
    x = HTDense(input_modes=[2, 2, 3, 4], output_modes=[2, 2, 2, 2], ranks=3, seed=3, name="htdense")(x)
    x = keras.layers.Activation("relu", name="relu")(x)
    x = keras.layers.Dense(N_CLASSES, name="classifier")(x)
    out = keras.layers.Activation("softmax", name="softmax")(x)
    model = keras.Model(inp, out, name="htdense_mlp")
    return _save_case(work, "htdense", model, _sequences(np.random.default_rng(3), f=12))


def test_htdense_model(work, htdense_case):
    """A model without a recurrent layer: no LSTM comparison figures, the
    MACs of one forward pass, and the same csim checks."""
    nocsim = _run_flow_no_csim(htdense_case, work / "htdense_nocsim")
    assert nocsim["parameters"]["dense_lstm_recurrent"] is None
    assert nocsim["macs_per_step"] > 0
    out = work / "htdense"
    report = _run_flow(htdense_case, out)
    assert report["passed"] is True
    _check_numerics(out, htdense_case, report)
    assert "nnet::ht_dense_stream<" in (out / "firmware" / "myproject.cpp").read_text()


def _run_flow_no_csim(case, out_dir):
    from hls_project.flow.pipeline import run_flow
    from keras_model.common.config import CONFIG_DIR, load_config

    cfg = load_config(os.path.join(CONFIG_DIR, "default.yml"),
                      {"data": {"source": case["data"], "frames": None, "size": None},
                       "hls": {"output_dir": str(out_dir)}})
    return run_flow(cfg, model_path=case["model_path"], csim_enabled=False, log=lambda *a, **k: None)


@pytest.fixture(scope="module")
def qkeras_case(work):
    """QKeras-quantized FDHT-LSTM on (N, 4, 8, 8, 1) uint8 frames: 64 + 8 = 72
    = 2x4x3x3 inputs; cores quantized_bits(8,0), bias quantized_bits(8,2)."""
    from qkeras import quantized_bits

    from keras_model.models import build_model

    q = {"kernel": quantized_bits(8, 0, alpha=1), "bias": quantized_bits(8, 2, alpha=1)}
    model = build_model({"kind": "fdht", "units": H, "input_modes": [2, 4, 3, 3], "output_modes": [4, 2, 2, 2],
                         "ranks": 3, "seed": 4}, (T, 8, 8, 1), N_CLASSES, quantizers=q)
    return _save_case(work, "qkeras", model, _frames(np.random.default_rng(4)))


def test_qkeras_fdht_lstm(work, qkeras_case):
    out = work / "qkeras"
    report = _run_flow(qkeras_case, out)
    assert report["passed"] is True
    # keras_probs are the QKeras model's own (quantized) predictions
    _check_numerics(out, qkeras_case, report)
    defines = (out / "firmware" / "defines.h").read_text()
    typedefs = dict((name, t) for t, name in re.findall(r"typedef\s+(.+?)\s+(\w+);", defines))
    n_cores = len(qkeras_case["model"].get_layer("fdhtlstm").cell.ht_shape.core_names)
    # the types the generated call passes the cores with
    cpp = (out / "firmware" / "parameters.h").read_text() + (out / "firmware" / "myproject.cpp").read_text()
    core_types = {t for t in typedefs if "core_" in t and re.search(rf"\b{t}\b", cpp)}
    assert len(core_types) == n_cores, (core_types, n_cores)
    assert {typedefs[t] for t in core_types} == {"ap_fixed<8,1>"}, {t: typedefs[t] for t in core_types}
    # the bias carries quantized_bits(8,2)'s type
    bias_types = [typedefs[t] for t in typedefs if "bias" in t and not t.startswith("classifier")]
    assert "ap_fixed<8,3>" in bias_types, bias_types
    # 8-bit cores: 8 bits per core entry in the weight-storage figure
    cores_bits = [v for k, v in report["weight_bits_per_layer"]["fdhtlstm"].items() if k.startswith("core_")]
    assert cores_bits and all(v["bits_each"] == 8 for v in cores_bits)


# --------------------------------------------------------------------------
# error paths: documented exit code, one `error:` line, previous project untouched
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_project(work, fdht_rf1):
    """A copy of a finished project, in its own parent folder, that every
    failing run below targets with --output-dir."""
    _ok(*fdht_rf1)
    parent = work / "errors"
    parent.mkdir()
    dst = parent / "prj"
    shutil.copytree(fdht_rf1[1], dst, symlinks=True)
    return dst


@pytest.fixture(scope="module")
def conv1d_model(work):
    keras = _keras()
    keras.utils.set_random_seed(5)
    inp = keras.Input((T, 16), name="sequence")
    x = keras.layers.Conv1D(4, 2, name="conv")(inp)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(N_CLASSES, name="classifier")(x)
    out = keras.layers.Activation("softmax", name="softmax")(x)
    path = work / "conv1d.h5"
    keras.Model(inp, out).save(path)
    return path


def _fake_gxx(folder: Path) -> Path:
    script = folder / "failing-g++"
    script.write_text("#!/bin/sh\necho 'error: boom' >&2\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


def _python_only_path(folder: Path) -> str:
    """A PATH with nothing on it but ``python`` (so no g++)."""
    d = folder / "python-only-bin"
    d.mkdir(exist_ok=True)
    link = d / "python"
    if not link.exists():
        link.symlink_to(sys.executable)
    return str(d)


ERROR_CASES = ["gxx-not-on-path", "cxx-nonexistent", "gxx-fails", "unsupported-layer", "unknown-config-key",
               "unwritable-output-dir", "missing-model-file"]


@pytest.mark.parametrize("case", ERROR_CASES)
def test_error_paths(case, work, fdht_case, good_project, conv1d_model):
    parent = good_project.parent
    before = tree_hash(good_project)
    out = good_project
    model, env = fdht_case["model_path"], {}
    extra = []
    if case == "gxx-not-on-path":
        env = {"PATH": _python_only_path(work)}
        code, expect = 3, "not found"
    elif case == "cxx-nonexistent":
        env = {"CXX": "/nonexistent/g++"}
        code, expect = 3, "/nonexistent/g++"
    elif case == "gxx-fails":
        env = {"CXX": str(_fake_gxx(work))}
        code, expect = 3, "boom"
    elif case == "unsupported-layer":
        model = conv1d_model
        code, expect = 2, "Conv1D"
    elif case == "unknown-config-key":
        cfg = work / "bad.yml"
        cfg.write_text("hls:\n  reuse_factr: 2\n")
        extra = ["--config", cfg]
        code, expect = 2, "reuse_factr"
    elif case == "unwritable-output-dir":
        blocker = parent / "a-regular-file"
        blocker.write_text("not a folder\n")
        out = blocker / "prj"
        code, expect = 2, str(out)
    elif case == "missing-model-file":
        model = work / "does-not-exist.h5"
        code, expect = 2, "does-not-exist.h5"
    proc = _build_py("--csim", "--model", model, "--data", fdht_case["data"], "--output-dir", out, *extra, env=env)
    errors = error_lines(proc.stderr)
    assert proc.returncode == code, f"exit {proc.returncode}, expected {code}\n{proc.stderr[-3000:]}"
    assert len(errors) == 1, proc.stderr[-3000:]
    assert expect in errors[0], errors[0]
    assert "Traceback" not in proc.stderr
    assert tree_hash(good_project) == before, "the previous project was modified"
    assert stray_folders(parent) == [], "temporary folders left behind"
    assert sorted(p.name for p in parent.iterdir()) in (["prj"], ["a-regular-file", "prj"])


def test_csim_arithmetic_ap_types_gives_the_same_bits(work, fdht_case, fdht_rf1):
    """hls.csim_arithmetic: ap_types builds the csim without -DHT_FAST_CSIM
    (ap_types' C++ model, what synthesis compiles); the default fast build
    gives the byte-identical results file."""
    _ok(*fdht_rf1)
    fast = fdht_rf1[1]
    out = work / "fdht_ap_types"
    report = _run_flow(fdht_case, out, csim_arithmetic="ap_types")
    assert report["csim"]["top1_agreement"] == 1.0
    assert "-DHT_FAST_CSIM" in (fast / "csim_build.log").read_text().splitlines()[0]
    assert "-DHT_FAST_CSIM" not in (out / "csim_build.log").read_text().splitlines()[0]
    got = (out / "tb_data" / "csim_results.log").read_bytes()
    assert len(got.splitlines()) == N_TEST and got == (fast / "tb_data" / "csim_results.log").read_bytes()


def test_flip_list_equals_an_independent_comparison():
    """compare.compare's flips: exactly the samples whose argmax differs, each
    with the Keras top-1 margin, computed here separately."""
    from hls_project.flow import compare
    rng = np.random.default_rng(11)
    keras_p = rng.dirichlet(np.ones(5), 200)
    csim_p = np.clip(keras_p + rng.normal(0, 0.03, keras_p.shape), 0, None)
    labels = rng.integers(0, 5, 200)
    report = compare.compare(keras_p, csim_p, None, labels)
    got = report["flips"]
    want = []
    for i in range(200):
        k, c = int(np.argmax(keras_p[i])), int(np.argmax(csim_p[i]))
        if k != c:
            srt = sorted(keras_p[i])
            want.append((i, k, c, srt[-1] - srt[-2]))
    assert want, "the noise must cause some flips"
    assert report["top1_agreement"] == 1 - len(want) / 200
    assert report["keras_accuracy"] == np.mean(np.argmax(keras_p, 1) == labels)
    assert report["csim_accuracy"] == np.mean(np.argmax(csim_p, 1) == labels)
    assert [(r["sample"], r["keras_class"], r["csim_class"]) for r in got] == [w[:3] for w in want]
    np.testing.assert_allclose([r["keras_margin"] for r in got], [w[3] for w in want], rtol=0, atol=1e-12)
    assert [r["near_tie"] for r in got] == [w[3] < 0.01 for w in want]
    line = compare.flips_line(got)
    assert line.startswith(f"{len(want)} flips, {sum(w[3] < 0.01 for w in want)} of them near-ties")
    assert compare.flips_line([]) == "no flips"


@pytest.fixture(scope="module")
def fdht_outputs(work, fdht_case):
    """The fdht case with hls.output logits and class."""
    return {o: (_run_flow(fdht_case, work / f"fdht_{o}", output=o), work / f"fdht_{o}") for o in ("logits", "class")}


@pytest.mark.parametrize("output", ["logits", "class"])
def test_hls_output_logits_and_class(fdht_outputs, fdht_case, output):
    """hls.output logits: csim writes the logits (no softmax in the project),
    near Keras's logits; class: a one-hot vector of Keras's top class."""
    report, out = fdht_outputs[output]
    c = report["csim"]
    assert c["output"] == output and c["top1_agreement"] == 1.0
    csim = _csim_log(out)
    logits = _logits_model(fdht_case["model"]).predict(fdht_case["x_test"].astype(np.float32), verbose=0)
    if output == "logits":
        assert "softmax" not in (out / "firmware" / "myproject.cpp").read_text()
        assert np.abs(csim - logits).max() == pytest.approx(c["max_abs_diff"], abs=1e-5)
        assert c["max_abs_diff"] < 0.1 and c["logits"]["bitexact_equals_csim"] is True
    else:
        assert "softmax_implementation::argmax" in (out / "firmware" / "parameters.h").read_text()
        np.testing.assert_array_equal(csim, np.eye(N_CLASSES)[np.argmax(logits, 1)])
        assert c["max_abs_diff"] is None


def test_logit_error_of_a_probabilities_run_equals_csim_logits(fdht_rf1, fdht_outputs, fdht_case):
    """A probabilities run reports the logit error from the bit-exact model
    (checked equal to its csim output); the same model built with
    hls.output logits prints csim's own logits (the same Dense and types):
    the two logit errors are the same figure."""
    report = _ok(*fdht_rf1)
    lg = report["csim"]["logits"]
    assert lg["bitexact_equals_csim"] is True and lg["samples"] == N_TEST
    logits = _logits_model(fdht_case["model"]).predict(fdht_case["x_test"].astype(np.float32), verbose=0)
    csim_logits = _csim_log(fdht_outputs["logits"][1])
    assert lg["max_abs_diff"] == pytest.approx(float(np.abs(csim_logits - logits).max()), abs=1e-5)
    att = lg["attribution"]
    assert att["suspect"] in [g["group"] for g in att["groups"]] and len(att["sample_indices"]) >= 1
    assert att["logit_error"] == pytest.approx(max(t["max_abs_diff"] for t in att["tensors"]
                                                   if t["tensor"] == att["logits"]))
