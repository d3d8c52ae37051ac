"""The compressed-LSTM baselines FDHT is compared with.

* ``HTLSTM`` ("ht", the predecessor HT-LSTM): HT on the input-to-hidden
  matrix ``W_x`` only, dense recurrent kernel ``W_h``.
* ``TTLSTM`` ("tt", TT-LSTM of Yang et al., ICML 2017): ``W_x`` in
  tensor-train format with the four gates folded into the output modes,
  dense ``W_h``.

The dense LSTM baseline is Keras's own ``keras.layers.LSTM``.
"""

from __future__ import annotations

import numpy as np
from keras_model.common.keras2 import keras, tf

from .ht.tt import tt_core_shapes, tt_ranks
from .layers import CellRNN, FDHTLSTMCell, HTProduct, check_in_features, resolve_modes


class _DenseRecurrentMixin:
    """Shared by the two baselines: dense ``W_h`` (orthogonal init) + bias."""

    def _build_recurrent(self):
        h = self.units
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(h, 4 * h), initializer=keras.initializers.Orthogonal(seed=self.seed)
        )
        if self.use_bias:
            init = keras.initializers.Constant(
                np.concatenate([np.zeros(h), np.ones(h) if self.unit_forget_bias else np.zeros(h), np.zeros(2 * h)])
            )
            self.bias = self.add_weight(name="bias", shape=(4 * h,), initializer=init)
        else:
            self.bias = None

    def _gates(self, zx, states):
        h_prev, c_prev = states[0], states[1]
        wh = self.kernel_quantizer(self.recurrent_kernel) if self.kernel_quantizer else self.recurrent_kernel
        z = zx + tf.matmul(h_prev, wh)
        if self.bias is not None:
            z = z + (self.bias_quantizer(self.bias) if self.bias_quantizer else self.bias)
        zi, zf, zg, zo = tf.split(z, 4, axis=-1)
        i, f, o = (self.recurrent_activation(v) for v in (zi, zf, zo))
        c = f * c_prev + i * self.activation(zg)
        h = o * self.activation(c)
        return h, [h, c]


@keras.utils.register_keras_serializable(package="fdht")
class HTLSTMCell(_DenseRecurrentMixin, FDHTLSTMCell):
    """HT on ``W_x: (4H, N)`` only; ``W_h`` dense."""

    def build(self, input_shape):
        n = check_in_features(self.name, input_shape)
        self.input_dim = n
        self.ht_shape = resolve_modes(self.input_modes, self.output_modes, self.ranks, n, 4 * self.units, self.d)
        self.product = HTProduct(self, self.ht_shape, self.kernel_quantizer, self.seed)
        self._build_recurrent()
        self.built = True

    def call(self, inputs, states, training=None):
        return self._gates(self.product(inputs), states)


@keras.utils.register_keras_serializable(package="fdht")
class HTLSTM(CellRNN):
    cell_class = HTLSTMCell


# --------------------------------------------------------------------------
# Tensor train
# --------------------------------------------------------------------------


@keras.utils.register_keras_serializable(package="fdht")
class TTLSTMCell(_DenseRecurrentMixin, FDHTLSTMCell):
    """TT on ``W_x`` (input modes -> 4H with the gates folded into the
    output modes, C order), dense ``W_h``. ``ranks`` are the TT ranks."""

    def build(self, input_shape):
        n = check_in_features(self.name, input_shape)
        self.input_dim = n
        hs = resolve_modes(self.input_modes, self.output_modes, 1, n, 4 * self.units, self.d)
        self.tt_input_modes, self.tt_output_modes = hs.input_modes, hs.output_modes
        self.in_features, self.padded_in = n, hs.padded_in
        self.tt_rank_list = tt_ranks(len(hs.input_modes), self.ranks)
        shapes = tt_core_shapes(self.tt_input_modes, self.tt_output_modes, self.tt_rank_list)
        # Glorot variance for the product: Var(W) = prod(std_k^2) * prod(inner ranks)
        target = 2.0 / (n + 4 * self.units)
        std = (target / float(np.prod(self.tt_rank_list))) ** (0.5 / len(shapes))
        self.tt_cores = [
            self.add_weight(name=f"tt_core{k + 1}_", shape=s,
                            initializer=keras.initializers.RandomNormal(
                                stddev=std, seed=None if self.seed is None else self.seed + k))
            for k, s in enumerate(shapes)
        ]
        self._build_recurrent()
        self.built = True

    def tt_product(self, v):
        pad = self.padded_in - self.in_features
        if pad:
            v = tf.pad(v, [[0, 0], [0, pad]])
        modes_in, modes_out = self.tt_input_modes, self.tt_output_modes
        # s: (B, a_k, rest_in, done_out, r_{k-1})
        s = tf.reshape(v, (-1, modes_in[0], int(np.prod(modes_in[1:])), 1, 1))
        for k, core in enumerate(self.tt_cores):
            core = self.kernel_quantizer(core) if self.kernel_quantizer else core
            s = tf.einsum("bxRPs,sxpr->bRPpr", s, core)
            rest = int(np.prod(modes_in[k + 1:]))
            nxt = modes_in[k + 1] if k + 1 < len(modes_in) else 1
            done = int(np.prod(modes_out[: k + 1]))
            s = tf.reshape(s, (-1, nxt, rest // nxt, done, self.tt_rank_list[k + 1]))
        return tf.reshape(s, (-1, 4 * self.units))

    def call(self, inputs, states, training=None):
        return self._gates(self.tt_product(inputs), states)


@keras.utils.register_keras_serializable(package="fdht")
class TTLSTM(CellRNN):
    cell_class = TTLSTMCell


CUSTOM_OBJECTS = {"HTLSTMCell": HTLSTMCell, "HTLSTM": HTLSTM, "TTLSTMCell": TTLSTMCell, "TTLSTM": TTLSTM}
