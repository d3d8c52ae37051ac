"""One builder for every model kind, from the ``model:`` section of a config.

``build_model(model_cfg, sample_shape, n_classes)`` -> ``keras.Model``:
input ``(T, H, W, C)`` frames (flattened per frame, as in the paper) or
``(T, F)`` sequences -> recurrent layer of the chosen ``kind`` -> Dense ->
softmax (an ``Activation`` layer: hls4ml 1.3.0 cannot compile a standalone
``Softmax`` layer).

Kinds: ``fdht`` (this paper), ``ht`` (HT on W_x only), ``tt`` (TT-LSTM),
``dense`` (vanilla Keras LSTM). Modes left out of the config are derived from
the data's shape (``ht.factorize``), so the default config fits any data set.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
from keras_model.common.keras2 import keras

from .baselines import CUSTOM_OBJECTS as _BASELINE_OBJECTS
from .baselines import HTLSTM, TTLSTM
from .common.config import DEFAULTS, KINDS
from .common.errors import ConfigError
from .layers import CUSTOM_OBJECTS as _LAYER_OBJECTS
from .ht.tt import tt_core_shapes, tt_macs
from .layers import FDHTLSTM

CUSTOM_OBJECTS = {**_LAYER_OBJECTS, **_BASELINE_OBJECTS}

# one source of truth for the defaults: the config module
MODEL_DEFAULTS = DEFAULTS["model"]


def features_per_step(sample_shape: Sequence[int]) -> int:
    """Values per time step: H*W*C for frames, F for sequences."""
    return int(np.prod(sample_shape[1:]))


def build_model(model_cfg: Dict, sample_shape: Sequence[int], n_classes: int,
                quantizers: Optional[Dict] = None, name: Optional[str] = None) -> keras.Model:
    cfg = {**MODEL_DEFAULTS, **(model_cfg or {})}
    kind = cfg["kind"]
    if kind not in KINDS:
        raise ConfigError(f"model.kind '{kind}' is unknown; use one of {', '.join(KINDS)}")
    sample_shape = tuple(int(s) for s in sample_shape)
    if len(sample_shape) not in (2, 4):
        raise ConfigError(
            f"samples of shape {sample_shape} are neither frames (T, H, W, C) nor sequences (T, F)"
        )
    if n_classes < 2:
        raise ConfigError(f"need at least 2 classes, got {n_classes}")
    units = int(cfg["units"])
    if units < 1:
        raise ConfigError(f"model.units must be >= 1, got {units}")
    q = quantizers or {}
    t = sample_shape[0]
    inp = keras.Input(sample_shape, name="frames" if len(sample_shape) == 4 else "sequence")
    x = inp
    if len(sample_shape) == 4:
        x = keras.layers.Reshape((t, features_per_step(sample_shape)), name="flatten_frames")(x)
    common = dict(
        input_modes=cfg["input_modes"], output_modes=cfg["output_modes"], ranks=cfg["ranks"], d=int(cfg["d"]),
        activation=q.get("activation", cfg["activation"]),
        recurrent_activation=q.get("recurrent_activation", cfg["recurrent_activation"]),
        unit_forget_bias=bool(cfg["unit_forget_bias"]), seed=cfg["seed"],
        kernel_quantizer=q.get("kernel"), bias_quantizer=q.get("bias"),
    )
    if kind == "fdht":
        if cfg.get("param_budget") is not None or cfg.get("mac_budget") is not None:
            common.update(budget_shape(cfg, features_per_step(sample_shape) if len(sample_shape) == 4
                                       else sample_shape[1], units))
        rnn = FDHTLSTM(units, name="fdhtlstm", **common)
    elif kind == "ht":
        rnn = HTLSTM(units, name="htlstm", **common)
    elif kind == "tt":
        rnn = TTLSTM(units, name="ttlstm", **common)
    else:
        if q:
            raise ConfigError("quantization is not supported for kind 'dense' (a float Keras LSTM); "
                              "use kind fdht, ht or tt, or set quantization.enabled: false")
        rnn = keras.layers.LSTM(
            units, name="lstm", unit_forget_bias=bool(cfg["unit_forget_bias"]),
            kernel_initializer=keras.initializers.GlorotUniform(seed=cfg["seed"]),
            recurrent_initializer=keras.initializers.Orthogonal(seed=cfg["seed"]),
        )
    x = rnn(x)
    x = keras.layers.Dense(n_classes, name="classifier",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=cfg["seed"]))(x)
    out = keras.layers.Activation("softmax", name="softmax")(x)
    return keras.Model(inp, out, name=name or f"{kind}_lstm")


def budget_shape(cfg: Dict, n_features: int, units: int) -> Dict:
    """Modes and ranks of an FDHT-LSTM chosen for ``model.param_budget`` /
    ``model.mac_budget`` (keras_model.ht.budget; given modes are kept)."""
    from .ht.budget import choose

    kind = cfg.get("kind", "fdht")
    if kind != "fdht":
        raise ConfigError(f"model.param_budget/mac_budget apply to kind fdht only, not '{kind}'")
    best, _ = choose(n_features + units, units, param_budget=cfg.get("param_budget"),
                     mac_budget=cfg.get("mac_budget"), d=int(cfg["d"]),
                     input_modes=cfg.get("input_modes"), output_modes=cfg.get("output_modes"))
    s = best.shape
    return {"input_modes": list(s.input_modes), "output_modes": list(s.output_modes), "ranks": dict(s.ranks)}


def activation_name(layer) -> str:
    """The name of a layer's activation ('softmax', 'linear', ...; '' for none)."""
    act = getattr(layer, "activation", None)
    if act is None:
        return ""
    return str(getattr(act, "__name__", act))


def is_softmax_activation(layer) -> bool:
    """An ``Activation`` / ``QActivation`` layer computing the softmax."""
    return type(layer).__name__ in ("Activation", "QActivation") and "softmax" in activation_name(layer)


def recurrent_layer(model: keras.Model):
    for layer in model.layers:
        if isinstance(layer, keras.layers.RNN):
            return layer
    raise ConfigError(f"model '{model.name}' has no recurrent layer")


def kind_of(layer) -> str:
    for kind, cls in (("fdht", FDHTLSTM), ("ht", HTLSTM), ("tt", TTLSTM)):
        if isinstance(layer, cls):
            return kind
    return "dense"


def rnn_costs(model: keras.Model) -> Dict:
    """Parameters and MACs per time step of the recurrent layer (the gate
    pre-activations; element-wise gate work is not counted), plus the
    whole model's parameter count and the dense LSTM figures at the same
    shape for comparison."""
    layer = recurrent_layer(model)
    cell = layer.cell
    kind = kind_of(layer)
    n_in = int(cell.input_dim) if hasattr(cell, "input_dim") else int(layer.input_shape[-1])
    h = int(cell.units)
    dense_params = (n_in + h) * 4 * h + 4 * h
    dense_macs = (n_in + h) * 4 * h
    if kind == "fdht":
        macs = cell.ht_shape.plan.macs
    elif kind == "ht":
        macs = cell.ht_shape.plan.macs + h * 4 * h
    elif kind == "tt":
        macs = tt_macs(cell.tt_input_modes, cell.tt_output_modes, cell.tt_rank_list) + h * 4 * h
    else:
        macs = dense_macs
    out = {
        "kind": kind,
        "units": h,
        "features_per_step": n_in,
        "rnn_params": int(layer.count_params()),
        "model_params": int(model.count_params()),
        "macs_per_step": int(macs),
        "dense_lstm_params": int(dense_params),
        "dense_lstm_macs_per_step": int(dense_macs),
    }
    if kind in ("fdht", "ht"):
        s = cell.ht_shape
        out["ht"] = {**s.to_dict(), "core_params": s.core_params, "plan_method": s.plan.method}
    if kind == "tt":
        out["tt"] = {"input_modes": list(cell.tt_input_modes), "output_modes": list(cell.tt_output_modes),
                     "ranks": list(cell.tt_rank_list),
                     "core_params": int(sum(np.prod(s) for s in tt_core_shapes(
                         cell.tt_input_modes, cell.tt_output_modes, cell.tt_rank_list)))}
    return out


def load_keras_model(path) -> keras.Model:
    """Load a saved model (.h5 or .keras) that may contain our layers."""
    from .common.errors import DataError
    import os

    if not os.path.exists(path):
        raise DataError(f"model file {path} does not exist; train one with fdht train or pass --model")
    try:
        from qkeras.utils import _add_supported_quantized_objects
        objs = dict(CUSTOM_OBJECTS)
        _add_supported_quantized_objects(objs)
        return keras.models.load_model(path, custom_objects=objs, compile=False)
    except (OSError, ValueError, TypeError, KeyError) as e:
        old = _saved_keras_version(path)
        if old and old != keras.__version__:
            raise DataError(
                f"cannot load {path}: it was saved as .keras by Keras {old}, whose .keras layout this Keras "
                f"({keras.__version__}) does not read; .h5 files of that version do load. Convert it once with the "
                f"version that wrote it: keras.models.load_model('{path}', custom_objects=...).save('model.h5'), "
                f"or retrain (fdht train)") from None
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"cannot load model {path}: {msg}") from None


def _saved_keras_version(path) -> Optional[str]:
    """The Keras version recorded in a .keras file (its metadata.json), if any."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("metadata.json")).get("keras_version")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
