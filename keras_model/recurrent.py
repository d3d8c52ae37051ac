"""The one recurrent layer of a trained Keras model, read as ``W_mega``.

:func:`lstm_weights` returns a :class:`LSTMWeights` (``W_mega: (4H, N + H)``,
bias, activations, settings; see :mod:`keras_model.ht.mega`) for the
recurrent layer of a model, whatever its kind (Keras ``LSTM``, QKeras
``QLSTM``, or an fdht/ht/tt LSTM of this project), or raises a one-line
``FlowError``. For our own kinds the decomposed parts are reconstructed
densely (this is the one place, besides tests, where that is done: it is
what compression starts from).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import ht
from .common.errors import FlowError
from .ht.mega import assemble
from .ht.tt import tt_reconstruct


@dataclass
class LSTMWeights:
    """Everything needed to rebuild an LSTM layer as an FDHT-LSTM."""

    kind: str  # 'keras_lstm', 'qlstm', 'fdht', 'ht', 'tt'
    units: int
    input_dim: int
    w_mega: np.ndarray  # (4H, N + H), float64
    bias: np.ndarray  # (4H,)
    activation: Any  # serialisable activation (name or quantizer dict)
    recurrent_activation: Any
    return_sequences: bool
    layer_name: str
    rnn_params: int  # parameters of the source recurrent layer

    @property
    def kernel(self) -> np.ndarray:
        """``(N, 4H)`` in Keras's layout (x @ kernel)."""
        return self.w_mega[:, : self.input_dim].T

    @property
    def recurrent_kernel(self) -> np.ndarray:
        """``(H, 4H)`` in Keras's layout (h @ recurrent_kernel)."""
        return self.w_mega[:, self.input_dim:].T


def _serial_activation(act):
    from .layers import serialize_activation

    return serialize_activation(act)


def _numpy(v) -> np.ndarray:
    return np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float64)


def find_recurrent(model):
    """The model's one recurrent layer, or a FlowError saying what is there instead."""
    from keras_model.common.keras2 import keras

    rnns = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    wrapped = [layer for layer in model.layers if isinstance(layer, keras.layers.Wrapper)
               and isinstance(getattr(layer, "layer", None), keras.layers.RNN)]
    if wrapped and not rnns:
        raise FlowError(f"model '{model.name}' has its LSTM inside a {type(wrapped[0]).__name__} wrapper "
                        f"('{wrapped[0].name}'); compress takes a plain (unidirectional) LSTM layer")
    if not rnns:
        kinds = ", ".join(sorted({type(layer).__name__ for layer in model.layers})) or "none"
        raise FlowError(f"model '{model.name}' has no recurrent layer (its layers: {kinds}); compress needs a "
                        "model with a Keras LSTM, a QKeras QLSTM or an fdht/ht/tt LSTM")
    if len(rnns) > 1:
        raise FlowError(f"model '{model.name}' has {len(rnns)} recurrent layers ({', '.join(r.name for r in rnns)}); "
                        "compress handles models with exactly one")
    return rnns[0]


def lstm_weights(model) -> LSTMWeights:
    """W_mega, bias and settings of the model's recurrent layer (any supported kind)."""
    from keras_model.common.keras2 import keras

    from .baselines import HTLSTM, TTLSTM
    from .layers import FDHTLSTM

    layer = find_recurrent(model)
    cell = layer.cell
    for what in ("activation", "recurrent_activation"):
        act = getattr(cell, what, None)
        if callable(act) and not hasattr(act, "get_config") and "qkeras" in (getattr(act, "__module__", "") or ""):
            raise FlowError(
                f"recurrent layer '{layer.name}' uses QKeras's own {act.__name__} as {what}, which differs from "
                f"Keras's and which the FDHT-LSTM does not implement; retrain it with {what}='sigmoid' or 'tanh' "
                "(or a quantized_sigmoid/quantized_tanh quantizer)")
    for flag in ("go_backwards", "stateful"):
        if getattr(layer, flag, False):
            raise FlowError(f"recurrent layer '{layer.name}' has {flag}=True; compress handles forward, "
                            "stateless LSTMs only")
    if getattr(layer, "return_state", False):
        raise FlowError(f"recurrent layer '{layer.name}' returns its state; compress handles return_state=False only")
    common = dict(activation=_serial_activation(cell.activation),
                  recurrent_activation=_serial_activation(cell.recurrent_activation),
                  return_sequences=bool(layer.return_sequences), layer_name=layer.name,
                  rnn_params=int(layer.count_params()), units=int(cell.units))
    h = int(cell.units)

    def bias_of(b, quantizer=None) -> np.ndarray:
        if b is None:
            return np.zeros(4 * h)
        return _numpy(quantizer(b) if quantizer is not None else b)

    qlstm_cls = None
    try:
        from qkeras import QLSTM as qlstm_cls  # noqa: N811
    except ImportError:  # pragma: no cover - qkeras is pinned
        pass

    if isinstance(layer, FDHTLSTM):
        shape = cell.ht_shape
        cores = {k: _numpy(v) for k, v in cell.product.quantized_cores().items()}
        w = ht.reconstruct(cores, shape)
        return LSTMWeights("fdht", input_dim=int(cell.input_dim), w_mega=w,
                           bias=bias_of(cell.bias, cell.bias_quantizer), **common)
    if isinstance(layer, (HTLSTM, TTLSTM)):
        if isinstance(layer, HTLSTM):
            cores = {k: _numpy(v) for k, v in cell.product.quantized_cores().items()}
            wx = ht.reconstruct(cores, cell.ht_shape)
            kind = "ht"
        else:
            q = cell.kernel_quantizer
            wx = tt_reconstruct([_numpy(q(c) if q else c) for c in cell.tt_cores], int(cell.input_dim))
            kind = "tt"
        wh = _numpy(cell.kernel_quantizer(cell.recurrent_kernel) if cell.kernel_quantizer else cell.recurrent_kernel)
        w = np.concatenate([wx, wh.T], axis=1)
        return LSTMWeights(kind, input_dim=int(cell.input_dim), w_mega=w,
                           bias=bias_of(cell.bias, cell.bias_quantizer), **common)
    if qlstm_cls is not None and isinstance(layer, qlstm_cls):
        kq = cell.kernel_quantizer_internal if cell.kernel_quantizer else None
        rq = cell.recurrent_quantizer_internal if cell.recurrent_quantizer else None
        bq = cell.bias_quantizer_internal if cell.bias_quantizer else None
        kernel = _numpy(kq(cell.kernel) if kq else cell.kernel)
        rec = _numpy(rq(cell.recurrent_kernel) if rq else cell.recurrent_kernel)
        if getattr(cell, "state_quantizer", None):
            raise FlowError(f"QLSTM '{layer.name}' quantizes its state (state_quantizer); the FDHT-LSTM has no state "
                            "quantizer, so its predictions would differ; retrain without state_quantizer")
        return LSTMWeights("qlstm", input_dim=kernel.shape[0], w_mega=assemble(kernel, rec),
                           bias=bias_of(cell.bias if cell.use_bias else None, bq), **common)
    if isinstance(layer, keras.layers.LSTM):
        kernel, rec = _numpy(cell.kernel), _numpy(cell.recurrent_kernel)
        return LSTMWeights("keras_lstm", input_dim=kernel.shape[0], w_mega=assemble(kernel, rec),
                           bias=bias_of(cell.bias if cell.use_bias else None), **common)
    raise FlowError(f"recurrent layer '{layer.name}' is a {type(layer).__name__}; compress takes an LSTM "
                    "(Keras LSTM, QKeras QLSTM, or an fdht/ht/tt LSTM of this project)")
