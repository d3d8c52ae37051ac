"""csim equals an independent bit-exact numpy model of the fixed-point
arithmetic (hls_project/numerics/bitexact.py) exactly, on 13 random small shapes:
FDHT-LSTM and HTDense, d = 2..4, io_parallel and io_stream, several default
precisions, sequences and frames, return_sequences, QKeras quantized
activations. "Exactly" means: every
printed csim output, snapped to the result type's grid, is the reference's
grid point (the testbench prints 6 significant digits, enough to tell the
grid points of these types apart: checked too).

The reference is also shown to be sharp: with the accelerator's rounding
mode changed (AP_RND_CONV -> AP_TRN) or the gate order swapped, it no longer
equals csim.

The csim is built the flow's way (-DHT_FAST_CSIM: the HT stages' arithmetic
on integers); four cases are built a second time with ap_types' arithmetic
and must give byte-identical results.

Real g++ builds (-O0: they only run 12 samples; two at a time), random weights.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

GXX = shutil.which("g++")
N_SAMPLES = 12
N_CLASSES = 3

# name: (kind, T, frame or features, H / output modes, d, ranks, io_type, precision, stream_width, extra)
CASES = {
    "lstm_d2_parallel": ("lstm", 3, (10,), 4, 2, 2, "io_parallel", "ap_fixed<16,6>", 5, {}),
    "lstm_d3_stream": ("lstm", 4, (18,), 6, 3, 3, "io_stream", "ap_fixed<16,6>", 6, {}),
    "lstm_d4_parallel_w14": ("lstm", 3, (28,), 8, 4, 3, "io_parallel", "ap_fixed<14,5>", 4, {}),
    "lstm_d4_stream_w18": ("lstm", 3, (28,), 8, 4, 2, "io_stream", "ap_fixed<18,8>", 7, {}),
    "lstm_d3_frames_stream": ("lstm", 3, (4, 4, 2), 6, 3, 2, "io_stream", "ap_fixed<16,6>", 8, {}),
    "lstm_d3_long": ("lstm", 10, (6,), 4, 3, 2, "io_parallel", "ap_fixed<16,6>", 3, {}),
    "lstm_d2_seq_flatten": ("lstm", 3, (8,), 4, 2, 3, "io_parallel", "ap_fixed<16,6>", 4, {"sequences": True}),
    "lstm_d4_rank1_w12": ("lstm", 2, (20,), 4, 4, 1, "io_parallel", "ap_fixed<12,4>", 5, {}),
    "lstm_d3_big_inputs": ("lstm", 3, (12,), 6, 3, 3, "io_stream", "ap_fixed<16,6>", 4, {"scale": 3.0}),
    "lstm_d3_qkeras_act": ("lstm", 3, (12,), 6, 3, 2, "io_parallel", "ap_fixed<16,6>", 4, {"qact": 6}),
    "htdense_d4_parallel": ("dense", 4, (12,), (2, 2, 2, 2), 4, 3, "io_parallel", "ap_fixed<16,6>", 8, {}),
    "htdense_d3_stream": ("dense", 2, (15,), (3, 2, 2), 3, 2, "io_stream", "ap_fixed<16,6>", 6, {}),
    "htdense_d2_parallel_w12": ("dense", 3, (7,), (4, 3), 2, 2, "io_parallel", "ap_fixed<12,4>", 3, {}),
}

# FDHT_BITEXACT_CASES=a,b runs only those cases (tests/mutation_check.py uses it)
SELECTED = [c for c in os.environ.get("FDHT_BITEXACT_CASES", "").split(",") if c] or list(CASES)
# built a second time without -DHT_FAST_CSIM (ap_types' C++ model of ap_fixed)
AP_TYPES_CASES = [c for c in ("lstm_d4_rank1_w12", "lstm_d3_frames_stream", "lstm_d3_qkeras_act", "htdense_d2_parallel_w12")
                  if c in SELECTED]
SHARPNESS_CASES = [c for c in ("lstm_d3_stream", "lstm_d2_parallel", "lstm_d4_parallel_w14") if c in SELECTED]


def _model(name):
    from keras_model.common.keras2 import keras

    from keras_model.layers import FDHTLSTM, HTDense

    kind, t, frame, units, d, ranks, _, _, _, extra = CASES[name]
    seed = sorted(CASES).index(name) + 11
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inp = keras.Input((t,) + frame, name="x")
    x = inp
    if len(frame) > 1:
        x = keras.layers.Reshape((t, int(np.prod(frame))), name="flatten_frames")(x)
    if kind == "lstm":
        seq = extra.get("sequences", False)
        acts = {}
        if extra.get("qact"):  # QKeras quantized activations (their real forms, on their grid)
            from qkeras import quantized_sigmoid, quantized_tanh

            acts = {"activation": quantized_tanh(extra["qact"], use_real_tanh=True),
                    "recurrent_activation": quantized_sigmoid(extra["qact"], use_real_sigmoid=True)}
        x = FDHTLSTM(units, d=d, ranks=ranks, seed=seed, return_sequences=seq, name="fdhtlstm", **acts)(x)
        if seq:
            x = keras.layers.Flatten(name="flatten")(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
        x = HTDense(d=d, output_modes=list(units), ranks=ranks, seed=seed, name="htdense")(x)
        x = keras.layers.Activation("relu", name="relu")(x)
    x = keras.layers.Dense(N_CLASSES, name="classifier")(x)
    model = keras.Model(inp, keras.layers.Activation("softmax", name="softmax")(x))
    if kind == "lstm":  # weights with more spread: gates away from 0.5, some near saturation
        layer = model.get_layer("fdhtlstm")
        layer.set_weights([w * 1.5 + rng.normal(0, 0.05, w.shape) for w in layer.get_weights()])
    clf = model.get_layer("classifier")
    w, b = clf.get_weights()
    clf.set_weights([rng.standard_normal(w.shape) * 2.0, rng.standard_normal(b.shape) * 0.3])
    x = rng.uniform(-1, 1, (N_SAMPLES, t) + frame).astype(np.float32) * extra.get("scale", 1.0)
    return model, x


def hls_model(name, out: Path, **hls):
    """(hls model, Keras model, inputs, Keras outputs) of case ``name``
    converted into ``out`` (not written); ``hls``: overrides of the hls section."""
    from hls_project.flow import pipeline as flow
    from keras_model.common.config import DEFAULTS, merge

    _, _, _, _, _, _, io, prec, width, _ = CASES[name]
    model, x = _model(name)
    cfg = merge(DEFAULTS, {"hls": {"io_type": io, "precision": prec, "stream_width": width, "lanes": 6, **hls}})
    cfg["_name"] = name
    out.mkdir()
    probs = model.predict(x, verbose=0)
    hm = flow.convert(model, cfg, str(out), x.reshape(len(x), -1), probs, float(np.abs(x).max()),
                      flow.dense_output_ranges(model, x))
    return hm, model, x, probs


def _convert(name, tmp: Path):
    out = tmp / name
    hm, _, _, probs = hls_model(name, out)
    hm.write()
    return out, hm, probs


def _build(prj: Path, fast: bool = True):
    from hls_project.flow import csim
    cmd = csim.build_command(str(prj), "myproject", opt="-O0", fast=fast)
    return subprocess.Popen(cmd, cwd=prj, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    if GXX is None:
        pytest.skip("needs g++ on PATH")
    tmp = tmp_path_factory.mktemp("bitexact")
    out, running = {}, []
    for name in SELECTED:
        prj, hm, probs = _convert(name, tmp)
        if name in AP_TYPES_CASES:  # the same project, built with ap_types' arithmetic
            ap = tmp / f"{name}_ap_types"
            shutil.copytree(prj, ap)
            running.append((name, ap, _build(ap, fast=False)))
        running.append((name, prj, _build(prj)))
        out[name] = (prj, hm, probs)
        while len(running) >= 2 or (name == SELECTED[-1] and running):
            n, p, proc = running.pop(0)
            log, _ = proc.communicate(timeout=1200)
            assert proc.returncode == 0, log[-3000:]
            r = subprocess.run([str(p / "csim")], cwd=p, capture_output=True, text=True, timeout=600)
            assert r.returncode == 0, r.stderr[-2000:]
    return out


def _grid(values, prec):
    """Printed csim values -> integer grid points of the result type (and the snapping residual)."""
    f = prec.width - prec.integer
    scaled = np.asarray(values, dtype=np.float64) * 2.0 ** f
    return np.round(scaled), np.abs(scaled - np.round(scaled))


def _compare(prj: Path, hm, **kw):
    from hls_project.numerics import bitexact
    rows = (prj / "tb_data" / "tb_input_features.dat").read_text().splitlines()
    x = bitexact.testbench_input(rows)
    ref = bitexact.predict(hm, x, **kw)
    got = np.loadtxt(prj / "tb_data" / "csim_results.log", ndmin=2)
    prec = hm.get_output_variables()[0].type.precision
    g, resid = _grid(got, prec)
    r, _ = _grid(ref, prec)
    return g, r, resid


@pytest.mark.parametrize("name", SELECTED)
def test_csim_equals_the_bit_exact_reference(projects, name):
    prj, hm, probs = projects[name]
    g, r, resid = _compare(prj, hm)
    assert resid.max() < 0.05, "6 printed digits do not identify the grid point"
    mism = np.argwhere(g != r)
    assert mism.size == 0, f"{len(mism)} outputs differ, first at {mism[:3].tolist()}: csim {g[tuple(mism[0])]} ref {r[tuple(mism[0])]}"
    # and the reference is not a trivial output: the classes differ, and it is near Keras
    assert len(np.unique(np.argmax(r, 1))) > 1 or np.ptp(r) > 0.05
    assert np.abs(r / 2.0 ** (hm.get_output_variables()[0].type.precision.width
                              - hm.get_output_variables()[0].type.precision.integer) - probs).max() < 0.1


@pytest.mark.parametrize("name", AP_TYPES_CASES)
def test_fast_csim_equals_the_ap_types_build(projects, name):
    """The flow's fast csim arithmetic (-DHT_FAST_CSIM) and ap_types' own
    C++ model, which synthesis compiles, give byte-identical results."""
    prj = projects[name][0]
    fast = (prj / "tb_data" / "csim_results.log").read_bytes()
    ap = (prj.parent / f"{name}_ap_types" / "tb_data" / "csim_results.log").read_bytes()
    assert len(fast.splitlines()) == N_SAMPLES
    assert fast == ap


def test_the_reference_fails_when_the_rounding_mode_or_gate_order_changes(projects):
    """The reference is sharp: the accelerator's convergent rounding replaced
    by truncation, or the i and o gates swapped, and it no longer equals csim."""
    assert SHARPNESS_CASES, "select at least one LSTM case"
    for name in SHARPNESS_CASES:
        prj, hm, _ = projects[name]
        g, r, _ = _compare(prj, hm, rounding={"AP_RND_CONV": "AP_TRN"})
        assert np.any(g != r), name
        g, r, _ = _compare(prj, hm, gate_order=(3, 1, 2, 0))
        assert np.any(g != r), name
