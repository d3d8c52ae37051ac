"""Property: for random HT shapes and ranks, the Keras layer, the numpy plan
and the C++ kernel compute the same ``y = W x + b``.

Hypothesis draws the HT dense layers (d = 2..4, modes 1..4, a padded
``in_features`` in ``prod(input_modes)//2 + 1 .. prod(input_modes)``, ranks
1..3 given uniform, as a per-node list or as a per-node dict, with or without
bias, Glorot cores from ``ht.init_cores`` with a drawn seed, inputs uniform in
[-1, 1]) and three things are checked per drawn layer:

* ``HTDense`` (float64, weights set to the cores) == ``ht.forward``   (1e-9);
* the C++ kernel ``nnet::ht_dense`` with ``double`` everywhere == ``ht.forward``  (1e-9);
* the C++ kernel with ``ap_fixed<18,6>`` inputs, cores, intermediates and
  output and ``ap_fixed<40,16>`` accumulators is within an error bound derived
  from those precisions (see :func:`fixed_point_bound`).

(``ht.forward`` itself is checked against the dense ``ht.reconstruct`` too.)

g++ builds are the cost, so the examples are drawn once per session
(``derandomize=True``: the same ones every run), ALL of them, in both
precisions, go into ONE C++ source built ONCE (cached under the pytest cache
by a hash of the source, flags, compiler and our headers, so a rerun does not
build), and the binary runs once. The build/run helpers are
``tests/test_kernel.py``'s. Without shrinking (examples are checked as a
batch), a failure message names each failing example by its drawn
parameters, which rebuild it exactly.
"""

from __future__ import annotations

import re
import subprocess
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

from hls_project import codegen as cg  # noqa: E402
from keras_model import ht  # noqa: E402
from test_kernel import BUILD_FLAGS, GXX, PRELUDE, VIVADO, _finish, _launch, carray  # noqa: E402

N_EXAMPLES = 25
BATCH = 4  # input vectors per example

# --------------------------------------------------------------------------
# Fixed-point types of the third check
# --------------------------------------------------------------------------
# ap_fixed<W,I> (default AP_TRN, AP_WRAP): LSB 2^-(W-I), range [-2^(I-1), 2^(I-1)).
FX = "ap_fixed<18,6>"  # inputs, cores, bias, intermediates t0.., output: LSB 2^-12, range [-32, 32)
ACC = "ap_fixed<40,16>"  # accumulators (and z): LSB 2^-24, range [-32768, 32768)
LSB = 2.0**-12
FX_LIMIT = 32.0
ACC_FRAC_BITS = 24
ACC_LIMIT = 32768.0


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
# The C++ kernel: one source, one (cached) build, one run
# --------------------------------------------------------------------------



def example_cpp(ex: Example, name: str, fixed: bool) -> str:
    """One namespace running ``nnet::ht_dense`` over the example's inputs,
    with the configs and functor exactly as codegen.py emits them."""
    s, p = ex.shape, "cfg"
    data_t, accum_t = (FX, ACC) if fixed else ("double", "double")
    names = s.core_names
    out = [f"namespace {name} {{", f"typedef {data_t} data_t;", ""]
    out.append(cg.layer_code(s, p, {n: "data_t" for n in names}, "data_t", accum_t))
    out.append(cg.dense_config(s, p, "data_t", accum_t, "data_t", ex.use_bias))
    for n in names:
        out.append(f"const data_t w_{n}[{ex.cores[n].size}] = {carray(ex.cores[n].reshape(-1))};")
    out.append(f"const data_t bias[{s.out_features}] = {carray(ex.bias)};")
    out.append(f"const data_t x[{BATCH}][{s.in_features}] = {carray(ex.x)};")
    call = cg.product_call(s, p, {n: f"w_{n}" for n in names})
    out.append(f"""
void run() {{
    for (int s = 0; s < {BATCH}; s++) {{
        data_t y[{s.out_features}];
        nnet::ht_dense<data_t, data_t, {p}>(x[s], y, {call}, bias);
        print_row("{name}", s, y, {s.out_features});
    }}
}}
}} // namespace {name}
""")
    return "\n".join(out)


def unit_source(cases: List[Example]) -> str:
    parts, runs = [PRELUDE], []
    for i, ex in enumerate(cases):
        for fixed in (False, True):
            name = f"ex{i}_{'fx' if fixed else 'dbl'}"
            parts.append(example_cpp(ex, name, fixed))
            runs.append(f"    {name}::run();\n")
    parts.append("int main() {\n" + "".join(runs) + "    return 0;\n}\n")
    return "\n".join(parts)


def build_and_run(source: str, cache: Path, name: str = "property") -> Dict[str, np.ndarray]:
    """Build (or reuse the cached binary) and run; {namespace: (BATCH, n_out)}."""
    key, proc = _launch(cache, name, source, BUILD_FLAGS)
    _finish(key, proc)
    run = subprocess.run([str(key / "bin")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    rows: Dict[str, Dict[int, np.ndarray]] = {}
    for line in run.stdout.splitlines():
        label, s, *vals = line.split()
        rows.setdefault(label, {})[int(s)] = np.array([float(v) for v in vals])
    return {label: np.stack([r[s] for s in range(BATCH)]) for label, r in rows.items()}


@pytest.fixture(scope="module")
def cpp(request, tmp_path_factory, drawn):
    if GXX is None or VIVADO is None:
        pytest.skip("needs g++ and the hls4ml package")
    cache = getattr(request.config, "cache", None)
    cache = Path(cache.mkdir("fdht_property_builds")) if cache is not None else tmp_path_factory.mktemp("builds")
    out = build_and_run(unit_source(drawn), cache)
    assert len(out) == 2 * len(drawn)
    return out


def test_cpp_double_equals_numpy_plan(drawn, cpp):
    failures = []
    for i, ex in enumerate(drawn):
        y = cpp[f"ex{i}_dbl"]
        err = np.abs(y - ex.reference).max()
        if not err <= 1e-9:
            failures.append(f"  ex{i} {ex!r}: |C++ double - plan| = {err:.3g}")
    assert not failures, _fail_report(failures, len(drawn))


def fixed_point_bound(ex: Example) -> tuple:
    """Exact y (BATCH, M) and a per-entry bound on |y_kernel - y| for the
    ap_fixed build, derived from the precisions.

    Rounding sources (ap_fixed's default AP_TRN truncates: error in [0, LSB)):
    * x, the cores and the bias are converted from doubles to ``FX``: each
      entry errs by < LSB = 2^-12 (the zero padding of x is exact);
    * a product a'*b' of two ``FX`` values has <= 24 fraction bits and the
      accumulator ``ACC`` has 24, so quantising it to ``ACC`` and summing are
      exact (no overflow: checked below, |sum| < 2^15);
    * writing a step's sum to an intermediate ``t_k`` (``FX``): < LSB; the last
      step writes z in ``ACC``: exact; z + bias' in ``ACC``: exact;
    * casting z + bias' to the output ``FX``: < LSB.
    Propagation along the plan, per step ``out = sum_S a*b`` with kernel
    operands a' = a + da, b' = b + db, |da| <= Ea, |db| <= Eb (elementwise):
        |a'b' - ab| = |a db + da b + da db| <= |a| Eb + Ea |b| + Ea Eb,
    summed over the S terms by the step's own einsum, so
        E_out = einsum(|a|, Eb) + einsum(Ea, |b|) + einsum(Ea, Eb) (+ LSB if t_k).
    Total: |y' - y| <= E_z + LSB (bias, if used) + LSB (output cast).
    No overflow (checked): every FX tensor has |value| + E < 32 and every
    accumulator sum has einsum(|a| + Ea, |b| + Eb) < 2^15.
    """
    s = ex.shape
    x = ht.pad_input(ex.x, s)
    vals = {"x": x.reshape((BATCH,) + s.input_modes)}
    err_x = np.zeros(s.padded_in)
    err_x[: s.in_features] = LSB
    errs = {"x": np.broadcast_to(err_x.reshape(s.input_modes), vals["x"].shape)}
    for name, core in ex.cores.items():
        vals[name] = core[..., 0] if name == s.root.name else core
        errs[name] = np.full(vals[name].shape, LSB)
    steps = s.plan.einsum_steps(batch=True)
    for k, (a, b, out, spec) in enumerate(steps):
        va, vb, ea, eb = np.abs(vals[a]), np.abs(vals[b]), errs[a], errs[b]
        vals[out] = np.einsum(spec, vals[a], vals[b])
        e = np.einsum(spec, va, eb) + np.einsum(spec, ea, vb) + np.einsum(spec, ea, eb)
        last = k == len(steps) - 1
        errs[out] = e if last else e + LSB
        magnitude = np.einsum(spec, va + ea, vb + eb)  # >= |any partial sum| of the kernel
        assert magnitude.max() < ACC_LIMIT
        assert last or (np.abs(vals[out]) + errs[out]).max() < FX_LIMIT, "an intermediate could overflow FX"
    for name in ("x", *ex.cores):
        assert (np.abs(vals[name]) + errs[name]).max() < FX_LIMIT
    z_out = steps[-1][2]
    y = vals[z_out].reshape(BATCH, -1) + ex.bias
    bound = errs[z_out].reshape(BATCH, -1) + (LSB if ex.use_bias else 0.0) + LSB
    assert (np.abs(y) + bound).max() < FX_LIMIT, "the output could overflow FX"
    return y, bound


def test_cpp_fixed_within_derived_bound(drawn, cpp):
    assert re.findall(r"<(\d+),(\d+)>", FX) == [("18", "6")] and LSB == 2.0 ** -(18 - 6)
    assert re.findall(r"<(\d+),(\d+)>", ACC) == [("40", "16")] and 40 - 16 == ACC_FRAC_BITS >= 2 * 12
    failures, worst, slack = [], 0.0, []
    for i, ex in enumerate(drawn):
        y_cpp = cpp[f"ex{i}_fx"]
        y, bound = fixed_point_bound(ex)
        np.testing.assert_allclose(y, ex.reference, rtol=0, atol=1e-12)  # same exact value as the plan
        err = np.abs(y_cpp - y)
        worst = max(worst, err.max())
        slack.append((err / bound).max())
        if not np.all(err <= bound + 1e-12):
            j = np.unravel_index(np.argmax(err - bound), err.shape)
            failures.append(f"  ex{i} {ex!r}: error {err[j]:.3g} above bound {bound[j]:.3g} at {j}")
        # Not vacuous: the worst case (every truncation coherent) stays < 10 % of the
        # output scale (observed: 0.1-6 %), so a wrong kernel (O(|y|) errors) cannot hide.
        scale = max(np.abs(y).max(), 0.1)
        assert bound.max() < 0.1 * scale, f"ex{i}: bound {bound.max():.3g} too loose for outputs of {scale:.3g}"
    assert not failures, _fail_report(failures, len(drawn))
    assert worst > 0  # really fixed point
    assert max(slack) > 0.02  # and the bound is not absurdly loose for every example
