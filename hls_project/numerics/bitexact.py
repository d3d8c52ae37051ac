"""A bit-exact numpy model of the fixed-point arithmetic the generated C++ performs.

Written from the types and the plan, not from the generated code: every value
is held exactly (float64 on the type's grid), and every place the C++ assigns
to a fixed-point type is one call of :func:`quantize` with that type's
quantisation and overflow modes. What it models, in order:

* the testbench's input: text -> double -> float -> ``input_t``;
* an FDHT-LSTM / HTDense: per frame, the plan's input steps (``ht.Plan``) in
  plan order, each ``out = sum_s Q_accum(A * B)`` (every product rounded to the
  stage's accumulator type, then summed) and ``Q_inter(out)``; the x part
  ``[x ; 0 ; 0]`` and, for an LSTM, the h part ``[0 ; h ; 0]`` as two chains
  with their own types; the constant operands are the cores and the core-only
  steps' tables (computed here from the cores), rounded to nearest on their
  types' grid as the conversion stores them; ``z = z_x + bias + z_h``; the
  cell with hls4ml's sigmoid / tanh lookup tables, rebuilt from their
  definitions, looked up at the nearest table point (index
  ``floor(z * N / 16 + 1/2) + N / 2`` on [-8, 8), tanh on [-4, 4)), or for QKeras quantized_sigmoid / quantized_tanh the same points
  rounded to the quantizer's grid; gate order i, f, c, o;
* hls4ml's Dense (weights as its writer prints them: ``{:.Ff}`` with F
  fraction digits, read back through a double), linear / ReLU activations and
  the stable softmax (``x_max - x_i`` in ``inp_norm_t``, tables indexed by
  the top bits, exp and 1/x tables from their definitions, the sum in
  ``accum_t``, ``1/sum`` via ``inv_inp_t``).

The types come from the hls4ml graph (the configuration), the derived stage
types from the layer (``accel_types``: they are inputs here, not checked).
Tests compare csim's output with :func:`predict` exactly (tests/test_bitexact.py);
:func:`trace` gives the intermediate tensors for error attribution.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Dict, List, Optional

import numpy as np

from keras_model import ht
from keras_model.common import fixedtype

# --------------------------------------------------------------------------
# ap_fixed quantisation
# --------------------------------------------------------------------------


def _type(t) -> fixedtype.FixedType:
    """FixedType of a type string or an hls4ml precision object."""
    if isinstance(t, fixedtype.FixedType):
        return t
    if not isinstance(t, str):
        w, i = getattr(t, "width", None), getattr(t, "integer", None)
        if w is None:
            raise ValueError(f"not a fixed-point type: {t}")
        rnd = getattr(t, "rounding_mode", None)
        sat = getattr(t, "saturation_mode", None)
        rnd = None if rnd is None else "AP_" + str(rnd).split(".")[-1].replace("AP_", "").upper()
        sat = None if sat is None else "AP_" + str(sat).split(".")[-1].replace("AP_", "").upper()
        return fixedtype.FixedType(int(w), int(i), bool(getattr(t, "signed", True)), rnd, sat,
                                   getattr(t, "saturation_bits", None))
    return fixedtype.parse(t)


# a deliberately wrong variant of the arithmetic (tests show the reference is sharp):
# rounding modes replaced, gates permuted; set only inside predict(..., rounding=, gate_order=)
_VARIANT = {"rounding": {}, "gate_order": (0, 1, 2, 3), "exact": frozenset()}

#: What error attribution can make exact, one group at a time (``exact=``):
#: the input conversion, the constants (cores, tables, bias, Dense weights as
#: stored), the HT stages' intermediates and accumulators, the gate values
#: (their type and table lookups: exact means the float function), the cell
#: state c and output h, the layer outputs, the Dense accumulation and its
#: result (the logits), and the softmax.
GROUPS = ("input", "constants", "stages", "gates", "state", "layer_out", "logits", "softmax")


def quantize(values, t, group: Optional[str] = None) -> np.ndarray:
    """Assign exact values to a fixed-point type: its quantisation mode on
    the grid 2^-F, then its overflow mode (two's complement wrap by default).
    A ``group`` made exact (see ``GROUPS``) keeps the values as they are."""
    if group is not None and group in _VARIANT["exact"]:
        return np.asarray(values, dtype=np.float64)
    t = _type(t)
    f = t.width - t.integer
    v = np.asarray(values, dtype=np.float64) * (2.0 ** f)
    mode = t.rounding or "AP_TRN"
    mode = _VARIANT["rounding"].get(mode, mode)
    fl = np.floor(v)
    with np.errstate(invalid="ignore"):
        half = (v - fl) == 0.5
    if mode == "AP_TRN":
        q = fl
    elif mode == "AP_TRN_ZERO":
        q = np.trunc(v)
    elif mode == "AP_RND":  # half towards +inf
        q = np.floor(v + 0.5)
    elif mode == "AP_RND_ZERO":
        q = np.where(half, np.trunc(v), np.floor(v + 0.5))
        q = np.where(half & (v < 0), fl + 1, q)
    elif mode == "AP_RND_MIN_INF":
        q = np.where(half, fl, np.floor(v + 0.5))
    elif mode == "AP_RND_INF":
        q = np.where(half, np.where(v < 0, fl, fl + 1), np.floor(v + 0.5))
    elif mode == "AP_RND_CONV":
        q = np.round(v)  # half to even
    else:
        raise ValueError(f"unknown rounding mode {mode}")
    if t.signed:
        lo, hi = -(2.0 ** (t.width - 1)), 2.0 ** (t.width - 1) - 1
    else:
        lo, hi = 0.0, 2.0 ** t.width - 1
    sat = t.saturation or "AP_WRAP"
    if sat == "AP_SAT":
        q = np.clip(q, lo, hi)
    elif sat == "AP_SAT_SYM":
        q = np.clip(q, -hi if t.signed else lo, hi)
    elif sat == "AP_SAT_ZERO":
        q = np.where((q < lo) | (q > hi), 0.0, q)
    elif sat == "AP_WRAP":
        if t.saturation_bits:
            raise ValueError("AP_WRAP with saturation bits is not modelled")
        span = 2.0 ** t.width
        q = np.mod(q - lo, span) + lo
    else:
        raise ValueError(f"overflow mode {sat} is not modelled")
    return q / (2.0 ** f)


def round_nearest(values, t, group: Optional[str] = None) -> np.ndarray:
    """How the conversion stores a constant: nearest (ties to even), saturated."""
    t = _type(t)
    return quantize(values, fixedtype.FixedType(t.width, t.integer, t.signed, "AP_RND_CONV", "AP_SAT"), group)


def _top_bits_index(values, t, n_bits: int) -> np.ndarray:
    """hls4ml's softmax table address: the top ``n_bits`` of the value's bit pattern."""
    t = _type(t)
    raw = np.round(np.asarray(values) * 2.0 ** (t.width - t.integer)).astype(np.int64)
    raw = np.mod(raw, 2 ** t.width)  # the bit pattern, two's complement
    return (raw >> (t.width - n_bits)) & ((1 << n_bits) - 1)


def _from_top_bits(i: np.ndarray, t, n_bits: int) -> np.ndarray:
    """The value whose top bits are ``i`` and the rest zero."""
    t = _type(t)
    raw = np.asarray(i, dtype=np.int64) << (t.width - n_bits)
    if t.signed:
        raw = np.where(raw >= 2 ** (t.width - 1), raw - 2 ** t.width, raw)
    return raw / 2.0 ** (t.width - t.integer)


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).astype(np.float32).astype(np.float64)


# --------------------------------------------------------------------------
# hls4ml's activation tables
# --------------------------------------------------------------------------


def sigmoid_table(n: int, table_t, bits: int = 0, symmetric: bool = False) -> np.ndarray:
    """hls4ml's sigmoid table on [-8, 8); with ``bits`` a QKeras
    quantized_sigmoid(bits, use_real_sigmoid=True): rounded to 2^-bits, clipped."""
    x = _f32(16.0 * (np.arange(n) - n / 2.0) / n)
    e = _f32(np.exp(-x))  # float std::exp
    if bits:
        m = 2.0 ** bits
        q = np.floor(_f32(1.0 / _f32(1.0 + e)) * m + 0.5) / m
        return quantize(np.clip(q, (1.0 if symmetric else 0.0) / m, 1.0 - 1.0 / m), table_t)
    return quantize(1.0 / _f32(1.0 + e), table_t)  # 1.0 / float: double


def tanh_table(n: int, table_t, bits: int = 0, symmetric: bool = False) -> np.ndarray:
    """hls4ml's tanh table on [-4, 4); with ``bits`` a QKeras
    quantized_tanh(bits, use_real_tanh=True): rounded to 2^-(bits-1), clipped."""
    x = _f32(8.0 * (np.arange(n) - n / 2.0) / n)
    t = _f32(np.tanh(x))  # tanh(float): float
    if bits:
        m = 2.0 ** (bits - 1)
        q = np.floor(t * m + 0.5) / m
        return quantize(np.clip(q, -1.0 + (1.0 if symmetric else 0.0) / m, 1.0 - 1.0 / m), table_t)
    return quantize(t, table_t)


def sigmoid_index(z: np.ndarray, n: int) -> np.ndarray:
    """The nearest table point (table sizes that are powers of 2: exact)."""
    return np.clip(np.floor(z * n / 16.0 + 0.5).astype(np.int64) + n // 2, 0, n - 1)


def tanh_index(z: np.ndarray, n: int) -> np.ndarray:
    return np.clip(np.floor(z * n / 8.0 + 0.5).astype(np.int64) + n // 2, 0, n - 1)


# --------------------------------------------------------------------------
# HT chains
# --------------------------------------------------------------------------


def constant_operands(shape: ht.HTShape, cores: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Every constant operand an input step reads (cores, and the core-only
    steps' products in float64), in the plan's index order."""
    vals: Dict[str, np.ndarray] = {}
    root = shape.root.name
    for name, arr in cores.items():
        arr = np.asarray(arr, dtype=np.float64).reshape(shape.core_shapes[name])
        vals[name] = arr[..., 0] if name == root else arr
    for a, b, o, spec in shape.plan.einsum_steps(batch=False):
        if a in vals and b in vals and o not in vals:
            vals[o] = np.einsum(spec, vals[a], vals[b])
    return vals


def run_chain(v: np.ndarray, shape: ht.HTShape, tables: Dict[str, np.ndarray], accum: List[str],
              inter: List[str], record: Optional[Dict[str, np.ndarray]] = None, tag: str = "") -> np.ndarray:
    """The plan's input steps on a batch of padded inputs ``v`` (batch, padded_in):
    per step every product rounded to ``accum[k]``, summed, rounded to
    ``inter[k]``. Returns (batch, out_features)."""
    cur = {"x": np.asarray(v, dtype=np.float64).reshape((len(v),) + tuple(shape.input_modes))}
    k = 0
    for a, b, o, spec in shape.plan.einsum_steps(batch=True):
        if a not in cur:
            continue  # a core-only step: precomputed
        lhs, out_sub = spec.split("->")
        a_sub, b_sub = lhs.split(",")
        summed = "".join(c for c in a_sub if c not in out_sub)
        full = out_sub + summed
        prod = np.einsum(f"{a_sub},{b_sub}->{full}", cur[a], tables[b])
        prod = quantize(prod, accum[k], "stages")
        total = prod.sum(axis=tuple(range(len(out_sub), len(full)))) if summed else prod
        # the sum in the accumulator type: exact, wrapping or saturating as the type does
        total = quantize(total, accum[k], "stages")
        cur[o] = quantize(total, inter[k], "stages")
        if record is not None:
            record[f"{tag}{o}"] = cur[o]
        k += 1
    return cur[o].reshape(len(v), -1)


# --------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------


def _prec(node, attr):
    t = node.get_attr(attr)
    return _type(t.precision)


def _ht_tables(node, types) -> Dict[str, np.ndarray]:
    shape = node.ht_shape()
    cores = {n: np.asarray(node.get_weights(f"core_{n}").data, dtype=np.float64)
             for n in node.get_attr("core_names")}
    vals = constant_operands(shape, cores)
    return {name: round_nearest(vals[name], t, "constants") for name, (_, t) in types["tables"].items()}


def _ht_common(node):
    from hls_project.ext.node import accel_types  # the layer's derived types (inputs here)

    types = accel_types(node)
    shape = node.ht_shape()
    tables = _ht_tables(node, types)
    bias = np.zeros(shape.out_features)
    if node.get_attr("use_bias", True):
        bias = round_nearest(np.asarray(node.get_weights("bias").data, dtype=np.float64).reshape(-1), types["bias_t"],
                             "constants")
    return types, shape, tables, bias


def ht_dense(node, x: np.ndarray, record=None) -> np.ndarray:
    types, shape, tables, bias = _ht_common(node)
    v = np.zeros((len(x), shape.padded_in))
    v[:, : node.get_attr("n_in")] = x
    z = run_chain(v, shape, tables, types["x"]["accum"], types["x"]["inter"], record, "x.")
    return quantize(z + bias, types["z"], "stages")


def cell(z: np.ndarray, c: np.ndarray, sig: np.ndarray, tanh: np.ndarray, act_t, state_t):
    """One step of the cell on z (batch, 4H) and c (batch, H), with the gate
    tables ``sig`` / ``tanh``: (gates [i, f, g, o, tanh(c')], c', h')."""
    n_tab = len(sig)
    h_units = c.shape[1]
    # Keras's gate order: i, f, c (candidate), o
    zi, zf, zg, zo = (z[:, g * h_units:(g + 1) * h_units] for g in _VARIANT["gate_order"])
    if "gates" in _VARIANT["exact"]:  # the float functions instead of the tables
        look_s, look_t = (lambda v: 1.0 / (1.0 + np.exp(-v))), np.tanh
    else:
        look_s = lambda v: quantize(sig[sigmoid_index(v, n_tab)], act_t)
        look_t = lambda v: quantize(tanh[tanh_index(v, len(tanh))], act_t)
    gi, gf, go, gg = look_s(zi), look_s(zf), look_s(zo), look_t(zg)
    c = quantize(gf * c + gi * gg, state_t, "state")
    ca = look_t(c)
    h = quantize(go * ca, state_t, "state")
    return np.concatenate([gi, gf, gg, go, ca], axis=1), c, h


def fdht_lstm(node, x: np.ndarray, record=None) -> np.ndarray:
    """x: (batch, T * n_in) in the input type -> (batch, H) or (batch, T * H)."""
    types, shape, tables, bias = _ht_common(node)
    n_in, h_units, steps = node.get_attr("n_in"), node.get_attr("n_out"), node.get_attr("n_timesteps")
    batch = len(x)
    x = x.reshape(batch, steps, n_in)
    z_t = types["z"]
    act_t, state_t = _prec(node, "act_t"), _prec(node, "state_t")
    n_tab = int(node.get_attr("table_size", 1024))
    table_t = _prec(node, "table_t")
    sig = sigmoid_table(n_tab, table_t, int(node.get_attr("recr_act_bits", 0)),
                        bool(node.get_attr("recr_act_symmetric", False)))
    tanh = tanh_table(n_tab, table_t, int(node.get_attr("act_bits", 0)), bool(node.get_attr("act_symmetric", False)))
    h = np.zeros((batch, h_units))
    c = np.zeros((batch, h_units))
    outs = []
    for t in range(steps):
        vx = np.zeros((batch, shape.padded_in))
        vx[:, :n_in] = x[:, t]
        zx = quantize(run_chain(vx, shape, tables, types["x"]["accum"], types["x"]["inter"], record,
                                f"t{t}.x.") + bias, z_t, "stages")
        vh = np.zeros((batch, shape.padded_in))
        vh[:, n_in:n_in + h_units] = h
        zh = run_chain(vh, shape, tables, types["h"]["accum"], types["h"]["inter"], record, f"t{t}.h.")
        z = quantize(zx + zh, z_t, "stages")
        gates, c, h = cell(z, c, sig, tanh, act_t, state_t)
        if record is not None:
            record[f"t{t}.z"], record[f"t{t}.c"], record[f"t{t}.h"] = z, c, h
            record[f"t{t}.gates"] = gates
        outs.append(h)
    return np.concatenate(outs, axis=1) if node.get_attr("return_sequences") else h


def _written(var) -> np.ndarray:
    """A weight as hls4ml's writer prints it and the C++ reads it back."""
    data = np.asarray(var.data, dtype=np.float64).reshape(-1)
    prec = var.type.precision
    f = max(0, int(getattr(prec, "fractional", prec.width - prec.integer)))
    printed = np.array([float(f"{v:.{f}f}") for v in data])
    return quantize(printed, prec, "constants")


def dense(node, x: np.ndarray) -> np.ndarray:
    n_in, n_out = node.get_attr("n_in"), node.get_attr("n_out")
    wvar = node.get_weights("weight")
    if node.get_attr("_weights_transposed", False):  # hls4ml's resource strategy stores W^T
        w = _written(wvar).reshape(n_out, n_in).T
    else:
        w = _written(wvar).reshape(n_in, n_out)
    b = _written(node.get_weights("bias")).reshape(n_out)
    acc_t = _prec(node, "accum_t")
    products = quantize(x[:, :, None] * w[None, :, :], acc_t, "logits")
    acc = quantize(quantize(b, acc_t, "logits")[None, :] + products.sum(axis=1), acc_t, "logits")
    return quantize(acc, node.get_output_variable().type.precision, "logits")


def softmax(node, x: np.ndarray) -> np.ndarray:
    """hls4ml's stable softmax (the flow's choice)."""
    if "softmax" in _VARIANT["exact"]:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    impl = str(node.get_attr("implementation", "stable")).lower()
    if impl == "argmax":  # hls4ml's: 1 at the first maximum
        onehot = np.zeros_like(x)
        onehot[np.arange(len(x)), np.argmax(x, axis=1)] = 1.0
        return quantize(onehot, node.get_output_variable().type.precision)
    if impl != "stable":
        raise NotImplementedError(f"softmax implementation {impl!r} is not modelled (the flow uses 'stable')")
    in_t = _type(node.get_input_variable().type.precision)
    n_exp = int(node.get_attr("exp_table_size", node.get_attr("table_size", 1024)))
    n_inv = int(node.get_attr("inv_table_size", node.get_attr("table_size", 1024)))
    inp_norm = node.get_attr("inp_norm_t")
    if inp_norm is not None and not isinstance(inp_norm, str):
        norm_t = _type(inp_norm.precision)
    else:  # hls4ml's rule: the input type unsigned, one bit narrower
        width, iwidth = in_t.width - in_t.signed, in_t.integer - in_t.signed
        if in_t.signed:
            n_exp = min(n_exp, 2 ** width)
        norm_t = fixedtype.FixedType(width, iwidth, False)
    exp_t, inv_t = _prec(node, "exp_table_t"), _prec(node, "inv_table_t")
    acc_t, inv_inp_t = _prec(node, "accum_t"), _prec(node, "inv_inp_t")
    scale = float(node.get_attr("exp_scale", 1.0))
    nb_exp, nb_inv = int(math.ceil(math.log2(n_exp))), int(math.ceil(math.log2(n_inv)))
    xv = _f32(_f32(_from_top_bits(np.arange(n_exp), norm_t, nb_exp)) * np.float32(scale))
    exp_table = quantize(_f32(np.exp(-xv)), exp_t)
    xi = _f32(_from_top_bits(np.arange(n_inv), inv_inp_t, nb_inv))
    with np.errstate(divide="ignore"):
        inv_table = quantize(_f32(1.0 / xi), inv_t)
    d = quantize(x.max(axis=1, keepdims=True) - x, norm_t)
    e = quantize(exp_table[_top_bits_index(d, norm_t, nb_exp)], acc_t)
    total = quantize(quantize(e.sum(axis=1), acc_t), inv_inp_t)
    inv = inv_table[_top_bits_index(total, inv_inp_t, nb_inv)]
    return quantize(e * inv[:, None], node.get_output_variable().type.precision)


def _layer(node, x: np.ndarray, record=None) -> np.ndarray:
    cls = node.class_name
    out_t = node.get_output_variable().type.precision
    if cls in ("Input", "InputLayer"):
        return quantize(x, out_t, "input")
    if cls in ("Reshape", "Flatten"):
        return x
    # our layers' results are converted to the layer's output type as they are written out
    if cls == "FDHTLSTM":
        return quantize(fdht_lstm(node, x, record), out_t, "layer_out")
    if cls == "HTDense":
        return quantize(ht_dense(node, x, record), out_t, "layer_out")
    if cls == "Dense":
        return dense(node, x)
    if cls in ("Activation", "QActivation"):
        act = str(node.get_attr("activation")).lower()
        if act == "linear":
            return quantize(x, out_t, "logits")
        if act == "relu":
            return quantize(np.maximum(x, 0.0), out_t, "layer_out")
        raise NotImplementedError(f"activation {act!r} of layer {node.name} is not modelled")
    if cls == "Softmax":
        return softmax(node, x)
    raise NotImplementedError(f"layer {node.name} ({cls}) is not modelled")


def testbench_input(text_rows: List[str]) -> np.ndarray:
    """The testbench's reading of tb_input_features.dat: atof, then float."""
    return np.array([[float(np.float32(float(v))) for v in row.split()] for row in text_rows])


@contextmanager
def _variant(rounding=None, gate_order=None, exact=()):
    unknown = set(exact) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown groups {sorted(unknown)}; choose from {', '.join(GROUPS)}")
    _VARIANT.update(rounding=dict(rounding or {}), gate_order=tuple(gate_order or (0, 1, 2, 3)),
                    exact=frozenset(exact))
    try:
        yield
    finally:
        _VARIANT.update(rounding={}, gate_order=(0, 1, 2, 3), exact=frozenset())


def _run(hls_model, x: np.ndarray, record: Optional[Dict[str, np.ndarray]] = None,
         stop: Optional[str] = None) -> np.ndarray:
    """The layers in order on ``x`` (under the current variant), up to and
    including ``stop``; with ``record``, every layer's output and internals."""
    cur = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    for node in hls_model.get_layers():
        inner: Optional[Dict[str, np.ndarray]] = {} if record is not None else None
        cur = _layer(node, cur, inner).reshape(len(x), -1)
        if record is not None:
            record[node.name] = cur
            for k, v in inner.items():
                record[f"{node.name}.{k}"] = v.reshape(len(x), -1)
        if node.name == stop:
            break
    return cur


def trace(hls_model, x: np.ndarray, exact=()) -> Dict[str, np.ndarray]:
    """Every layer's output (by layer name) and the FDHT layers' internals
    (``<layer>.t<k>.x.<step>``, ``.z``, ``.gates``, ``.c``, ``.h``), with the
    ``exact`` groups (see ``GROUPS``) left unrounded."""
    record: Dict[str, np.ndarray] = {}
    with _variant(exact=exact):
        _run(hls_model, x, record)
    return record


def predict(hls_model, x: np.ndarray, rounding: Optional[Dict[str, str]] = None,
            gate_order: Optional[tuple] = None, exact=()) -> np.ndarray:
    """The model's output for inputs ``x`` (batch, ...) as the testbench feeds
    them. ``rounding`` (e.g. {'AP_RND_CONV': 'AP_TRN'}) and ``gate_order``
    give a deliberately wrong variant, for tests that the reference is sharp;
    ``exact`` leaves groups unrounded (error attribution)."""
    with _variant(rounding, gate_order, exact):
        return _run(hls_model, x)


def logits_layer(hls_model) -> Optional[str]:
    """Name of the layer whose output is the logits: the softmax's input, or
    the last layer of a model without softmax."""
    layers = list(hls_model.get_layers())
    for k, node in enumerate(layers):
        if node.class_name == "Softmax":
            return layers[k - 1].name if k else None
    return layers[-1].name if layers else None


def _tensor_groups(record: Dict[str, np.ndarray]) -> Dict[str, List[str]]:
    """Trace keys gathered per tensor kind, in data-flow order (all time steps together)."""
    kinds: Dict[str, List[str]] = {}
    for key in record:
        parts = key.split(".")
        if len(parts) == 1:
            kind = key
        elif parts[1].startswith("t") and parts[1][1:].isdigit():
            kind = ".".join([parts[0]] + parts[2:])  # e.g. fdhtlstm.x.t3, fdhtlstm.c
        else:
            kind = ".".join([parts[0]] + parts[1:])
        kinds.setdefault(kind, []).append(key)
    return kinds


def attribute(hls_model, x: np.ndarray) -> Dict[str, object]:
    """Where the fixed-point error comes from, for the samples ``x`` (as the
    testbench feeds them):

    * ``tensors``: per tensor (input, each HT stage's output over all steps,
      z, the gates, c, h, every layer output, the logits), max and mean
      |fixed - float| next to max |float|: the float run is this same
      model with every group exact (float64, the float functions);
    * ``groups``: per group of types, the logit error left when only that
      group is made exact; ``suspect`` is the group whose exactness removes
      the most error (the type to widen first).
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    name = logits_layer(hls_model)
    fixed = trace(hls_model, x)
    exact = trace(hls_model, x, exact=GROUPS)
    err = float(np.max(np.abs(fixed[name] - exact[name]))) if name else 0.0
    tensors = []
    kinds = _tensor_groups(fixed)
    for kind, keys in kinds.items():
        d = np.concatenate([np.abs(fixed[k] - exact[k]).reshape(-1) for k in keys])
        ref = np.concatenate([np.abs(exact[k]).reshape(-1) for k in keys])
        tensors.append({"tensor": kind, "max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean()),
                        "max_abs": float(ref.max())})
    groups = []
    for g in GROUPS:
        out = predict_logits(hls_model, x, exact=(g,))
        left = float(np.max(np.abs(out - exact[name]))) if name else 0.0
        groups.append({"group": g, "logit_error_if_exact": left, "removes": err - left})
    groups.sort(key=lambda r: -r["removes"])
    return {"samples": int(len(x)), "logits": name, "logit_error": err, "tensors": tensors, "groups": groups,
            "suspect": groups[0]["group"] if groups and groups[0]["removes"] > 0 else None}


def predict_logits(hls_model, x: np.ndarray, exact=()) -> np.ndarray:
    """The logits (the softmax's input) of ``predict``."""
    with _variant(exact=exact):
        return _run(hls_model, x, stop=logits_layer(hls_model))
