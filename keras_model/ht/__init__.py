"""The hierarchical Tucker (HT) format of a weight matrix, numpy only.

This package is the single source of truth for everything about an HT matrix;
the Keras layers, the hls4ml extension, the hardware model and the tests all
import it, and nothing here is re-derived elsewhere. One module per concern,
in the order they build on each other:

* :mod:`.tree`: the dimension tree (leaves ``u1..ud``, internal ``b{lo}_{hi}``);
* :mod:`.shape`: modes, ranks, core shapes, parameter count (``make_shape``);
* :mod:`.plan`: the tensor network and its contraction plan (order, MACs,
  constant tables, the C++ kernel's loop levels);
* :mod:`.ops`: forward product, dense reconstruction, initialisation;
* :mod:`.svd`: HT-SVD (a trained dense matrix -> cores);
* :mod:`.modes`: choosing modes (near-equal factors);
* :mod:`.boxes` and :mod:`.chain`: the input steps run over a box of the input
  index space, as the hardware does, and their numpy reference;
* :mod:`.tt`, :mod:`.mega`, :mod:`.budget`: the tensor-train baseline's
  math, the FDHT ``W_mega`` of any LSTM, and modes and ranks for a budget
  (import them by module: ``from keras_model.ht import budget``).

``from keras_model import ht`` then ``ht.make_shape(...)``, ``ht.forward(...)``
etc.: every name of the list below is available on the package itself.

Conventions (docs/model.md explains them with the FDHT-LSTM built on them):

* ``y = W x`` with ``W`` of shape ``(M, N)``; input modes ``n`` with
  ``prod(n) = N' >= N`` (``x`` is zero-padded to ``N'``), output modes ``m``
  with ``prod(m) = M``.
* C index order everywhere: ``x.reshape(n_1, ..., n_d)``, ``a_1`` the most
  significant index; the same for ``y`` with ``m``.
* Leaf ``k`` (named ``u{k}``, 1-based) has the core ``U_k`` of shape
  ``(n_k, m_k, r_k)``. Internal node ``t`` over the modes ``lo..hi`` (named
  ``b{lo}_{hi}``) with children ``l``, ``r`` has ``B_t`` of shape
  ``(r_l, r_r, r_t)``; the root has ``r_t = 1`` and keeps that trailing 1.
* ``W[(p_1..p_d), (a_1..a_d)] = sum over rank indices of
  prod_k U_k[a_k, p_k, i_k] * prod_t B_t[i_l, i_r, i_t]``.
"""

from .boxes import Box, bounding_box
from .chain import ChainLoop, ChainStep, chain, chain_forward, constant_tables
from .modes import balanced_factors, factorize, factorize_exact
from .ops import core_stddev, forward, init_cores, pad_input, reconstruct
from .plan import (MAX_CONSTANT_ENTRIES, MAX_FREE_LEVELS, MAX_OPTIMAL_D, MAX_SUM_LEVELS, Loop, Plan, Step, network,
                   plan_contraction)
from .shape import HTShape, RanksLike, make_shape, rank_bound
from .svd import GRAM_SVD_MIN_ENTRIES, ht_svd
from .tree import Node, balanced_tree

__all__ = [
    "GRAM_SVD_MIN_ENTRIES", "MAX_CONSTANT_ENTRIES", "MAX_FREE_LEVELS", "MAX_OPTIMAL_D", "MAX_SUM_LEVELS",
    "Box", "ChainLoop", "ChainStep", "HTShape", "Loop", "Node", "Plan", "RanksLike", "Step",
    "balanced_factors", "balanced_tree", "bounding_box", "chain", "chain_forward", "constant_tables",
    "core_stddev", "factorize", "factorize_exact", "forward", "ht_svd", "init_cores", "make_shape", "network",
    "pad_input", "plan_contraction", "rank_bound", "reconstruct",
]
