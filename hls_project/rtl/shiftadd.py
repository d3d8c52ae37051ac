"""Constant-coefficient stages (``hls.stage_arith: shift_add``): the products
of an HT contraction stage without multipliers.

The cores are constants, so every product a stage forms is ``a * c`` for a
data value ``a`` and a constant ``c`` of its ROM. Per A lane, each distinct
odd fundamental ``o`` (``|c| = o * 2^k``) is built once from the lane as a
shift-add adder graph of its canonical signed digits (CSD: at most one
non-zero digit in any two, so ``ceil(bits / 2)`` adders at worst); a negative
constant takes the fundamental's negation (built once too) and the power of
two is wiring. Each multiplier position of the stage then selects, by the ROM
row the schedule is on, the product its ROM would have given. The products
are exact (``AW + BW + 2`` bits, as ``fx_mul``), so the stage's bits and
cycles do not change; only DSP blocks become LUTs and carry chains.

The trade: a stage whose multiplier meets few constants gains (a few adders
instead of a DSP), one whose ROM is long or whose constants are many and wide
loses (every constant is built and a wide row select follows). ``eligible``
says which stages convert: ROMs of at most ``MAX_ROWS`` rows whose adder
graphs need at most ``MAX_ADDERS_PER_MULTIPLIER`` adders per multiplier they
replace; the rest keep their multipliers.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

MAX_ROWS = 64  # a stage whose ROM has more rows keeps its DSPs (each product would select among more)
# a stage whose adder graphs need more adders per multiplier they replace keeps its DSPs. Measured (Yosys,
# UltraScale+; docs/rtl.md): an adder graph costs about 8-11 LUTs per adder, so this bounds the LUTs per DSP
# saved near 350, about what a 16 x 16 multiplier takes in LUTs; the default_q8 model's x0 and h1 (16-bit core
# products, 81 and 148 adders per multiplier) converted cost 708 LUTs per DSP saved
MAX_ADDERS_PER_MULTIPLIER = 32


def csd(n: int) -> List[Tuple[int, int]]:
    """The canonical signed digits of ``n`` (any integer) as (shift, +1 / -1),
    least significant first: sum(sign << shift) == n."""
    out, k = [], 0
    while n:
        if n & 1:
            d = 2 - (n & 3)  # +1 when n = 1 (mod 4), -1 when n = 3 (mod 4)
            out.append((k, d))
            n -= d
        n >>= 1
        k += 1
    return out


def odd_part(c: int) -> Tuple[int, int]:
    """|c| = odd * 2^shift (c != 0): (odd, shift)."""
    c, k = abs(int(c)), 0
    while c and not c & 1:
        c >>= 1
        k += 1
    return c, k


def eligible(rows: int, adders: int = 0, multipliers: int = 1) -> str:
    """Why a stage whose ROM has ``rows`` rows and whose adder graphs need
    ``adders`` adders to replace ``multipliers`` multipliers keeps its DSPs,
    or "" when it converts to shift-add. Each product position selects among
    ``rows`` constants (a ``rows``-way multiplexer per product bit), and each
    adder is a carry chain as wide as the product: past either limit the
    LUTs cost more than the DSPs saved."""
    if rows > MAX_ROWS:
        return f"ROM {rows} rows > {MAX_ROWS}"
    if adders > MAX_ADDERS_PER_MULTIPLIER * multipliers:
        return f"{adders} adders for {multipliers} multipliers > {MAX_ADDERS_PER_MULTIPLIER} per multiplier"
    return ""


def _tree(base: str, digits: List[Tuple[int, int]]) -> str:
    """sum(sign * (base <<< shift)) as a balanced adder tree (depth
    ceil(log2(len(digits))) rather than a chain), the most significant
    digit (always +1 for a positive odd number) leading."""
    terms = [(d, f"({base} <<< {k})" if k else base) for k, d in reversed(digits)]

    def build(ts):
        if len(ts) == 1:
            return ts[0]
        h = (len(ts) + 1) // 2
        (sl, left), (sr, right) = build(ts[:h]), build(ts[h:])
        if sl < 0:  # -x + y, or -(x + y)
            return (1, f"({right} - {left})") if sr > 0 else (-1, f"({left} + {right})")
        return 1, f"({left} {'+' if sr > 0 else '-'} {right})"

    sign, expr = build(terms)
    return expr if sign > 0 else f"-{expr}"


class _Lane:
    """The fundamentals of one A lane, created on demand."""

    def __init__(self, al: int, pw: int):
        self.al, self.pw = al, pw
        self.pos: Dict[int, str] = {}
        self.neg: Dict[int, str] = {}
        self.adders = 0
        self.lines: List[str] = []
        self.used: List[str] = []  # the sources the row select reads: registered

    def base(self) -> str:
        return f"a{self.al}"

    def fundamental(self, odd: int) -> str:
        if odd == 1:
            return self.base()
        if odd not in self.pos:
            name = f"a{self.al}_f{odd}"
            digits = csd(odd)
            self.lines.append(f"    wire signed [{self.pw - 1}:0] {name} = {_tree(self.base(), digits)};")
            self.adders += len(digits) - 1
            self.pos[odd] = name
        return self.pos[odd]

    def negated(self, odd: int) -> str:
        if odd not in self.neg:
            name = f"a{self.al}_n{odd}"
            self.lines.append(f"    wire signed [{self.pw - 1}:0] {name} = -{self.fundamental(odd)};")
            self.adders += 1
            self.neg[odd] = name
        return self.neg[odd]

    def product(self, c: int) -> str:
        if c == 0:
            return f"{{{self.pw}{{1'b0}}}}"
        odd, k = odd_part(c)
        src = self.fundamental(odd) if c > 0 else self.negated(odd)
        if src not in self.used:
            self.used.append(src)
        return f"({src}_q <<< {k})" if k else f"{src}_q"


def stage_module(name: str, rom: np.ndarray, a_lane: List[int], b_lane: List[int], a_lanes: int,
                 aw: int, as_: int, bw: int, stage: str = "") -> Tuple[str, Dict[str, int]]:
    """The Verilog of module ``name``: ports ``clk``, ``a`` (the A word, ``a_lanes`` x
    ``aw`` bits), ``row`` (the ROM row) and ``p`` (one cycle later: one exact product per
    multiplier position m, ``aw + bw + 2`` bits at [m*PW +: PW]: position m
    multiplies A lane ``a_lane[m]`` by ROM lane ``b_lane[m]`` of the row).
    ``rom``: the stage's ROM (rows x lanes) as the integers its ``bw``-bit
    words stand for. Returns (text, figures: constants, fundamentals, adders)."""
    rom = np.atleast_2d(np.asarray(rom, dtype=np.int64))
    rows, m_count = rom.shape[0], len(a_lane)
    pw = aw + bw + 2
    lanes = {al: _Lane(al, pw) for al in sorted(set(a_lane))}
    cases = []
    for r in range(rows):
        assigns = [f"p[{m * pw} +: {pw}] = {lanes[a_lane[m]].product(int(rom[r, b_lane[m]]))};"
                   for m in range(m_count)]
        cases.append(f"            16'd{r}: begin\n" + "".join(f"                {a}\n" for a in assigns) +
                     "            end")
    ext = (lambda al: f"{{{{{pw - aw}{{a[{al * aw + aw - 1}]}}}}, a[{al * aw} +: {aw}]}}") if as_ else \
        (lambda al: f"{{{{{pw - aw}{{1'b0}}}}, a[{al * aw} +: {aw}]}}")
    body = [f"    wire signed [{pw - 1}:0] a{al} = {ext(al)};" for al in lanes]
    regs = []
    for ln in lanes.values():
        body += ln.lines
        body += [f"    reg signed [{pw - 1}:0] {u}_q;" for u in ln.used]
        regs += [f"        {u}_q <= {u};" for u in ln.used]
    body += ["    reg [15:0] row_q;", "    always @(posedge clk) begin", "        row_q <= row;", *regs, "    end"]
    used = {int(v) for v in np.unique(rom) if v}
    figs = {"constants": int(rom.size), "distinct_constants": len(used),
            "fundamentals": sum(len(ln.pos) for ln in lanes.values()),
            "adders": sum(ln.adders for ln in lanes.values()), "row_select": rows, "products": m_count}
    text = "\n".join([
        f"// {name}: the products of stage {stage} without multipliers (hls.stage_arith: shift_add),",
        "// generated by hls_project/rtl/shiftadd.py from the stage's ROM: per A lane the odd",
        "// fundamentals of its constants as shift-add adder graphs (canonical signed digits), each",
        "// product position selecting by ROM row. Exact products, as fx_mul's. Pipeline: the",
        "// fundamentals (and the row) registered, then the row select: one register, as a DSP's product",
        "// register, so ht_stage keeps its MUL_STAGES.",
        f"// {figs['constants']} constants ({figs['distinct_constants']} distinct), {figs['fundamentals']} "
        f"fundamentals, {figs['adders']} adders, a {rows}-way row select per product.",
        f"module {name} (",
        "    input  wire clk,",
        f"    input  wire [{a_lanes * aw - 1}:0] a,",
        "    input  wire [15:0] row,",
        f"    output reg  [{m_count * pw - 1}:0] p",
        ");",
        *body,
        "    always @* begin",
        f"        p = {{{m_count * pw}{{1'b0}}}};",
        "        case (row_q)",
        *cases,
        "            default: ;",
        "        endcase",
        "    end",
        "endmodule",
    ]) + "\n"
    return text, figs
