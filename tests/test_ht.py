"""HT math against independent references: the dense reconstruction built by
explicit einsum over the entry formula, and numpy's optimal einsum path."""

import itertools

import numpy as np
import pytest

from keras_model import ht
from keras_model.common.errors import ShapeError

# (input_modes, output_modes, ranks, in_features): d = 2..5, uneven, padded,
# rank 1, per-node ranks.
SHAPES = [
    ((3, 4), (2, 5), 2, 12),
    ((5, 3), (4, 3), 1, 13),  # rank 1, padded
    ((2, 3, 4), (3, 2, 2), 3, 20),  # padded
    ((4, 2, 3), (2, 3, 4), [2, 3, 1, 2], 24),  # per-node list (u1,u2,u3,b1_2)
    ((3, 4, 2, 5), (2, 2, 3, 2), 4, 100),
    ((2, 2, 3, 2, 3), (2, 3, 1, 2, 2), 2, 70),  # d = 5, a mode of 1
    ((2, 3, 2, 2), (3, 2, 2, 2), {"u1": 1, "u2": 2, "u3": 3, "u4": 2, "b1_2": 2, "b3_4": 3}, 24),
]


def entry_formula_dense(cores, shape):
    """W from the entry formula written out as ONE einsum over all cores
    (independent of ht.reconstruct's bottom-up recursion)."""
    tensors, sizes, _ = ht.network(shape)
    letters = dict(zip(sizes, "abcdefghijklmnopqrstuvwxyz"))
    names = [n.name for n in shape.nodes]
    specs = ["".join(letters[i] for i in tensors[n]) for n in names]
    ps = "".join(letters[f"p{k + 1}"] for k in range(shape.d))
    as_ = "".join(letters[f"a{k + 1}"] for k in range(shape.d))
    arrays = [cores[n][..., 0] if n == shape.root.name else cores[n] for n in names]
    w = np.einsum(",".join(specs) + "->" + ps + as_, *arrays)
    return w.reshape(shape.out_features, shape.padded_in)[:, : shape.in_features]


def random_cores(shape, seed=0):
    return ht.init_cores(shape, np.random.default_rng(seed))


@pytest.mark.parametrize("spec", SHAPES)
def test_forward_and_reconstruct_match_entry_formula(spec):
    n, m, r, nin = spec
    shape = ht.make_shape(n, m, r, in_features=nin)
    cores = random_cores(shape)
    w_ref = entry_formula_dense(cores, shape)
    np.testing.assert_allclose(ht.reconstruct(cores, shape), w_ref, rtol=1e-10, atol=1e-12)
    x = np.random.default_rng(1).standard_normal((3, nin))
    np.testing.assert_allclose(ht.forward(x, cores, shape), x @ w_ref.T, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("spec", SHAPES)
def test_param_count_matches_formula(spec):
    n, m, r, nin = spec
    shape = ht.make_shape(n, m, r, in_features=nin)
    leaves = sum(n[k] * m[k] * shape.ranks[f"u{k + 1}"] for k in range(len(n)))
    internal = 0
    for node in shape.nodes[len(n):]:
        l, rr = (shape.nodes[c] for c in node.children)
        internal += shape.rank(l) * shape.rank(rr) * shape.rank(node)
    assert shape.core_params == leaves + internal
    assert shape.params(use_bias=True) == leaves + internal + int(np.prod(m))
    assert sum(v.size for v in random_cores(shape).values()) == shape.core_params


def test_paper_worked_example():
    # the paper shape (docs/model.md): 8x20x20x19 -> 16x4x4x4 at rank 5 on [x;h] of 57,856.
    shape = ht.make_shape((8, 20, 20, 19), (16, 4, 4, 4), 5, in_features=57_856)
    assert shape.core_params == 2_095
    assert shape.params() == 3_119
    assert 2.5e6 < shape.plan.macs < 3.0e6  # vs 62 M for the dense product


def _macs_of_numpy_path(shape):
    """MACs (product of all index sizes touched, per pairwise step) of
    numpy.einsum_path(optimize='optimal') on the same network, batch 1."""
    tensors, sizes, out = ht.network(shape)
    letters = dict(zip(sizes, "abcdefghijklmnopqrstuvwxyz"))
    specs = ["".join(letters[i] for i in t) for t in tensors.values()]
    arrays = [np.zeros([sizes[i] for i in t]) for t in tensors.values()]
    path, _ = np.einsum_path(",".join(specs) + "->" + "".join(letters[i] for i in out), *arrays, optimize="optimal")
    ops = [set(s) for s in specs]
    size_of = {letters[k]: v for k, v in sizes.items()}
    outset = {letters[i] for i in out}
    total = 0
    for pair in path[1:]:
        picked = [ops[i] for i in pair]
        for i in sorted(pair, reverse=True):
            ops.pop(i)
        union = set().union(*picked)
        total += int(np.prod([size_of[c] for c in union]))
        keep = union & (outset.union(*ops) if ops else outset)
        ops.append(keep)
    return total


@pytest.mark.parametrize(
    "spec",
    SHAPES[:6] + [((8, 20, 20, 19), (16, 4, 4, 4), 5, 57_856), ((4, 8, 8, 4), (4, 4, 4, 4), 6, 1024)],
)
def test_plan_within_125_percent_of_numpy_optimal(spec):
    n, m, r, nin = spec
    shape = ht.make_shape(n, m, r, in_features=nin)
    assert shape.plan.macs <= 1.25 * _macs_of_numpy_path(shape)


def test_greedy_plan_is_correct():
    shape = ht.make_shape((2, 3, 2, 2), (3, 2, 2, 2), 2)
    shape._plan = ht.plan_contraction(shape, method="greedy")
    cores = random_cores(shape)
    x = np.random.default_rng(2).standard_normal((2, 24))
    np.testing.assert_allclose(ht.forward(x, cores, shape), x @ entry_formula_dense(cores, shape).T, rtol=1e-10)


def test_loops_address_every_element_like_einsum():
    """Run each step's loop structure in plain Python and compare to einsum:
    this is the contract the C++ kernel relies on."""
    shape = ht.make_shape((3, 4, 2, 5), (2, 2, 3, 2), [2, 3, 2, 1, 2, 3], in_features=100)
    cores = random_cores(shape)
    x = np.random.default_rng(3).standard_normal(100)
    vals = {"x": ht.pad_input(x[None], shape)[0]}
    for name, c in cores.items():
        vals[name] = c.reshape(-1)
    for st in shape.plan.steps:
        a, b = vals[st.a], vals[st.b]
        out = np.zeros(st.out_size)
        for fidx in itertools.product(*[range(lp.size) for lp in st.free_loops]):
            fa = sum(i * lp.a_stride for i, lp in zip(fidx, st.free_loops))
            fb = sum(i * lp.b_stride for i, lp in zip(fidx, st.free_loops))
            fo = sum(i * lp.out_stride for i, lp in zip(fidx, st.free_loops))
            acc = 0.0
            for sidx in itertools.product(*[range(lp.size) for lp in st.sum_loops]):
                sa = sum(i * lp.a_stride for i, lp in zip(sidx, st.sum_loops))
                sb = sum(i * lp.b_stride for i, lp in zip(sidx, st.sum_loops))
                acc += a[fa + sa] * b[fb + sb]
            out[fo] = acc
        vals[st.out] = out
    np.testing.assert_allclose(vals[shape.plan.steps[-1].out], ht.forward(x[None], cores, shape)[0], rtol=1e-10)


@pytest.mark.parametrize("spec", SHAPES)
def test_ht_svd_full_rank_is_exact(spec):
    n, m, _, nin = spec
    full = {}
    shape0 = ht.make_shape(n, m, 1, in_features=nin)
    for node in shape0.nodes[:-1]:
        rows = int(np.prod([n[k] * m[k] for k in node.modes]))
        cols = int(np.prod([n[k] * m[k] for k in range(len(n))])) // rows
        full[node.name] = min(rows, cols)
    shape = ht.make_shape(n, m, full, in_features=nin)
    w = np.random.default_rng(4).standard_normal((shape.out_features, nin))
    cores = ht.ht_svd(w, shape)
    np.testing.assert_allclose(ht.reconstruct(cores, shape), w, atol=1e-6)


def test_ht_svd_truncated_recovers_low_rank_matrix_and_improves_with_rank():
    shape = ht.make_shape((4, 3, 4), (3, 4, 2), 2)
    w = ht.reconstruct(random_cores(shape, 7), shape)  # exactly HT rank 2
    np.testing.assert_allclose(ht.reconstruct(ht.ht_svd(w, shape), shape), w, atol=1e-9)
    noisy = w + 0.01 * np.random.default_rng(5).standard_normal(w.shape)
    errs = [np.linalg.norm(ht.reconstruct(ht.ht_svd(noisy, s), s) - noisy)
            for s in (ht.make_shape((4, 3, 4), (3, 4, 2), r) for r in (1, 2, 3))]
    assert errs[0] > errs[1] > errs[2]


def test_init_gives_glorot_variance():
    shape = ht.make_shape((8, 8, 4, 4), (4, 4, 4, 2), 5, in_features=1000)
    var = np.mean([ht.reconstruct(ht.init_cores(shape, np.random.default_rng(s)), shape).var() for s in range(20)])
    target = 2.0 / (1000 + 128)
    assert 0.5 * target < var < 2.0 * target


@pytest.mark.parametrize("n,d", [(57_856, 4), (1024, 4), (1056, 3), (148, 4), (7, 2)])
def test_factorize_covers_with_little_padding(n, d):
    modes = ht.factorize(n, d)
    assert len(modes) == d
    assert n <= np.prod(modes) <= 1.10 * n + 1


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(input_modes=(2, 3), output_modes=(2, 2), ranks=2, in_features=7), "smaller than the 7 inputs"),
        (dict(input_modes=(2, 3), output_modes=(2, 2), ranks=0), "must be >= 1"),
        (dict(input_modes=(2, 3), output_modes=(2, 2), ranks=-3), "must be >= 1"),
        (dict(input_modes=(2, 3), output_modes=(2, 2), ranks=1.5), "positive integer"),
        (dict(input_modes=(2, 3), output_modes=(2, 2), ranks=[1, 2, 3]), "non-root nodes"),
        (dict(input_modes=(2, 3), output_modes=(2, 2), ranks={"u1": 2}), "misses node"),
        (dict(input_modes=(2, 3), output_modes=(2, 2), ranks={"u1": 2, "u2": 2, "u9": 1}), "unknown node"),
        (dict(input_modes=(2, 3, 4), output_modes=(2, 2), ranks=2), "same length"),
        (dict(input_modes=(6,), output_modes=(4,), ranks=2), "d >= 2"),
        (dict(input_modes=(2, 0), output_modes=(2, 2), ranks=2), ">= 1"),
        (dict(input_modes=(2, 3), output_modes=(2, 2), ranks=2, out_features=5), "exactly 5"),
    ],
)
def test_bad_shapes_raise_one_line_errors(kwargs, needle):
    with pytest.raises(ShapeError, match=needle) as err:
        ht.make_shape(**kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("rank", [2, "full"])
def test_ht_svd_gram_path_matches_exact_svd(monkeypatch, rank):
    """Large matricisations take the Gram-matrix eigenvector path; forced on a
    small matrix it gives the same HT matrix as the exact SVD path."""
    n, m, nin = (4, 3, 5, 2), (2, 3, 2, 2), 110
    if rank == "full":
        shape0 = ht.make_shape(n, m, 1, in_features=nin)
        sizes = [a * p for a, p in zip(n, m)]
        ranks = {}
        for node in shape0.nodes[:-1]:
            rows = int(np.prod([sizes[k] for k in node.modes]))
            ranks[node.name] = min(rows, int(np.prod(sizes)) // rows)
    else:
        ranks = rank
    shape = ht.make_shape(n, m, ranks, in_features=nin)
    w = np.random.default_rng(11).standard_normal((shape.out_features, nin))
    exact = ht.reconstruct(ht.ht_svd(w, shape), shape)
    monkeypatch.setattr(ht.svd, "GRAM_SVD_MIN_ENTRIES", 0)  # the module ht_svd reads it from
    gram = ht.reconstruct(ht.ht_svd(w, shape), shape)
    np.testing.assert_allclose(gram, exact, atol=1e-8)
    if rank == "full":
        np.testing.assert_allclose(gram, w, atol=1e-8)
