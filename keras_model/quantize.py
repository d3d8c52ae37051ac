"""Quantization-aware training: QKeras quantizers from the ``quantization:``
section of a config, and starting a quantized model from a trained float one.

``quantization.kernel`` applies to every HT core (and the classifier stays
float unless hls precision says otherwise), ``quantization.bias`` to the
LSTM bias; ``quantization.activation.bits > 0`` switches the gate
activations to QKeras ``quantized_sigmoid``/``quantized_tanh`` with
``use_real_*`` (the hard forms are not supported by hls4ml).
"""

from __future__ import annotations

from typing import Dict, Optional
from .common.logs import info


def quantizers_from_config(cfg) -> Optional[Dict]:
    q = cfg.get("quantization") or {}
    if not q.get("enabled"):
        return None
    from qkeras import quantized_bits, quantized_sigmoid, quantized_tanh

    k, b = q.get("kernel") or {}, q.get("bias") or {}
    out = {
        "kernel": quantized_bits(int(k.get("bits", 8)), int(k.get("integer", 0)), alpha=1),
        "bias": quantized_bits(int(b.get("bits", 8)), int(b.get("integer", 2)), alpha=1),
    }
    abits = int((q.get("activation") or {}).get("bits", 0) or 0)
    if abits > 0:
        out["activation"] = quantized_tanh(abits, use_real_tanh=True)
        out["recurrent_activation"] = quantized_sigmoid(abits, use_real_sigmoid=True)
    return out


def init_from_float(model, path: str, log=info) -> int:
    """Copy weights from a trained float model (same names and shapes)."""
    from .models import load_keras_model

    src = {w.name.split("/", 1)[-1]: w.numpy() for w in load_keras_model(path).weights}
    n = 0
    for w in model.weights:
        key = w.name.split("/", 1)[-1]
        if key in src and tuple(src[key].shape) == tuple(w.shape):
            w.assign(src[key])
            n += 1
    log(f"initialised {n} of {len(model.weights)} weight tensors from {path}")
    return n
