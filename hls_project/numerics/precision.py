"""Fixed-point widths for the HT stages that cannot overflow.

For every plan step, each output entry is bounded by ``sum over the summed
indices of |a| * |b|`` where ``|a|``, ``|b|`` bound the operands: the cores'
actual absolute values, and for the input ``v`` its declared bound
(``input_range`` for x, 1 for h, which is the output of tanh times a
sigmoid). Running the planned contraction on these absolute values gives,
per step, an upper bound over all inputs within the bound (element-wise,
then the max over the tensor). It is safe but not tight: signs that cancel
inside an earlier intermediate are counted as if they added up (the tests
check it is never exceeded and stays within a small factor of the true
worst case). An
``ap_fixed<W, I>`` with the smallest ``I`` such that ``2^(I-1) > bound``
(``int_bits_for``) holds every partial sum of that step: partial sums of
non-negative-weighted bounds never exceed the full sum, so the accumulator
cannot wrap either. Fractional bits are the user's choice (``frac_bits``).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np

from keras_model import ht
from keras_model.common.fixedtype import fixed_type, int_bits_for, parse_fixed

def logits_type(precision: str, bound: float = 0.0) -> str:
    """The result type of a Dense layer before a softmax (the logits): the
    width of ``precision``, integer bits for 1.5x ``bound`` (margin for unseen
    inputs; at least ``precision``'s), rounding to nearest and saturation.

    hls4ml's ``auto`` would give the exact product width, whose many integer
    bits leave the softmax's exp table (indexed by the top bits) one entry:
    every class 1/classes. Saturating: a logit beyond the type (an input
    unlike the calibration data) clips at the type's end instead of wrapping
    to the other sign, so the top class survives."""
    width, integer, _ = parse_fixed(precision)
    need = max(int_bits_for(1.5 * bound), integer)
    return fixed_type(need, max(width - need, 1))


def softmax_inv_input_type(n_classes: int) -> str:
    """The input type of the stable softmax's 1/x table: the table is indexed
    by the top bits of sum(exp) (<= the number of classes); with hls4ml's
    default ``ap_fixed<18,8>`` most of those bits are empty integer bits and
    1/x comes in steps of 0.25 (probabilities off by up to 0.2)."""
    return f"ap_fixed<18,{int_bits_for(n_classes)},AP_RND,AP_SAT>"


def stage_bounds(shape: ht.HTShape, cores: Dict[str, np.ndarray], input_bound: Sequence[float] | float) -> List[float]:
    """Worst-case |entry| of every step's output for inputs with
    ``|v_i| <= input_bound[i]`` (a scalar or one bound per input entry)."""
    bound = np.broadcast_to(np.asarray(input_bound, dtype=np.float64), (shape.in_features,))
    v = ht.pad_input(bound[None, :], shape)[0]
    vals = {"x": np.abs(v).reshape(shape.input_modes)}
    root = shape.root.name
    for name, arr in cores.items():
        a = np.abs(np.asarray(arr, dtype=np.float64))
        vals[name] = a[..., 0] if name == root else a
    out = []
    for a, b, o, spec in shape.plan.einsum_steps(batch=False):
        vals[o] = np.einsum(spec, vals[a], vals[b])
        out.append(float(vals[o].max()))
    return out


def derive_stage_types(
    shape: ht.HTShape,
    cores: Dict[str, np.ndarray],
    input_bound,
    frac_bits: int,
    accum_extra_frac: int = 4,
    bias: Optional[np.ndarray] = None,
) -> Dict[str, object]:
    """Per-step intermediate and accumulator types, and the final sum type.

    Intermediates keep ``frac_bits`` fractional bits, accumulators
    ``frac_bits + accum_extra_frac`` (a product of two values with f
    fractional bits has 2f; keeping a few more than f before the one
    rounding at the end of the sum bounds the rounding error by one output
    LSB per step). The last entry (the product output z, plus the bias if
    given) sets ``out_t``."""
    bounds = stage_bounds(shape, cores, input_bound)
    if bias is not None:
        bounds[-1] = bounds[-1] + float(np.max(np.abs(bias))) if np.size(bias) else bounds[-1]
    inter = [fixed_type(int_bits_for(b), frac_bits) for b in bounds]
    accum = [fixed_type(int_bits_for(b), frac_bits + accum_extra_frac, rounding=False) for b in bounds]
    return {"bounds": bounds, "inter": inter, "accum": accum, "out": accum[-1]}


def chain_stage_types(steps: List[ht.ChainStep], tables: Dict[str, np.ndarray], v_bound: np.ndarray,
                      frac_bits: int, accum_extra_frac: int = 4) -> Dict[str, object]:
    """Per chain step (see ``ht.chain``): the worst-case |entry| of its output
    for box inputs with ``|v| <= v_bound`` (element-wise; 0 where the box is
    fed zeros), found by running the chain on absolute values, and the
    output / accumulator types that hold it (as ``derive_stage_types``; the
    last step's output keeps the accumulator type: it is z, summed further)."""
    absval = {k: np.abs(np.asarray(v, dtype=np.float64)) for k, v in tables.items()}
    outs = ht.chain_forward(np.abs(np.asarray(v_bound, dtype=np.float64)), absval, steps, every=True)
    bounds = [float(np.max(outs[cs.out])) for cs in steps]
    accum = [fixed_type(int_bits_for(b), frac_bits + accum_extra_frac, rounding=False) for b in bounds]
    inter = [fixed_type(int_bits_for(b), frac_bits) for b in bounds]
    inter[-1] = accum[-1]
    return {"bounds": bounds, "inter": inter, "accum": accum}
