"""Keras layers (keras_model.layers, keras_model.baselines) against independent
numpy references: HTDense against ``x @ W.T + b`` with ``W`` from
``ht.reconstruct``; FDHT-LSTM, HT-LSTM and TT-LSTM against an LSTM written out
here in numpy (Keras gate order i, f, c, o); config and file round trips,
QKeras quantizers, gradients and parameter counts."""

import re

import numpy as np
import pytest
from keras_model.common.keras2 import tf
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from qkeras import quantized_bits, quantized_sigmoid, quantized_tanh
from keras_model.common.keras2 import keras

from keras_model import ht, models
from keras_model.common.errors import ShapeError
from keras_model.baselines import HTLSTM, TTLSTM
from keras_model.layers import FDHTLSTM, HTDense

from helpers import numpy_lstm

# (input_modes, output_modes, ranks, in_features): d = 2..5, uneven, padded,
# rank 1, per-node ranks (list in node order u1..ud, b.., or a dict).
DENSE_SHAPES = [
    ((3, 4), (2, 5), 2, 12),
    ((5, 3), (4, 3), 1, 13),  # rank 1, padded
    ((2, 3, 4), (3, 2, 2), 3, 20),  # uneven, padded
    ((4, 2, 3), (2, 3, 4), [2, 3, 1, 2], 24),  # per-node list (u1, u2, u3, b1_2)
    ((3, 4, 2, 5), (2, 2, 3, 2), 4, 100),  # padded 120 -> 100
    ((2, 2, 3, 2, 3), (2, 3, 1, 2, 2), 2, 70),  # d = 5, an output mode of 1
    ((2, 3, 2, 2), (3, 2, 2, 2), {"u1": 1, "u2": 2, "u3": 3, "u4": 2, "b1_2": 2, "b3_4": 3}, 24),
]


@pytest.fixture
def float64():
    """Layers built inside the test compute in float64; floatx is restored."""
    old = keras.backend.floatx()
    keras.backend.set_floatx("float64")
    try:
        yield
    finally:
        keras.backend.set_floatx(old)


def _cores_of(layer_or_cell):
    product = layer_or_cell.product
    return {k: v.numpy() for k, v in product.cores.items()}


def _randomize_ht(cell, rng, bias_scale=0.5):
    """Glorot-scaled random cores (ht.init_cores) and a random bias, so that
    no test passes thanks to zeros or an all-ones forget bias."""
    for name, arr in ht.init_cores(cell.ht_shape, rng).items():
        cell.product.cores[name].assign(arr)
    if getattr(cell, "bias", None) is not None:
        cell.bias.assign(rng.standard_normal(cell.bias.shape) * bias_scale)


def tt_dense(cores, input_modes, output_modes, in_features):
    """Dense W_x (4H, in_features) from TT cores G_k (r_{k-1}, n_k, m_k, r_k):
    W[(p1..pd), (a1..ad)] = prod_k G_k[r_{k-1}, a_k, p_k, r_k], C order, then
    the columns of the zero padding dropped. ONE einsum, written here."""
    d = len(cores)
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    r = [next(letters) for _ in range(d + 1)]
    a = [next(letters) for _ in range(d)]
    p = [next(letters) for _ in range(d)]
    specs = [r[k] + a[k] + p[k] + r[k + 1] for k in range(d)]
    w = np.einsum(",".join(specs) + "->" + "".join(p) + "".join(a), *cores)
    w = w.reshape(int(np.prod(output_modes)), int(np.prod(input_modes)))
    return w[:, :in_features]


# --------------------------------------------------------------------------
# HTDense
# --------------------------------------------------------------------------


def _check_htdense(n, m, r, nin, seed, use_bias=True):
    rng = np.random.default_rng(seed)
    layer = HTDense(input_modes=n, output_modes=m, ranks=r, use_bias=use_bias)
    x = rng.standard_normal((3, nin))
    layer(x)  # build
    _randomize_ht(layer, rng)
    assert layer.dtype == "float64" and all(w.dtype == tf.float64 for w in layer.weights)
    w = ht.reconstruct(_cores_of(layer), layer.ht_shape)
    assert w.shape == (int(np.prod(m)), nin)
    ref = x @ w.T + (layer.bias.numpy() if use_bias else 0.0)
    np.testing.assert_allclose(layer(x).numpy(), ref, rtol=1e-5, atol=1e-10)
    # leading dimensions are kept: (B, T, F) -> (B, T, M)
    x3 = rng.standard_normal((2, 4, nin))
    y3 = layer(x3).numpy()
    assert y3.shape == (2, 4, int(np.prod(m)))
    np.testing.assert_allclose(y3, x3 @ w.T + (layer.bias.numpy() if use_bias else 0.0), rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("spec", DENSE_SHAPES, ids=[f"d{len(s[0])}-{i}" for i, s in enumerate(DENSE_SHAPES)])
def test_htdense_equals_reconstructed_matrix(spec, float64):
    n, m, r, nin = spec
    _check_htdense(n, m, r, nin, seed=len(n))


def test_htdense_without_bias_and_with_activation(float64):
    _check_htdense((3, 4), (2, 5), 2, 11, seed=3, use_bias=False)
    rng = np.random.default_rng(4)
    layer = HTDense(input_modes=(3, 4), output_modes=(2, 5), ranks=2, activation="relu")
    x = rng.standard_normal((5, 12))
    layer(x)
    _randomize_ht(layer, rng)
    w = ht.reconstruct(_cores_of(layer), layer.ht_shape)
    np.testing.assert_allclose(layer(x).numpy(), np.maximum(x @ w.T + layer.bias.numpy(), 0), atol=1e-10)


@st.composite
def ht_dense_shapes(draw):
    d = draw(st.integers(2, 5))
    n = tuple(draw(st.lists(st.integers(1, 4), min_size=d, max_size=d)))
    m = tuple(draw(st.lists(st.integers(1, 3), min_size=d, max_size=d)))
    padded = int(np.prod(n))
    nin = draw(st.integers(max(1, padded - 5), padded))
    if draw(st.booleans()):
        ranks = draw(st.integers(1, 3))
    else:
        ranks = draw(st.lists(st.integers(1, 3), min_size=2 * d - 2, max_size=2 * d - 2))
    return n, m, ranks, nin


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ht_dense_shapes(), st.integers(0, 1000))
def test_htdense_random_shapes(float64, spec, seed):
    n, m, r, nin = spec
    try:
        _check_htdense(n, m, r, nin, seed)
    except ShapeError as e:  # a shape past the kernel's loop levels is refused in one line that says why
        _assert_loop_level_refusal(str(e))
        reject()


def _assert_loop_level_refusal(msg):
    from keras_model.ht import plan

    got = re.fullmatch(r"contraction step t\d+ needs (\d+) output and (\d+) summed loop levels \(the kernel has "
                       rf"{plan.MAX_FREE_LEVELS} and {plan.MAX_SUM_LEVELS}\); use fewer modes \(d\)", msg)
    assert got, msg
    free, summed = int(got.group(1)), int(got.group(2))
    assert free > plan.MAX_FREE_LEVELS or summed > plan.MAX_SUM_LEVELS, msg


def test_htdense_past_the_kernel_loop_levels_is_refused(float64):
    """A shape hypothesis found: five input modes of 2, rank 3; a contraction
    step needs more loop levels than the kernel has."""
    with pytest.raises(ShapeError) as e:
        HTDense(input_modes=(2, 2, 2, 2, 2), output_modes=(2, 1, 1, 2, 1), ranks=3)(np.zeros((3, 27)))
    _assert_loop_level_refusal(str(e.value))


def test_htdense_derives_modes_from_units():
    layer = HTDense(units=24, ranks=2, d=3)
    y = layer(np.zeros((2, 50), "float32"))
    assert y.shape == (2, 24)
    s = layer.ht_shape
    assert s.out_features == 24 and s.in_features == 50 and 50 <= s.padded_in <= 55 and s.d == 3


# --------------------------------------------------------------------------
# The recurrent layers against a numpy LSTM
# --------------------------------------------------------------------------


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize(
    "units,features,input_modes,output_modes,ranks",
    [
        (4, 7, (3, 4), (4, 4), 3),  # [x;h] = 11 padded to 12
        (3, 5, (2, 2, 3), (3, 2, 2), [2, 1, 3, 2]),  # per-node ranks, 8 padded to 12
        (4, 10, (2, 2, 2, 2), (2, 2, 2, 2), 1),  # rank 1, 14 padded to 16
        (8, 21, None, None, 3),  # modes derived from the shapes
    ],
)
def test_fdht_lstm_equals_numpy_lstm(float64, return_sequences, units, features, input_modes, output_modes, ranks):
    rng = np.random.default_rng(units + features)
    layer = FDHTLSTM(units, input_modes=input_modes, output_modes=output_modes, ranks=ranks,
                     return_sequences=return_sequences)
    x = rng.standard_normal((3, 5, features))
    layer(x)
    cell = layer.cell
    _randomize_ht(cell, rng)
    assert all(w.dtype == tf.float64 for w in layer.weights)
    w_mega = ht.reconstruct(_cores_of(cell), cell.ht_shape)
    assert w_mega.shape == (4 * units, features + units)
    b = cell.bias.numpy()

    def preact(xt, h):
        return np.concatenate([xt, h], axis=1) @ w_mega.T + b

    ref = numpy_lstm(x, units, preact, return_sequences)
    got = layer(x).numpy()
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("return_sequences", [True, False])
def test_ht_lstm_equals_numpy_lstm(float64, return_sequences):
    units, features = 4, 10
    rng = np.random.default_rng(7)
    layer = HTLSTM(units, input_modes=(3, 4), output_modes=(4, 4), ranks=[2, 3],
                   return_sequences=return_sequences)
    x = rng.standard_normal((2, 6, features))
    layer(x)
    cell = layer.cell
    _randomize_ht(cell, rng)
    cell.recurrent_kernel.assign(rng.standard_normal((units, 4 * units)) * 0.5)
    w_x = ht.reconstruct(_cores_of(cell), cell.ht_shape)
    assert w_x.shape == (4 * units, features)
    r_h, b = cell.recurrent_kernel.numpy(), cell.bias.numpy()
    ref = numpy_lstm(x, units, lambda xt, h: xt @ w_x.T + h @ r_h + b, return_sequences)
    np.testing.assert_allclose(layer(x).numpy(), ref, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize(
    "units,features,input_modes,output_modes,ranks",
    [
        (4, 10, (3, 4), (4, 4), 3),  # padded 12 -> 10
        (3, 11, (2, 3, 2), (3, 2, 2), [2, 3]),  # uneven, per-bond ranks, padded
        (4, 16, (2, 2, 2, 2), (2, 2, 2, 2), [1, 2, 3, 2, 1]),  # d + 1 ranks with the 1s
    ],
)
def test_tt_lstm_equals_numpy_lstm(float64, return_sequences, units, features, input_modes, output_modes, ranks):
    rng = np.random.default_rng(features)
    layer = TTLSTM(units, input_modes=input_modes, output_modes=output_modes, ranks=ranks,
                   return_sequences=return_sequences)
    x = rng.standard_normal((2, 5, features))
    layer(x)
    cell = layer.cell
    for core in cell.tt_cores:
        core.assign(rng.standard_normal(core.shape) * 0.6)
    cell.recurrent_kernel.assign(rng.standard_normal((units, 4 * units)) * 0.5)
    cell.bias.assign(rng.standard_normal(4 * units) * 0.5)
    cores = [c.numpy() for c in cell.tt_cores]
    assert cores[0].shape[0] == 1 and cores[-1].shape[-1] == 1 and len(cores) == len(input_modes)
    w_x = tt_dense(cores, input_modes, output_modes, features)
    assert w_x.shape == (4 * units, features)
    r_h, b = cell.recurrent_kernel.numpy(), cell.bias.numpy()
    ref = numpy_lstm(x, units, lambda xt, h: xt @ w_x.T + h @ r_h + b, return_sequences)
    np.testing.assert_allclose(layer(x).numpy(), ref, rtol=1e-7, atol=1e-9)


def test_tt_dense_reference_is_c_order():
    """The test's own TT reference: a rank-1 TT is a Kronecker product, and
    C order means core 1 holds the most significant index."""
    rng = np.random.default_rng(0)
    g1, g2 = rng.standard_normal((1, 2, 3, 1)), rng.standard_normal((1, 4, 2, 1))
    w = tt_dense([g1, g2], (2, 4), (3, 2), 8)
    np.testing.assert_allclose(w, np.kron(g1[0, :, :, 0].T, g2[0, :, :, 0].T))


# --------------------------------------------------------------------------
# Config and file round trips
# --------------------------------------------------------------------------


def _layer_cases():
    q = dict(kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1))
    return [
        ("htdense", lambda: HTDense(input_modes=(3, 4), output_modes=(2, 5), ranks=[1, 2], seed=1), (2, 12)),
        ("htdense-q", lambda: HTDense(input_modes=(3, 4), output_modes=(2, 5), ranks=2, activation="tanh", **q), (2, 12)),
        ("fdht", lambda: FDHTLSTM(4, input_modes=(3, 4), output_modes=(4, 4), ranks=2, return_sequences=True,
                                  seed=3), (2, 3, 8)),
        ("fdht-q", lambda: FDHTLSTM(4, ranks={"u1": 1, "u2": 2, "u3": 2, "u4": 1, "b1_2": 2, "b3_4": 1},
                                    activation=quantized_tanh(8, use_real_tanh=True),
                                    recurrent_activation=quantized_sigmoid(8, use_real_sigmoid=True), **q),
         (2, 3, 8)),
        ("ht", lambda: HTLSTM(4, ranks=3, unit_forget_bias=False), (2, 3, 8)),
        ("tt", lambda: TTLSTM(4, input_modes=(2, 4), output_modes=(4, 4), ranks=3, go_backwards=True), (2, 3, 8)),
    ]


@pytest.mark.parametrize("case", _layer_cases(), ids=lambda c: c[0])
def test_get_config_from_config_round_trip(case):
    _, make, in_shape = case
    layer = make()
    x = np.random.default_rng(0).standard_normal(in_shape).astype("float32")
    y = layer(x).numpy()
    cfg = layer.get_config()
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), y)
    # the config survives Keras's own JSON (what model.save and hls4ml read)
    model = keras.Sequential([keras.Input(in_shape[1:]), layer])
    again = keras.models.model_from_json(model.to_json(), custom_objects=models.CUSTOM_OBJECTS)
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(again(x).numpy(), model(x).numpy())


# Regression tests for defects found and fixed in layers.py / baselines.py.


def test_get_config_is_plain_json_with_dict_ranks():
    import json

    layer = FDHTLSTM(4, ranks={"u1": 1, "u2": 2, "u3": 2, "u4": 1, "b1_2": 2, "b3_4": 1})
    layer(np.zeros((1, 2, 8), "float32"))
    json.dumps(layer.get_config())


def test_recurrent_layer_dtype_reaches_the_cell():
    layer = FDHTLSTM(4, ranks=2, dtype="float64")
    y = layer(np.zeros((1, 2, 5)))
    assert y.dtype == tf.float64 and all(w.dtype == tf.float64 for w in layer.weights)


@pytest.mark.parametrize("cls", [HTLSTM, TTLSTM])
def test_baselines_honour_bias_arguments(cls):
    layer = cls(4, ranks=2, input_modes=(2, 4), output_modes=(4, 4), use_bias=False)
    layer(np.zeros((1, 2, 8), "float32"))
    assert not any("bias" in w.name for w in layer.weights)


def test_tt_cores_are_initialised_independently():
    layer = TTLSTM(4, input_modes=(2, 2, 4), output_modes=(4, 2, 2), ranks=3, seed=1)
    layer(np.zeros((1, 2, 16), "float32"))
    first = [c.numpy().ravel()[:4] for c in layer.cell.tt_cores]
    assert not np.allclose(first[0], first[1]) and not np.allclose(first[1], first[2])


def _quantizers():
    return {
        "kernel": quantized_bits(8, 0, alpha=1),
        "bias": quantized_bits(8, 2, alpha=1),
        "activation": quantized_tanh(8, use_real_tanh=True),
        "recurrent_activation": quantized_sigmoid(8, use_real_sigmoid=True),
    }


@pytest.mark.parametrize("kind", list(models.KINDS) + ["fdht-quantized"])
def test_save_and_load_give_identical_predictions(kind, tmp_path):
    quantized = kind.endswith("-quantized")
    model = models.build_model({"kind": kind.split("-")[0], "units": 6, "ranks": 3}, (4, 11), 3,
                               quantizers=_quantizers() if quantized else None)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4, 11)).astype("float32")
    # perturb every weight so that none is its (seeded) initial value
    model.set_weights([w + rng.standard_normal(w.shape).astype(w.dtype) * 0.1 for w in model.get_weights()])
    y = model(x).numpy()
    for ext in ("h5", "keras"):
        path = str(tmp_path / f"model.{ext}")
        model.save(path)
        loaded = keras.models.load_model(path, custom_objects=models.CUSTOM_OBJECTS, compile=False)
        np.testing.assert_array_equal(loaded(x).numpy(), y, err_msg=ext)
        assert loaded.count_params() == model.count_params()
        assert type(models.recurrent_layer(loaded)) is type(models.recurrent_layer(model))
        for a, b in zip(loaded.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(a, b)
    # the project's loader (adds the QKeras objects) reads the same file
    np.testing.assert_array_equal(models.load_keras_model(path)(x).numpy(), y)


# --------------------------------------------------------------------------
# QKeras
# --------------------------------------------------------------------------


def _on_grid(values, frac_bits, lo, hi):
    scaled = np.asarray(values, np.float64) * 2.0 ** frac_bits
    return np.allclose(scaled, np.round(scaled), atol=1e-6) and values.min() >= lo and values.max() <= hi


def test_quantized_fdht_lstm_cores_on_grid_and_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    layer = FDHTLSTM(4, ranks=3, return_sequences=True,
                     kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1),
                     activation=quantized_tanh(8, use_real_tanh=True),
                     recurrent_activation=quantized_sigmoid(8, use_real_sigmoid=True))
    x = rng.standard_normal((2, 5, 9)).astype("float32")
    layer(x)
    cell = layer.cell
    # spread the raw cores so that clipping and rounding both happen
    for name, core in cell.product.cores.items():
        core.assign(rng.standard_normal(core.shape) * 0.7)
    cell.bias.assign(rng.standard_normal(cell.bias.shape) * 3)
    used = {k: v.numpy() for k, v in cell.product.quantized_cores().items()}
    raw = _cores_of(cell)
    for name, q in used.items():
        assert _on_grid(q, 7, -1.0, 1.0 - 2 ** -7), name  # quantized_bits(8, 0): steps of 1/128 in [-1, 1)
        np.testing.assert_allclose(q, np.clip(np.round(raw[name] * 128), -128, 127) / 128, atol=1e-7)
    assert any(not np.allclose(used[k], raw[k]) for k in raw)  # the quantizer really changes them
    y = layer(x).numpy()
    assert np.isfinite(y).all() and np.abs(y).max() <= 1.0

    model = keras.Sequential([keras.Input((5, 9)), layer])
    for ext in ("h5", "keras"):
        path = str(tmp_path / f"q.{ext}")
        model.save(path)
        loaded = keras.models.load_model(path, custom_objects=models.CUSTOM_OBJECTS, compile=False)
        np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy(), err_msg=ext)
        qcell = loaded.layers[-1].cell
        assert qcell.kernel_quantizer.get_config() == cell.kernel_quantizer.get_config()
        assert type(qcell.activation).__name__ == "quantized_tanh"


def test_quantized_cores_and_bias_are_what_the_forward_uses(float64):
    """With float activations the quantized layer equals the numpy LSTM run on
    cores/bias rounded to the 8-bit grids here (clip(round(v * 2^f)) / 2^f)."""
    units, features = 4, 7
    rng = np.random.default_rng(5)
    layer = FDHTLSTM(units, input_modes=(3, 4), output_modes=(4, 4), ranks=3, return_sequences=True,
                     kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1))
    x = rng.standard_normal((2, 4, features))
    layer(x)
    cell = layer.cell
    for core in cell.product.cores.values():
        core.assign(rng.standard_normal(core.shape) * 0.6)
    cell.bias.assign(rng.standard_normal(4 * units) * 2)
    q_cores = {k: np.clip(np.round(v * 128), -128, 127) / 128 for k, v in _cores_of(cell).items()}
    q_bias = np.clip(np.round(cell.bias.numpy() * 32), -128, 127) / 32
    w_mega = ht.reconstruct(q_cores, cell.ht_shape)
    ref = numpy_lstm(x, units, lambda xt, h: np.concatenate([xt, h], 1) @ w_mega.T + q_bias, True)
    np.testing.assert_allclose(layer(x).numpy(), ref, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------
# Training: gradients, NaN, parameter counts
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fdht", "ht", "tt", "fdht-quantized"])
def test_gradients_reach_every_core(kind):
    quantized = kind.endswith("-quantized")
    model = models.build_model({"kind": kind.split("-")[0], "units": 5, "ranks": 3}, (4, 3, 3, 1), 3,
                               quantizers=_quantizers() if quantized else None)
    rng = np.random.default_rng(0)
    x = rng.random((6, 4, 3, 3, 1)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2])
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    variables = model.trainable_variables
    grads = tape.gradient(loss, variables)
    rnn = models.recurrent_layer(model)
    # d = 4: 7 HT cores (+ bias) for fdht, + dense W_h for ht; 4 TT cores + W_h + bias for tt
    assert len(rnn.trainable_weights) == {"fdht": 8, "ht": 9, "tt": 6}[kind.split("-")[0]]
    assert len(variables) == len(rnn.trainable_weights) + 2  # + classifier kernel and bias
    for v, g in zip(variables, grads):
        assert g is not None, f"no gradient for {v.name}"
        g = tf.convert_to_tensor(g).numpy()
        assert np.isfinite(g).all(), v.name
        assert np.any(g != 0), f"zero gradient for {v.name}"


@pytest.mark.parametrize("kind", ["fdht", "tt"])
def test_no_nan_in_a_few_training_steps(kind):
    keras.utils.set_random_seed(0)
    model = models.build_model({"kind": kind, "units": 8, "ranks": 4}, (6, 8, 8, 1), 4)
    rng = np.random.default_rng(0)
    x = rng.random((64, 6, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 4, 64)
    model.compile(keras.optimizers.Adam(1e-2, clipnorm=1.0), "sparse_categorical_crossentropy")
    hist = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert all(np.isfinite(hist.history["loss"]))
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert np.isfinite(model(x[:4]).numpy()).all()


def _ht_formula(n, m, ranks):
    """sum_k n_k m_k r_k + sum_t r_l r_r r_t for d = 4 (tree {1,2},{3,4}; root rank 1)."""
    leaves = sum(n[k] * m[k] * ranks[f"u{k + 1}"] for k in range(4))
    internal = ranks["u1"] * ranks["u2"] * ranks["b1_2"] + ranks["u3"] * ranks["u4"] * ranks["b3_4"]
    root = ranks["b1_2"] * ranks["b3_4"] * 1
    return leaves + internal + root


@pytest.mark.parametrize(
    "units,input_modes,output_modes,ranks",
    [
        (8, [5, 4, 4, 2], [4, 2, 2, 2], 3),  # 48 + 8 = 56 padded to 160
        (8, [3, 4, 3, 2], [2, 4, 2, 2], {"u1": 1, "u2": 2, "u3": 3, "u4": 4, "b1_2": 2, "b3_4": 5}),
        (6, None, None, 5),  # derived modes
    ],
)
def test_fdht_param_count_is_ht_formula_plus_classifier(units, input_modes, output_modes, ranks):
    features, classes = 48, 5
    model = models.build_model({"kind": "fdht", "units": units, "input_modes": input_modes,
                                "output_modes": output_modes, "ranks": ranks}, (3, features), classes)
    shape = models.recurrent_layer(model).ht_shape
    n, m = shape.input_modes, shape.output_modes
    rank_map = ranks if isinstance(ranks, dict) else {k: ranks for k in ("u1", "u2", "u3", "u4", "b1_2", "b3_4")}
    expected_rnn = _ht_formula(n, m, rank_map) + 4 * units
    assert int(np.prod(m)) == 4 * units and int(np.prod(n)) >= features + units
    assert models.recurrent_layer(model).count_params() == expected_rnn
    assert model.count_params() == expected_rnn + (units + 1) * classes
    assert shape.params() == expected_rnn


def test_paper_worked_example_params():
    """The paper shape (docs/model.md): 8x20x20x19 -> 16x4x4x4, rank 5: 2,095 cores + 1,024 bias."""
    layer = FDHTLSTM(256, input_modes=(8, 20, 20, 19), output_modes=(16, 4, 4, 4), ranks=5, seed=0)
    layer.build((None, 6, 57600))
    assert layer.count_params() == 3119
    assert _ht_formula((8, 20, 20, 19), (16, 4, 4, 4), {k: 5 for k in ("u1", "u2", "u3", "u4", "b1_2", "b3_4")}) == 2095
