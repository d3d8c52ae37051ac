"""Keras-2 handlers of our layers for hls4ml's converter: a Keras layer's
config and weights -> the handler dict hls4ml builds an IR layer from
(modes, ranks, one ``core_<node>_data`` per HT core, bias, quantizers).
hls4ml is imported inside the handlers only: they run during a conversion."""

from __future__ import annotations

import numpy as np

from keras_model import ht
from keras_model.common.errors import ConfigError
from keras_model.layers import CORE_PREFIX

_ACTIVATIONS = {"tanh": "tanh", "sigmoid": "sigmoid", "quantized_tanh": "tanh", "quantized_sigmoid": "sigmoid"}


def _activation_name(act, what: str) -> str:
    """hls4ml table name of a Keras or QKeras activation config."""
    if isinstance(act, dict):
        name, cfg = act.get("class_name"), act.get("config", {})
        if name == "quantized_tanh" and not cfg.get("use_real_tanh", False):
            raise ConfigError(f"{what}: hard quantized_tanh is not supported by hls4ml; use quantized_tanh(..., use_real_tanh=True)")
        if name == "quantized_sigmoid" and not cfg.get("use_real_sigmoid", False):
            raise ConfigError(f"{what}: hard quantized_sigmoid is not supported by hls4ml; use use_real_sigmoid=True")
    else:
        name = act
    if name not in _ACTIVATIONS:
        raise ConfigError(f"{what}: activation {name!r} is not supported by the FDHT kernel; use tanh or sigmoid")
    return _ACTIVATIONS[name]


def _activation_grid(act):
    """(bits, symmetric) of a QKeras quantized_tanh / quantized_sigmoid config:
    its outputs lie on the grid 2^-(bits-1) (tanh) / 2^-bits (sigmoid); (0,
    False) for a float activation."""
    if isinstance(act, dict) and act.get("class_name") in ("quantized_tanh", "quantized_sigmoid"):
        cfg = act.get("config", {})
        return int(cfg.get("bits", 8)), bool(cfg.get("symmetric", False))
    return 0, False


def _quantizer(cfg, key):
    q = cfg.get(key)
    if not q:
        return None
    from hls4ml.model.quantizers import QKerasQuantizer

    return QKerasQuantizer(q)


def _ht_shape_from_config(cfg, in_features, out_features) -> ht.HTShape:
    from keras_model.layers import resolve_modes

    return resolve_modes(cfg.get("input_modes"), cfg.get("output_modes"), cfg.get("ranks"), in_features,
                         out_features, int(cfg.get("d", 4)))


def _read_cores(layer, shape, data_reader):
    from hls4ml.converters.keras_v2_to_hls import get_weights_data

    for node in shape.nodes:
        # the ':' ends the name, so core_u1 never matches core_u12
        data = get_weights_data(data_reader, layer["name"], CORE_PREFIX + node.name + ":")
        if data is None:
            raise ConfigError(f"layer {layer['name']}: weight {CORE_PREFIX + node.name} not found in the model")
        if tuple(data.shape) != shape.core_shape(node):
            raise ConfigError(f"layer {layer['name']}: core {node.name} has shape {data.shape}, "
                              f"the HT shape expects {shape.core_shape(node)}")
        layer[f"core_{node.name}_data"] = np.asarray(data)


def _common(keras_layer, input_names, shape, data_reader, kind):
    cfg = keras_layer["config"]
    layer = {"name": cfg["name"]}
    if input_names is not None:  # a Sequential model gives none: hls4ml chains the layers itself
        layer["inputs"] = input_names
    layer.update({
        "class_name": kind,
        "input_modes": list(shape.input_modes),
        "output_modes": list(shape.output_modes),
        "ranks": dict(shape.ranks),
        "ht_in_features": shape.in_features,
        "core_names": list(shape.core_names),
        "weight_quantizer": _quantizer(cfg, "kernel_quantizer"),
        "bias_quantizer": _quantizer(cfg, "bias_quantizer"),
    })
    _read_cores(layer, shape, data_reader)
    return layer


def parse_fdhtlstm(keras_layer, input_names, input_shapes, data_reader):
    from hls4ml.converters.keras_v2_to_hls import get_weights_data

    cfg = keras_layer["config"]
    if cfg.get("return_state") or cfg.get("go_backwards") or cfg.get("stateful"):
        raise ConfigError(f"layer {cfg['name']}: return_state, go_backwards and stateful are not supported")
    n_timesteps, n_in = int(input_shapes[0][1]), int(input_shapes[0][2])
    units = int(cfg["units"])
    shape = _ht_shape_from_config(cfg, n_in + units, 4 * units)
    layer = _common(keras_layer, input_names, shape, data_reader, "FDHTLSTM")
    layer.update(
        n_timesteps=n_timesteps, n_in=n_in, n_out=units,
        return_sequences=bool(cfg.get("return_sequences", False)),
        cell_activation=_activation_name(cfg.get("activation", "tanh"), f"layer {cfg['name']} activation"),
        cell_recurrent_activation=_activation_name(cfg.get("recurrent_activation", "sigmoid"),
                                                   f"layer {cfg['name']} recurrent_activation"),
    )
    layer["act_bits"], layer["act_symmetric"] = _activation_grid(cfg.get("activation"))
    layer["recr_act_bits"], layer["recr_act_symmetric"] = _activation_grid(cfg.get("recurrent_activation"))
    bias = get_weights_data(data_reader, layer["name"], "bias:") if cfg.get("use_bias", True) else None
    layer["bias_data"] = np.zeros(4 * units) if bias is None else np.asarray(bias)
    if layer["return_sequences"]:
        out_shape = [input_shapes[0][0], n_timesteps, units]
    else:
        out_shape = [input_shapes[0][0], units]
    return layer, out_shape


def parse_htdense(keras_layer, input_names, input_shapes, data_reader):
    from hls4ml.converters.keras_v2_to_hls import get_weights_data

    cfg = keras_layer["config"]
    if len(input_shapes[0]) != 2:
        raise ConfigError(f"layer {cfg['name']}: HTDense in hls4ml takes a flat input, got shape {input_shapes[0][1:]}")
    if cfg.get("activation") not in (None, "linear"):
        raise ConfigError(f"layer {cfg['name']}: put the activation of HTDense in its own Activation layer")
    n_in = int(input_shapes[0][1])
    units = int(cfg["units"])
    shape = _ht_shape_from_config(cfg, n_in, units)
    layer = _common(keras_layer, input_names, shape, data_reader, "HTDense")
    layer.update(n_in=n_in, n_out=units, use_bias=bool(cfg.get("use_bias", True)))
    bias = get_weights_data(data_reader, layer["name"], "bias:") if layer["use_bias"] else None
    layer["bias_data"] = np.zeros(units) if bias is None else np.asarray(bias)
    return layer, [input_shapes[0][0], units]
