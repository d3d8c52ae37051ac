"""The tensor-train (TT) format, for the TT-LSTM baseline (``kind: tt``, Yang
et al., ICML 2017): ranks, core shapes, MACs of the left-to-right
contraction, and the dense reconstruction (compression starts from it).

Cores ``(r_{k-1}, a_k, p_k, r_k)`` with ``r_0 = r_d = 1``; C index order
(``a_1``, ``p_1`` most significant), as the layer
(:class:`keras_model.baselines.TTLSTMCell`) uses them.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ..common.errors import ShapeError


def tt_ranks(d: int, rank) -> Tuple[int, ...]:
    """(1, r_1, ..., r_{d-1}, 1) from one int or the d-1 inner ranks."""
    if isinstance(rank, (list, tuple)):
        inner = list(rank)
        if len(inner) == d + 1 and inner[0] == inner[-1] == 1:
            inner = inner[1:-1]
        if len(inner) != d - 1:
            raise ShapeError(f"TT ranks need d-1 = {d - 1} inner values (or d+1 with 1 at both ends), got {list(rank)}")
    else:
        inner = [rank] * (d - 1)
    if any(int(r) < 1 for r in inner):
        raise ShapeError(f"TT ranks must be >= 1, got {inner}")
    return (1,) + tuple(int(r) for r in inner) + (1,)


def tt_core_shapes(input_modes, output_modes, ranks) -> list:
    return [(ranks[k], input_modes[k], output_modes[k], ranks[k + 1]) for k in range(len(input_modes))]


def tt_macs(input_modes, output_modes, ranks) -> int:
    """MACs of the left-to-right TT contraction for one input vector: step k
    touches (a_k..a_d remaining) x (p_1..p_k) x r_{k-1} x r_k."""
    total = 0
    d = len(input_modes)
    for k in range(d):
        rest_in = int(np.prod(input_modes[k:]))
        done_out = int(np.prod(output_modes[: k + 1]))
        total += rest_in * done_out * ranks[k] * ranks[k + 1]
    return total


def tt_reconstruct(cores, in_features: int) -> np.ndarray:
    """Dense ``W_x: (prod(output_modes), in_features)`` of a TT-LSTM's cores
    ``(r_{k-1}, a_k, p_k, r_k)``, in the C index order its layer uses
    (``a_1``, ``p_1`` most significant)."""
    t = np.ones((1, 1, 1))  # (A so far, P so far, r)
    for core in cores:
        core = np.asarray(core, dtype=np.float64)
        t = np.einsum("APs,sapr->AaPpr", t, core)
        a, aa, p, pp, r = t.shape
        t = t.reshape(a * aa, p * pp, r)
    return t[..., 0].T[:, :in_features]
