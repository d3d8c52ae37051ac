"""The RTL of the layers after the FDHT-LSTM or HTDense layer: the
activation and the classifier (hls4ml's Dense layers, linear / ReLU) and the output as ``hls.output`` asks:
the softmax probabilities (hls4ml's stable softmax, ``nn_softmax`` IMPL 0),
the class (hls4ml's argmax: one-hot, IMPL 1) or the logits (no softmax
layer). Types are hls4ml's, from the converted model.

Constants, computed here as the C++ computes them (not taken from the
reference model, ``bitexact.py``, which the RTL is compared with):

* Dense weights and biases as hls4ml's writer prints them (``{:.Ff}``, F the
  type's fraction bits) and the C++ reads the text back into the type;
* the softmax tables as ``init_exp_table`` / ``init_invert_table`` in
  hls4ml's ``nnet_activation.h``: the table point is the type's value with
  the index in its top bits, converted to ``float``; ``expf(-x * exp_scale)``
  and ``1.0f / x`` in float (libm's ``expf``, as ``accel.tables`` does for
  the gate tables), then the float converted to the table's type
  (``accel.tables.to_fixed``). The invert table's entry 0 (1/0) is the
  type's largest value when it saturates, else 0; it is never read (the sum
  of the exponentials is at least exp(0) = 1).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from keras_model.common.errors import ConfigError

_LIBM = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
_LIBM.expf.restype = ctypes.c_float
_LIBM.expf.argtypes = [ctypes.c_float]


@dataclass
class Op:
    """One module of the head: ``nn_dense``, ``nn_act`` or ``nn_softmax``."""

    module: str
    name: str
    params: Dict[str, object]
    n_out: int
    out_t: object  # generate.Fx
    clocked: bool = True


@dataclass
class Head:
    ops: List[Op]
    files: Dict[str, str] = field(default_factory=dict)
    output: str = "logits"  # probabilities | class | logits (what the last op gives)

    @property
    def out_t(self):
        return self.ops[-1].out_t

    @property
    def n_out(self) -> int:
        return self.ops[-1].n_out


def _fx(t):
    from hls_project.rtl.verilog import Fx

    return Fx.of(t)


def _written(var, t) -> np.ndarray:
    """A weight as hls4ml's writer prints it (``{:.Ff}``) and the C++ reads
    it back into its type."""
    from hls_project.accel.tables import to_fixed

    data = np.asarray(var.data, dtype=np.float64).reshape(-1)
    prec = var.type.precision
    f = max(0, int(getattr(prec, "fractional", prec.width - prec.integer)))
    printed = np.array([float(f"{v:.{f}f}") for v in data])
    return to_fixed(printed, t.cpp())


def _dense(node, k: int, in_t, in_words: int, word: int, files: Dict[str, str], mul_stages: int) -> Op:
    from hls_project.rtl.verilog import hex_words as _hex_words

    n_in, n_out = int(node.get_attr("n_in")), int(node.get_attr("n_out"))
    if n_in != in_words * word:
        raise ConfigError(f"RTL: Dense {node.name} has {n_in} inputs but its input stream carries "
                          f"{in_words} x {word}")
    wvar, bvar = node.get_weights("weight"), node.get_weights("bias")
    w_t, b_t = _fx(wvar.type.precision), _fx(bvar.type.precision)
    acc_t, out_t = _fx(node.get_attr("accum_t").precision), _fx(node.get_output_variable().type.precision)
    if acc_t.sat != 0 or not acc_t.s:
        raise ConfigError(f"RTL: Dense {node.name}: accum_t must be a signed wrapping ap_fixed, got {acc_t.text}")
    w = _written(wvar, w_t)
    w = w.reshape(n_out, n_in).T if node.get_attr("_weights_transposed", False) else w.reshape(n_in, n_out)
    b = _written(bvar, b_t).reshape(n_out)
    rf = max(1, int(node.get_attr("reuse_factor", 1) or 1))
    p = max(1, math.ceil(n_in / rf))
    steps = math.ceil(n_in / p)
    rows = np.zeros((steps, p, n_out))
    rows.reshape(steps * p, n_out)[:n_in] = w
    files[f"dense{k}_w.hex"] = _hex_words(w_t.raw(rows.reshape(steps, p * n_out)), w_t.w)
    files[f"dense{k}_b.hex"] = _hex_words(b_t.raw(b)[None, :], b_t.w)
    params = {"N_IN": n_in, "N_OUT": n_out, "WORD": word, "IN_WORDS": in_words, "P": p,
              "XW": in_t.w, "XF": in_t.f, "XS": in_t.s, "WW": w_t.w, "WF": w_t.f, "WS": w_t.s,
              "BW": b_t.w, "BF": b_t.f, "BS": b_t.s, "CW": acc_t.w, "CF": acc_t.f, "CRND": acc_t.rnd,
              "OW": out_t.w, "OF": out_t.f, "OS": out_t.s, "ORND": out_t.rnd, "OSAT": out_t.sat,
              "MUL_STAGES": mul_stages, "W_FILE": f'"dense{k}_w.hex"', "B_FILE": f'"dense{k}_b.hex"'}
    return Op("nn_dense", f"dense{k}", params, n_out, out_t)


def _act(node, k: int, in_t, n: int) -> Op:
    act = str(node.get_attr("activation")).lower()
    if act not in ("linear", "relu"):
        raise ConfigError(f"RTL: activation {act!r} of layer {node.name} is not supported (linear, relu)")
    out_t = _fx(node.get_output_variable().type.precision)
    params = {"N": n, "ACT": int(act == "relu"), "XW": in_t.w, "XF": in_t.f, "XS": in_t.s,
              "OW": out_t.w, "OF": out_t.f, "OS": out_t.s, "ORND": out_t.rnd, "OSAT": out_t.sat}
    return Op("nn_act", f"act{k}", params, n, out_t, clocked=False)


def _top_bits_points(t, nbits: int) -> np.ndarray:
    """softmax_real_val_from_idx: the type's value with i in its top ``nbits``, as float."""
    return t.value(np.arange(1 << nbits, dtype=np.int64) << (t.w - nbits)).astype(np.float32)


def softmax_tables(norm_t, inv_inp_t, exp_t, inv_t, nbe: int, nbi: int, exp_scale: float):
    """(exp table, invert table) values, as hls4ml's init_exp_table(negative)
    and init_invert_table compute them."""
    from hls_project.accel.tables import to_fixed

    x = _top_bits_points(norm_t, nbe) * np.float32(exp_scale)
    e = np.array([_LIBM.expf(float(-v)) for v in x], dtype=np.float32)
    exp_table = to_fixed(e.astype(np.float64), exp_t.cpp())
    xi = _top_bits_points(inv_inp_t, nbi)
    with np.errstate(divide="ignore"):
        inv = (np.float32(1.0) / xi).astype(np.float64)
    big = ~np.isfinite(inv)
    inv[big] = 0.0
    inv_table = to_fixed(inv, inv_t.cpp())
    if inv_t.sat:
        inv_table[big] = inv_t.value((1 << (inv_t.w - 1)) - 1 if inv_t.s else (1 << inv_t.w) - 1)
    return exp_table, inv_table


def _nbits(n: int, what: str) -> int:
    nb = int(math.ceil(math.log2(max(n, 2))))
    if 1 << nb != n:
        raise ConfigError(f"RTL: softmax {what} table size {n} is not a power of two")
    return nb


def _softmax(node, k: int, in_t, n: int, files: Dict[str, str]) -> Op:
    from hls_project.accel.tables import to_fixed
    from hls_project.rtl.verilog import Fx, hex_words as _hex_words

    impl = str(node.get_attr("implementation", "stable")).lower()
    out_t = _fx(node.get_output_variable().type.precision)
    params = {"N": n, "IMPL": 0, "XW": in_t.w, "XF": in_t.f, "XS": in_t.s,
              "OW": out_t.w, "OF": out_t.f, "OS": out_t.s, "ORND": out_t.rnd, "OSAT": out_t.sat}
    if impl == "argmax":
        one = out_t.raw(to_fixed([1.0], out_t.cpp()))[0]
        params.update(IMPL=1, ONE=f"{out_t.w}'d{int(one)}")
        return Op("nn_softmax", f"softmax{k}", params, n, out_t)
    if impl != "stable":
        raise ConfigError(f"RTL: softmax implementation {impl!r} of {node.name} is not supported (stable, argmax)")
    n_exp = int(node.get_attr("exp_table_size", node.get_attr("table_size", 1024)))
    n_inv = int(node.get_attr("inv_table_size", node.get_attr("table_size", 1024)))
    inp_norm = node.get_attr("inp_norm_t")
    if inp_norm is not None and not isinstance(inp_norm, str):
        norm_t = _fx(inp_norm.precision)
    else:  # hls4ml's rule: the input type unsigned, one bit narrower
        norm_t = Fx(in_t.w - in_t.s, in_t.f, 0)
        if in_t.s:
            n_exp = min(n_exp, 2 ** norm_t.w)
    exp_t, inv_t = _fx(node.get_attr("exp_table_t").precision), _fx(node.get_attr("inv_table_t").precision)
    acc_t, inv_inp_t = _fx(node.get_attr("accum_t").precision), _fx(node.get_attr("inv_inp_t").precision)
    nbe, nbi = _nbits(n_exp, "exp"), _nbits(n_inv, "invert")
    if nbe > norm_t.w or nbi > inv_inp_t.w:
        raise ConfigError(f"RTL: softmax {node.name}: a table has more address bits than its index type")
    exp_table, inv_table = softmax_tables(norm_t, inv_inp_t, exp_t, inv_t, nbe, nbi,
                                          float(node.get_attr("exp_scale", 1.0)))
    files[f"softmax{k}_exp.hex"] = _hex_words(exp_t.raw(exp_table)[:, None], exp_t.w)
    files[f"softmax{k}_inv.hex"] = _hex_words(inv_t.raw(inv_table)[:, None], inv_t.w)
    params.update({"DW": norm_t.w, "DF": norm_t.f, "DS": norm_t.s, "DRND": norm_t.rnd, "DSAT": norm_t.sat,
                   "NBE": nbe, "EW": exp_t.w, "EF": exp_t.f, "ES": exp_t.s,
                   "CW": acc_t.w, "CF": acc_t.f, "CS": acc_t.s, "CRND": acc_t.rnd, "CSAT": acc_t.sat,
                   "IW": inv_inp_t.w, "IF": inv_inp_t.f, "IS": inv_inp_t.s, "IRND": inv_inp_t.rnd,
                   "ISAT": inv_inp_t.sat, "NBI": nbi, "VW": inv_t.w, "VF": inv_t.f, "VS": inv_t.s,
                   "ONE": f"{out_t.w}'d0",
                   "EXP_FILE": f'"softmax{k}_exp.hex"', "INV_FILE": f'"softmax{k}_inv.hex"'})
    return Op("nn_softmax", f"softmax{k}", params, n, out_t)


def head_design(hls_model, layer, res_t, words: int, word: int, mul_stages: int = 3) -> Optional[Head]:
    """The head after the FDHT-LSTM or HTDense node ``layer`` (its output:
    ``words`` words of ``word`` values of ``res_t`` per clip); None when the
    layer is the model's last. ConfigError for a layer the RTL does not have."""
    layers = list(hls_model.get_layers())
    names = [n.name for n in layers]
    k0 = names.index(layer.name)
    for node in layers[:k0]:
        if node.class_name not in ("Input", "InputLayer", "Reshape", "Flatten"):
            raise ConfigError(f"RTL: layer {node.name} ({node.class_name}) before the {layer.class_name} is not "
                              "supported")
    ops: List[Op] = []
    files: Dict[str, str] = {}
    cur_t, cur_words, cur_word = res_t, words, word
    output = "logits"
    for node in layers[k0 + 1:]:
        cls = node.class_name
        if cls in ("Reshape", "Flatten"):
            continue
        if output != "logits":
            raise ConfigError(f"RTL: layer {node.name} ({cls}) after the softmax is not supported")
        k = len(ops)
        if cls == "Dense":
            op = _dense(node, k, cur_t, cur_words, cur_word, files, mul_stages)
        elif cls in ("Activation", "QActivation", "ReLU"):
            if cur_words != 1:
                raise ConfigError(f"RTL: activation {node.name} on a multi-word stream is not supported")
            op = _act(node, k, cur_t, cur_word)
        elif cls == "Softmax":
            if cur_words != 1:
                raise ConfigError(f"RTL: softmax {node.name} on a multi-word stream is not supported")
            op = _softmax(node, k, cur_t, cur_word, files)
            output = "class" if op.params["IMPL"] == 1 else "probabilities"
        else:
            raise ConfigError(f"RTL: layer {node.name} ({cls}) is not supported after the {layer.class_name}")
        ops.append(op)
        cur_t, cur_words, cur_word = op.out_t, 1, op.n_out
    if not ops:
        return None
    if cur_words != 1:
        raise ConfigError("RTL: the model's output must be one word per clip")
    return Head(ops, files, output)


def head_verilog(head: Head, in_prefix: str = "h") -> List[str]:
    """The head's instances, from the ``<in_prefix>_tvalid/_tready/_tdata``
    wires to the top's ``m_axis_*`` (one word per clip, TLAST high)."""
    from hls_project.rtl.verilog import inst as _inst

    L: List[str] = []
    src = in_prefix
    for k, op in enumerate(head.ops):
        dst = f"{op.name}_o" if k + 1 < len(head.ops) else "m_axis"
        if dst != "m_axis":
            L += [f"    wire {dst}_tvalid, {dst}_tready;", f"    wire [{op.n_out * op.out_t.w - 1}:0] {dst}_tdata;"]
        ports = {"s_valid": f"{src}_tvalid", "s_ready": f"{src}_tready", "s_data": f"{src}_tdata",
                 "m_valid": f"{dst}_tvalid", "m_ready": f"{dst}_tready", "m_data": f"{dst}_tdata"}
        if op.clocked:
            ports = {"clk": "clk", "rst": "rst", **ports}
        L += _inst(op.module, op.name, op.params, ports)
        src = dst
    L.append("    assign m_axis_tlast = 1'b1;")
    return L
