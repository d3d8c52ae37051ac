"""Train a model from a config: ``fdht train --config configs/default.yml``.

Seeds everything, trains with early stopping on a validation split taken
from the training set, evaluates on the test set and saves under
``build/models/<config name>-<kind>-<config hash>/``: ``model.h5``,
``metrics.json`` (parameters, MACs, accuracy, epochs, time, seeds, versions)
and ``weights.sha256`` (a hash of the trained weights, for reproducibility).
A later run with the same config hash reuses the saved model.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .common.atomic import new_dir
from .common.config import build_dir, config_hash
from .common.errors import FlowError
from .common.logs import info, keras_verbosity, progress_to_stderr


def versions() -> Dict[str, str]:
    import platform

    from keras_model.common.keras2 import tf

    out = {"python": platform.python_version(), "numpy": np.__version__, "tensorflow": tf.__version__}
    for mod in ("keras", "qkeras", "hls4ml"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - optional
            pass
    return out


def weights_hash(model) -> str:
    h = hashlib.sha256()
    for w in model.weights:
        h.update(w.name.encode())
        h.update(np.ascontiguousarray(w.numpy()).tobytes())
    return h.hexdigest()


def model_dir(cfg: Dict[str, Any]) -> str:
    return os.path.join(build_dir(), "models", f"{cfg['_name']}-{cfg['model']['kind']}-{config_hash(cfg)}")


def set_seeds(seed: int) -> None:
    from keras_model.common.keras2 import keras, tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def prepare_inputs(dataset):
    """Float model inputs: frames scaled to [0, 1], sequences as float32."""
    from .data import frames_to_float

    return frames_to_float(dataset.x_train), frames_to_float(dataset.x_test)


def build_for(cfg, dataset):
    from .models import build_model
    from .quantize import quantizers_from_config

    return build_model(cfg["model"], dataset.sample_shape, dataset.n_classes, quantizers_from_config(cfg))


def train(cfg: Dict[str, Any], dataset=None, out_dir: Optional[str] = None, log=info) -> Tuple[Any, Dict, str]:
    """Train the config's model; returns (model, metrics, saved model path)."""
    from keras_model.common.keras2 import keras

    from .data import load_dataset
    from .models import rnn_costs

    tcfg = cfg["train"]
    set_seeds(int(tcfg["seed"]))
    t0 = time.time()
    if dataset is None:
        dataset = load_dataset(cfg["data"])
    x_train, x_test = prepare_inputs(dataset)
    y_train, y_test = dataset.y_train, dataset.y_test
    t_data = time.time() - t0

    mcfg = cfg["model"]
    if mcfg.get("kind") == "fdht" and (mcfg.get("param_budget") or mcfg.get("mac_budget")):
        from .ht.budget import choose, format_alternatives
        from .models import features_per_step

        n_x = features_per_step(dataset.sample_shape)
        _, considered = choose(n_x + int(mcfg["units"]), int(mcfg["units"]), param_budget=mcfg.get("param_budget"),
                               mac_budget=mcfg.get("mac_budget"), d=int(mcfg["d"]),
                               input_modes=mcfg.get("input_modes"), output_modes=mcfg.get("output_modes"))
        dense = (n_x + int(mcfg["units"])) * 4 * int(mcfg["units"]) + 4 * int(mcfg["units"])
        log("modes and ranks for the budget (largest rank that fits for each choice of modes; * = chosen, "
            "the most parameters):\n" + format_alternatives(considered, dense))
    model = build_for(cfg, dataset)
    if cfg["quantization"].get("enabled") and cfg["quantization"].get("from_float"):
        from .quantize import init_from_float

        init_from_float(model, cfg["quantization"]["from_float"], log=log)
    costs = rnn_costs(model)
    log(f"model: {model.name}, {costs['model_params']:,} parameters "
        f"({costs['rnn_params']:,} recurrent; a dense LSTM needs {costs['dense_lstm_params']:,}), "
        f"{costs['macs_per_step']:,} MACs per time step")

    # validation split: a seeded shuffle of the training set, by group when the data has groups
    from .data import validation_split

    fit_idx, val_idx, split_how = validation_split(y_train, float(tcfg["validation_split"]), int(tcfg["seed"]),
                                                   getattr(dataset, "train_groups", None))
    n_val = len(val_idx)
    opt_kwargs = {"learning_rate": float(tcfg["learning_rate"])}
    if tcfg.get("clipnorm"):
        opt_kwargs["clipnorm"] = float(tcfg["clipnorm"])
    model.compile(keras.optimizers.Adam(**opt_kwargs), "sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [keras.callbacks.TerminateOnNaN()]
    monitor = "val_loss" if n_val else "loss"
    callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=int(tcfg["patience"]),
                                                   restore_best_weights=True))
    t1 = time.time()
    with progress_to_stderr():
        hist = model.fit(
            x_train[fit_idx], y_train[fit_idx],
            validation_data=(x_train[val_idx], y_train[val_idx]) if n_val else None,
            epochs=int(tcfg["epochs"]), batch_size=int(tcfg["batch_size"]), shuffle=True,
            callbacks=callbacks, verbose=keras_verbosity(tcfg.get("verbose", "auto")),
        )
    t_train = time.time() - t1
    losses = hist.history.get("loss", [])
    if any(not np.isfinite(v) for v in losses):
        raise FlowError("training diverged (NaN/Inf loss); lower train.learning_rate or set train.clipnorm")
    val_acc = None
    if n_val:  # at the weights training ended with (the best epoch's when early stopping fired)
        val_probs = model.predict(x_train[val_idx], verbose=0, batch_size=256)
        val_acc = float(np.mean(np.argmax(val_probs, 1) == y_train[val_idx]))
    probs = model.predict(x_test, verbose=0, batch_size=256)
    acc = float(np.mean(np.argmax(probs, 1) == y_test))
    metrics = {
        "config": cfg["_name"],
        "config_hash": config_hash(cfg),
        **costs,
        "test_accuracy": acc,
        "chance": 1.0 / dataset.n_classes,
        "epochs_run": len(losses),
        "best_val_loss": float(min(hist.history[monitor])) if hist.history.get(monitor) else None,
        "val_accuracy": val_acc,
        "learning_rate": float(tcfg["learning_rate"]),
        "train_seconds": round(t_train, 2),
        "data_seconds": round(t_data, 2),
        "n_train": int(len(fit_idx)), "n_val": int(n_val), "n_test": int(len(x_test)),
        "validation_split": split_how,
        "sample_shape": list(dataset.sample_shape),
        "n_classes": int(dataset.n_classes),
        "seeds": {"train": int(tcfg["seed"]), "model": cfg["model"].get("seed"), "data": cfg["data"].get("seed")},
        "versions": versions(),
        "weights_sha256": weights_hash(model),
    }
    out_dir = out_dir or model_dir(cfg)
    path = save_model_dir(model, metrics, out_dir)
    log(f"test accuracy {acc:.4f} (chance {metrics['chance']:.3f}) after {metrics['epochs_run']} epochs, "
        f"{t_train:.1f} s; saved {path}")
    return model, metrics, path


def save_model_dir(model, metrics: Dict, out_dir: str) -> str:
    """Write model.h5 + metrics.json into ``out_dir`` atomically."""
    with new_dir(out_dir, prefix=".tmp-") as tmp:
        model.save(os.path.join(tmp, "model.h5"), include_optimizer=False)
        with open(os.path.join(tmp, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2)
        with open(os.path.join(tmp, "weights.sha256"), "w") as f:
            f.write(metrics["weights_sha256"] + "\n")
    return os.path.join(out_dir, "model.h5")


def cached_or_train(cfg: Dict[str, Any], dataset=None, log=info):
    """The trained model for this config: reused from build/ when the config
    hash matches, else trained now. Returns (model, metrics, path, cached)."""
    from .models import load_keras_model

    d = model_dir(cfg)
    path = os.path.join(d, "model.h5")
    mpath = os.path.join(d, "metrics.json")
    if os.path.isfile(path) and os.path.isfile(mpath):
        with open(mpath) as f:
            metrics = json.load(f)
        if metrics.get("config_hash") == config_hash(cfg):
            log(f"using the trained model cached at {path}")
            return load_keras_model(path), metrics, path, True
    model, metrics, path = train(cfg, dataset=dataset, log=log)
    return model, metrics, path, False
