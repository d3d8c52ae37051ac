"""Numerics pinned by bounds derived from the types (LSB counts), not measured.

The bit-exact model (hls_project/numerics/bitexact.py) equals csim exactly
(tests/test_bitexact.py), so its values are the hardware's; here they are
checked against float64 with error bounds worked out from the types alone:

* every HT chain stage: |fixed - float| <= (the previous stage's bound through
  |B|) + (summed terms) x LSB(accumulator) (each product truncated) +
  LSB(intermediate) / 2 (round to nearest): a truncating intermediate type
  breaks it;
* the softmax: an interval for every probability from the table resolutions
  (exp table index step, 1/x table index step, table and result LSBs); the
  reference lies inside it, and its width, the worst-case probability error
  of the chosen softmax settings, is <= 0.05 (hls4ml's default 1/x input type
  gives about 0.2: the setting is checked by value).

No g++: conversions only.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from test_bitexact import hls_model

LSTM_CASES = ["lstm_d3_stream", "lstm_d4_parallel_w14", "lstm_d4_stream_w18", "lstm_d2_parallel"]


def _convert(name, tmp_path, **hls):
    hm, model, x, _ = hls_model(name, tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}", **hls)
    return hm, model, x


def _lsb(t) -> float:
    from hls_project.numerics import bitexact
    t = bitexact._type(t)
    return 2.0 ** -(t.width - t.integer)


def _chain_bounds(shape, tables, accum, inter, v):
    """Per input step: the float64 result and the worst-case |fixed - float|."""
    cur = {"x": v.reshape((len(v),) + tuple(shape.input_modes))}
    err = {"x": np.zeros_like(cur["x"])}
    out, k = [], 0
    for a, b, o, spec in shape.plan.einsum_steps(batch=True):
        if a not in cur:
            continue
        lhs, out_sub = spec.split("->")
        a_sub, b_sub = lhs.split(",")
        terms = math.prod(dict(zip(a_sub, cur[a].shape))[c] for c in a_sub if c not in out_sub)
        cur[o] = np.einsum(spec, cur[a], tables[b])
        bound = np.einsum(spec, err[a], np.abs(tables[b])) + terms * _lsb(accum[k])
        if inter[k] != accum[k]:
            bound = bound + _lsb(inter[k]) / 2
        err[o] = bound
        out.append((o, cur[o], bound))
        k += 1
    return out


@pytest.mark.parametrize("name", LSTM_CASES)
def test_every_chain_stage_within_its_lsb_bound(name, tmp_path):
    from hls_project.numerics import bitexact
    from hls_project.ext.node import accel_types

    hm, _, x = _convert(name, tmp_path)
    node = next(n for n in hm.get_layers() if n.class_name == "FDHTLSTM")
    types = accel_types(node)
    shape = node.ht_shape()
    tables = bitexact._ht_tables(node, types)
    n_in, h = node.get_attr("n_in"), node.get_attr("n_out")
    in_t = node.get_input_variable().type.precision
    rng = np.random.default_rng(1)
    checked = 0
    for chain, fill in (("x", lambda v: v.__setitem__((slice(None), slice(0, n_in)),
                                                      bitexact.quantize(x.reshape(len(x), -1, n_in)[:, 0], in_t))),
                        ("h", lambda v: v.__setitem__((slice(None), slice(n_in, n_in + h)),
                                                      bitexact.quantize(rng.uniform(-1, 1, (len(v), h)),
                                                                        node.get_attr("state_t").precision)))):
        v = np.zeros((len(x), shape.padded_in))
        fill(v)
        record = {}
        bitexact.run_chain(v, shape, tables, types[chain]["accum"], types[chain]["inter"], record, "")
        for o, exact, bound in _chain_bounds(shape, tables, types[chain]["accum"], types[chain]["inter"], v):
            got = record[o].reshape(exact.shape)
            over = np.abs(got - exact) - bound
            assert over.max() <= 1e-12, f"{chain}-chain step {o}: error exceeds its LSB bound by {over.max():.3g}"
            checked += exact.size
    assert checked > 0


def _softmax_interval(node, logits):
    """Per probability: [lo, hi] from the types of hls4ml's stable softmax."""
    from hls_project.numerics import bitexact
    in_t = bitexact._type(node.get_input_variable().type.precision)
    n_exp = int(node.get_attr("exp_table_size", node.get_attr("table_size", 1024)))
    n_inv = int(node.get_attr("inv_table_size", node.get_attr("table_size", 1024)))
    width, iwidth = in_t.width - 1, in_t.integer - 1  # hls4ml's inp_norm_t: unsigned, one bit less
    n_exp = min(n_exp, 2 ** width)
    step_d = 2.0 ** (iwidth - math.ceil(math.log2(n_exp)))  # the exp table's index step
    inv_inp = bitexact._type(node.get_attr("inv_inp_t").precision)
    step_s = 2.0 ** (inv_inp.integer - math.ceil(math.log2(n_inv)))  # the 1/x table's index step
    lsb_e, lsb_i = _lsb(node.get_attr("exp_table_t").precision), _lsb(node.get_attr("inv_table_t").precision)
    lsb_r, lsb_s = _lsb(node.get_output_variable().type.precision), _lsb(inv_inp)
    d = logits.max(axis=1, keepdims=True) - logits
    e_lo = np.exp(-d) - lsb_e
    e_hi = np.exp(-d) * math.exp(step_d) + lsb_e
    s_lo = e_lo.sum(1, keepdims=True) - lsb_s - step_s
    s_hi = e_hi.sum(1, keepdims=True) + lsb_s
    inv_lo, inv_hi = 1.0 / s_hi - lsb_i, 1.0 / s_lo + lsb_i
    return np.clip(e_lo, 0, None) * inv_lo - lsb_r, e_hi * inv_hi


@pytest.mark.parametrize("name", ["lstm_d2_parallel", "htdense_d4_parallel"])
def test_softmax_within_its_table_bounds_and_its_settings_good_enough(name, tmp_path):
    from hls_project.numerics import bitexact
    hm, _, _ = _convert(name, tmp_path)
    node = next(n for n in hm.get_layers() if n.class_name == "Softmax")
    in_t = node.get_input_variable().type.precision
    rng = np.random.default_rng(2)
    logits = bitexact.quantize(rng.normal(0, 2.0, (4000, 3)), in_t)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    got = bitexact.softmax(node, logits)
    lo, hi = _softmax_interval(node, logits)
    assert np.all(got >= lo - 1e-12) and np.all(got <= hi + 1e-12), "the softmax left its type-derived interval"
    worst = float(np.max(np.maximum(hi - p, p - lo)))
    assert worst <= 0.05, f"the softmax settings allow probability errors up to {worst:.3f}"
    assert np.abs(got - p).max() <= worst


@pytest.mark.parametrize("name", ["lstm_d2_parallel", "htdense_d2_parallel_w12"])
def test_logits_beyond_their_type_saturate(name, tmp_path):
    """The classifier's result type (the logits) saturates: a logit beyond it,
    from an input unlike the calibration data, stays the largest instead of
    wrapping to the other sign."""
    from hls_project.numerics import bitexact
    hm, _, _ = _convert(name, tmp_path)
    node = next(n for n in hm.get_layers() if n.name == "classifier")
    t = bitexact._type(node.get_output_variable().type.precision)
    top = 2.0 ** (t.integer - 1)
    got = bitexact.quantize(np.array([1.5 * top, -1.5 * top, 3.0 * top]), t)
    np.testing.assert_array_equal(got, [top - _lsb(t), -top, top - _lsb(t)])


def test_quantized_activations_are_on_the_quantizers_grid(tmp_path):
    """A QKeras quantized_tanh(6) / quantized_sigmoid(6) (use_real_*) model:
    the gate tables are QKeras's own outputs at the table points, and every
    gate value of a run lies on the quantizer's grid (csim equals this model
    exactly: test_bitexact's lstm_d3_qkeras_act)."""
    from qkeras import quantized_sigmoid, quantized_tanh

    from hls_project.numerics import bitexact
    hm, _, x = _convert("lstm_d3_qkeras_act", tmp_path)
    node = next(n for n in hm.get_layers() if n.class_name == "FDHTLSTM")
    assert (node.get_attr("act_bits"), node.get_attr("recr_act_bits")) == (6, 6)
    n, table_t = node.get_attr("table_size"), node.get_attr("table_t").precision
    pts_s = 16.0 * (np.arange(n) - n / 2.0) / n
    pts_t = 8.0 * (np.arange(n) - n / 2.0) / n
    want_s = np.asarray(quantized_sigmoid(6, use_real_sigmoid=True)(pts_s.astype(np.float32)), dtype=np.float64)
    want_t = np.asarray(quantized_tanh(6, use_real_tanh=True)(pts_t.astype(np.float32)), dtype=np.float64)
    np.testing.assert_array_equal(bitexact.sigmoid_table(n, table_t, 6), want_s)
    np.testing.assert_array_equal(bitexact.tanh_table(n, table_t, 6), want_t)
    record = bitexact.trace(hm, bitexact.quantize(x.reshape(len(x), -1), hm.get_input_variables()[0].type.precision))
    h = node.get_attr("n_out")
    gates = np.concatenate([v for k, v in record.items() if k.endswith(".gates")])
    sig = gates[:, np.r_[0:2 * h, 3 * h:4 * h]]  # i, f, o: 2^-6
    tanh = gates[:, np.r_[2 * h:3 * h, 4 * h:5 * h]]  # g, tanh(c): 2^-5
    assert np.all(sig * 64 == np.round(sig * 64)) and np.all(tanh * 32 == np.round(tanh * 32))
    assert len(np.unique(sig)) > 5 and len(np.unique(tanh)) > 5


def test_cell_within_its_table_bounds(tmp_path):
    """One cell step on random z and c: each gate within (slope x half a
    table step: the nearest point is looked up) + the table's LSB + half the
    gate type's LSB of the float function (sigmoid: slope 1/4, step 16/N;
    tanh: slope 1, step 8/N), and c', h' within the bounds those give, from
    the float gates."""
    from hls_project.numerics import bitexact
    from hls_project.ext.node import accel_types

    hm, _, _ = _convert("lstm_d3_stream", tmp_path)
    node = next(n for n in hm.get_layers() if n.class_name == "FDHTLSTM")
    n = int(node.get_attr("table_size"))
    table_t, act_t, state_t = (node.get_attr(k).precision for k in ("table_t", "act_t", "state_t"))
    z_t = accel_types(node)["z"]
    h, steps = node.get_attr("n_out"), node.get_attr("n_timesteps")
    rng = np.random.default_rng(4)
    z = bitexact.quantize(rng.uniform(-10, 10, (500, 4 * h)) * rng.uniform(0, 1, (500, 1)), z_t)
    c = bitexact.quantize(rng.uniform(-steps, steps, (500, h)), state_t)
    gates, c2, h2 = bitexact.cell(z, c, bitexact.sigmoid_table(n, table_t), bitexact.tanh_table(n, table_t),
                                  act_t, state_t)
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))
    zi, zf, zg, zo = (z[:, k * h:(k + 1) * h] for k in range(4))
    gi, gf, gg, go, ca = (gates[:, k * h:(k + 1) * h] for k in range(5))
    # the nearest table point: at most half a table step away
    e_sig = 0.25 * 8.0 / n + _lsb(table_t) + _lsb(act_t) / 2
    e_tanh = 4.0 / n + _lsb(table_t) + _lsb(act_t) / 2
    for got, want, bound, what in ((gi, sig(zi), e_sig, "i"), (gf, sig(zf), e_sig, "f"), (go, sig(zo), e_sig, "o"),
                                   (gg, np.tanh(zg), e_tanh, "g")):
        assert np.abs(got - want).max() <= bound, f"gate {what}: {np.abs(got - want).max():.3g} > {bound:.3g}"
    c_float = sig(zf) * c + sig(zi) * np.tanh(zg)
    e_c = e_sig * (np.abs(c) + 1) + e_tanh + e_sig * e_tanh + _lsb(state_t) / 2
    assert np.all(np.abs(c2 - c_float) <= e_c)
    h_float = sig(zo) * np.tanh(c_float)
    e_h = e_sig + e_c + e_tanh + e_sig * (e_c + e_tanh) + _lsb(state_t) / 2
    assert np.all(np.abs(h2 - h_float) <= e_h)
    # the bounds are not vacuous: the gates use their budget's scale
    assert np.abs(gi - sig(zi)).max() > e_sig / 4


@pytest.mark.parametrize("case, narrowed, hls, suspect", [
    ("lstm_d3_stream", "the state c, h", {"state_precision": "ap_fixed<8,3>"}, "state"),
    ("lstm_d4_stream_w18", "the stage intermediates", {"layers": {"fdhtlstm": {"Precision": {"inter": "ap_fixed<8,3>"}}}},
     "stages"),
    ("lstm_d3_stream", "the stage accumulators", {"accum_precision": "ap_fixed<10,4>"}, "stages"),
    ("lstm_d3_stream", "the logits", {"layers": {"classifier": {"Precision": {"result": "ap_fixed<7,4>"}}}}, "logits"),
])
def test_error_attribution_names_the_narrowed_type(case, narrowed, hls, suspect, tmp_path):
    """With one type deliberately narrowed, the attribution (bitexact.attribute:
    the logit error left when one group of types is made exact) names it, and
    making it exact removes most of the error."""
    from hls_project.numerics import bitexact
    hm, model, x = _convert(case, tmp_path, **hls)
    xin = bitexact.quantize(x.reshape(len(x), -1), hm.get_input_variables()[0].type.precision)
    att = bitexact.attribute(hm, xin)
    assert att["suspect"] == suspect, (narrowed, att["groups"])
    top = att["groups"][0]
    assert top["removes"] > 0.5 * att["logit_error"]
    # the float run of the reference is Keras's model: its logits match Keras's
    from keras_model.common.keras2 import keras

    keras_logits = keras.Model(model.inputs, model.get_layer("classifier").output).predict(x, verbose=0)
    exact = bitexact.predict_logits(hm, x.reshape(len(x), -1), exact=bitexact.GROUPS)
    assert np.abs(exact - keras_logits).max() < 1e-4
    names = [t["tensor"] for t in att["tensors"]]
    assert "fdhtlstm.c" in names and "fdhtlstm.gates" in names and att["logits"] in names
