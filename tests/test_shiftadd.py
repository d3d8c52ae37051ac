"""Constant-coefficient stages (hls.stage_arith: shift_add, hls_project/rtl/shiftadd.py).

* the canonical signed digits and the adder trees built from them equal
  integer multiplication (Python's, independent of the generator);
* a whole model whose every stage is shift-add is bit-exact with the
  bit-exact model (hls_project/numerics/bitexact.py) in Verilator, writes the
  same rtl_results.log as the multiplier RTL and takes the same cycles;
* also an HTDense model (its RTL folder given as a relative path);
* the check is sharp: a row select one row off and a wrong digit in an
  adder graph are caught;
* Yosys maps the shift-add design with one DSP fewer per converted
  multiplier, and more LUTs;
* a bad hls.stage_arith is refused in one line; the config's value reaches
  rtl.build.
"""

from __future__ import annotations

import os
import random
import re

import pytest

from hls_project import rtl
from hls_project.rtl import shiftadd, synth
from keras_model.common.errors import ConfigError

CASE = "lstm_d4_rank1_w12"  # every ROM short (<= 6 rows): every stage converts


def test_csd_digits_sum_to_the_number_and_are_canonical():
    rng = random.Random(3)
    for n in [1, 2, 3, 7, 45, 255, 256, 32767, 65535, -1, -3, -45, -32768] + \
            [rng.randrange(-(1 << 20), 1 << 20) for _ in range(2000)]:
        digits = shiftadd.csd(n)
        assert sum(d << k for k, d in digits) == n
        shifts = [k for k, _ in digits]
        assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:])), (n, digits)  # no two adjacent non-zero digits
        assert all(d in (1, -1) for _, d in digits)
        assert len(digits) <= (abs(n).bit_length() + 2) // 2


def test_adder_trees_equal_integer_products():
    rng = random.Random(5)
    for odd in list(range(1, 2049, 2)) + [rng.randrange(1, 1 << 16) | 1 for _ in range(500)]:
        expr = shiftadd._tree("a", shiftadd.csd(odd)).replace("<<<", "<<")
        for a in (rng.randrange(-(1 << 15), 1 << 15), -1, 1, 0):
            assert eval(expr, {"a": a}) == a * odd, (odd, expr)
        assert expr.count("+") + expr.count("-") == len(shiftadd.csd(odd)) - 1  # one adder per extra digit


def test_odd_part_and_eligibility():
    assert shiftadd.odd_part(-40) == (5, 3) and shiftadd.odd_part(7) == (7, 0)
    rows, per = shiftadd.MAX_ROWS, shiftadd.MAX_ADDERS_PER_MULTIPLIER
    assert shiftadd.eligible(rows, 2 * per, 2) == ""
    assert shiftadd.eligible(rows + 1, 0, 2) == f"ROM {rows + 1} rows > {rows}"
    assert shiftadd.eligible(rows, 2 * per + 1, 2) == f"{2 * per + 1} adders for 2 multipliers > {per} per multiplier"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from test_rtl import convert

    tmp = tmp_path_factory.mktemp("shiftadd")
    hm, x = convert(CASE, tmp / CASE)
    runs = {m: rtl.simulate(hm, x, str(tmp / f"rtl_{m}"), ready=0.5, seed=11, timing_clips=8, stage_arith=m)
            for m in ("dsp", "shift_add")}
    return hm, x, tmp, runs


def test_every_stage_shift_add_is_bit_exact_with_the_same_cycles(pair):
    hm, x, tmp, runs = pair
    sa, dsp = runs["shift_add"], runs["dsp"]
    stages = sa["stage_arith"]["stages"]
    assert sa["stage_arith"]["mode"] == "shift_add" and len(stages) == 8
    assert all(v["arith"] == "shift_add" and v["adders"] > 0 for v in stages.values()), stages
    assert dsp["stage_arith"]["mode"] == "dsp" and all(v["arith"] == "dsp" for v in dsp["stage_arith"]["stages"].values())
    for r in (sa, dsp):
        assert r["samples"] == len(x) and r["samples_equal"] == len(x) and r["bit_exact"], r.get("first_mismatch")
    assert (tmp / "rtl_shift_add" / "rtl_results.log").read_text() == (tmp / "rtl_dsp" / "rtl_results.log").read_text()
    assert (sa["interval_cycles"], sa["latency_cycles"]) == (dsp["interval_cycles"], dsp["latency_cycles"])
    # the shift-add modules are sources of the design (and of its IP-XACT), their stages have no multiplier
    top = (tmp / "rtl_shift_add" / "fdht_top.v").read_text()
    assert top.count(".ARITH(1)") == 8 and ".ARITH(0)" not in top
    for v in stages.values():
        assert f"{v['module']}.v" in sa["sources"]
        assert f"{v['module']}.v" in (tmp / "rtl_shift_add" / "component.xml").read_text()
        assert not re.search(r"[\w)\]]\s*\*\s*[\w(]", (tmp / "rtl_shift_add" / f"{v['module']}.v").read_text())


def test_htdense_shift_add_is_bit_exact(tmp_path, monkeypatch):
    from test_rtl import convert

    hm, x = convert("htdense_d3_stream", tmp_path / "prj")  # ROMs of 16 and 12 rows, 70 and 55 adders per multiplier
    monkeypatch.setattr(shiftadd, "MAX_ADDERS_PER_MULTIPLIER", 100)  # the bits, not the policy: convert both
    monkeypatch.chdir(tmp_path)  # and a folder given relative to the working directory
    r = rtl.simulate(hm, x, "rtl", ready=0.5, seed=2, timing_clips=4, stage_arith="shift_add")
    assert [v["arith"] for v in r["stage_arith"]["stages"].values()] == ["shift_add", "shift_add"]
    assert r["bit_exact"] and r["samples_equal"] == len(x), r.get("first_mismatch")


def _edit(path, old, new):
    text = open(path).read()
    assert old in text, (path, old)
    open(path, "w").write(text.replace(old, new, 1))


def _first_fundamental(d):
    """(path, line) of the first adder-graph line in x0's shift-add module."""
    path = os.path.join(d, "fdht_top_x0_sa.v")
    line = next(ln for ln in open(path) if "_f" in ln and "<<<" in ln and "wire" in ln)
    return path, line


MUTATIONS = {
    "row_select_one_off": lambda d: _edit(os.path.join(d, "fdht_top_x0_sa.v"), "row_q <= row;",
                                          "row_q <= row + 16'd1;"),
    "one_digit_shift_wrong": lambda d: _edit(*_first_fundamental(d),
                                             _first_fundamental(d)[1].replace("<<< ", "<<< 1 + ", 1)),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_mutated_shift_add_is_caught(pair, mutation):
    hm, x, tmp, _ = pair
    r = rtl.simulate(hm, x[:6], str(tmp / f"rtl_{mutation}"), ready=0.5, seed=7, timing_clips=2,
                     stage_arith="shift_add", mutate=MUTATIONS[mutation])
    assert not r["bit_exact"]


def test_yosys_trades_dsps_for_luts(pair):
    _, _, tmp, runs = pair
    y = {m: synth.yosys_xilinx(str(tmp / f"rtl_{m}"), runs[m]["sources"], "fdht_top", "xcup") for m in runs}
    converted = sum(runs["dsp"]["stage_arith"]["stages"][k]["multipliers"]
                    for k, v in runs["shift_add"]["stage_arith"]["stages"].items() if v["arith"] == "shift_add")
    assert converted == 8
    assert y["shift_add"]["dsp"] == y["dsp"]["dsp"] - converted, (y["dsp"], y["shift_add"])
    assert y["shift_add"]["lut"] > y["dsp"]["lut"]


def test_bad_stage_arith_is_one_line_and_the_config_reaches_build(pair, tmp_path):
    from keras_model.common.config import DEFAULTS, merge, validate

    hm, x, _, _ = pair
    assert validate(merge(DEFAULTS, {"hls": {"stage_arith": "lut"}})) == \
        ["hls.stage_arith: 'lut' is not one of dsp, shift_add"]
    assert validate(merge(DEFAULTS, {"hls": {"stage_arith": "shift_add"}})) == []
    with pytest.raises(ConfigError, match="^RTL: stage_arith 'lut' is not one of dsp, shift_add$"):
        rtl.simulate(hm, x[:1], str(tmp_path / "bad"), stage_arith="lut")
    prj = tmp_path / "prj"
    prj.mkdir()
    cfg = merge(DEFAULTS, {"hls": {"stage_arith": "shift_add"}})
    rep = rtl.build(str(prj), hls_model=hm, cfg=cfg, x=x[:2], log=lambda *_: None)
    assert rep["stage_arith"]["mode"] == "shift_add" and rep["bit_exact"]
    from hls_project.report.markdown import rtl_lines

    assert any(ln.strip().startswith("shift-add stages (hls.stage_arith: shift_add): x0,") for ln in rtl_lines(rep))


def test_stages_past_the_limits_keep_their_multipliers(pair, monkeypatch):
    from hls_project.rtl import arith_summary, generate

    hm = pair[0]
    monkeypatch.setattr(shiftadd, "MAX_ADDERS_PER_MULTIPLIER", 16)  # x1 and x3 need 18 adders for their multiplier
    st = arith_summary(generate.model_design(hm, stage_arith="shift_add"))["stages"]
    kept = {k: v["why"] for k, v in st.items() if v["arith"] == "dsp"}
    assert set(kept) == {"x1", "x3"} and all(w.endswith("for 1 multipliers > 16 per multiplier") for w in kept.values())
    monkeypatch.setattr(shiftadd, "MAX_ROWS", 4)  # x1 has 6 rows
    st = arith_summary(generate.model_design(hm, stage_arith="shift_add"))["stages"]
    assert st["x1"]["why"] == "ROM 6 rows > 4"
    d = generate.model_design(hm, stage_arith="dsp")
    assert all(v == {"arith": "dsp", "multipliers": 1, "why": "hls.stage_arith"} for v in arith_summary(d)["stages"].values())
