"""keras_model.models (build_model, rnn_costs) and keras_model.common.config
(load_config): every kind on frames and sequences, derived modes, the
paper-scale UCF11 model, cost figures, and one-line errors for bad input."""

import json
import math
import os

import numpy as np
import pytest
from keras_model.common.keras2 import keras

from keras_model import models
from keras_model.common import config
from keras_model.baselines import HTLSTM, TTLSTM
from keras_model.common.errors import ConfigError, DataError, FlowError, ShapeError
from keras_model.layers import FDHTLSTM
from hls_project.cli import main as fdht_main  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYER_CLASS = {"fdht": FDHTLSTM, "ht": HTLSTM, "tt": TTLSTM, "dense": keras.layers.LSTM}


def _one_line(err: Exception) -> str:
    msg = str(err)
    assert msg and "\n" not in msg, f"not one line: {msg!r}"
    return msg


# --------------------------------------------------------------------------
# build_model
# --------------------------------------------------------------------------


@pytest.mark.parametrize("sample_shape", [(5, 12, 10, 3), (7, 30)], ids=["frames", "sequences"])
@pytest.mark.parametrize("kind", models.KINDS)
def test_build_model_every_kind(kind, sample_shape):
    model = models.build_model({"kind": kind, "units": 8, "ranks": 3}, sample_shape, 4)
    rnn = models.recurrent_layer(model)
    assert type(rnn) is LAYER_CLASS[kind] and models.kind_of(rnn) == kind
    assert model.input_shape == (None,) + sample_shape
    x = np.random.default_rng(0).random((3,) + sample_shape).astype("float32")
    p = model.predict(x, verbose=0)
    assert p.shape == (3, 4)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    costs = models.rnn_costs(model)
    assert costs["kind"] == kind and costs["features_per_step"] == math.prod(sample_shape[1:])
    assert costs["model_params"] == model.count_params()


def _covered_inputs(rnn):
    """(features the W_x/W_mega product must take, prod of its input modes, output modes)."""
    cell = rnn.cell
    if isinstance(rnn, FDHTLSTM):
        return cell.input_dim + cell.units, math.prod(cell.ht_shape.input_modes), cell.ht_shape.output_modes
    if isinstance(rnn, HTLSTM):
        return cell.input_dim, math.prod(cell.ht_shape.input_modes), cell.ht_shape.output_modes
    return cell.input_dim, math.prod(cell.tt_input_modes), cell.tt_output_modes


@pytest.mark.parametrize("kind", ["fdht", "ht", "tt"])
@pytest.mark.parametrize(
    "sample_shape,units,d",
    [((8, 32, 32, 1), 32, 4), ((6, 37), 16, 4), ((4, 7, 9, 3), 12, 3), ((3, 1009), 10, 5), ((5, 11), 8, 2)],
)
def test_derived_modes_cover_input_with_little_padding(kind, sample_shape, units, d):
    model = models.build_model({"kind": kind, "units": units, "d": d, "ranks": 2}, sample_shape, 3)
    need, padded, out_modes = _covered_inputs(models.recurrent_layer(model))
    assert len(out_modes) == d
    assert need <= padded <= need * 1.10, (need, padded)
    assert math.prod(out_modes) == 4 * units


def test_explicit_modes_are_used_as_given():
    model = models.build_model({"kind": "fdht", "units": 8, "input_modes": [5, 4, 3, 3],
                                "output_modes": [2, 4, 2, 2], "ranks": 2}, (4, 30), 3)
    shape = models.recurrent_layer(model).ht_shape
    assert shape.input_modes == (5, 4, 3, 3) and shape.output_modes == (2, 4, 2, 2) and shape.in_features == 38


@pytest.fixture(scope="module")
def ucf11_model_cfg():
    cfg = config.load_config(os.path.join(ROOT, "configs", "ucf11.yml"))
    return cfg["model"]


def test_ucf11_paper_scale_params_and_one_training_step(ucf11_model_cfg):
    m = ucf11_model_cfg
    assert (m["units"], m["input_modes"], m["output_modes"], m["ranks"]) == (256, [16, 12, 16, 20], [16, 4, 4, 4], 5)
    model = models.build_model(m, (6, 120, 160, 3), 11)
    total = model.count_params()
    assert 3000 <= total <= 9000, total
    costs = models.rnn_costs(model)
    assert costs["rnn_params"] == 2515 + 1024 and total == 3539 + 257 * 11
    assert costs["dense_lstm_macs_per_step"] == 57856 * 1024
    # the planned contraction is far cheaper than the dense product (docs/model.md: about 2.75 M vs 59 M)
    assert costs["macs_per_step"] < costs["dense_lstm_macs_per_step"] / 10
    rng = np.random.default_rng(0)
    x = rng.random((2, 6, 120, 160, 3)).astype("float32")
    y = np.array([0, 10])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(x, y)  # forward AND backward
    assert np.isfinite(loss)
    after = model.get_weights()
    assert all(np.isfinite(w).all() for w in after)
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))  # every tensor was updated


# --------------------------------------------------------------------------
# rnn_costs
# --------------------------------------------------------------------------


@pytest.mark.parametrize("sample_shape", [(5, 12, 10, 3), (7, 30)], ids=["frames", "sequences"])
def test_rnn_costs_dense_hand_formulas(sample_shape):
    h, classes = 16, 5
    n = math.prod(sample_shape[1:])
    model = models.build_model({"kind": "dense", "units": h}, sample_shape, classes)
    c = models.rnn_costs(model)
    rnn_params = n * 4 * h + h * 4 * h + 4 * h  # kernel + recurrent kernel + bias
    assert c["units"] == h and c["features_per_step"] == n
    assert c["rnn_params"] == rnn_params == c["dense_lstm_params"]
    assert c["macs_per_step"] == (n + h) * 4 * h == c["dense_lstm_macs_per_step"]
    assert c["model_params"] == rnn_params + (h + 1) * classes
    assert "ht" not in c and "tt" not in c
    json.dumps(c)  # plain data, goes into metrics.json


def test_rnn_costs_compressed_kinds():
    h, n = 8, 30
    ranks = 2
    common = {"units": h, "ranks": ranks}
    # fdht: the whole recurrent layer is the HT matrix + bias
    fd = models.rnn_costs(models.build_model({**common, "kind": "fdht", "input_modes": [4, 4, 3, 3],
                                              "output_modes": [2, 4, 2, 2]}, (3, n), 3))
    leaves = (4 * 2 + 4 * 4 + 3 * 2 + 3 * 2) * ranks
    internal = 2 * ranks ** 3 + ranks * ranks
    assert fd["ht"]["core_params"] == leaves + internal
    assert fd["rnn_params"] == leaves + internal + 4 * h
    # ht: HT W_x + dense W_h + bias; MACs add the dense recurrent product
    hl = models.build_model({**common, "kind": "ht", "input_modes": [5, 3, 2, 1],
                             "output_modes": [2, 4, 2, 2]}, (3, n), 3)
    hc = models.rnn_costs(hl)
    assert hc["rnn_params"] == hc["ht"]["core_params"] + h * 4 * h + 4 * h
    assert hc["macs_per_step"] == models.recurrent_layer(hl).ht_shape.plan.macs + h * 4 * h
    # tt: cores (r_{k-1} n_k m_k r_k) + dense W_h + bias; MACs of the left-to-right sweep by hand
    n_modes, m_modes, r = [5, 3, 2], [4, 4, 2], [1, 2, 2, 1]
    tc = models.rnn_costs(models.build_model({**common, "kind": "tt", "input_modes": n_modes,
                                              "output_modes": m_modes}, (3, n), 3))
    cores = sum(r[k] * n_modes[k] * m_modes[k] * r[k + 1] for k in range(3))
    assert tc["tt"]["core_params"] == cores and tc["tt"]["ranks"] == r
    assert tc["rnn_params"] == cores + h * 4 * h + 4 * h
    tt_macs = 30 * 4 * 1 * 2 + 6 * 16 * 2 * 2 + 2 * 32 * 2 * 1
    assert tc["macs_per_step"] == tt_macs + h * 4 * h


# --------------------------------------------------------------------------
# One-line errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model_cfg,sample_shape,err_type,needles",
    [
        ({"kind": "gru"}, (4, 10), ConfigError, ["model.kind", "'gru'", "fdht, ht, tt, dense"]),
        ({"kind": "fdht", "units": 8, "input_modes": [2, 2, 2, 2]}, (4, 10), ShapeError,
         ["[2, 2, 2, 2]", "16", "smaller than the 18 inputs", ">= 18"]),
        ({"kind": "ht", "units": 8, "input_modes": [3, 3], "output_modes": [4, 8]}, (4, 10), ShapeError,
         ["smaller than the 10 inputs"]),
        ({"kind": "tt", "units": 8, "input_modes": [3, 3], "output_modes": [4, 8]}, (4, 10), ShapeError,
         ["smaller than the 10 inputs"]),
        ({"kind": "fdht", "units": 8, "input_modes": [6, 3], "output_modes": [4, 4]}, (4, 10), ShapeError,
         ["[4, 4]", "not the 32 outputs"]),
        ({"kind": "fdht", "units": 8, "ranks": 0}, (4, 10), ShapeError, ["rank", ">= 1", "got 0"]),
        ({"kind": "fdht", "units": 8, "ranks": -3}, (4, 10), ShapeError, ["rank", "got -3"]),
        ({"kind": "ht", "units": 8, "ranks": [2, 2, 0, 2, 2, 2]}, (4, 10), ShapeError, ["rank of node u3", "got 0"]),
        ({"kind": "fdht", "units": 8, "ranks": {"u1": 2, "u2": 2, "u3": 2, "u4": -1, "b1_2": 2, "b3_4": 2}},
         (4, 10), ShapeError, ["node u4", "got -1"]),
        ({"kind": "tt", "units": 8, "ranks": 0}, (4, 10), ShapeError, ["TT ranks", ">= 1"]),
        ({"kind": "tt", "units": 8, "ranks": [2, -1, 2]}, (4, 10), ShapeError, ["TT ranks", "-1"]),
        ({"kind": "fdht", "units": 0}, (4, 10), ConfigError, ["model.units", ">= 1"]),
        ({"kind": "fdht"}, (4, 10, 10), ConfigError, ["(4, 10, 10)", "frames (T, H, W, C)"]),
    ],
)
def test_build_model_bad_inputs_raise_one_line_errors(model_cfg, sample_shape, err_type, needles):
    with pytest.raises(err_type) as info:
        models.build_model(model_cfg, sample_shape, 3)
    assert isinstance(info.value, FlowError)
    msg = _one_line(info.value)
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_build_model_needs_two_classes():
    with pytest.raises(ConfigError) as info:
        models.build_model({"kind": "fdht"}, (4, 10), 1)
    assert "at least 2 classes" in _one_line(info.value)


def _write(tmp_path, text, name="cfg.yml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "text,needles",
    [
        ("model:\n  unitz: 16\n", ["model.unitz: unknown key", "did you mean units?", "valid keys:"]),
        ("train:\n  epochs: ten\n", ["train.epochs: expected integer, got 'ten'"]),
        ("train:\n  learning_rate: true\n", ["train.learning_rate: expected", "got True"]),
        ("model:\n  ranks: 2.5\n", ["model.ranks: expected integer or list or mapping, got 2.5"]),
        ("modle:\n  units: 16\n", ["modle: unknown section", "data, model, train, quantization, hls"]),
        ("model:\n  ranks: 0\n", ["model.ranks: must be >= 1, got 0"]),
        ("model:\n  kind: gru\n", ["model.kind: 'gru' is unknown"]),
        ("model:\n  units: 8\n  output_modes: [4, 4]\n", ["need 4 x units = 32"]),
        ("model: [unclosed\n", ["is not valid YAML", "line"]),
        ("model:\n  units: 8\n   d: 3\n", ["is not valid YAML", "at line 3"]),
        ("- just\n- a list\n", ["must be a mapping of sections"]),
    ],
)
def test_load_config_bad_yaml_one_line(tmp_path, text, needles):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        config.load_config(path)
    msg = _one_line(info.value)
    assert path in msg
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_load_config_reports_several_problems_together(tmp_path):
    path = _write(tmp_path, "model:\n  unitz: 16\n  ranks: -1\ntrain:\n  epochs: ten\nextra:\n  x: 1\n")
    with pytest.raises(ConfigError) as info:
        config.load_config(path)
    msg = _one_line(info.value)
    assert "4 problems" in msg
    for needle in ("model.unitz", "model.ranks", "train.epochs", "extra: unknown section"):
        assert needle in msg, (needle, msg)


def test_load_config_missing_file_and_good_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        config.load_config(str(tmp_path / "nope.yml"))
    assert "does not exist" in _one_line(info.value)
    cfg = config.load_config(_write(tmp_path, "model:\n  units: 16\n  kind: tt\n", "small.yml"),
                             overrides={"train": {"epochs": 3}})
    assert cfg["_name"] == "small" and cfg["model"]["units"] == 16 and cfg["model"]["kind"] == "tt"
    assert cfg["train"]["epochs"] == 3 and cfg["model"]["ranks"] == config.DEFAULTS["model"]["ranks"]


def test_load_config_bad_override():
    with pytest.raises(ConfigError) as info:
        config.load_config(overrides={"train": {"batch_size": 0}})
    assert "train.batch_size: must be > 0, got 0" in _one_line(info.value)


# --------------------------------------------------------------------------
# Bad data through the train CLI (the detailed cases live in tests/test_data.py)
# --------------------------------------------------------------------------


def _seq_arrays(rng, n=8):
    return {
        "x_train": rng.standard_normal((n, 3, 5)).astype("float32"),
        "y_train": rng.integers(0, 2, n),
        "x_test": rng.standard_normal((4, 3, 5)).astype("float32"),
        "y_test": rng.integers(0, 2, 4),
    }


def _run_cli(argv, capsys):
    code = fdht_main(["train", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_labels_out_of_range(tmp_path, capsys):
    arrays = _seq_arrays(np.random.default_rng(0))
    arrays["y_train"][3] = 2  # only two class names
    arrays["class_names"] = np.array(["a", "b"])
    path = tmp_path / "bad_labels.npz"
    np.savez(path, **arrays)
    code, out, err = _run_cli(["--data", str(path), "--epochs", "1", "--output-dir", str(tmp_path / "out")], capsys)
    assert code == DataError.exit_code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert str(path) in lines[0] and "y_train has label 2 out of range for 2 class_names" in lines[0]
    assert not (tmp_path / "out").exists() and out == ""


def test_cli_wrong_npz_keys(tmp_path, capsys):
    arrays = _seq_arrays(np.random.default_rng(1))
    path = tmp_path / "bad_keys.npz"
    np.savez(path, X=arrays["x_train"], y=arrays["y_train"])
    code, out, err = _run_cli(["--data", str(path), "--epochs", "1", "--output-dir", str(tmp_path / "out")], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "missing key(s) x_train, y_train, x_test, y_test" in lines[0]
