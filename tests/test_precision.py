"""Derived fixed-point widths: the integer-bit rule and the stage bounds,
checked against brute force over every corner of the input box (never
exceeded, and within a small factor of the true worst case)."""

import itertools

import numpy as np
import pytest

from hls_project.numerics.precision import stage_bounds

from keras_model.common.fixedtype import int_bits_for, parse_fixed
from keras_model import ht


@pytest.mark.parametrize("bound,bits", [(0.5, 1), (0.99, 1), (1.0, 2), (1.8, 2), (2.0, 3), (7.9, 4), (8.0, 5), (100, 8)])
def test_int_bits_is_the_smallest_signed_range_holding_the_bound(bound, bits):
    assert int_bits_for(bound) == bits
    assert 2.0 ** (bits - 1) > bound  # holds it
    assert bits == 1 or 2.0 ** (bits - 2) <= bound  # one bit fewer would not


def test_parse_fixed():
    assert parse_fixed("ap_fixed<16,6>") == (16, 6, True)
    assert parse_fixed("ap_ufixed<8, 0>") == (8, 0, False)
    assert parse_fixed("ap_fixed<18,8,AP_RND_CONV,AP_SAT>") == (18, 8, True)
    with pytest.raises(ValueError):
        parse_fixed("float")


@pytest.mark.parametrize("modes_in,modes_out,ranks", [((2, 3), (2, 2), 2), ((2, 2, 2), (2, 1, 2), [1, 2, 2, 2])])
def test_stage_bounds_are_tight_worst_cases(modes_in, modes_out, ranks):
    shape = ht.make_shape(modes_in, modes_out, ranks)
    cores = ht.init_cores(shape, np.random.default_rng(3))
    bounds = stage_bounds(shape, cores, 1.0)
    # brute force over the corners of the input box: every stage output is
    # multilinear in x, so its extreme over |x_i| <= 1 sits at a corner
    worst = np.zeros(len(shape.plan.steps))
    for signs in itertools.product((-1.0, 1.0), repeat=shape.in_features):
        vals = {"x": np.array(signs).reshape(shape.input_modes)}
        for name, c in cores.items():
            vals[name] = c[..., 0] if name == shape.root.name else c
        for k, (a, b, o, spec) in enumerate(shape.plan.einsum_steps()):
            vals[o] = np.einsum(spec, vals[a], vals[b])
            worst[k] = max(worst[k], np.abs(vals[o]).max())
    # never exceeded, and not vacuous: within 2x of the true worst case
    # (signs cancelling inside intermediates make it an over-estimate)
    assert np.all(worst <= np.array(bounds) + 1e-12)
    assert np.all(np.array(bounds) <= 2.0 * worst)
