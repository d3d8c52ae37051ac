"""``hls.precision: auto``: the narrowest types that reach the agreement target.

The search runs on a calibration set drawn from the training data (never the
test set) and needs no g++: every candidate is converted with hls4ml and
evaluated with the bit-exact model (``bitexact``, which csim equals exactly).
The types come in groups, one knob (fraction bits, or the width of the
constants) each; integer bits are derived from ranges as the flow always
derives them:

* ``input``: the default type (the input; hls4ml layers without their own type)
  with the integer bits the data's range needs;
* ``constants``: the HT cores and constant tables (``CoreWidth``; integer bits
  from each one's values) and the classifier's weights and bias;
* ``stages``: the HT stages' intermediates (``FracBits``; accumulators keep 4
  more fraction bits; integer bits from the overflow bound);
* ``gates``: the gate values (``act``, within [-2, 2));
* ``state``: the cell state c and h (integer bits for |c| <= T);
* ``layer_out``: the FDHT-LSTM's output h as the classifier reads it (|h| < 1);
* ``logits``: the classifier's result (integer bits for 3x the calibration range);
* ``tables``: the gate tables' size (1024 x 2^k entries), grown when the gates
  are the error source and their type is at the cap.

Acceptance: a candidate must agree with Keras on the calibration set to
within half the target's slack (200 samples, 99.5 %: no disagreement), have
no tensor outside its type, and an estimated flip rate on unseen data of at
most a quarter of the slack: the share of Keras's logit margins (top-1 minus top-2,
over up to 4,000 training samples) below the largest margin error the
candidate makes on the calibration set.

Steering: start every group narrow; evaluate; while a candidate fails, ``bitexact.attribute`` on
the disagreeing (and the worst) samples names the group whose exactness
removes the most logit error, and that group gets 2 more bits (groups already
at the cap are skipped); tensors outside their type on the calibration data
(the range check) are widened first. Once the target is met, each group in
turn gives back a bit while the target holds. Every type stays <= 18 bits.
"""

from __future__ import annotations

import copy
import os
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from hls_project.numerics import bitexact
from keras_model.common.fixedtype import int_bits_for

MAX_BITS = 18
# start widths (fraction bits; constants: total width)
START = {"input": 6, "constants": 8, "stages": 6, "gates": 6, "state": 6, "layer_out": 6, "logits": 4,
         "tables": 0}
#: the gate tables: 1024 x 2^k entries (k <= 3); they grow when the gates are
#: the error source and their type is at the cap (the lookup step is the floor)
TABLE_STEPS = 3
#: an attributed group -> the knobs that widen it, in order
WIDENS = {"gates": ("gates", "tables"), "softmax": ("logits",), "input": ("input",), "constants": ("constants",),
          "stages": ("stages",), "state": ("state",), "layer_out": ("layer_out",), "logits": ("logits",)}
STEP = 2
CALIBRATION = 200
MARGIN_SAMPLES = 4000  # training samples whose Keras logit margins the flip-rate estimate uses


def _ht_layers(model) -> List[Any]:
    return [l for l in model.layers if type(l).__name__ in ("FDHTLSTM", "HTDense")]


def widths(knobs: Dict[str, int], model, input_range: float, dense_ranges: Dict[str, float]) -> Dict[str, Dict]:
    """The C++ types (integer and total bits) each knob setting gives, per group."""
    i_in = int_bits_for(input_range)
    out: Dict[str, Dict] = {"input": {"type": f"ap_fixed<{i_in + knobs['input']},{i_in}>"}}
    steps = max([int(l.input_shape[1]) for l in _ht_layers(model) if type(l).__name__ == "FDHTLSTM"] or [1])
    c_int = int_bits_for(float(steps))
    out["state"] = {"type": f"ap_fixed<{c_int + knobs['state']},{c_int},AP_RND_CONV,AP_SAT>"}
    out["gates"] = {"type": f"ap_fixed<{2 + knobs['gates']},2,AP_RND_CONV,AP_SAT>"}
    out["layer_out"] = {"type": f"ap_fixed<{1 + knobs['layer_out']},1,AP_RND_CONV,AP_SAT>"}
    out["constants"] = {"width": knobs["constants"]}
    out["tables"] = {"entries": 1024 * 2 ** knobs.get("tables", 0)}
    out["stages"] = {"frac_bits": knobs["stages"]}
    bound = max(dense_ranges.values()) if dense_ranges else 1.0
    i_l = int_bits_for(3.0 * bound)  # the stable softmax subtracts the max in this type: twice, and a margin
    out["logits"] = {"type": f"ap_fixed<{i_l + knobs['logits']},{i_l},AP_RND_CONV,AP_SAT>"}
    return out


def apply(cfg: Dict[str, Any], knobs: Dict[str, int], model, input_range: float,
          dense_ranges: Dict[str, float]) -> Dict[str, Any]:
    """A copy of ``cfg`` whose ``hls`` section sets the knobs' types."""
    w = widths(knobs, model, input_range, dense_ranges)
    new = copy.deepcopy(cfg)
    h = new["hls"]
    h["precision"] = w["input"]["type"]
    h["state_precision"] = w["state"]["type"]
    h["table_size"] = 1024 * 2 ** knobs.get("tables", 0)
    layers = copy.deepcopy(h.get("layers") or {})
    for l in _ht_layers(model):
        lc = layers.setdefault(l.name, {})
        lc["CoreWidth"] = knobs["constants"]
        lc["FracBits"] = knobs["stages"]
        prec = lc.setdefault("Precision", {})
        if type(l).__name__ == "FDHTLSTM":
            prec["act"] = w["gates"]["type"]
            prec["result"] = w["layer_out"]["type"]
    for l in model.layers:
        if type(l).__name__ in ("Dense", "QDense"):
            prec = layers.setdefault(l.name, {}).setdefault("Precision", {})
            prec["result"] = w["logits"]["type"]
            kernel, *bias = l.get_weights()
            for var, data in (("weight", kernel), ("bias", bias[0] if bias else np.zeros(1))):
                i = int_bits_for(float(np.max(np.abs(data))) if np.size(data) else 0.0)
                prec[var] = f"ap_fixed<{max(knobs['constants'], i + 1)},{i},AP_RND_CONV,AP_SAT>"
            layers.setdefault(f"{l.name}_linear", {}).setdefault("Precision", {})["result"] = w["logits"]["type"]
    h["layers"] = layers
    return new


def _margins(z: np.ndarray) -> np.ndarray:
    top2 = np.sort(z, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def _evaluate(cfg, model, x_cal, keras_cal, input_range, dense_ranges, knobs, tmp, keras_margins=None,
              keras_cal_logits=None) -> Dict[str, Any]:
    """One candidate: convert, the bit-exact outputs on the calibration set,
    the agreement, the range check, and the estimated flip rate on unseen
    data: the share of the training set's Keras logit margins below the
    largest margin error seen on the calibration set."""
    from hls_project.flow.convert import convert
    from hls_project.numerics.profiling import range_check

    c = apply(cfg, knobs, model, input_range, dense_ranges)
    hm = convert(model, c, tmp, None, None, input_range, dense_ranges)
    xin = x_cal.reshape(len(x_cal), -1)
    rec = bitexact.trace(hm, xin)
    out = rec[list(hm.get_layers())[-1].name]
    agree = np.argmax(out, 1) == np.argmax(keras_cal, 1)
    rc = range_check(hm, model, x_cal)
    flip_rate, margin_error = None, None
    if keras_margins is not None and keras_cal_logits is not None:
        z = rec[bitexact.logits_layer(hm)]
        k = np.argsort(keras_cal_logits, axis=1)[:, -2:]  # Keras's top-2 classes
        rows = np.arange(len(z))
        dm = np.abs((z[rows, k[:, 1]] - z[rows, k[:, 0]]) - (keras_cal_logits[rows, k[:, 1]] -
                                                             keras_cal_logits[rows, k[:, 0]]))
        margin_error = float(dm.max())
        flip_rate = float(np.mean(keras_margins < margin_error))
    return {"hm": hm, "agreement": float(np.mean(agree)), "disagree": np.flatnonzero(~agree), "out": out,
            "out_of_range": rc["out_of_range_tensors"], "cfg": c, "flip_rate": flip_rate,
            "margin_error": margin_error}


def _group_of_tensor(name: str, model) -> Optional[str]:
    """The knob that widens an out-of-range tensor of the range check."""
    names = {l.name: type(l).__name__ for l in model.layers}
    if name == "input":
        return "input"
    cls = names.get(name)
    if cls in ("Dense", "QDense") or name.endswith("_linear"):
        return "logits"
    if cls in ("FDHTLSTM",):
        return "layer_out"
    if "core" in name or name.startswith("w") or name.startswith("b"):
        return "constants"
    return None


def choose(cfg: Dict[str, Any], model, x_cal: np.ndarray, input_range: float, target: float,
           log: Callable[[str], None] = print, x_margins: Optional[np.ndarray] = None) -> Dict[str, Any]:
    """Search the knobs; returns {'knobs', 'types', 'cfg', 'calibration_agreement',
    'evaluations', 'history', 'seconds', 'reached'}. ``x_margins``: more
    training samples for Keras's logit margins (the flip-rate estimate)."""
    from hls_project.numerics.fidelity import keras_logits
    from hls_project.numerics.profiling import dense_output_ranges

    t0 = time.time()
    keras_cal = model.predict(x_cal, verbose=0, batch_size=256)
    keras_cal_logits = keras_logits(model, x_cal)
    keras_margins = None
    if keras_cal_logits is not None:
        big = keras_logits(model, x_margins) if x_margins is not None else keras_cal_logits
        keras_margins = _margins(big)
    max_flip_rate = (1.0 - target) / 4
    dense_ranges = dense_output_ranges(model, x_cal)
    groups = list(START)
    knobs = dict(START)
    history: List[Dict[str, Any]] = []
    cap = {g: (MAX_BITS if g == "constants" else TABLE_STEPS if g == "tables" else
               MAX_BITS - _int_bits(g, knobs, model, input_range, dense_ranges)) for g in groups}
    with tempfile.TemporaryDirectory(prefix="fdht-autoprec-") as tmp:
        def ev(k):
            sub = os.path.join(tmp, f"e{len(history)}")
            os.makedirs(sub)
            r = _evaluate(cfg, model, x_cal, keras_cal, input_range, dense_ranges, k, sub, keras_margins,
                          keras_cal_logits)
            history.append({"knobs": dict(k), "agreement": r["agreement"], "out_of_range": r["out_of_range"],
                            "estimated_flip_rate": r["flip_rate"], "margin_error": r["margin_error"]})
            log(f"[precision auto] {_fmt(k)}: calibration agreement {100 * r['agreement']:.2f} %"
                + (f", estimated flips {100 * r['flip_rate']:.2f} %" if r["flip_rate"] is not None else "")
                + (f", out of range: {', '.join(r['out_of_range'][:3])}" if r["out_of_range"] else ""))
            return r

        def ok(r):
            return (r["agreement"] >= need and not r["out_of_range"]
                    and (r["flip_rate"] is None or r["flip_rate"] <= max_flip_rate))

        # the calibration set must do better than the target by half its
        # slack (200 samples, target 99.5 %: no disagreement), so that the
        # test set, which it has not seen, still reaches the target
        need = 1.0 - (1.0 - target) / 2
        r = ev(knobs)
        while not ok(r):
            grow = None
            for name in r["out_of_range"]:
                g = _group_of_tensor(name, model)
                if g and knobs[g] < cap[g]:
                    grow = g
                    break
            if grow is None:
                pick = list(r["disagree"][:8]) or list(np.argsort(-np.abs(r["out"] - keras_cal).max(1))[:8])
                att = bitexact.attribute(r["hm"], x_cal.reshape(len(x_cal), -1)[pick])
                for row in att["groups"]:
                    if row["removes"] <= 0:
                        break
                    grow = next((k for k in WIDENS.get(row["group"], ()) if knobs[k] < cap[k]), None)
                    if grow:
                        break
            if grow is None:  # nothing attributable left: widen the narrowest group below its cap
                open_groups = [g for g in groups if knobs[g] < cap[g]]
                if not open_groups:
                    break
                grow = min(open_groups, key=lambda g: knobs[g])
            knobs[grow] = min(cap[grow], knobs[grow] + (1 if grow == "tables" else STEP))
            r = ev(knobs)
        reached = ok(r)
        if reached:  # give bits back while the target holds
            for g in groups:
                while knobs[g] > (0 if g == "tables" else 1):
                    trial = dict(knobs, **{g: knobs[g] - 1})
                    t = ev(trial)
                    if ok(t):
                        knobs, r = trial, t
                    else:
                        break
    types = widths(knobs, model, input_range, dense_ranges)
    return {"knobs": knobs, "types": types, "cfg": apply(cfg, knobs, model, input_range, dense_ranges),
            "calibration_samples": int(len(x_cal)), "calibration_agreement": r["agreement"], "target": target,
            "calibration_target": need, "estimated_flip_rate": r["flip_rate"], "max_flip_rate": max_flip_rate,
            "reached": bool(reached), "evaluations": len(history), "history": history,
            "seconds": round(time.time() - t0, 1)}


def _int_bits(g, knobs, model, input_range, dense_ranges) -> int:
    w = widths(knobs, model, input_range, dense_ranges)[g]
    if "type" not in w:
        return 6 if g == "stages" else 0  # stages: integer bits follow the bound; keep the total <= 18 mostly
    from keras_model.common import fixedtype

    return fixedtype.parse(w["type"]).integer


def _fmt(knobs: Dict[str, int]) -> str:
    return ", ".join(f"{g} {v}" for g, v in knobs.items())


def summary(info: Dict[str, Any]) -> str:
    t = info["types"]
    return (f"precision auto      {'reached' if info['reached'] else 'NOT reached'} "
            f"{100 * info['calibration_agreement']:.2f} % on {info['calibration_samples']} calibration samples "
            f"(target {100 * info['target']:g} %"
            + (f"; estimated flips on unseen data {100 * info['estimated_flip_rate']:.2f} %"
               if info.get("estimated_flip_rate") is not None else "")
            + f") in {info['evaluations']} evaluations, {info['seconds']:.0f} s: "
            f"input {t['input']['type']}, cores/weights {t['constants']['width']} bits, stage fraction bits "
            f"{t['stages']['frac_bits']}, gates {t['gates']['type']}, state {t['state']['type']}, "
            f"h out {t['layer_out']['type']}, logits {t['logits']['type']}, gate tables {t.get('tables', {}).get('entries', 1024)} entries")
