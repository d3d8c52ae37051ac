"""HT-SVD: a dense matrix into HT cores at given ranks by hierarchical
truncated SVD (what compressing a trained LSTM starts from)."""

from __future__ import annotations

from typing import Dict

import numpy as np

from ..common.errors import ShapeError
from .shape import HTShape
from .tree import Node


# Above this many entries a matricisation's leading left singular vectors come
# from the eigenvectors of its smaller Gram matrix (a BLAS product and a
# symmetric eigensolver, many times faster than a full SVD of a tall/wide
# matrix; accurate for the singular values that matter, those well above
# sqrt(machine epsilon) x the largest). Small matrices keep the exact SVD.
GRAM_SVD_MIN_ENTRIES = 2_000_000


def _leading_left_singular_vectors(mat: np.ndarray, rank: int) -> np.ndarray:
    """Up to ``rank`` leading left singular vectors of ``mat`` (columns)."""
    rows, cols = mat.shape
    if mat.size < GRAM_SVD_MIN_ENTRIES:
        u, _, _ = np.linalg.svd(mat, full_matrices=False)
        return u[:, :rank]
    from scipy.linalg import eigh  # only the leading eigenpairs are computed

    gram = mat @ mat.T if rows <= cols else mat.T @ mat
    n = gram.shape[0]
    k = min(rank, n)
    vals, vecs = eigh(gram, subset_by_index=[n - k, n - 1])
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    if rows <= cols:
        return vecs
    keep = vals > vals[0] * 1e-24  # right singular vectors v; u = M v / s for the non-zero s
    return mat @ vecs[:, keep] / np.sqrt(vals[keep])


def ht_svd(w: np.ndarray, shape: HTShape) -> Dict[str, np.ndarray]:
    """Decompose a dense ``w: (out_features, in_features)`` into HT cores at
    ``shape``'s ranks by hierarchical (truncated) SVD.

    Each leaf/internal node keeps the leading left singular vectors of the
    matricisation that has the node's (input, output) mode pairs as rows;
    transfer tensors project the children's bases onto the parent's. At full
    rank it is exact; truncated, it is quasi-optimal (within sqrt(2d-3) of
    the best HT approximation). Ranks above what a node can hold are padded
    with zero columns.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (shape.out_features, shape.in_features):
        raise ShapeError(
            f"matrix has shape {w.shape}, the HT shape expects {(shape.out_features, shape.in_features)}"
        )
    d = shape.d
    wp = np.zeros((shape.out_features, shape.padded_in))
    wp[:, : shape.in_features] = w
    t = wp.reshape(shape.output_modes + shape.input_modes)
    # order (a1, p1, a2, p2, ...) so that leaf k owns the combined index (a_k, p_k)
    perm = [x for k in range(d) for x in (d + k, k)]
    t = t.transpose(perm).reshape([shape.input_modes[k] * shape.output_modes[k] for k in range(d)])
    q = t.shape
    bases: Dict[str, np.ndarray] = {}

    def basis(node: Node, rank: int) -> np.ndarray:
        lo, hi = node.modes[0], node.modes[-1] + 1
        rows = int(np.prod(q[lo:hi]))
        mat = np.moveaxis(t, list(range(lo, hi)), list(range(hi - lo))).reshape(rows, -1)
        u = _leading_left_singular_vectors(mat, rank)
        if u.shape[1] < rank:
            u = np.concatenate([u, np.zeros((rows, rank - u.shape[1]))], axis=1)
        return u

    cores: Dict[str, np.ndarray] = {}
    for node in shape.nodes[:-1]:
        bases[node.name] = basis(node, shape.rank(node))
    for node in shape.nodes:
        if node.is_leaf:
            k = node.modes[0]
            cores[node.name] = bases[node.name].reshape(shape.input_modes[k], shape.output_modes[k], -1)
            continue
        left, right = (shape.nodes[c] for c in node.children)
        ul, ur = bases[left.name], bases[right.name]
        if node is shape.root:
            ut = t.reshape(ul.shape[0], ur.shape[0], 1)
        else:
            ut = bases[node.name].reshape(ul.shape[0], ur.shape[0], -1)
        cores[node.name] = np.einsum("xyt,xi,yj->ijt", ut, ul, ur)
    return cores
