"""keras_model.ht.mega, keras_model.recurrent, keras_model.ht.budget and keras_model.compress against
independent references: a numpy LSTM step, Keras's own LSTM predictions,
the dense reconstruction, and parameter counts of built Keras layers."""

import json
import os

import numpy as np
import pytest
from keras_model.common.keras2 import keras

from keras_model import compress, ht, models, recurrent
from keras_model.ht import budget, mega
from keras_model.common import config
from keras_model.data import Dataset, save_npz
from keras_model.common.errors import FlowError, ShapeError
from keras_model.layers import FDHTLSTM

from helpers import numpy_lstm
from hls_project.cli import main as fdht_main  # noqa: E402


def numpy_fdht_lstm(x, w_mega, bias, units):
    """An LSTM written out in the FDHT layout: z = W_mega [x ; h] + b; the last h."""
    return numpy_lstm(x, units, lambda xt, h: np.concatenate([xt, h], axis=1) @ w_mega.T + bias)


def random_weights(model, seed=0, scale=0.4):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.standard_normal(w.shape).astype("float32") * scale)


# --------------------------------------------------------------------------
# The math
# --------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [
    ((3, 4, 2, 3), (2, 2, 3, 2), 3, 72),
    ((2, 3, 4, 2), (3, 2, 2, 2), {"u1": 2, "u2": 3, "u3": 2, "u4": 1, "b1_2": 3, "b3_4": 2}, 48),
])
def test_ht_svd_recovers_matrix_built_from_random_cores_at_its_ranks(spec):
    n, m, r, nin = spec
    shape = ht.make_shape(n, m, r, in_features=nin)
    cores = ht.init_cores(shape, np.random.default_rng(3))
    # the matrix from the entry formula, one einsum over all cores (not ht.reconstruct)
    tensors, sizes, _ = ht.network(shape)
    letters = dict(zip(sizes, "abcdefghijklmnopqrstuvwxyz"))
    names = [nd.name for nd in shape.nodes]
    specs = ["".join(letters[i] for i in tensors[k]) for k in names]
    out = "".join(letters[f"p{k + 1}"] for k in range(shape.d)) + "".join(letters[f"a{k + 1}"] for k in range(shape.d))
    arrays = [cores[k][..., 0] if k == shape.root.name else cores[k] for k in names]
    w = np.einsum(",".join(specs) + "->" + out, *arrays).reshape(shape.out_features, -1)[:, :nin]
    got = ht.ht_svd(w, shape)
    assert {k: v.shape for k, v in got.items()} == {k: tuple(v) for k, v in shape.core_shapes.items()}
    np.testing.assert_allclose(ht.reconstruct(got, shape), w, atol=1e-9 * np.abs(w).max())
    # one rank lower somewhere cannot hold it
    lower = dict(shape.ranks)
    node = max(lower, key=lower.get)
    lower[node] -= 1
    s2 = ht.make_shape(n, m, lower, in_features=nin)
    assert mega.relative_error(w, ht.reconstruct(ht.ht_svd(w, s2), s2)) > 1e-6


def test_w_mega_of_a_keras_lstm_is_the_fdht_layout():
    """A numpy LSTM in the FDHT layout, fed W_mega, reproduces Keras's LSTM."""
    model = models.build_model({"kind": "dense", "units": 5}, (4, 7), 3)
    random_weights(model, 1)
    w = recurrent.lstm_weights(model)
    assert w.kind == "keras_lstm" and w.w_mega.shape == (20, 12) and w.input_dim == 7
    x = np.random.default_rng(2).standard_normal((6, 4, 7)).astype("float32")
    keras_h = keras.Model(model.input, models.recurrent_layer(model).output).predict(x, verbose=0)
    np.testing.assert_allclose(numpy_fdht_lstm(x.astype(float), w.w_mega, w.bias, 5), keras_h, atol=1e-5)


def test_qlstm_with_qkeras_hard_sigmoid_is_refused():
    from qkeras import QLSTM

    inp = keras.Input((3, 6))
    m = keras.Model(inp, QLSTM(4, name="q")(inp))  # QKeras's default recurrent_activation: its hard_sigmoid
    with pytest.raises(FlowError) as e:
        recurrent.lstm_weights(m)
    assert "hard_sigmoid" in str(e.value) and "retrain" in str(e.value)


def test_w_mega_padding_sits_after_x_and_h():
    w = np.arange(4 * 2 * 5, dtype=float).reshape(8, 5)  # 4H = 8, N + H = 5 (N = 3, H = 2)
    shape = budget.full_rank_shape(5, 8, (2, 3), (4, 2))  # padded to 6
    cores = ht.ht_svd(w, shape)
    v = np.random.default_rng(0).standard_normal((3, 5))
    np.testing.assert_allclose(ht.forward(v, cores, shape), v @ w.T, atol=1e-9)


def _sources():
    """(name, model) of every recurrent kind compress takes, random weights."""
    from qkeras import QLSTM, quantized_bits

    out = []
    for kind in ("dense", "fdht", "ht", "tt"):
        m = models.build_model({"kind": kind, "units": 4, "ranks": 2, "d": 2}, (3, 6), 3)
        random_weights(m, 5)
        out.append((kind, m))
    inp = keras.Input((3, 6))
    q = QLSTM(4, kernel_quantizer=quantized_bits(8, 0, alpha=1), recurrent_quantizer=quantized_bits(8, 0, alpha=1),
              bias_quantizer=quantized_bits(8, 2, alpha=1), recurrent_activation="sigmoid", name="qlstm")(inp)
    m = keras.Model(inp, keras.layers.Activation("softmax")(keras.layers.Dense(3, name="classifier")(q)))
    random_weights(m, 6, 0.3)
    out.append(("qlstm", m))
    return out


@pytest.mark.parametrize("name,model", _sources(), ids=lambda v: v if isinstance(v, str) else "")
def test_full_rank_compression_keeps_predictions(name, model):
    w = recurrent.lstm_weights(model)
    shape, _ = compress.choose_shape(w, "full", d=2)
    cores = mega.balance_cores(ht.ht_svd(w.w_mega, shape), shape)
    new = compress.fdht_model_like(model, w, shape, cores)
    assert isinstance(models.recurrent_layer(new), FDHTLSTM)
    x = np.random.default_rng(9).standard_normal((16, 3, 6)).astype("float32")
    np.testing.assert_allclose(new.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-4)
    # the classifier weights were carried over, not re-initialised
    np.testing.assert_array_equal(new.get_layer("classifier").get_weights()[0],
                                  model.get_layer("classifier").get_weights()[0])


# --------------------------------------------------------------------------
# Budgets
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n_x,units", [(1024, 32), (30, 8), (57600, 256)])
@pytest.mark.parametrize("param_budget,mac_budget", [(1352, None), (5000, None), (None, 150_000),
                                                     (4000, 60_000), (20_000, None)])
def test_budget_never_exceeded_and_counts_match_keras(n_x, units, param_budget, mac_budget):
    n_in = n_x + units
    try:
        best, considered = budget.choose(n_in, units, param_budget=param_budget, mac_budget=mac_budget)
    except ShapeError as e:  # only allowed when even rank 1 is over a budget
        assert "smallest" in str(e)
        smallest = min(budget._candidate(n_in, units, mi, mo, 1).params
                       for mi, mo in budget.shape_options(n_in, units, 4))
        assert (param_budget is not None and smallest > param_budget) or mac_budget is not None
        return
    assert best in considered and best.chosen
    for c in considered:
        assert param_budget is None or c.params <= param_budget
        assert mac_budget is None or c.macs <= mac_budget
    # the counts agree with a Keras FDHT-LSTM of that shape (independent of budget's arithmetic)
    if n_x <= 1024:
        s = best.shape
        layer = FDHTLSTM(units, input_modes=list(s.input_modes), output_modes=list(s.output_modes),
                         ranks=dict(s.ranks))
        layer.build((None, 2, n_x))
        assert layer.count_params() == best.params
        assert layer.cell.ht_shape.plan.macs == best.macs
    # the chosen rank is the largest that fits: one more rank on its modes is over a budget or capped
    bigger = budget._candidate(n_in, units, best.shape.input_modes, best.shape.output_modes, best.rank + 1)
    bigger.macs = bigger.shape.plan.macs
    assert (bigger.shape.ranks == best.shape.ranks or (param_budget is not None and bigger.params > param_budget)
            or (mac_budget is not None and bigger.macs > mac_budget))


def test_budget_below_smallest_fdht_is_one_line():
    with pytest.raises(ShapeError) as e:
        budget.choose(1056, 32, param_budget=150)
    msg = str(e.value)
    assert "\n" not in msg and "150 parameters" in msg and "raise the budget" in msg


def test_budget_with_trained_matrix_picks_smallest_error():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((32, 40))
    best, considered = budget.choose(40, 8, param_budget=900, w_mega=w)
    assert len(considered) > 1
    errs = [c.error for c in considered]
    assert best.error == min(errs) and all(0 < e < 1 for e in errs)
    for c in considered:  # the errors are real HT-SVD errors
        assert c.error == pytest.approx(mega.relative_error(w, ht.reconstruct(ht.ht_svd(w, c.shape), c.shape)))


def test_build_model_with_param_budget():
    m = models.build_model({"kind": "fdht", "units": 16, "param_budget": 900}, (4, 8, 8, 1), 3)
    layer = models.recurrent_layer(m)
    assert layer.count_params() <= 900
    # and it is not trivially small: rank 1 would be far below
    assert layer.count_params() > 600
    m2 = models.build_model({"kind": "fdht", "units": 16, "mac_budget": 5000}, (4, 8, 8, 1), 3)
    assert models.rnn_costs(m2)["macs_per_step"] <= 5000


@pytest.mark.parametrize("model_cfg,needle", [
    ({"param_budget": 0}, "model.param_budget: must be > 0"),
    ({"kind": "dense", "param_budget": 1000}, "only kind fdht"),
    ({"mac_budget": "many"}, "model.mac_budget: expected integer"),
])
def test_budget_config_validation(model_cfg, needle):
    with pytest.raises(FlowError) as e:
        config.load_config(overrides={"model": model_cfg})
    assert needle in str(e.value) and "\n" not in str(e.value)


# --------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A dense Keras LSTM trained on a small sequence task (which of 3
    patterns is hidden in noise), saved as .h5, and its .npz."""
    tmp = tmp_path_factory.mktemp("compress")
    rng = np.random.default_rng(0)
    patterns = rng.standard_normal((3, 5, 6))

    def make(n):
        y = rng.integers(0, 3, n)
        x = patterns[y] + 0.8 * rng.standard_normal((n, 5, 6))
        return x.astype("float32"), y

    xtr, ytr = make(400)
    xte, yte = make(200)
    data = tmp / "seq.npz"
    save_npz(data, Dataset(xtr, ytr, xte, yte, ["a", "b", "c"]))
    keras.utils.set_random_seed(0)
    model = models.build_model({"kind": "dense", "units": 8}, (5, 6), 3)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(xtr, ytr, epochs=15, batch_size=32, verbose=0)
    acc = float(np.mean(model.predict(xte, verbose=0).argmax(1) == yte))
    assert acc > 0.8  # the source learned the task
    path = tmp / "dense.h5"
    model.save(path, include_optimizer=False)
    return tmp, str(path), str(data), xte, yte, acc


def test_cli_full_rank_keeps_predictions_and_writes_report(trained, capsys):
    tmp, path, data, xte, yte, acc = trained
    out = tmp / "full"
    code = fdht_main(["compress", "--model", path, "--data", data, "--ranks", "full", "--epochs", "0",
                          "--output-dir", str(out)])
    assert code == 0, capsys.readouterr().err
    assert sorted(os.listdir(out)) == ["compress_report.json", "model.h5"]
    src = models.load_keras_model(path)
    new = models.load_keras_model(str(out / "model.h5"))
    assert isinstance(models.recurrent_layer(new), FDHTLSTM)
    np.testing.assert_allclose(new.predict(xte, verbose=0), src.predict(xte, verbose=0), atol=1e-4)
    report = json.loads((out / "compress_report.json").read_text())
    assert report["reconstruction_error"] < 1e-6
    assert report["source"]["test_accuracy"] == pytest.approx(acc)
    assert report["accuracy_after_decomposition"] == pytest.approx(acc, abs=0.006)
    assert "relative reconstruction error" in capsys.readouterr().out


def test_cli_budget_compresses_and_fine_tuning_learns(trained, capsys):
    tmp, path, data, xte, yte, acc = trained
    out = tmp / "budget"
    dense_rnn = (6 + 8) * 32 + 32
    budget_n = dense_rnn // 4
    code = fdht_main(["compress", "--model", path, "--data", data, "--param-budget", str(budget_n), "--epochs", "4",
                          "--learning-rate", "0.01", "--output-dir", str(out)])
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "compress_report.json").read_text())
    new = models.load_keras_model(str(out / "model.h5"))
    assert models.recurrent_layer(new).count_params() == report["fdht"]["rnn_params"] <= budget_n
    assert report["alternatives"] and all(a["params"] <= budget_n for a in report["alternatives"])
    assert 0 < report["reconstruction_error"] < 1
    measured = float(np.mean(new.predict(xte, verbose=0).argmax(1) == yte))
    assert measured == pytest.approx(report["accuracy_after_fine_tune"])
    assert measured > 0.7  # chance is 1/3: the compressed model still does the task
    captured = capsys.readouterr()
    printed = captured.out + captured.err  # the table is a progress line (stderr), the summary stdout
    assert "alternatives considered" in printed and "*" in printed


def _err_line(capsys):
    """The one error line (progress lines may come before it on stderr)."""
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [l for l in lines if l.startswith("error")]
    assert len(errors) == 1 and lines[-1] == errors[0] and errors[0].startswith("error: "), lines
    return errors[0]


def test_cli_model_without_recurrent_layer(trained, tmp_path, capsys):
    _, _, data, *_ = trained
    inp = keras.Input((5, 6))
    m = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inp)))
    p = tmp_path / "flat.h5"
    m.save(p)
    out = tmp_path / "out"
    assert fdht_main(["compress", "--model", str(p), "--data", data, "--ranks", "2", "--output-dir", str(out)]) == 2
    assert "no recurrent layer" in _err_line(capsys)
    assert not out.exists()


def test_cli_budget_below_smallest(trained, tmp_path, capsys):
    _, path, data, *_ = trained
    out = tmp_path / "out"
    assert fdht_main(["compress", "--model", path, "--data", data, "--param-budget", "40", "--output-dir", str(out)]) == 2
    assert "raise the budget" in _err_line(capsys)
    assert not out.exists() and not [p for p in os.listdir(tmp_path) if p.startswith(".out")]


def test_cli_data_that_does_not_fit(trained, tmp_path, capsys):
    _, path, _, *_ = trained
    rng = np.random.default_rng(1)
    other = tmp_path / "other.npz"
    save_npz(other, Dataset(rng.random((10, 5, 7)).astype("float32"), rng.integers(0, 2, 10),
                            rng.random((4, 5, 7)).astype("float32"), rng.integers(0, 2, 4), ["x", "y"]))
    out = tmp_path / "out"
    assert fdht_main(["compress", "--model", path, "--data", str(other), "--ranks", "2", "--output-dir", str(out)]) == 2
    assert "samples of shape (5, 7)" in _err_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("args,needle", [
    (["--ranks", "2", "--param-budget", "100"], "exclude each other"),
    ([], "give --ranks"),
    (["--ranks", "zero"], "--ranks must be"),
    (["--param-budget", "0"], "must be >= 1"),
    (["--ranks", "2", "--input-modes", "7"], "--input-modes must look like"),
])
def test_cli_bad_arguments(trained, tmp_path, capsys, args, needle):
    _, path, data, *_ = trained
    assert fdht_main(["compress", "--model", path, "--data", data, "--output-dir", str(tmp_path / "o")] + args) == 2
    assert needle in _err_line(capsys)
    assert not (tmp_path / "o").exists()


def test_runs_as_a_module(trained, tmp_path):
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, "-m", "hls_project.cli", "compress", "--help"], cwd=root, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "--param-budget" in r.stdout and "--output-dir" in r.stdout


def test_train_cli_takes_a_param_budget(tmp_path, capsys):
    cfg = tmp_path / "small.yml"
    cfg.write_text("data:\n  n_train: 120\n  n_test: 40\ntrain:\n  epochs: 1\n  verbose: 0\n")
    out = tmp_path / "m"
    assert fdht_main(["train", "--config", str(cfg), "--param-budget", "700", "--output-dir", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["kind"] == "fdht" and 500 < metrics["rnn_params"] <= 700
    capsys.readouterr()
    assert fdht_main(["train", "--config", str(cfg), "--param-budget", "10", "--output-dir", str(tmp_path / "n")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "raise the budget" in err and "\n" not in err
    assert not (tmp_path / "n").exists()


def test_cli_qat_fine_tunes_through_quantizers(trained, capsys):
    tmp, path, data, xte, yte, acc = trained
    out = tmp / "qat"
    code = fdht_main(["compress", "--model", path, "--data", data, "--ranks", "4", "--epochs", "3", "--qat",
                          "--learning-rate", "0.01", "--output-dir", str(out)])
    assert code == 0, capsys.readouterr().err
    new = models.load_keras_model(str(out / "model.h5"))
    cell = models.recurrent_layer(new).cell
    assert cell.kernel_quantizer is not None and cell.bias_quantizer is not None
    # the stored cores are float; what the layer uses are their 8-bit values (at most 2^8 levels per core)
    q = cell.product.quantized_cores()
    assert all(len(np.unique(v.numpy())) <= 256 for v in q.values())
    report = json.loads((out / "compress_report.json").read_text())
    assert report["fine_tune"]["qat"] is True
    measured = float(np.mean(new.predict(xte, verbose=0).argmax(1) == yte))
    assert measured == pytest.approx(report["accuracy_after_fine_tune"]) and measured > 0.6


def test_train_prints_the_budget_alternatives(tmp_path):
    from keras_model import train
    from keras_model.data import load_dataset

    cfg = config.load_config(overrides={"data": {"n_train": 60, "n_test": 20}, "model": {"param_budget": 900},
                                        "train": {"epochs": 1, "verbose": 0}})
    lines = []
    _, metrics, _ = train.train(cfg, dataset=load_dataset(cfg["data"]), out_dir=str(tmp_path / "m"),
                                log=lines.append)
    table = next(t for t in lines if t.startswith("modes and ranks for the budget"))
    chosen = [row for row in table.splitlines() if row.lstrip().startswith("*")]
    assert len(chosen) == 1 and f"{metrics['rnn_params']:,}" in chosen[0] and metrics["rnn_params"] <= 900
