"""Property: for random HT shapes and ranks, the Keras layer and the numpy
plan compute the same ``y = W x + b``, and the accelerator's fixed-point
arithmetic stays within the error bound its types allow.

Hypothesis draws the HT dense layers (d = 2..4, modes 1..4, a padded
``in_features`` in ``prod(input_modes)//2 + 1 .. prod(input_modes)``, ranks
1..3 given uniform, as a per-node list or as a per-node dict, with or without
bias, Glorot cores from ``ht.init_cores`` with a drawn seed, inputs uniform in
[-1, 1]) and checked per drawn layer:

* ``ht.forward`` (the planned contractions) == the dense ``ht.reconstruct``;
* ``HTDense`` (float64, weights set to the cores) == ``ht.forward``   (1e-9);
* the plan in the accelerator's fixed-point arithmetic (``bitexact``, which
  csim equals exactly) with ``ap_fixed<18,6>`` intermediates and
  ``ap_fixed<40,16>`` accumulators is, at every stage, within the error
  bound derived from those types.

The examples are drawn once per session (``derandomize=True``: the same ones
every run); a failure message names each failing example by its drawn
parameters, which rebuild it exactly.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Union

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from keras_model import ht  # noqa: E402

N_EXAMPLES = 25
BATCH = 4  # input vectors per example

# --------------------------------------------------------------------------
# Fixed-point types of the third check
# --------------------------------------------------------------------------
# ap_fixed<W,I> (default AP_TRN, AP_WRAP): LSB 2^-(W-I), range [-2^(I-1), 2^(I-1)).
FX = "ap_fixed<18,6>"  # inputs, cores, bias, intermediates t0.., output: LSB 2^-12, range [-32, 32)
ACC = "ap_fixed<40,16>"  # accumulators (and z): LSB 2^-24, range [-32768, 32768)


# --------------------------------------------------------------------------
# The drawn layers
# --------------------------------------------------------------------------

RanksLike = Union[int, List[int], Dict[str, int]]


@dataclass
class Example:
    input_modes: tuple
    output_modes: tuple
    in_features: int
    ranks: RanksLike
    use_bias: bool
    seed: int
    shape: ht.HTShape = field(init=False, repr=False)
    cores: Dict[str, np.ndarray] = field(init=False, repr=False)
    bias: np.ndarray = field(init=False, repr=False)
    x: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self.shape = ht.make_shape(self.input_modes, self.output_modes, self.ranks, in_features=self.in_features)
        rng = np.random.default_rng(self.seed)
        self.cores = ht.init_cores(self.shape, rng)
        m = self.shape.out_features
        self.bias = rng.uniform(-0.5, 0.5, m) if self.use_bias else np.zeros(m)
        self.x = rng.uniform(-1.0, 1.0, (BATCH, self.in_features))

    @property
    def reference(self) -> np.ndarray:
        """The numpy plan: (BATCH, out_features)."""
        return ht.forward(self.x, self.cores, self.shape) + self.bias


@st.composite
def examples(draw) -> Example:
    d = draw(st.integers(2, 4))
    modes = st.lists(st.integers(1, 4), min_size=d, max_size=d).map(tuple)
    n, m = draw(modes), draw(modes)
    padded = int(np.prod(n))
    in_features = draw(st.integers(padded // 2 + 1, padded))
    non_root = [node.name for node in ht.balanced_tree(d)[:-1]]
    form = draw(st.sampled_from(["uniform", "list", "dict"]))
    if form == "uniform":
        ranks: RanksLike = draw(st.integers(1, 3))
    else:
        per_node = draw(st.lists(st.integers(1, 3), min_size=len(non_root), max_size=len(non_root)))
        ranks = per_node if form == "list" else dict(zip(non_root, per_node))
    return Example(n, m, in_features, ranks, draw(st.booleans()), draw(st.integers(0, 2**32 - 1)))


def draw_examples() -> List[Example]:
    """Run hypothesis once as a collector: the same N_EXAMPLES draws every
    run (derandomized, no example database), duplicates dropped."""
    drawn: Dict[str, Example] = {}

    @settings(max_examples=N_EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=[HealthCheck.too_slow])
    @given(examples())
    def collect(example):
        drawn.setdefault(repr(example), example)

    collect()
    return list(drawn.values())


@pytest.fixture(scope="module")
def drawn() -> List[Example]:
    cases = draw_examples()
    assert len(cases) >= N_EXAMPLES * 0.8, f"only {len(cases)} distinct examples drawn"
    assert {c.shape.d for c in cases} == {2, 3, 4}  # the draw really spans the space
    assert any(c.in_features < c.shape.padded_in for c in cases)
    return cases


def _fail_report(failures: List[str], total: int) -> str:
    return f"{len(failures)} of {total} drawn examples fail:\n" + "\n".join(failures)


# --------------------------------------------------------------------------
# Keras and numpy
# --------------------------------------------------------------------------


def test_numpy_plan_equals_dense_matrix(drawn):
    """ht.forward (the planned contractions) == x @ W.T with W = ht.reconstruct."""
    failures = []
    for ex in drawn:
        dense = ex.x @ ht.reconstruct(ex.cores, ex.shape).T + ex.bias
        err = np.abs(ex.reference - dense).max()
        if not err <= 1e-9:
            failures.append(f"  {ex!r}: |plan - dense| = {err:.3g}")
    assert not failures, _fail_report(failures, len(drawn))


def test_keras_htdense_float64_equals_numpy_plan(drawn):
    from keras_model.layers import HTDense  # TensorFlow only for this test

    failures = []
    for ex in drawn:
        layer = HTDense(input_modes=ex.input_modes, output_modes=ex.output_modes, ranks=ex.ranks,
                        use_bias=ex.use_bias, dtype="float64")
        layer.build((None, ex.in_features))
        # weights in Keras order: the cores in tree-node order, then the bias
        layer.set_weights([ex.cores[n] for n in ex.shape.core_names] + ([ex.bias] if ex.use_bias else []))
        y = layer(ex.x).numpy()
        assert y.dtype == np.float64 and y.shape == (BATCH, ex.shape.out_features)
        err = np.abs(y - ex.reference).max()
        if not err <= 1e-9:
            failures.append(f"  {ex!r}: |keras - plan| = {err:.3g}")
    assert not failures, _fail_report(failures, len(drawn))


# --------------------------------------------------------------------------
# Fixed point: the accelerator's arithmetic (hls_project/numerics/bitexact.py, which
# csim equals exactly: tests/test_bitexact.py) within its LSB bound
# --------------------------------------------------------------------------


def test_fixed_point_chain_within_derived_bound(drawn):
    """Every stage of the planned chain in fixed point (FX intermediates
    rounding to nearest, ACC accumulators, each product truncated to ACC) is
    within the bound derived from those types (tests/test_numerics.py's
    ``_chain_bounds``) of the float64 chain on the same quantized inputs, and
    the output is within the bound of the float64 plan."""
    from hls_project.numerics import bitexact
    from test_numerics import _chain_bounds

    inter_t, accum_t = FX.replace(">", ",AP_RND_CONV,AP_SAT>"), ACC
    failures = []
    for ex in drawn:
        s = ex.shape
        vals = bitexact.constant_operands(s, ex.cores)
        tables = {name: bitexact.round_nearest(vals[name], FX) for name in s.plan.constant_tables}
        steps = len(s.plan.input_steps)
        inter = [inter_t] * (steps - 1) + [accum_t]
        accum = [accum_t] * steps
        v = np.zeros((BATCH, s.padded_in))
        v[:, : ex.in_features] = bitexact.quantize(ex.x, FX)
        record = {}
        bitexact.run_chain(v, s, tables, accum, inter, record, "")
        for o, exact, bound in _chain_bounds(s, tables, accum, inter, v):
            over = float((np.abs(record[o].reshape(exact.shape) - exact) - bound).max())
            if over > 1e-12:
                failures.append(f"  {ex!r}: step {o} exceeds its bound by {over:.3g}")
    assert not failures, _fail_report(failures, len(drawn))
