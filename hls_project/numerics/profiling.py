"""Where precision is lost: value ranges against the chosen fixed-point types.

``range_check`` compares the real values of the model (inputs, each layer's
Keras output on the given samples, every weight) with the representable
range of the hls4ml type chosen for it, and counts the values that would
saturate or wrap. ``dense_output_ranges`` measures the logits' range (the
conversion sizes the Dense result types from it; the precision search
calibrates on it). ``profile`` adds plots of the same (weights and
activations per tensor against their types) as PNGs.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List

import numpy as np
from keras_model.common.logs import info


def dense_output_ranges(model, x) -> Dict[str, float]:
    """max |output| of every Dense layer on ``x`` (the logits before softmax)."""
    from keras_model.common.keras2 import keras

    names = [l.name for l in model.layers if type(l).__name__ in ("Dense", "QDense")]
    if not names:
        return {}
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    outs = probe.predict(x, verbose=0, batch_size=256)
    outs = outs if isinstance(outs, list) else [outs]
    return {n: float(np.max(np.abs(o))) for n, o in zip(names, outs)}


def type_range(precision):
    """(min, max, lsb) of an hls4ml fixed/int precision, or None."""
    width = getattr(precision, "width", None)
    integer = getattr(precision, "integer", None)
    if width is None or integer is None:
        return None
    signed = getattr(precision, "signed", True)
    frac = width - integer
    lsb = 2.0 ** (-frac)
    if signed:
        return -(2.0 ** (integer - 1)), 2.0 ** (integer - 1) - lsb, lsb
    return 0.0, 2.0 ** integer - lsb, lsb


def _count(values, rng) -> Dict[str, Any]:
    lo, hi, lsb = rng
    v = np.asarray(values, dtype=np.float64).ravel()
    # a value at most one LSB beyond an end is only clipped by at most one LSB
    # (float32's tanh reaching 1.0 for a type ending at 1 - LSB, say), an
    # error like a rounding, not a saturation or wrap-around
    below, above = int(np.sum(v < lo - lsb)), int(np.sum(v > hi + lsb))
    nz = np.abs(v[v != 0])
    return {"min": float(v.min()) if v.size else 0.0, "max": float(v.max()) if v.size else 0.0,
            "abs_min_nonzero": float(nz.min()) if nz.size else 0.0,
            "type_min": lo, "type_max": hi, "lsb": lsb, "out_of_range": below + above, "total": int(v.size)}


def range_check(hls_model, keras_model, x) -> Dict[str, Any]:
    """Values outside their fixed-point type, per tensor: the input, each
    layer's output (Keras values vs the hls4ml result type) and each weight.
    ``x`` is the model input (float, Keras layout)."""
    from keras_model.common.keras2 import keras

    rows: List[Dict[str, Any]] = []
    in_layer = hls_model.get_input_variables()[0]
    rng = type_range(in_layer.type.precision)
    if rng:
        rows.append({"tensor": "input", "kind": "input", "type": str(in_layer.type.name), **_count(x, rng)})
    hls_layers = {l.name: l for l in hls_model.get_layers()}
    names = [l.name for l in keras_model.layers[1:] if l.name in hls_layers]
    if names:
        probe = keras.Model(keras_model.inputs, [keras_model.get_layer(n).output for n in names])
        outs = probe.predict(x, verbose=0, batch_size=128)
        outs = outs if isinstance(outs, list) else [outs]
        for name, val in zip(names, outs):
            var = hls_layers[name].get_output_variable()
            rng = type_range(var.type.precision)
            if rng:
                rows.append({"tensor": name, "kind": "activation", "type": str(var.type.name), **_count(val, rng)})
    for layer in hls_model.get_layers():
        for w in layer.weights.values():
            rng = type_range(w.type.precision)
            data = w.data  # after a QKeras quantizer, if any (it clips by design)
            if rng is not None and np.size(data):
                rows.append({"tensor": w.name, "kind": "weight", "type": str(w.type.name), **_count(data, rng)})
    total = sum(r["out_of_range"] for r in rows)
    return {"out_of_range_total": int(total), "tensors": rows,
            "out_of_range_tensors": [r["tensor"] for r in rows if r["out_of_range"]]}


def _plot(rows, title, path):
    """One horizontal bar per tensor: the span of |values| seen (log2) over
    the representable span of its type (shaded), like hls4ml's profiling."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.2))
    for i, r in enumerate(rows):
        lo_t, hi_t = np.log2(r["lsb"]), np.log2(max(abs(r["type_min"]), abs(r["type_max"])))
        ax.barh(i, hi_t - lo_t, left=lo_t, color="#cfe3f5", edgecolor="#7aa6d1", height=0.8)
        vmax = max(abs(r["min"]), abs(r["max"]), 1e-30)
        vmin = r.get("abs_min_nonzero") or vmax
        color = "#c0392b" if r["out_of_range"] else "#2c3e50"
        ax.plot([np.log2(vmin), np.log2(vmax)], [i, i], color=color, lw=3)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{r['tensor']} ({r['type']})" for r in rows], fontsize=7)
    ax.set_xlabel("log2 |value|  (bar: representable by the type; line: values seen; red: out of range)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def profile(hls_model, keras_model, x, out_dir: str, log=info) -> Dict[str, Any]:
    """Range check + plots (PNG) of weights and activations against their
    types. (hls4ml 1.3.0's own ``numerical()`` assumes at most two weights
    per non-recurrent layer and fails on our cores, so we draw our own.)"""
    os.makedirs(out_dir, exist_ok=True)
    check = range_check(hls_model, keras_model, x)
    written = []
    for kind, title in (("weight", "weights vs their types"), ("activation", "activations vs their types")):
        rows = [r for r in check["tensors"] if r["kind"] == kind or (kind == "activation" and r["kind"] == "input")]
        if rows:
            path = os.path.join(out_dir, f"profile_{kind}s.png")
            _plot(rows, title, path)
            written.append(path)
    for r in check["tensors"]:
        if r["out_of_range"]:
            log(f"profile: {r['out_of_range']} of {r['total']} values of {r['tensor']} ({r['kind']}) lie outside "
                f"{r['type']} [{r['type_min']:g}, {r['type_max']:g}] (seen {r['min']:.4g} .. {r['max']:.4g})")
    return {"plots": written, **check}
