"""Keras (tf.keras 2.14) layers whose weights live only as HT cores.

* ``HTDense``: ``y = W x + b`` with ``W`` in HT format.
* ``FDHTLSTMCell`` / ``FDHTLSTM``: the fully decomposed LSTM (docs/model.md)
  section 2: ``z_t = W_mega [x_t ; h_{t-1} ; 0-pad] + b`` through ONE HT
  matrix, gates in Keras order i, f, c, o.

Both take QKeras quantizer objects (``kernel_quantizer`` for every core,
``bias_quantizer`` for the bias), like ``QDense``; with none they are plain
float layers. The forward pass is the planned chain of pairwise contractions
from ``keras_model.ht`` (the same plan the HLS kernel runs); ``W`` is never
built.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from keras_model.common.keras2 import keras, tf

from . import ht
from .common.errors import ShapeError

CORE_PREFIX = "core_"  # Keras weight names: core_u1, core_b1_2, ..., bias


# --------------------------------------------------------------------------
# Quantizers and activations: QKeras objects, strings or dicts
# --------------------------------------------------------------------------


def get_quantizer(q):
    """A QKeras quantizer from an object, a ``{'class_name', 'config'}`` dict
    or a string like ``"quantized_bits(8,0,alpha=1)"``; None stays None."""
    if q is None:
        return None
    from qkeras import get_quantizer as qk_get

    return qk_get(q)


def serialize_quantizer(q):
    if q is None:
        return None
    return {"class_name": q.__class__.__name__, "config": q.get_config()}


def get_activation(act):
    """A Keras activation name, or a QKeras quantized activation
    (``quantized_sigmoid``/``quantized_tanh`` with ``use_real_*``)."""
    if isinstance(act, dict) or (isinstance(act, str) and act.startswith("quantized")) or hasattr(act, "get_config"):
        return get_quantizer(act)
    return keras.activations.get(act)


def serialize_activation(act):
    if hasattr(act, "get_config") and not isinstance(act, str):
        return serialize_quantizer(act)
    return keras.activations.serialize(act)


# --------------------------------------------------------------------------
# The shared HT product
# --------------------------------------------------------------------------


class HTProduct:
    """Owns the cores of one HT matrix on a Keras layer and runs ``W v``."""

    def __init__(self, layer: keras.layers.Layer, shape: ht.HTShape, quantizer=None, seed: Optional[int] = None):
        self.shape = shape
        self.quantizer = quantizer
        std = ht.core_stddev(shape)
        self.cores = {}
        for k, node in enumerate(shape.nodes):
            init = keras.initializers.RandomNormal(stddev=std, seed=None if seed is None else seed + k)
            self.cores[node.name] = layer.add_weight(
                name=CORE_PREFIX + node.name, shape=shape.core_shape(node), initializer=init, trainable=True
            )
        self.steps = shape.plan.einsum_steps(batch=True)

    def quantized_cores(self):
        if self.quantizer is None:
            return dict(self.cores)
        return {k: self.quantizer(v) for k, v in self.cores.items()}

    def __call__(self, v, cores=None):
        """``v: (B, in_features)`` -> ``(B, out_features)``."""
        cores = cores if cores is not None else self.quantized_cores()
        shape = self.shape
        pad = shape.padded_in - shape.in_features
        if pad:
            v = tf.pad(v, [[0, 0], [0, pad]])
        vals = {"x": tf.reshape(v, (-1,) + shape.input_modes)}
        root = shape.root.name
        for name, c in cores.items():
            vals[name] = c[..., 0] if name == root else c
        for a, b, out, spec in self.steps:
            vals[out] = tf.einsum(spec, vals[a], vals[b])
        return tf.reshape(vals[self.steps[-1][2]], (-1, shape.out_features))


def _plain(value):
    """Ranks as plain JSON types (Keras wraps dicts/lists set on a layer)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): int(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or hasattr(value, "__len__"):
        return [int(v) for v in value]
    return value


def check_in_features(layer_name, input_shape):
    """The feature count of a layer's input (its last axis), which must be known."""
    n = input_shape[-1]
    if n is None:
        raise ShapeError(f"{layer_name} needs a known feature size, got input shape {tuple(input_shape)}")
    return int(n)


def resolve_modes(input_modes, output_modes, ranks, in_features, out_features, d):
    """Validated HT shape; modes left as None are derived (ht.factorize)."""
    if input_modes is None:
        input_modes = ht.factorize(in_features, d if output_modes is None else len(output_modes))
    if output_modes is None:
        output_modes = ht.factorize_exact(out_features, len(input_modes))
    return ht.make_shape(input_modes, output_modes, ranks, in_features=in_features, out_features=out_features)


# --------------------------------------------------------------------------
# HTDense
# --------------------------------------------------------------------------


@keras.utils.register_keras_serializable(package="fdht")
class HTDense(keras.layers.Layer):
    """``y = W x + b``, ``W: (prod(output_modes), in_features)`` in HT format.

    Input ``(..., in_features)`` with ``in_features <= prod(input_modes)``
    (zero-padded); output ``(..., prod(output_modes))``.
    """

    def __init__(
        self,
        input_modes=None,
        output_modes=None,
        ranks=4,
        units: Optional[int] = None,
        d: int = 4,
        use_bias: bool = True,
        activation=None,
        kernel_quantizer=None,
        bias_quantizer=None,
        seed: Optional[int] = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if output_modes is None and units is None:
            raise ShapeError("HTDense needs output_modes or units")
        if output_modes is not None and units is not None and int(np.prod(output_modes)) != units:
            raise ShapeError(f"HTDense output_modes {list(output_modes)} multiply to {int(np.prod(output_modes))}, not units={units}")
        self.input_modes = None if input_modes is None else tuple(int(v) for v in input_modes)
        self.output_modes = None if output_modes is None else tuple(int(v) for v in output_modes)
        self.units = int(units) if units is not None else int(np.prod(self.output_modes))
        self.ranks = ranks
        self.d = int(d)
        self.use_bias = bool(use_bias)
        self.activation = get_activation(activation)
        self.kernel_quantizer = get_quantizer(kernel_quantizer)
        self.bias_quantizer = get_quantizer(bias_quantizer)
        self.seed = seed

    def build(self, input_shape):
        n = check_in_features(self.name, input_shape)
        self.ht_shape = resolve_modes(self.input_modes, self.output_modes, self.ranks, n, self.units, self.d)
        self.product = HTProduct(self, self.ht_shape, self.kernel_quantizer, self.seed)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros") if self.use_bias else None
        super().build(input_shape)

    def call(self, inputs):
        lead = tf.shape(inputs)[:-1]
        v = tf.reshape(inputs, (-1, self.ht_shape.in_features))
        y = self.product(v)
        if self.use_bias:
            y = y + (self.bias_quantizer(self.bias) if self.bias_quantizer else self.bias)
        y = tf.reshape(y, tf.concat([lead, [self.units]], 0))
        return self.activation(y) if self.activation is not None else y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            input_modes=None if self.input_modes is None else list(self.input_modes),
            output_modes=None if self.output_modes is None else list(self.output_modes),
            ranks=_plain(self.ranks),
            units=self.units,
            d=self.d,
            use_bias=self.use_bias,
            activation=None if self.activation is None else serialize_activation(self.activation),
            kernel_quantizer=serialize_quantizer(self.kernel_quantizer),
            bias_quantizer=serialize_quantizer(self.bias_quantizer),
            seed=self.seed,
        )
        return cfg


# --------------------------------------------------------------------------
# FDHT-LSTM
# --------------------------------------------------------------------------


@keras.utils.register_keras_serializable(package="fdht")
class FDHTLSTMCell(keras.layers.Layer):
    """One LSTM step with ``[x ; h]`` -> ``4H`` through ONE HT matrix.

    ``z = W_mega [x_t ; h_{t-1} ; 0-pad] + b``; ``i, f, g, o = split(z, 4)``;
    ``c = rec(f) c + rec(i) act(g)``; ``h = rec(o) act(c)``.
    """

    def __init__(
        self,
        units: int,
        input_modes=None,
        output_modes=None,
        ranks=5,
        d: int = 4,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias: bool = True,
        unit_forget_bias: bool = True,
        kernel_quantizer=None,
        bias_quantizer=None,
        seed: Optional[int] = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ShapeError(f"units must be >= 1, got {units}")
        self.units = int(units)
        self.input_modes = None if input_modes is None else tuple(int(v) for v in input_modes)
        self.output_modes = None if output_modes is None else tuple(int(v) for v in output_modes)
        self.ranks = ranks
        self.d = int(d)
        self.activation = get_activation(activation)
        self.recurrent_activation = get_activation(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_quantizer = get_quantizer(kernel_quantizer)
        self.bias_quantizer = get_quantizer(bias_quantizer)
        self.seed = seed
        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def build(self, input_shape):
        n = check_in_features(self.name, input_shape)
        self.input_dim = n
        self.ht_shape = resolve_modes(
            self.input_modes, self.output_modes, self.ranks, n + self.units, 4 * self.units, self.d
        )
        self.product = HTProduct(self, self.ht_shape, self.kernel_quantizer, self.seed)
        if self.use_bias:
            h = self.units
            if self.unit_forget_bias:
                init = keras.initializers.Constant(np.concatenate([np.zeros(h), np.ones(h), np.zeros(2 * h)]))
            else:
                init = "zeros"
            self.bias = self.add_weight(name="bias", shape=(4 * h,), initializer=init)
        else:
            self.bias = None
        self.built = True

    def call(self, inputs, states, training=None):
        h_prev, c_prev = states[0], states[1]
        z = self.product(tf.concat([inputs, h_prev], axis=-1))
        if self.use_bias:
            z = z + (self.bias_quantizer(self.bias) if self.bias_quantizer else self.bias)
        zi, zf, zg, zo = tf.split(z, 4, axis=-1)
        i = self.recurrent_activation(zi)
        f = self.recurrent_activation(zf)
        o = self.recurrent_activation(zo)
        c = f * c_prev + i * self.activation(zg)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            units=self.units,
            input_modes=None if self.input_modes is None else list(self.input_modes),
            output_modes=None if self.output_modes is None else list(self.output_modes),
            ranks=_plain(self.ranks),
            d=self.d,
            activation=serialize_activation(self.activation),
            recurrent_activation=serialize_activation(self.recurrent_activation),
            use_bias=self.use_bias,
            unit_forget_bias=self.unit_forget_bias,
            kernel_quantizer=serialize_quantizer(self.kernel_quantizer),
            bias_quantizer=serialize_quantizer(self.bias_quantizer),
            seed=self.seed,
        )
        return cfg


_CELL_ARGS = (
    "units input_modes output_modes ranks d activation recurrent_activation use_bias "
    "unit_forget_bias kernel_quantizer bias_quantizer seed"
).split()


class CellRNN(keras.layers.RNN):
    """An RNN whose cell is rebuilt from the layer's own arguments, so
    get_config/from_config and model.save round-trip (the base RNN config
    does not record the cell's arguments)."""

    cell_class = None

    def __init__(self, units, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, **kwargs):
        cell_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _CELL_ARGS}
        cell = self.cell_class(units, name=f"{self.cell_class.__name__.lower()}", dtype=kwargs.get("dtype"),
                               trainable=kwargs.get("trainable", True), **cell_kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)

    @property
    def units(self):
        return self.cell.units

    @property
    def ht_shape(self):
        return self.cell.ht_shape

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("cell", None)
        cell_cfg = self.cell.get_config()
        cfg.update({k: cell_cfg[k] for k in _CELL_ARGS if k in cell_cfg})
        return cfg

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("cell", None)
        return cls(**config)

    def build_from_config(self, config):
        # Reloading a .keras file of an RNN subclass needs an explicit build.
        shape = config.get("input_shape")
        if shape is not None:
            self.build(tf.TensorShape(shape))


@keras.utils.register_keras_serializable(package="fdht")
class FDHTLSTM(CellRNN):
    """The FDHT-LSTM layer: ``keras.layers.RNN(FDHTLSTMCell(...))``.

    Input ``(batch, T, F)``; output ``(batch, units)`` or, with
    ``return_sequences``, ``(batch, T, units)``.
    """

    cell_class = FDHTLSTMCell


CUSTOM_OBJECTS = {"HTDense": HTDense, "FDHTLSTMCell": FDHTLSTMCell, "FDHTLSTM": FDHTLSTM}
