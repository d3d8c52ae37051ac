"""The FDHT "mega" matrix ``W_mega: (4H, N + H)`` of an LSTM, numpy only.

FDHT-LSTM computes all four gate pre-activations of a step with ONE matrix::

    z_t = W_mega [x_t ; h_{t-1} ; 0-pad] + b

with the rows in Keras gate order i, f, c, o (``z`` is split into four
blocks of H). A Keras ``LSTM`` (and QKeras ``QLSTM``) computes the same
``z`` as ``x @ kernel + h @ recurrent_kernel + bias`` with ``kernel: (N, 4H)``
and ``recurrent_kernel: (H, 4H)``, columns in the same gate order, so::

    W_mega = concatenate([kernel, recurrent_kernel], axis=0).T

(the zero padding of ``[x ; h]`` up to ``prod(input_modes)`` is added by the
HT shape, see ``ht.pad_input`` / ``ht.ht_svd``). Reading it out of a trained
Keras model of any kind is :func:`keras_model.recurrent.lstm_weights`.
"""

from __future__ import annotations

import numpy as np

from ..common.errors import FlowError
from .shape import HTShape


def assemble(kernel: np.ndarray, recurrent_kernel: np.ndarray) -> np.ndarray:
    """``W_mega: (4H, N + H)`` from a Keras ``kernel (N, 4H)`` and ``recurrent_kernel (H, 4H)``."""
    kernel = np.asarray(kernel, dtype=np.float64)
    recurrent_kernel = np.asarray(recurrent_kernel, dtype=np.float64)
    if kernel.ndim != 2 or recurrent_kernel.ndim != 2 or kernel.shape[1] != recurrent_kernel.shape[1] \
            or recurrent_kernel.shape[1] != 4 * recurrent_kernel.shape[0]:
        raise FlowError(f"LSTM kernels of shapes {kernel.shape} and {recurrent_kernel.shape} are not "
                        "(N, 4H) and (H, 4H); the layer is not a standard LSTM")
    return np.concatenate([kernel, recurrent_kernel], axis=0).T


def relative_error(w: np.ndarray, w_hat: np.ndarray) -> float:
    """``||w - w_hat||_F / ||w||_F`` (0 for an all-zero ``w`` reproduced exactly)."""
    norm = float(np.linalg.norm(w))
    diff = float(np.linalg.norm(np.asarray(w) - np.asarray(w_hat)))
    return diff / norm if norm > 0 else diff


def balance_cores(cores, shape: HTShape) -> dict:
    """The same HT matrix with every core scaled to the same largest |entry|.

    HT-SVD leaves orthonormal leaf/internal cores and puts the whole norm of
    ``W`` into the root; W is linear in each core, so scaling core k by s_k
    with prod s_k = 1 changes nothing but keeps all cores in one range (what
    fixed-point cores and Adam's step size both want)."""
    peaks = {k: float(np.max(np.abs(v))) for k, v in cores.items()}
    if any(p == 0 for p in peaks.values()):
        return {k: np.array(v) for k, v in cores.items()}
    g = float(np.exp(np.mean([np.log(p) for p in peaks.values()])))
    return {k: np.asarray(v) * (g / peaks[k]) for k, v in cores.items()}
