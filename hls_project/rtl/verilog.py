"""The small pieces every generated Verilog file of the RTL twin uses: the
template folder, a fixed-point type as the RTL sees it (``Fx``: width,
fraction bits, ap_fixed's rounding and saturation modes as the numbers
``fx_cast.v`` takes), packed parameters, ``$readmemh`` words and module
instances."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from keras_model.common.errors import ConfigError

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "templates", "rtl")
RND = {"AP_TRN": 0, "AP_RND": 1, "AP_RND_CONV": 2, "AP_TRN_ZERO": 3, "AP_RND_ZERO": 4, "AP_RND_MIN_INF": 5,
       "AP_RND_INF": 6}
SAT = {"AP_WRAP": 0, "AP_SAT": 1, "AP_SAT_SYM": 2, "AP_SAT_ZERO": 3}


@dataclass
class Fx:
    """A fixed-point type as the RTL sees it: width, fraction bits, signed, modes."""

    w: int
    f: int
    s: int
    rnd: int = 0
    sat: int = 0
    text: str = ""

    @classmethod
    def of(cls, t) -> "Fx":
        from hls_project.numerics.bitexact import _type

        ft = _type(t)
        if ft.saturation_bits:
            raise ConfigError(f"RTL: saturation bits of {t} are not supported")
        f = ft.width - ft.integer
        if f < 0:
            raise ConfigError(f"RTL: type {t} has negative fraction bits")
        return cls(ft.width, f, int(ft.signed), RND[ft.rounding or "AP_TRN"], SAT[ft.saturation or "AP_WRAP"],
                   ft.cpp() if hasattr(ft, "cpp") else str(t))

    def raw(self, values) -> np.ndarray:
        """The bit patterns (as unsigned ints) of values on this type's grid."""
        v = np.asarray(values, dtype=np.float64) * 2.0 ** self.f
        r = np.round(v)
        if not np.array_equal(r, v):
            raise ValueError("RTL: a constant is not on its type's grid")
        return np.mod(r.astype(np.int64), 1 << self.w)

    def cpp(self) -> str:
        """The C++ type, modes included (``ap_fixed<16,6,AP_TRN,AP_WRAP>``)."""
        rnd = {v: k for k, v in RND.items()}[self.rnd]
        sat = {v: k for k, v in SAT.items()}[self.sat]
        return f"ap_{'' if self.s else 'u'}fixed<{self.w},{self.w - self.f},{rnd},{sat}>"

    def signed(self, raw) -> np.ndarray:
        """Bit patterns (``w`` bits) as the integers they stand for: two's
        complement for a signed type."""
        r = np.asarray(raw, dtype=np.int64)
        return np.where(r >= (1 << (self.w - 1)), r - (1 << self.w), r) if self.s else r

    def value(self, raw) -> np.ndarray:
        return self.signed(raw) / 2.0 ** self.f


def packed(values: List[int], bits: int = 16) -> str:
    """A packed parameter: entry k at [bits*k +: bits]."""
    n = max(len(values), 1)
    v = 0
    for k, x in enumerate(values):
        if not 0 <= int(x) < (1 << bits):
            raise ConfigError(f"RTL: {x} does not fit a {bits}-bit table field")
        v |= int(x) << (bits * k)
    return f"{bits * n}'h{v:x}"


def hex_words(rows: np.ndarray, width: int) -> str:
    """One hex word per row; lane l of a row at bits [l*width +: width]."""
    rows = np.atleast_2d(np.asarray(rows, dtype=np.int64))
    digits = max(1, math.ceil(rows.shape[1] * width / 4))
    out = []
    for row in rows:
        v = 0
        for l, x in enumerate(row):
            v |= int(x) << (l * width)
        out.append(f"{v:0{digits}x}")
    return "\n".join(out) + "\n"


def inst(module: str, name: str, params: Dict[str, object], ports: Dict[str, str]) -> List[str]:
    ps = ",\n".join(f"        .{k}({v})" for k, v in params.items())
    pt = ",\n".join(f"        .{k}({v})" for k, v in ports.items())
    return [f"    {module} #(\n{ps}\n    ) {name} (\n{pt}\n    );"]
