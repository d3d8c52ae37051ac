"""The LSTM gate activation tables, computed at conversion.

The gates look sigmoid and tanh up in tables on hls4ml's layout: ``n``
entries over [-8, 8) (sigmoid) and [-4, 4) (tanh). With ``bits <= 0`` they
are hls4ml's own tables (``init_sigmoid_table`` / ``init_tanh_table`` in
hls4ml's ``nnet_activation.h``); with ``bits > 0`` a QKeras
``quantized_sigmoid`` / ``quantized_tanh`` (``use_real_*``): the function at
the same points rounded to the quantiser's grid and clipped to its range
(``ht_sigmoid_table`` / ``ht_tanh_table`` in ``templates/nnet_ht_stream.h``).

The values are bit for bit those of the C++ loops: the same C ``float``
operations in the same order (numpy float32 arithmetic, libm's ``expf`` /
``tanhf`` through ctypes, the index-to-x step in double as C++ promotes it),
then the C++ conversion of the float into the table's ap_fixed type
(:func:`to_fixed`). Like the C++, they depend on the C library's ``expf`` /
``tanhf`` (glibc's here), which are not correctly rounded everywhere. Written into the C++ as constant initialisers
(:func:`c_initializer`), the tables become ROMs in synthesis: no
initialisation loop at run time and no floating-point cores.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from decimal import Decimal
from fractions import Fraction
from typing import Callable, Dict, Tuple

import numpy as np
from numpy.typing import ArrayLike

from keras_model.common import fixedtype

# the C library's float functions, the ones the C++ calls (std::exp(float) is expf)
_LIBM = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
_LIBM.expf.restype = _LIBM.tanhf.restype = ctypes.c_float
_LIBM.expf.argtypes = _LIBM.tanhf.argtypes = [ctypes.c_float]

F32 = np.float32
PER_LINE = 12

# ap_types' quantisation modes on s = value * 2^F (exact): the integer kept
_QUANTISE: Dict[str, Callable[[Fraction], int]] = {
    "AP_TRN": math.floor,
    "AP_TRN_ZERO": math.trunc,
    "AP_RND": lambda s: math.floor(s + Fraction(1, 2)),
    "AP_RND_MIN_INF": lambda s: math.ceil(s - Fraction(1, 2)),
    "AP_RND_ZERO": lambda s: math.floor(s + Fraction(1, 2)) if s < 0 else math.ceil(s - Fraction(1, 2)),
    "AP_RND_INF": lambda s: math.floor(s + Fraction(1, 2)) if s >= 0 else math.ceil(s - Fraction(1, 2)),
    "AP_RND_CONV": round,  # Fraction rounds half to even
}
_OVERFLOW = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")


def _libm(name: str, x: np.ndarray) -> np.ndarray:
    """libm's float function ``name`` (``expf``, ``tanhf``) on each float32 entry."""
    f = getattr(_LIBM, name)
    return np.array([f(float(v)) for v in x], dtype=F32)


def _points(n: int, half_range: float) -> np.ndarray:
    """float(2 * half_range * (ii - float(n) / 2.0) / float(n)): the table
    points as C++ computes them, in double (the literals are double), rounded
    to float at the end. Exact for n a power of two; otherwise the division
    rounds in double and again to float, as in C++."""
    if n < 1:
        raise ValueError(f"table size must be >= 1, got {n}")
    fn = float(F32(n))  # float(N): int -> float, then promoted to double
    ii = np.arange(n, dtype=np.float64)
    return (2 * half_range * (ii - fn / 2.0) / fn).astype(F32)


def _scale(shift: int) -> F32:
    """float(1u << shift): the quantiser's 1 / LSB (``1u << 32`` is undefined in C++)."""
    if not 0 <= shift < 32:
        raise ValueError(f"quantiser bits out of range: 1u << {shift} does not fit 32 bits")
    return F32(1 << shift)


def _clip(q: np.ndarray, lo: F32, hi: F32) -> np.ndarray:
    """q < lo ? lo : (q > hi ? hi : q), as float64 (exact)."""
    return np.where(q < lo, lo, np.where(q > hi, hi, q)).astype(np.float64)


def sigmoid_table(n: int, bits: int = 0, symmetric: bool = False) -> np.ndarray:
    """The ``n``-entry sigmoid table's float values (before the ap_fixed
    conversion) as float64: hls4ml's ``init_sigmoid_table`` for ``bits <= 0``,
    else ``ht_sigmoid_table``'s QKeras quantized_sigmoid (grid 2^-bits,
    range [symmetric / m, 1 - 1 / m], m = 2^bits)."""
    x = _points(n, 8.0)
    e = _libm("expf", -x)
    if bits <= 0:
        # sigmoid_fcn_float: float(1.0 / (1 + std::exp(-x))): float sum, double
        # quotient, rounded to float (the same as a float quotient, done as C++ does)
        return (1.0 / (F32(1) + e).astype(np.float64)).astype(F32).astype(np.float64)
    m = _scale(bits)
    q = np.floor(F32(1) / (F32(1) + e) * m + F32(0.5)) / m
    lo, hi = F32(1 if symmetric else 0) / m, F32(1) - F32(1) / m
    return _clip(q, lo, hi)


def tanh_table(n: int, bits: int = 0, symmetric: bool = False) -> np.ndarray:
    """The ``n``-entry tanh table's float values (before the ap_fixed
    conversion) as float64: hls4ml's ``init_tanh_table`` (``tanhf``) for
    ``bits <= 0``, else ``ht_tanh_table``'s QKeras quantized_tanh (grid
    2^-(bits-1), range [-1 + symmetric / m, 1 - 1 / m], m = 2^(bits-1))."""
    t = _libm("tanhf", _points(n, 4.0))
    if bits <= 0:
        return t.astype(np.float64)
    m = _scale(bits - 1)
    q = np.floor(t * m + F32(0.5)) / m
    lo, hi = F32(-1) + F32(1 if symmetric else 0) / m, F32(1) - F32(1) / m
    return _clip(q, lo, hi)


def _fixed_params(type_str: str) -> Tuple[int, int, bool, str, str]:
    """(width, fractional bits, signed, quantisation, overflow) of a type string."""
    t = fixedtype.parse(type_str)
    quant, over = t.rounding or "AP_TRN", t.saturation or "AP_WRAP"
    if over not in _OVERFLOW:
        raise ValueError(f"{type_str!r}: overflow mode {over} is not supported (only {', '.join(_OVERFLOW)})")
    if t.saturation_bits not in (None, 0):
        raise ValueError(f"{type_str!r}: saturation bits are not supported")
    if t.width > 53:
        raise ValueError(f"{type_str!r}: wider than 53 bits, its values are not all exact in float64")
    return t.width, t.width - t.integer, t.signed, quant, over


def _overflow(k: int, width: int, signed: bool, over: str) -> int:
    """The stored integer for a quantised integer ``k`` of a ``width``-bit type."""
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    if lo <= k <= hi and not (over == "AP_SAT_SYM" and signed and k == lo):
        return k
    if over == "AP_WRAP":
        return (k - lo) % (1 << width) + lo
    if over == "AP_SAT_ZERO":
        return 0
    lo += 1 if over == "AP_SAT_SYM" and signed else 0
    return lo if k < lo else hi


def to_fixed(values: ArrayLike, type_str: str) -> np.ndarray:
    """ap_types' conversion of each (double) value into ``type_str``
    (``ap_fixed<18,8>``, ``ap_fixed<18,8,AP_RND,AP_SAT>``, ``ap_ufixed<..>``,
    hls4ml's ``fixed<..>``): quantised at the type's LSB (AP_TRN by default:
    towards minus infinity), then wrapped (AP_WRAP, the default) or
    saturated. Every ap_types quantisation mode; overflow AP_WRAP, AP_SAT,
    AP_SAT_ZERO, AP_SAT_SYM. Returns float64 values, exactly the type's.
    ValueError for AP_WRAP_SM, saturation bits, a width over 53 bits, NaN
    or infinity."""
    width, frac, signed, quant, over = _fixed_params(type_str)
    out = []
    for v in np.asarray(values, dtype=np.float64).ravel():
        if not math.isfinite(v):
            raise ValueError(f"cannot convert {v} to {type_str}")
        k = _overflow(_QUANTISE[quant](Fraction(float(v)) * Fraction(2) ** frac), width, signed, over)
        out.append(math.ldexp(float(k), -frac))
    return np.array(out, dtype=np.float64).reshape(np.shape(values))


def _literal(v: float) -> str:
    """The exact decimal value of ``v`` as a C++ double literal."""
    text = format(Decimal(float(v) + 0.0), "f")
    return text if "." in text else text + ".0"


def c_initializer(values: ArrayLike, indent: str = "    ") -> str:
    """The body of a C++ brace initialiser (``{ <this> }``) holding ``values``
    exactly: exact decimal double literals, 12 per line. Values on an
    ap_fixed type's grid (:func:`to_fixed`) convert back exactly into it."""
    lits = [_literal(v) for v in np.asarray(values, dtype=np.float64).ravel()]
    lines = [", ".join(lits[i:i + PER_LINE]) for i in range(0, len(lits), PER_LINE)]
    return ",\n".join(indent + line for line in lines)
