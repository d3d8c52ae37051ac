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

import re
from dataclasses import dataclass
from typing import Optional

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
