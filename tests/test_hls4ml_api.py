"""hls4ml's own public API on models that use our layers, as a user calls it:
config_from_keras_model (every granularity) -> convert_from_keras_model
(Vivado and Vitis) -> compile -> predict, against Keras; Sequential and
functional models, FDHTLSTM and HTDense, float and QKeras 8-bit; precision
strings in every hls4ml notation; the plugin path with no register() call.
Real g++ builds (hls4ml's build_lib.sh) on small shapes."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from keras_model.common.fixedtype import canonical, parse
from keras_model.common.keras2 import keras
from keras_model.layers import FDHTLSTM, HTDense
from hls_project.cli import main as fdht_main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
T, F, H, CLASSES = 4, 20, 8, 3
# the board designs run io_parallel through the flow, which refuses an input
# port over 1,024 bits: 4 steps x 16 features x 16 bits is the most it takes
F_BOARD = 16


def _lstm(quantized):
    kw = {}
    if quantized:
        from qkeras import quantized_bits

        kw = dict(kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1))
    return FDHTLSTM(H, input_modes=(4, 4, 2), output_modes=(2, 4, 4), ranks=3, seed=1, name="fdht", **kw)


def _htdense(quantized):
    kw = {}
    if quantized:
        from qkeras import quantized_bits

        kw = dict(kernel_quantizer=quantized_bits(8, 0, alpha=1))
    return HTDense(input_modes=(4, 5, 4), output_modes=(2, 2, 4), ranks=3, seed=1, name="htd", **kw)


def make_model(kind, style, quantized):
    """Logits out (a linear Dense): the softmax is hls4ml's and outside what these layers decide."""
    if kind == "lstm":
        shape, layer = (T, F), _lstm(quantized)
    else:
        shape, layer = (F * T,), _htdense(quantized)
    head = keras.layers.Dense(CLASSES, name="logits")
    if style == "sequential":
        model = keras.Sequential([keras.Input(shape), layer, head])
    else:
        inp = keras.Input(shape)
        model = keras.Model(inp, head(layer(inp)))
    return model


def _x(model, n=6):
    return np.random.default_rng(2).random((n,) + tuple(model.input_shape[1:])).astype(np.float32)


CASES = [  # (kind, style, quantized, granularity, backend, io_type): every value of every axis, compiled
    ("lstm", "functional", True, "name", "Vivado", "io_parallel"),
    ("lstm", "sequential", False, "model", "Vitis", "io_parallel"),
    ("lstm", "sequential", True, "type", "Vivado", "io_stream"),
    ("dense", "functional", False, "type", "Vitis", "io_stream"),
    ("dense", "sequential", True, "name", "Vitis", "io_parallel"),
    ("dense", "functional", True, "model", "Vivado", "io_parallel"),
]


@pytest.mark.parametrize("kind, style, quantized, granularity, backend, io_type", CASES)
def test_public_api_convert_compile_predict(tmp_path, kind, style, quantized, granularity, backend, io_type):
    import hls4ml

    from hls_project import ext
    ext.register()
    model = make_model(kind, style, quantized)
    cfg = hls4ml.utils.config_from_keras_model(model, granularity=granularity, backend=backend)
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=str(tmp_path / "prj"),
                                                    backend=backend, io_type=io_type)
    hm.compile()
    x = _x(model)
    ref = model.predict(x, verbose=0)
    got = np.asarray(hm.predict(np.ascontiguousarray(x.reshape(len(x), -1)))).reshape(ref.shape)
    # hls4ml's default types (fixed<16,6>): logits within a few hundredths, the same top-1
    assert np.max(np.abs(got - ref)) < 0.05, np.max(np.abs(got - ref))
    assert (got.argmax(1) == ref.argmax(1)).all()
    # the project is written the hls4ml way (write() ran inside compile())
    assert (tmp_path / "prj" / "firmware" / "nnet_utils" / "nnet_ht_stream.h").is_file()


# -- softmax models: the config hls4ml's config_from_keras_model returns works as is ------


def softmax_model(kind, style, quantized):
    """Our layer, a Dense and a softmax: Sequential with an Activation layer,
    functional with Dense(activation='softmax') (hls4ml splits it in two)."""
    shape, layer = ((T, F), _lstm(quantized)) if kind == "lstm" else ((F * T,), _htdense(quantized))
    if style == "sequential":
        return keras.Sequential([keras.Input(shape), layer, keras.layers.Dense(CLASSES, name="logits"),
                                 keras.layers.Activation("softmax", name="probs")])
    inp = keras.Input(shape)
    return keras.Model(inp, keras.layers.Dense(CLASSES, activation="softmax", name="head")(layer(inp)))


def _task(model, n, rng):
    """Random inputs of a task a model learns in 2 epochs: class c lifts input
    feature c at every step; values in [0, 1] (the layers' default InputRange)."""
    y = rng.integers(0, CLASSES, n)
    x = 0.5 * rng.random((n, T, F)).astype(np.float32)
    x[np.arange(n), :, y] += 0.5
    return x.reshape((n,) + tuple(model.input_shape[1:])), y


SOFTMAX_CASES = [  # (kind, style, quantized, granularity, backend): every value of every axis
    ("lstm", "sequential", False, "name", "Vivado"),
    ("lstm", "functional", True, "model", "Vitis"),
    ("dense", "functional", False, "type", "Vitis"),
    ("dense", "sequential", True, "name", "Vivado"),
]


@pytest.mark.parametrize("kind, style, quantized, granularity, backend", SOFTMAX_CASES)
def test_softmax_model_converts_with_no_hand_edits(tmp_path, kind, style, quantized, granularity, backend):
    """A user's softmax model with our layers, trained 2 epochs, through hls4ml's
    own config_from_keras_model + convert_from_keras_model with no hand edits:
    top-1 agreement with Keras >= 90 % on random inputs (stock hls4ml's
    config collapsed the softmax to 1/classes: 0.3 here)."""
    import hls4ml

    from hls_project.ext import plugin
    plugin.install()  # what hls4ml's plugin entry point does (`pip install .`)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = softmax_model(kind, style, quantized)
    x, y = _task(model, 1024, rng)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    cfg = hls4ml.utils.config_from_keras_model(model, granularity=granularity, backend=backend)
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=str(tmp_path / "prj"),
                                                    backend=backend, io_type="io_parallel")
    hm.compile()
    x_test, y_test = _task(model, 200, rng)
    ref = model.predict(x_test, verbose=0)
    got = np.asarray(hm.predict(np.ascontiguousarray(x_test.reshape(len(x_test), -1)))).reshape(ref.shape)
    assert np.mean(ref.argmax(1) == y_test) > 0.8  # Keras learned the task
    agreement = np.mean(got.argmax(1) == ref.argmax(1))
    assert agreement >= 0.9, (agreement, np.abs(got - ref).max())
    assert np.abs(got - ref).mean() < 0.01, np.abs(got - ref).mean()  # no 1/sum(exp) steps of 0.25


@pytest.mark.parametrize("granularity", ["name", "type", "model"])
def test_plugin_config_has_the_flow_softmax_settings(tmp_path, granularity):
    """What the plugin adds to hls4ml's config, at each granularity (no g++):
    no 'auto' logits type, the 1/sum(exp) table input type for 3 classes, which
    reaches the written C++; a model without our layers gets hls4ml's own
    config, unchanged."""
    import re

    import hls4ml

    from hls_project.ext import plugin
    from hls_project.numerics.precision import softmax_inv_input_type

    plugin.install()  # what hls4ml's plugin entry point does (`pip install .`)
    inv = softmax_inv_input_type(CLASSES)
    logits = "ap_fixed<16,6,AP_RND_CONV,AP_SAT>"
    for style in ("sequential", "functional"):
        model = softmax_model("lstm", style, False)
        cfg = hls4ml.utils.config_from_keras_model(model, granularity=granularity)
        dense, softmax = ("logits", "probs") if style == "sequential" else ("head", "head_softmax")
        if granularity == "name":
            assert cfg["LayerName"][dense]["Precision"]["result"] == logits
            assert cfg["LayerName"][softmax]["inv_inp_t"] == cfg["LayerName"][softmax]["Precision"]["inv_inp"] == inv
        elif granularity == "type":
            assert cfg["LayerType"]["Dense"]["Precision"]["result"] == logits
            assert cfg["LayerType"]["Softmax"]["inv_inp_t"] == inv
        else:
            assert cfg["Model"]["Precision"] == {"default": "fixed<16,6>"}
            assert cfg["LayerType"] == {"Softmax": {"inv_inp_t": inv}}
        hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=str(tmp_path / style))
        hm.write()
        defines = (tmp_path / style / "firmware" / "defines.h").read_text()
        assert re.search(rf"typedef ap_fixed<18,3,AP_RND,AP_SAT(,0)?> {softmax}_inv_inp_t;", defines), defines
    stock = keras.Sequential([keras.Input((T, F)), keras.layers.LSTM(H), keras.layers.Dense(CLASSES),
                              keras.layers.Activation("softmax")])
    with plugin.keras2_parser(stock):
        expected = hls4ml.utils.config.config_from_keras_model.__wrapped__(stock, granularity=granularity)
    assert hls4ml.utils.config_from_keras_model(stock, granularity=granularity) == expected


@pytest.mark.parametrize("text, cpp", [
    ("fixed<16,6>", "ap_fixed<16,6>"),
    ("ap_fixed<16,6>", "ap_fixed<16,6>"),
    ("ufixed<8,0>", "ap_ufixed<8,0>"),
    ("ap_ufixed<8, 3, AP_RND, AP_SAT>", "ap_ufixed<8,3,AP_RND,AP_SAT>"),
    ("fixed<18,8,RND_CONV,SAT>", "ap_fixed<18,8,AP_RND_CONV,AP_SAT>"),
    ("int<8>", "ap_fixed<8,8>"),
])
def test_every_hls4ml_precision_notation(text, cpp):
    assert canonical(text) == cpp
    # hls4ml's own parser reads the same width / integer bits / signedness
    from hls4ml.backends import get_backend

    theirs = get_backend("Vivado").convert_precision_string(text)
    ours = parse(text)
    assert (ours.width, ours.integer, ours.signed) == (theirs.width, theirs.integer, theirs.signed)


def test_modes_without_the_ap_prefix_and_saturation_bits():
    # (hls4ml 1.3.0's own parser fails on WRAP_SM: KeyError 'WRSM')
    assert canonical("fixed<12,4,TRN,WRAP_SM,1>") == "ap_fixed<12,4,AP_TRN,AP_WRAP_SM,1>"


@pytest.mark.parametrize("bad", ["fixed<16>", "float", "ap_fixed<16,6,ROUND>", "fixd<16,6>"])
def test_bad_precision_strings_say_what_is_accepted(bad):
    with pytest.raises(ValueError, match="fixed"):
        parse(bad)


def test_precision_in_hls4ml_notation_reaches_the_cpp(tmp_path):
    """A config from config_from_keras_model says 'fixed<16,6>'; a user
    override in that notation (with modes) ends up as ap_fixed in C++."""
    import hls4ml

    from hls_project import ext
    ext.register()
    model = make_model("lstm", "functional", False)
    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name")
    cfg["LayerName"]["fdht"]["Precision"]["state"] = "fixed<20,6,RND_CONV,SAT>"
    cfg["LayerName"]["fdht"]["Precision"]["accum"] = "fixed<24,8>"
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=str(tmp_path / "p"))
    hm.write()
    defines = (tmp_path / "p" / "firmware" / "defines.h").read_text()
    params = (tmp_path / "p" / "firmware" / "parameters.h").read_text()
    import re

    assert re.search(r"typedef ap_fixed<20,6,AP_RND_CONV,AP_SAT(,0)?> fdht_state_t;", defines)
    assert params.count("ap_fixed<24,8>") >= 2  # the stage accumulators, in the C++ spelling
    assert re.search(r"(?<!ap_)fixed<", params + defines) is None  # no hls4ml notation leaks into C++


def test_plugin_converts_without_register(tmp_path):
    """A user's script that never calls register(): hls4ml loads our plugin
    (here through HLS4ML_BACKEND_PLUGINS; `pip install .` declares the same
    callable as an hls4ml.backends entry point) and converts the model. Importing
    hls4ml alone imports none of our code."""
    script = textwrap.dedent(f"""
        import sys
        import hls4ml
        assert "keras_model" not in sys.modules and "hls_project.ext.registry" not in sys.modules
        import numpy as np
        from keras_model.common.keras2 import keras
        from keras_model.layers import FDHTLSTM
        from qkeras import quantized_bits
        inp = keras.Input((8, 100))
        h = FDHTLSTM(32, input_modes=(4, 6, 6), output_modes=(4, 4, 8), ranks=4,
                     kernel_quantizer=quantized_bits(8, 0, alpha=1))(inp)
        model = keras.Model(inp, keras.layers.Dense(5)(h))
        cfg = hls4ml.utils.config_from_keras_model(model, granularity="name")
        hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=r"{tmp_path / 'p'}")
        hm.compile()
        x = np.random.default_rng(0).random((3, 8, 100)).astype(np.float32)
        diff = np.abs(np.asarray(hm.predict(x.reshape(3, -1))).reshape(3, 5) - model.predict(x, verbose=0)).max()
        print("MAXDIFF", diff)
    """)
    env = dict(os.environ, HLS4ML_BACKEND_PLUGINS="hls_project.ext.plugin", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    diff = float(proc.stdout.split("MAXDIFF")[1])
    assert diff < 0.05


def test_docs_python_example_runs_as_written(tmp_path):
    """The Python API example of the docs (docs/python-api.md), extracted and
    run in a fresh process from another folder (its build/ paths land there),
    without register() and with no hand edits of hls4ml's config."""
    import re

    readme = (ROOT / "docs" / "python-api.md").read_text()
    code = re.search(r"<!-- python-api-start -->\n```python\n(.*?)```\n<!-- python-api-end -->", readme, re.S).group(1)
    (tmp_path / "build").mkdir()
    env = dict(os.environ, HLS4ML_BACKEND_PLUGINS="hls_project.ext.plugin", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    keras_acc = float(re.search(r"Keras accuracy ([\d.]+)", proc.stdout).group(1))
    agreement = float(re.search(r"top-1 agreement ([\d.]+)", proc.stdout).group(1))
    max_diff = float(re.search(r"max \|diff\| of the probabilities ([\d.e-]+)", proc.stdout).group(1))
    assert keras_acc > 0.6  # 4 classes: it learned
    assert agreement >= 0.98 and max_diff < 0.1
    assert (tmp_path / "build" / "my_fdht_prj" / "firmware" / "nnet_utils" / "nnet_ht_stream.h").is_file()


# -- board designs: hls4ml's VivadoAccelerator backend through the flow ---------------


@pytest.fixture(scope="module")
def board_case(tmp_path_factory):
    from keras_model.data import Dataset, save_npz

    work = tmp_path_factory.mktemp("board")
    rng = np.random.default_rng(5)
    ds = Dataset(rng.random((40, T, F_BOARD), dtype=np.float32), rng.integers(0, CLASSES, 40),
                 rng.random((24, T, F_BOARD), dtype=np.float32), rng.integers(0, CLASSES, 24), ["a", "b", "c"])
    save_npz(work / "d.npz", ds)
    inp = keras.Input((T, F_BOARD))
    model = keras.Model(inp, keras.layers.Dense(CLASSES, activation="softmax")(_lstm(False)(inp)))
    head = model.layers[-1]
    w, b = head.get_weights()
    head.set_weights([w * 6, b])  # an untrained model's classes are near-ties; spread the logits apart
    model.save(work / "m.h5")
    # the same design without a board wrapper, for comparison
    assert fdht_main(["build", "--model", str(work / "m.h5"), "--data", str(work / "d.npz"),
                      "--output-dir", str(work / "plain"), "--csim"]) in (0, 1)
    return work


def _csim_values(project):
    import re

    text = (project / "tb_data" / "csim_results.log").read_text()
    if "data:" in text:
        return np.array([float(v) for v in re.findall(r"data:\s*([^,\s}]+)", text)])
    return np.array([float(v) for v in text.split()])


@pytest.mark.parametrize("board, part, io_type", [("pynq-z2", "xc7z020clg400-1", "io_parallel"),
                                                   ("pynq-z2", "xc7z020clg400-1", "io_stream"),
                                                   ("alveo-u50", "xcu50-fsvh2104-2-e", "io_parallel")])
def test_board_wrapper_through_the_flow(board_case, board, part, io_type, tmp_path, monkeypatch, capsys):
    """hls.backend VivadoAccelerator + hls.board: the AXI-stream wrapper is
    written, hls4ml's testbench drives the design through it in our g++ csim,
    and the result agrees with Keras; without Vivado the bitstream command is
    printed (exit 3)."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no vivado_hls / vivado here anyway
    out = tmp_path / "prj"
    cfg = tmp_path / "board.yml"
    cfg.write_text(f"hls:\n  backend: VivadoAccelerator\n  board: {board}\n  io_type: {io_type}\n"
                   "  min_agreement: 0.0\n")
    code = fdht_main(["build", "--config", str(cfg), "--model", str(board_case / "m.h5"), "--data",
                           str(board_case / "d.npz"), "--output-dir", str(out), "--csim", "--export"])
    assert code == 3  # the vendor step: vivado_hls is missing
    cap = capsys.readouterr()
    err = cap.err
    assert "vivado_hls not found on PATH" in err and "&& vivado -mode batch -source design.tcl" in err
    report = json.loads((out / "csim_report.json").read_text())
    plain = json.loads((board_case / "plain" / "csim_report.json").read_text())
    assert report["csim"]["top1_agreement"] == plain["csim"]["top1_agreement"] >= 0.9
    # the wrapper only moves words: the same numbers as the design without it (to the
    # testbench's 6-digit print precision; the wrapper's AXI words are floats)
    np.testing.assert_allclose(_csim_values(out), _csim_values(board_case / "plain"), rtol=1e-5, atol=1e-6)
    assert (out / "firmware" / "myproject_axi.cpp").is_file() and (out / "design.tcl").is_file()
    assert "firmware/myproject_axi.cpp" in (out / "csim_build.log").read_text().splitlines()[0]
    assert part in (out / "hls4ml_config.yml").read_text()
    assert f"IOType: {io_type}" in (out / "hls4ml_config.yml").read_text()
    # the hardware model says whether the lanes fit the board's DSPs (pynq-z2's
    # xc7z020: 220; U50: 5,952, as Vivado lists the parts)
    hw = json.loads((out / "hardware_report.json").read_text())
    fit = hw["estimate"]["fit"]
    assert fit["dsp_available"] == {"pynq-z2": 220, "alveo-u50": 5952}[board]
    assert fit["dsp_fits"] == (hw["estimate"]["dsp"] <= fit["dsp_available"])
    printed = cap.out + cap.err
    assert f"of {part}'s {fit['dsp_available']:,}; fits: {'yes' if fit['dsp_fits'] else 'NO'}" in printed


def test_board_needs_the_accelerator_backend_and_a_known_board():
    from keras_model.common.config import load_config
    from keras_model.common.errors import ConfigError

    with pytest.raises(ConfigError, match="hls.board: a board is for hls.backend: VivadoAccelerator"):
        load_config(None, {"hls": {"board": "pynq-z2"}})
    with pytest.raises(ConfigError, match="'pynq-z3' is not a board"):
        load_config(None, {"hls": {"backend": "VivadoAccelerator", "board": "pynq-z3"}})


# -- models that cannot be converted: one line naming the layer ------------------------


def test_public_api_errors_name_the_layer_and_the_fix(tmp_path):
    """hls4ml's public API on a model with our layers: an unsupported layer
    after ours, a misspelt key in our layer's config entry and modes that do
    not fit the input each give one line that names what to change."""
    import hls4ml

    from keras_model.common.errors import ConfigError, ShapeError

    inp = keras.Input((8, 100))
    h = FDHTLSTM(32, input_modes=(4, 6, 6), output_modes=(4, 4, 8), ranks=4, name="fdht")(inp)
    lam = keras.layers.Lambda(lambda t: t * 2.0, name="double")(h)
    bad = keras.Model(inp, keras.layers.Dense(5, name="head")(lam))
    with pytest.raises(ConfigError) as e:
        hls4ml.converters.convert_from_keras_model(bad, output_dir=str(tmp_path / "a"))
    assert "\n" not in str(e.value)
    assert "layer 'double' (Lambda) cannot be converted" in str(e.value) and "replace it" in str(e.value)
    assert not (tmp_path / "a").exists()

    good = keras.Model(inp, keras.layers.Dense(5, activation="softmax", name="head")(h))
    for granularity, section, key in (("name", "LayerName", "fdht"), ("type", "LayerType", "FDHTLSTM")):
        cfg = hls4ml.utils.config_from_keras_model(good, granularity=granularity)
        cfg[section][key]["Lanez"] = 8
        with pytest.raises(ConfigError, match=rf"hls_config {section} '{key}': unknown key 'Lanez' for an "
                                              r"FDHTLSTM layer; did you mean 'Lanes'\?"):
            hls4ml.converters.convert_from_keras_model(good, hls_config=cfg, output_dir=str(tmp_path / "b"))
    # the keys hls4ml itself writes for our layers pass
    cfg = hls4ml.utils.config_from_keras_model(good, granularity="name")
    cfg["LayerName"]["fdht"]["Lanes"] = 8
    hls4ml.converters.convert_from_keras_model(good, hls_config=cfg, output_dir=str(tmp_path / "c"))

    with pytest.raises(ShapeError, match=r"input_modes \[4, 6, 4\] multiply to 96, smaller than the 132 inputs; "
                                         r"choose modes whose product is >= 132"):
        FDHTLSTM(32, input_modes=(4, 6, 4), output_modes=(4, 4, 8), ranks=4)(inp)
