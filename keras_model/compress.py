"""Compress a trained LSTM into an FDHT-LSTM: ``fdht compress``.

    fdht compress --model trained.h5 [--data X.npz] \\
        (--ranks R | --ranks full | --param-budget N [--mac-budget M]) \\
        [--epochs E] [--qat] --output-dir DIR

The model's recurrent layer (a Keras ``LSTM``, a QKeras ``QLSTM``, or an
fdht/ht/tt LSTM of this project) is turned into one matrix
``W_mega = [W_x ; W_h]`` of shape ``(4H, N + H)`` (gates in Keras order
i, f, c, o; see ``keras_model.ht.mega``), zero-padded to the input modes,
decomposed by HT-SVD into the FDHT-LSTM's cores (``ht.ht_svd``), and put
into a copy of the model in place of the old layer; every other layer keeps
its weights. The test accuracy is measured before, straight after the
decomposition and after ``E`` epochs of fine-tuning (Adam, the config's
``train`` section; the best epoch on the validation split is kept; with
``--qat`` the cores and bias are trained through the config's QKeras
quantizers).

Modes and ranks: ``--ranks R`` (one rank, capped per node at what the node
can hold; ``full`` = exact) with modes from ``--input-modes/--output-modes``
or derived; or ``--param-budget N`` / ``--mac-budget M``: the alternatives
of ``keras_model.ht.budget`` are decomposed and the one with the smallest
reconstruction error that fits is used. Parameters are counted like the
recurrent layer's (cores + bias).

Writes (atomically) ``DIR/model.h5`` (loadable by ``build.py --model``) and
``DIR/compress_report.json``. Bad input prints ``error: <one line>`` and
exits 2 without writing anything.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any, Dict, Optional

import numpy as np

from .common.atomic import new_dir
from .common.errors import ConfigError, DataError, FlowError
from .common.logs import info, keras_verbosity, progress_to_stderr


# --------------------------------------------------------------------------
# The pieces, usable from Python
# --------------------------------------------------------------------------


def parse_modes(text: Optional[str], what: str) -> Optional[tuple]:
    """'6x6x6x5' -> (6, 6, 6, 5); None stays None."""
    if text is None:
        return None
    if not re.fullmatch(r"\s*\d+(\s*[xX,]\s*\d+)+\s*", text):
        raise ConfigError(f"{what} must look like 6x6x6x5 (at least two positive integers), got {text!r}")
    modes = tuple(int(v) for v in re.split(r"[xX,]", text.replace(" ", "")))
    if any(m < 1 for m in modes):
        raise ConfigError(f"{what} must be positive integers, got {text!r}")
    return modes


def parse_ranks(text: Optional[str]):
    """'5' -> 5; 'full' -> 'full'; None stays None."""
    if text is None:
        return None
    if text.strip().lower() == "full":
        return "full"
    try:
        r = int(text)
    except ValueError:
        raise ConfigError(f"--ranks must be a positive integer or 'full', got {text!r}") from None
    if r < 1:
        raise ConfigError(f"--ranks must be >= 1, got {r}")
    return r


def choose_shape(weights, ranks=None, param_budget=None, mac_budget=None, input_modes=None, output_modes=None,
                 d: int = 4, log=info):
    """(HT shape, alternatives considered) for the FDHT matrix of ``weights``;
    with a budget the chosen alternative carries its HT-SVD cores (``.cores``)."""
    from . import ht
    from .ht import budget
    from .layers import resolve_modes

    n_in, h = weights.input_dim + weights.units, weights.units
    if ranks is not None:
        if input_modes is None or output_modes is None:
            probe = resolve_modes(input_modes, output_modes, 1, n_in, 4 * h, d)
            input_modes, output_modes = probe.input_modes, probe.output_modes
        else:
            ht.make_shape(input_modes, output_modes, 1, in_features=n_in, out_features=4 * h)
        if ranks == "full":
            return budget.full_rank_shape(n_in, 4 * h, input_modes, output_modes), []
        r = budget.capped_ranks(input_modes, output_modes, int(ranks))
        return ht.make_shape(input_modes, output_modes, r, in_features=n_in, out_features=4 * h), []
    best, considered = budget.choose(n_in, h, param_budget=param_budget, mac_budget=mac_budget, d=d,
                                     input_modes=input_modes, output_modes=output_modes,
                                     w_mega=weights.w_mega, log=log)
    return best.shape, considered


def fdht_model_like(model, weights, shape, cores: Dict[str, np.ndarray], quantizers: Optional[Dict] = None):
    """A copy of ``model`` with its recurrent layer replaced by an FDHT-LSTM of
    ``shape`` holding ``cores`` and the source bias; the other layers keep
    their weights."""
    from keras_model.common.keras2 import keras

    from .layers import CORE_PREFIX, FDHTLSTM
    from .recurrent import find_recurrent

    old = find_recurrent(model)
    q = quantizers or {}
    made = {}

    def clone(layer):
        if layer is old:
            new = FDHTLSTM(
                weights.units, input_modes=list(shape.input_modes), output_modes=list(shape.output_modes),
                ranks=dict(shape.ranks), d=shape.d,
                activation=q.get("activation", weights.activation),
                recurrent_activation=q.get("recurrent_activation", weights.recurrent_activation),
                return_sequences=weights.return_sequences, kernel_quantizer=q.get("kernel"),
                bias_quantizer=q.get("bias"), name="fdhtlstm")
            made["rnn"] = new
            return new
        return layer.__class__.from_config(layer.get_config())

    new_model = keras.models.clone_model(model, clone_function=clone)
    new_model._name = f"{model.name}_fdht"  # noqa: SLF001 - keras has no public setter in 2.14
    for src, dst in zip(model.layers, new_model.layers):
        if src is old:
            continue
        dst.set_weights(src.get_weights())
    cell = made["rnn"].cell
    by_name = {w.name.split("/")[-1].split(":")[0]: w for w in cell.weights}
    for name, value in cores.items():
        by_name[CORE_PREFIX + name].assign(np.asarray(value, dtype=np.float32))
    if cell.bias is not None:
        cell.bias.assign(np.asarray(weights.bias, dtype=np.float32))
    return new_model


def check_data_fits(model, dataset, data_name: str) -> None:
    shape = tuple(model.input_shape[1:])
    if shape != tuple(dataset.sample_shape):
        raise DataError(f"{data_name} has samples of shape {tuple(dataset.sample_shape)} but model '{model.name}' "
                        f"takes {shape}; give the data set the model was trained on")
    n_out = model.output_shape[-1]
    if n_out is not None and dataset.n_classes > n_out:
        raise DataError(f"{data_name} has {dataset.n_classes} classes but model '{model.name}' outputs {n_out}; "
                        "give the data set the model was trained on")


def accuracy(model, x, y) -> float:
    probs = model.predict(x, verbose=0, batch_size=256)
    return float(np.mean(np.argmax(probs, 1) == y))


class _KeepBest:
    """Keras callback: remember the weights of the best validation loss and
    restore them when training ends (EarlyStopping restores only when it stops)."""

    def __new__(cls, monitor: str):
        from keras_model.common.keras2 import keras

        class KeepBest(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.best, self.best_epoch, self.weights = np.inf, None, None

            def on_epoch_end(self, epoch, logs=None):
                value = (logs or {}).get(monitor)
                if value is not None and value < self.best:
                    self.best, self.best_epoch = float(value), epoch + 1
                    self.weights = self.model.get_weights()

            def on_train_end(self, logs=None):
                if self.weights is not None:
                    self.model.set_weights(self.weights)

        return KeepBest()


def fine_tune(model, dataset, x_train, epochs: int, learning_rate: float, batch_size: int, clipnorm, seed: int,
              validation_fraction: float, verbose=2) -> Dict[str, Any]:
    """Adam for ``epochs`` epochs on the fit part of the training set; the best
    validation epoch is kept (the decomposed start counts as epoch 0)."""
    from keras_model.common.keras2 import keras

    from .data import validation_split

    fit_idx, val_idx, how = validation_split(dataset.y_train, validation_fraction, seed,
                                             getattr(dataset, "train_groups", None))
    opt = {"learning_rate": float(learning_rate)}
    if clipnorm:
        opt["clipnorm"] = float(clipnorm)
    model.compile(keras.optimizers.Adam(**opt), "sparse_categorical_crossentropy", metrics=["accuracy"])
    y = dataset.y_train
    val = (x_train[val_idx], y[val_idx]) if len(val_idx) else None
    out: Dict[str, Any] = {"epochs": int(epochs), "learning_rate": float(learning_rate), "batch_size": int(batch_size),
                           "validation": how, "n_fit": int(len(fit_idx)), "n_val": int(len(val_idx))}
    if epochs == 0:
        out.update(best_epoch=0, history={})
        return out
    monitor = "val_loss" if val else "loss"
    keep = _KeepBest(monitor)
    start_loss = float(model.evaluate(*val, verbose=0, batch_size=256)[0]) if val else np.inf
    keep.best, keep.best_epoch, keep.weights = start_loss, 0, model.get_weights()
    t0 = time.time()
    with progress_to_stderr():
        hist = model.fit(x_train[fit_idx], y[fit_idx], validation_data=val, epochs=int(epochs),
                         batch_size=int(batch_size), shuffle=True,
                         callbacks=[keep, keras.callbacks.TerminateOnNaN()], verbose=verbose)
    losses = hist.history.get("loss", [])
    if any(not np.isfinite(v) for v in losses):
        raise FlowError("fine-tuning diverged (NaN/Inf loss); lower --learning-rate")
    out.update(best_epoch=int(keep.best_epoch), seconds=round(time.time() - t0, 2),
               history={k: [float(v) for v in vals] for k, vals in hist.history.items()})
    return out


def compress(model_path: str, cfg: Dict[str, Any], out_dir: str, ranks=None, param_budget=None, mac_budget=None,
             input_modes=None, output_modes=None, epochs: int = 5, learning_rate: Optional[float] = None,
             qat: bool = False, dataset=None, log=info) -> Dict[str, Any]:
    """The whole command; returns the report (also written to ``out_dir``)."""
    from keras_model.common.keras2 import keras

    from .data import load_dataset
    from .models import load_keras_model, rnn_costs
    from .recurrent import lstm_weights
    from .train import prepare_inputs, set_seeds, versions

    _check_request(ranks, param_budget, mac_budget, epochs)
    tcfg = cfg["train"]
    seed = int(tcfg["seed"])
    set_seeds(seed)
    t_start = time.time()
    model = load_keras_model(model_path)
    weights = lstm_weights(model)  # fails early on a model without an LSTM
    data_name = str(cfg["data"]["source"])
    if dataset is None:
        dataset = load_dataset(cfg["data"])
    check_data_fits(model, dataset, data_name)
    x_train, x_test = prepare_inputs(dataset)
    n_in, h = weights.input_dim + weights.units, weights.units
    dense_params = n_in * 4 * h + 4 * h
    log(f"source: {model_path}: {weights.kind} layer '{weights.layer_name}', N = {weights.input_dim:,}, "
        f"H = {h}, {weights.rnn_params:,} recurrent parameters; W_mega is {4 * h} x {n_in:,}")
    acc_source = accuracy(model, x_test, dataset.y_test)
    log(f"source test accuracy {acc_source:.4f} (chance {1 / dataset.n_classes:.3f}) on {len(x_test)} samples")

    d = int(cfg["model"].get("d") or 4)
    shape, considered = choose_shape(weights, ranks, param_budget, mac_budget, input_modes, output_modes, d, log=log)
    cores, err = decompose(weights, shape, considered, dense_params, log)
    params = shape.params(use_bias=True)

    quantizers = None
    if qat:
        from .quantize import quantizers_from_config

        qcfg = dict(cfg)
        qcfg["quantization"] = {**cfg["quantization"], "enabled": True}
        quantizers = quantizers_from_config(qcfg)
    new_model = fdht_model_like(model, weights, shape, cores, quantizers)
    costs = rnn_costs(new_model)
    acc_after = accuracy(new_model, x_test, dataset.y_test)
    log(f"test accuracy straight after the decomposition{' (quantized)' if qat else ''}: {acc_after:.4f}")
    lr = float(learning_rate if learning_rate is not None else tcfg["learning_rate"])
    if epochs:
        log(f"fine-tuning for {epochs} epoch(s), Adam lr {lr}, batch {tcfg['batch_size']}{', QAT' if qat else ''} ...")
    verbose = keras_verbosity(tcfg.get("verbose", "auto"))
    ft = fine_tune(new_model, dataset, x_train, epochs, lr, int(tcfg["batch_size"]), tcfg.get("clipnorm"), seed,
                   float(tcfg["validation_split"]), verbose=verbose)
    acc_ft = accuracy(new_model, x_test, dataset.y_test)
    if epochs:
        log(f"test accuracy after fine-tuning: {acc_ft:.4f} (best validation epoch {ft['best_epoch']} of {epochs})")
    report = {
        "source": {"model": os.path.abspath(model_path), "kind": weights.kind, "layer": weights.layer_name,
                   "units": h, "features_per_step": weights.input_dim, "rnn_params": weights.rnn_params,
                   "model_params": int(model.count_params()), "test_accuracy": acc_source},
        "data": {"source": data_name, "sample_shape": list(dataset.sample_shape), "n_classes": dataset.n_classes,
                 "n_train": int(len(x_train)), "n_test": int(len(x_test)), "chance": 1.0 / dataset.n_classes},
        "request": {"ranks": ranks, "param_budget": param_budget, "mac_budget": mac_budget,
                    "input_modes": None if input_modes is None else list(input_modes),
                    "output_modes": None if output_modes is None else list(output_modes), "d": d},
        "fdht": {**shape.to_dict(), "rnn_params": params, "model_params": costs["model_params"],
                 "macs_per_step": costs["macs_per_step"], "dense_lstm_params": dense_params,
                 "dense_lstm_macs_per_step": costs["dense_lstm_macs_per_step"],
                 "compression_vs_source": weights.rnn_params / params, "compression_vs_dense": dense_params / params},
        "alternatives": [c.to_dict() for c in considered],
        "reconstruction_error": err,
        "accuracy_after_decomposition": acc_after,
        "fine_tune": {**ft, "qat": bool(qat)},
        "accuracy_after_fine_tune": acc_ft,
        "fraction_of_source_accuracy": acc_ft / acc_source if acc_source > 0 else None,
        "seconds": round(time.time() - t_start, 1),
        "versions": versions(),
    }
    _write(out_dir, new_model, report)
    keras.backend.clear_session()
    return report


def _check_request(ranks, param_budget, mac_budget, epochs: int) -> None:
    if ranks is None and param_budget is None and mac_budget is None:
        raise ConfigError("give --ranks R (or 'full'), or --param-budget N and/or --mac-budget M")
    if ranks is not None and (param_budget is not None or mac_budget is not None):
        raise ConfigError("--ranks and --param-budget/--mac-budget exclude each other; give one of them")
    if epochs < 0:
        raise ConfigError(f"--epochs must be >= 0, got {epochs}")


def decompose(weights, shape, considered, dense_params: int, log=info):
    """HT-SVD of the source's W_mega at ``shape`` (reused from the budget
    search when it decomposed the chosen candidate already), cores balanced
    to one range; (cores, relative reconstruction error)."""
    from . import ht
    from .ht.budget import format_alternatives
    from .ht.mega import balance_cores, relative_error

    if considered:
        log("alternatives considered (largest rank that fits for each choice of modes; * = chosen, the smallest "
            "reconstruction error):")
        log(format_alternatives(considered, dense_params))
    t0 = time.time()
    chosen = next((c for c in considered if c.chosen and c.cores is not None), None)
    cores = chosen.cores if chosen is not None else ht.ht_svd(weights.w_mega, shape)
    err = relative_error(weights.w_mega, ht.reconstruct(cores, shape))
    params = shape.params(use_bias=True)
    log(f"HT-SVD at {'x'.join(map(str, shape.input_modes))} -> {'x'.join(map(str, shape.output_modes))}, ranks "
        f"{dict(shape.ranks)}: {params:,} parameters ({weights.rnn_params / params:,.1f}x fewer than the source "
        f"layer), {shape.plan.macs:,} MACs per step, relative error of W_mega {err:.4g} ({time.time() - t0:.1f} s)")
    return balance_cores(cores, shape), err


def _write(out_dir: str, model, report: Dict[str, Any]) -> None:
    """model.h5 and compress_report.json into ``out_dir``, atomically."""
    with new_dir(out_dir) as tmp:
        model.save(os.path.join(tmp, "model.h5"), include_optimizer=False)
        with open(os.path.join(tmp, "compress_report.json"), "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
