"""Precision choices reach the written project: QKeras quantizer types, a
config override that beats them, and inputs outside their type reported by
the range check / profiling instead of wrapping silently. No g++ here
(csim_enabled=False): the written headers are what is checked."""

import os
import re

import numpy as np
import pytest

from keras_model.common.config import CONFIG_DIR, load_config
from keras_model.data import Dataset, save_npz

T, F, CLASSES = 4, 12, 3  # the tiny FDHT-LSTM of conftest


@pytest.fixture
def model_file(tiny_fdht):
    """``model_file(tmp_path, quantized)``: the tiny FDHT-LSTM (QKeras 8-bit
    cores and bias when ``quantized``) saved as .h5; its path."""

    def save(tmp_path, quantized):
        from qkeras import quantized_bits

        q = {"kernel": quantized_bits(8, 0, alpha=1), "bias": quantized_bits(8, 2, alpha=1)} if quantized else None
        path = str(tmp_path / ("q.h5" if quantized else "f.h5"))
        tiny_fdht(n_classes=CLASSES, quantizers=q).save(path)
        return path

    return save


def _data(tmp_path, scale=1.0):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((24, T, F)) * 0.5).astype("float32")
    x[16, 0, 0] = scale  # one test-set value at the given magnitude
    y = np.arange(24) % CLASSES
    path = tmp_path / f"d{scale}.npz"
    save_npz(path, Dataset(x[:16], y[:16], x[16:], y[16:], ["a", "b", "c"]))
    return str(path)


def _run(tmp_path, model, data, hls=None, profile=False):
    from hls_project.flow.pipeline import run_flow

    out = tmp_path / "prj"
    cfg = load_config(os.path.join(CONFIG_DIR, "default.yml"),
                      {"data": {"source": data, "frames": None, "size": None},
                       "hls": {"output_dir": str(out), **(hls or {})}})
    logs = []
    report = run_flow(cfg, model_path=model, csim_enabled=False, profile=profile, log=logs.append)
    return out, report, logs


def test_quantizer_types_reach_the_project(tmp_path, model_file):
    out, _, _ = _run(tmp_path, model_file(tmp_path, True), _data(tmp_path))
    defines = (out / "firmware" / "defines.h").read_text()
    cores = re.findall(r"typedef (ap_fixed<[^;]*>) (\w*core_\w+);", defines)
    assert len(cores) == 7 and all(t == "ap_fixed<8,1>" for t, _ in cores), cores
    assert re.search(r"typedef ap_fixed<8,3> \w*b\w*_t;", defines)  # the bias: quantized_bits(8,2) -> <8,3>


def test_config_override_beats_the_quantizer(tmp_path, model_file):
    override = {"layers": {"fdhtlstm": {"Precision": {"core_u1": "ap_fixed<12,2>"}}}}
    out, _, _ = _run(tmp_path, model_file(tmp_path, True), _data(tmp_path), override)
    defines = (out / "firmware" / "defines.h").read_text()
    assert re.search(r"typedef ap_fixed<12,2> fdhtlstm_core_u1_t;", defines), defines
    others = re.findall(r"typedef (ap_fixed<[^;]*>) \w*core_u[234]\w*;", defines)
    assert others and all(t == "ap_fixed<8,1>" for t in others)  # the rest still from the quantizer
    params = (out / "firmware" / "parameters.h").read_text()
    # At this tiny shape every core is folded into one constant table at
    # conversion (x times W is the cheapest plan); that table is computed
    # from u1 at the overridden type, so it differs from the quantizer-only run.
    base, _, _ = _run(tmp_path / "base", model_file(tmp_path, True), _data(tmp_path))
    tables = re.compile(r"static const \w+_tab_t rom\[\d+\]\[\d+\] = \{(.*?)\};", re.S)  # the stage ROMs
    assert tables.findall(params) and tables.findall(params) != tables.findall(
        (base / "firmware" / "parameters.h").read_text())


def test_input_outside_its_type_is_reported_not_wrapped(tmp_path, model_file):
    # ap_fixed<16,6> holds [-32, 32): a value of 100 cannot be represented
    out, report, logs = _run(tmp_path, model_file(tmp_path, False), _data(tmp_path, scale=100.0), profile=True)
    rc = report["range_check"]
    inp = [t for t in rc["tensors"] if t["kind"] == "input"][0]
    assert inp["out_of_range"] == 1 and inp["max"] == pytest.approx(100.0)
    assert rc["out_of_range_total"] >= 1 and "input" in rc["out_of_range_tensors"]
    assert any("outside" in line and "input" in line for line in logs)
    assert (out / "profile" / "profile_activations.png").is_file()
    assert (out / "profile" / "profile_weights.png").is_file()


def test_inputs_within_range_report_nothing(tmp_path, model_file):
    _, report, _ = _run(tmp_path, model_file(tmp_path, False), _data(tmp_path))
    assert report["range_check"]["out_of_range_total"] == 0


def test_the_hardware_constants_are_the_quantizer_outputs(tmp_path, model_file):
    """What the C++ multiplies with (each core as the accelerator stores it,
    and as hls4ml writes it) equals QKeras's quantizer output exactly, on
    the quantizer's grid: quantized_bits(8, 0) -> multiples of 2^-7 in [-1, 1)."""
    from qkeras import quantized_bits

    from hls_project.numerics import bitexact

    from hls_project.flow import pipeline as flow
    from hls_project.ext.node import accel_types
    from keras_model.common.config import DEFAULTS, merge
    from keras_model.models import load_keras_model

    model = load_keras_model(model_file(tmp_path, True))
    cfg = merge(DEFAULTS, {})
    cfg["_name"] = "q"
    (tmp_path / "prj").mkdir()
    hm = flow.convert(model, cfg, str(tmp_path / "prj"), None, None, 2.0, {})
    node = next(n for n in hm.get_layers() if n.class_name == "FDHTLSTM")
    layer = model.get_layer(node.name)
    stored = accel_types(node)["tables"]
    kq, bq = quantized_bits(8, 0, alpha=1), quantized_bits(8, 2, alpha=1)
    checked = 0
    for name in node.get_attr("core_names"):
        w = next(v for v in layer.weights if v.name.split("/")[-1].split(":")[0] == f"core_{name}").numpy()
        want = np.asarray(kq(w)).reshape(-1)
        assert np.all(want * 128 == np.round(want * 128)) and want.min() >= -1 and want.max() <= 1 - 2 ** -7
        np.testing.assert_array_equal(bitexact._written(node.get_weights(f"core_{name}")), want)
        if name in stored:  # read directly by a stage (not folded into a table)
            np.testing.assert_array_equal(bitexact.round_nearest(node.get_weights(f"core_{name}").data, stored[name][1])
                                          .reshape(-1), want)
            np.testing.assert_array_equal(stored[name][0].reshape(-1), want)
        checked += 1
    bias = next(v for v in layer.weights if "bias" in v.name).numpy()
    np.testing.assert_array_equal(bitexact._written(node.get_weights("bias")), np.asarray(bq(bias)).reshape(-1))
    assert checked == 7


def test_config_quantizers_have_the_configured_grid():
    """quantization.kernel {bits: 6, integer: 1} is the grid 2^-4 on [-2, 2)
    with all 64 levels used; the bias and the activations likewise."""
    from keras_model.common.config import load_config
    from keras_model.quantize import quantizers_from_config

    cfg = load_config(overrides={"quantization": {"enabled": True, "kernel": {"bits": 6, "integer": 1},
                                                  "bias": {"bits": 8, "integer": 2}, "activation": {"bits": 5}}})
    q = quantizers_from_config(cfg)
    x = np.linspace(-6, 6, 4001).astype(np.float32)

    def levels(fn, step, lo, hi):
        v = np.asarray(fn(x), dtype=np.float64)
        assert np.all(v / step == np.round(v / step)), "off the grid"
        assert v.min() == lo and v.max() == hi
        return len(np.unique(v))

    assert levels(q["kernel"], 2 ** -4, -2.0, 2 - 2 ** -4) == 64
    assert levels(q["bias"], 2 ** -5, -4.0, 4 - 2 ** -5) == 256
    assert levels(q["activation"], 2 ** -4, -1.0, 1 - 2 ** -4) > 16  # quantized_tanh(5)
    assert levels(q["recurrent_activation"], 2 ** -5, 0.0, 1 - 2 ** -5) > 16  # quantized_sigmoid(5)
