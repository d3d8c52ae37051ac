"""csim's outputs against Keras's: agreement, |diff|, accuracy, and the
samples whose top-1 flipped with the Keras margin that decided each."""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def compare(keras_probs, csim_probs, predict_probs, labels, output: str = "probabilities") -> Dict[str, Any]:
    """csim's outputs against Keras's: ``output`` says what both are
    (``probabilities``; ``logits``: the |diff| figures are of the logits, the
    flips' margins of their softmax; ``class``: a one-hot csim output against
    the Keras probabilities, no |diff| figures)."""
    out = {
        "samples": int(len(keras_probs)),
        "output": output,
        "top1_agreement": float(np.mean(np.argmax(csim_probs, 1) == np.argmax(keras_probs, 1))),
        "keras_accuracy": float(np.mean(np.argmax(keras_probs, 1) == labels)),
        "csim_accuracy": float(np.mean(np.argmax(csim_probs, 1) == labels)),
    }
    if output == "class":
        out["max_abs_diff"] = out["mean_abs_diff"] = None
    else:
        diff = np.abs(csim_probs - keras_probs)
        out["max_abs_diff"], out["mean_abs_diff"] = float(diff.max()), float(diff.mean())
    out["flips"] = flips(_softmax(keras_probs) if output == "logits" else keras_probs, csim_probs)
    if predict_probs is not None:
        out["csim_vs_predict_max_abs_diff"] = float(np.abs(csim_probs - predict_probs).max())
        # the testbench prints with the stream's default 6 significant digits,
        # so "identical" means equal up to that printing: |c - p| <= half a
        # unit in the 6th significant digit <= 5e-6 |p|
        out["csim_equals_predict"] = bool(np.all(np.abs(csim_probs - predict_probs)
                                                 <= 5e-6 * np.abs(predict_probs) + 1e-12))
    return out


NEAR_TIE = 0.01  # a Keras top-1 margin below this is a near-tie


def flips(keras_probs, csim_probs) -> List[Dict[str, Any]]:
    """Every sample whose csim top-1 differs from Keras's, with the Keras
    top-1 margin (top-1 minus top-2 probability) that decided it."""
    k1, c1 = np.argmax(keras_probs, 1), np.argmax(csim_probs, 1)
    top2 = np.sort(keras_probs, 1)
    rows = []
    for i in np.flatnonzero(k1 != c1):
        margin = float(top2[i, -1] - top2[i, -2]) if keras_probs.shape[1] > 1 else float(top2[i, -1])
        rows.append({"sample": int(i), "keras_class": int(k1[i]), "csim_class": int(c1[i]),
                     "keras_margin": margin, "near_tie": bool(margin < NEAR_TIE),
                     "keras_probs": [float(keras_probs[i, k1[i]]), float(keras_probs[i, c1[i]])],
                     "csim_probs": [float(csim_probs[i, k1[i]]), float(csim_probs[i, c1[i]])]})
    return rows


def flips_line(rows: List[Dict[str, Any]]) -> str:
    """e.g. '4 flips, 3 of them near-ties (Keras margin < 0.01); largest margin 0.04 (sample 17)'."""
    if not rows:
        return "no flips"
    ties = sum(r["near_tie"] for r in rows)
    worst = max(rows, key=lambda r: r["keras_margin"])
    return (f"{len(rows)} flip{'s' if len(rows) != 1 else ''}, {ties} of them near-ties (Keras margin < "
            f"{NEAR_TIE:g}); largest Keras margin {worst['keras_margin']:.4f} (sample {worst['sample']})")
