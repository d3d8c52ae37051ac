"""How far csim is from Keras, where the error comes from: the logits and the
error attribution of a csim run.

csim prints the hardware's output (probabilities, logits or a class); the
logits behind probabilities come from the bit-exact model
(one ``bitexact.trace``), which is checked against csim's own output on
the same samples first (``bitexact_equals_csim``): only when they agree are
its logits csim's. The attribution (``bitexact.attribute``) runs on a few
samples: the flipped ones first, then those with the largest probability
error.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Optional

import numpy as np

from hls_project.numerics import bitexact

#: products (multiply-adds) the bit-exact model may spend on a run: it checks
#: and gives logits for as many samples as fit (a few seconds here)
MAC_BUDGET = 6e7
ATTRIBUTION_SAMPLES = 8


def keras_logits(model, x: np.ndarray) -> Optional[np.ndarray]:
    """The Keras model's logits: the input of a final softmax Activation, or
    the pre-activation of a final Dense with a softmax activation; None for
    other outputs."""
    from keras_model.common.keras2 import keras
    from keras_model.models import activation_name, is_softmax_activation

    last = model.layers[-1]
    name = activation_name(last)
    if is_softmax_activation(last):
        sub = keras.Model(model.inputs, last.input)
        return np.asarray(sub.predict(x, verbose=0, batch_size=256), dtype=np.float64)
    if type(last).__name__ in ("Dense", "QDense") and "softmax" in name:
        sub = keras.Model(model.inputs, last.input)
        h = np.asarray(sub.predict(x, verbose=0, batch_size=256), dtype=np.float64)
        w, *b = last.get_weights()
        return h @ w + (b[0] if b else 0.0)
    if type(last).__name__ in ("Dense", "QDense") and name == "linear":
        return np.asarray(model.predict(x, verbose=0, batch_size=256), dtype=np.float64)
    return None


def _macs_per_sample(hm) -> float:
    total = 0.0
    for node in hm.get_layers():
        if node.class_name in ("FDHTLSTM", "HTDense"):
            steps = node.get_attr("n_timesteps", 1) if node.class_name == "FDHTLSTM" else 1
            total += float(node.ht_shape().plan.macs) * steps
        elif node.class_name == "Dense":
            total += float(node.get_attr("n_in")) * float(node.get_attr("n_out"))
    return max(total, 1.0)


def _on_grid(values: np.ndarray, prec) -> np.ndarray:
    t = bitexact._type(prec)
    return np.round(np.asarray(values, dtype=np.float64) * 2.0 ** (t.width - t.integer))


def report(hm, project_dir: str, model, x_keras: np.ndarray, csim_out: np.ndarray, keras_out: np.ndarray,
           log=None) -> Dict[str, Any]:
    """The ``csim.logits`` / ``csim.attribution`` part of csim_report.json."""
    t0 = time.time()
    with open(os.path.join(project_dir, "tb_data", "tb_input_features.dat")) as f:
        rows = [line for line in f.read().splitlines() if line.strip()]
    n = len(rows)
    k = int(max(1, min(n, MAC_BUDGET // _macs_per_sample(hm))))
    xin = bitexact.testbench_input(rows[:k])
    out: Dict[str, Any] = {"samples": k}
    try:
        rec = bitexact.trace(hm, xin)  # the output and the logits in one run
    except NotImplementedError as e:  # a layer the bit-exact model does not know
        return {"samples": 0, "skipped": str(e)}
    ref = rec[list(hm.get_layers())[-1].name]
    prec = hm.get_output_variables()[0].type.precision
    equal = bool(np.array_equal(_on_grid(ref, prec), _on_grid(csim_out[:k], prec)))
    out["bitexact_equals_csim"] = equal
    kl = keras_logits(model, x_keras[:k])
    # attribution: the flipped samples first, then the largest logit (else output) errors
    err = np.abs(csim_out[:k] - keras_out[:k]).max(axis=1)
    if equal and kl is not None:
        d = np.abs(rec[bitexact.logits_layer(hm)] - kl)
        out.update(max_abs_diff=float(d.max()), mean_abs_diff=float(d.mean()))
        err = d.max(axis=1)
    flips = np.flatnonzero(np.argmax(csim_out[:k], 1) != np.argmax(keras_out[:k], 1))
    worst = np.argsort(-err, kind="stable")
    # attribution runs the model 2 + len(GROUPS) times: as many samples as the budget allows, up to 8
    n_att = int(max(1, min(ATTRIBUTION_SAMPLES, MAC_BUDGET // (_macs_per_sample(hm) * (2 + len(bitexact.GROUPS))))))
    pick: List[int] = list(dict.fromkeys([int(i) for i in flips] + [int(i) for i in worst]))[:n_att]
    if equal and pick:
        att = bitexact.attribute(hm, xin[pick])
        att["sample_indices"] = pick
        out["attribution"] = att
    out["seconds"] = round(time.time() - t0, 2)
    return out


def line(fid: Dict[str, Any], output: Optional[str] = None) -> Optional[str]:
    """e.g. 'logits  |diff| max 0.021, mean 0.004 (500 samples); largest error
    source: gates (exact, it removes 71 % of the logit error)'."""
    if not fid or not fid.get("samples"):
        return None
    if not fid.get("bitexact_equals_csim"):
        return "logits              not available: the bit-exact model differs from csim (please report this)"
    parts = []
    if "max_abs_diff" in fid and output != "logits":  # (with logits out, the line above has them)
        parts.append(f"|diff| max {fid['max_abs_diff']:.4g}, mean {fid['mean_abs_diff']:.4g} "
                     f"({fid['samples']} samples)")
    att = fid.get("attribution")
    if att and att.get("suspect") and att["logit_error"] > 0:
        top = att["groups"][0]
        parts.append(f"largest error source: {top['group']} (exact, it removes "
                     f"{100 * top['removes'] / att['logit_error']:.0f} % of the logit error)")
    return ("logits" if output != "logits" else "error source").ljust(20) + "; ".join(parts) if parts else None
