"""Numerics on an HT matrix (numpy, float64): the planned forward product,
the dense reconstruction (tests and compression only) and the initialisation
that gives the reconstructed W the Glorot variance."""

from __future__ import annotations

import math
from typing import Dict, Optional

import numpy as np

from ..common.errors import ShapeError
from .shape import HTShape


def pad_input(x: np.ndarray, shape: HTShape) -> np.ndarray:
    """Zero-pad the last axis of ``x`` from ``in_features`` to ``prod(input_modes)``."""
    x = np.asarray(x)
    if x.shape[-1] != shape.in_features:
        raise ShapeError(f"input has {x.shape[-1]} features, the HT matrix expects {shape.in_features}")
    pad = shape.padded_in - shape.in_features
    if pad:
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (pad,), x.dtype)], axis=-1)
    return x


def forward(x: np.ndarray, cores: Dict[str, np.ndarray], shape: HTShape) -> np.ndarray:
    """``y = W x`` for a batch ``x: (B, in_features)`` -> ``(B, out_features)``,
    run as the planned pairwise contractions (never building ``W``)."""
    x = pad_input(np.asarray(x), shape)
    batch = x.shape[0]
    vals = {"x": x.reshape((batch,) + shape.input_modes)}
    root = shape.root.name
    for name, arr in cores.items():
        vals[name] = arr[..., 0] if name == root else arr
    for a, b, out, spec in shape.plan.einsum_steps(batch=True):
        vals[out] = np.einsum(spec, vals[a], vals[b])
    return vals[shape.plan.steps[-1].out].reshape(batch, shape.out_features)


def reconstruct(cores: Dict[str, np.ndarray], shape: HTShape) -> np.ndarray:
    """The dense ``W: (out_features, in_features)`` (tests and HT-SVD only)."""
    vals: Dict[str, np.ndarray] = {}
    for node in shape.nodes:  # post-order: children first
        core = np.asarray(cores[node.name])
        if node.is_leaf:
            vals[node.name] = core  # (a, p, r)
            continue
        left, right = (vals[shape.nodes[c].name] for c in node.children)
        # left: (A_l, P_l, r_l), right: (A_r, P_r, r_r) -> (A_l A_r, P_l P_r, r_t)
        t = np.einsum("xpi,yqj,ijt->xypqt", left, right, core)
        al, pl, _ = left.shape
        ar, pr, _ = right.shape
        vals[node.name] = t.reshape(al * ar, pl * pr, core.shape[-1])
    full = vals[shape.root.name][..., 0]  # (N', M)
    return full.T[:, : shape.in_features]


def init_cores(shape: HTShape, rng: np.random.Generator, target_var: Optional[float] = None) -> Dict[str, np.ndarray]:
    """Cores drawn i.i.d. normal, rescaled so the *reconstructed* W has the
    Glorot variance ``2 / (in_features + out_features)``.

    With unit-variance cores, Var(W) = prod of the non-root ranks (each rank
    sum adds that many independent terms); every core is scaled by the same
    factor so the product of the core variances cancels it.
    """
    std = core_stddev(shape, target_var)
    return {n.name: rng.standard_normal(shape.core_shape(n)) * std for n in shape.nodes}


def core_stddev(shape: HTShape, target_var: Optional[float] = None) -> float:
    """Standard deviation of every core so that W has variance ``target_var``
    (default Glorot, ``2 / (in_features + out_features)``); see init_cores."""
    if target_var is None:
        target_var = 2.0 / (shape.in_features + shape.out_features)
    rank_prod = float(np.prod([shape.rank(n) for n in shape.nodes[:-1]]))
    return math.sqrt((target_var / rank_prod) ** (1.0 / len(shape.nodes)))
