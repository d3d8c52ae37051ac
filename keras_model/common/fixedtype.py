"""Fixed-point type strings in every notation hls4ml accepts.

hls4ml writes ``fixed<16,6>`` in the configs it makes
(``config_from_keras_model``), users write ``ap_fixed<16,6>`` as in C++, and
both may carry a quantisation (rounding) and an overflow (saturation) mode,
with or without the ``AP_`` prefix: ``fixed<16,6,RND_CONV,SAT>``,
``ap_ufixed<8,0,AP_RND,AP_SAT>``, ``ap_int<8>`` / ``int<8>``. ``auto`` is
hls4ml's "derive it": :func:`is_auto`.

:func:`parse` reads any of them; :func:`canonical` gives the C++ spelling our
generated code uses (``ap_fixed<16,6,AP_RND_CONV,AP_SAT>``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional, Tuple

_NOTATION = re.compile(r"^\s*(?:ap_)?(u?)(fixed|int)\s*<\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?((?:,\s*\w+\s*){0,3})>\s*$")
ROUNDING = ("AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_RND_CONV", "AP_TRN", "AP_TRN_ZERO")
SATURATION = ("AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM", "AP_WRAP", "AP_WRAP_SM")


@dataclass(frozen=True)
class FixedType:
    width: int
    integer: int
    signed: bool = True
    rounding: Optional[str] = None  # one of ROUNDING; None: C++'s default (AP_TRN)
    saturation: Optional[str] = None  # one of SATURATION; None: AP_WRAP
    saturation_bits: Optional[int] = None

    def cpp(self) -> str:
        args = [str(self.width), str(self.integer)]
        if self.rounding or self.saturation or self.saturation_bits is not None:
            args.append(self.rounding or "AP_TRN")
        if self.saturation or self.saturation_bits is not None:
            args.append(self.saturation or "AP_WRAP")
        if self.saturation_bits is not None:
            args.append(str(self.saturation_bits))
        return f"ap_{'' if self.signed else 'u'}fixed<{','.join(args)}>"


def is_auto(text) -> bool:
    return isinstance(text, str) and text.strip().lower() == "auto"


def _mode(word: str, allowed, what: str, text: str) -> str:
    name = word.upper()
    if not name.startswith("AP_"):
        name = "AP_" + name
    if name not in allowed:
        raise ValueError(f"{text!r}: {word!r} is not a {what} mode ({', '.join(allowed)})")
    return name


def parse(text) -> FixedType:
    """A fixed-point type string in any hls4ml notation -> :class:`FixedType`.
    Raises ValueError (naming the accepted forms) for anything else."""
    m = _NOTATION.match(str(text))
    if not m:
        raise ValueError(f"not a fixed-point type: {text!r}; write it like 'ap_fixed<16,6>' or 'fixed<16,6>' "
                         f"(optionally with rounding and saturation, e.g. 'fixed<16,6,RND_CONV,SAT>')")
    unsigned, kind, width, integer, rest = m.groups()
    width = int(width)
    if kind == "int":
        if integer is not None or rest:
            raise ValueError(f"{text!r}: an integer type takes only a width, like 'ap_int<8>'")
        integer = width
    elif integer is None:
        raise ValueError(f"{text!r}: a fixed type needs a width and integer bits, like 'fixed<16,6>'")
    if width < 1:
        raise ValueError(f"{text!r}: the width must be >= 1")
    words = [w.strip() for w in rest.split(",") if w.strip()]
    rounding = _mode(words[0], ROUNDING, "rounding", text) if len(words) > 0 else None
    saturation = _mode(words[1], SATURATION, "saturation", text) if len(words) > 1 else None
    bits = None
    if len(words) > 2:
        if not words[2].isdigit():
            raise ValueError(f"{text!r}: the saturation bit count must be an integer, got {words[2]!r}")
        bits = int(words[2])
    return FixedType(width, int(integer), unsigned != "u", rounding, saturation, bits)


def canonical(text) -> str:
    """The C++ spelling (``ap_fixed<...>``) of a type in any notation."""
    return parse(text).cpp()


def parse_fixed(text) -> Tuple[int, int, bool]:
    """(width, integer bits, signed) of a fixed-point type in any notation
    hls4ml accepts (``ap_fixed<16,6>``, ``fixed<16,6,RND_CONV,SAT>``,
    ``ufixed<8,0>``, ``ap_int<8>``; see :func:`parse`), or of an
    hls4ml precision object."""
    if not isinstance(text, str) and getattr(text, "width", None) is not None:
        return int(text.width), int(text.integer), bool(getattr(text, "signed", True))
    t = parse(text)
    return t.width, t.integer, t.signed


def precision_str(prec) -> str:
    """'ap_fixed<16,6>'-style text of an hls4ml precision type (its ``str``
    when it has no width/integer, e.g. an integer or exponent type)."""
    w, i = getattr(prec, "width", None), getattr(prec, "integer", None)
    signed = getattr(prec, "signed", True)
    if w is None or i is None:
        return str(prec)
    return f"ap_{'' if signed else 'u'}fixed<{w},{i}>"


def int_bits_for(bound: float) -> int:
    """Integer bits I (sign included) of a signed ``ap_fixed<W, I>`` holding
    [-bound, bound]: the smallest I with 2^(I-1) > bound (the type's range
    is [-2^(I-1), 2^(I-1) - lsb]; a bound within one lsb of 2^(I-1) still
    gets the next I)."""
    if bound <= 0:
        return 1
    return max(1, int(math.floor(math.log2(bound * (1 + 1e-6)))) + 2)


def fixed_type(int_bits: int, frac_bits: int, rounding: bool = True) -> str:
    width = int_bits + frac_bits
    if rounding:
        return f"ap_fixed<{width},{int_bits},AP_RND_CONV,AP_SAT>"
    return f"ap_fixed<{width},{int_bits}>"


def width(prec) -> int:
    """Bit width of a type in any notation (``ap_fixed<16,6>``, ``fixed<..>``,
    ``ap_int<8>``) or of an hls4ml precision object: the one width reader."""
    w = getattr(prec, "width", None)
    if w is not None and not isinstance(prec, str):
        return int(w)
    try:
        return parse(str(prec)).width
    except ValueError:
        raise ValueError(f"cannot read the bit width of type {str(prec)!r}") from None
