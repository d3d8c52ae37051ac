"""The RTL twin (hls_project/rtl): real Verilator builds of the FDHT-LSTM
layer's generated Verilog on small random shapes (the cases of
tests/test_bitexact.py), streamed back to back with random output
back-pressure.

* every sample equals the bit-exact model (hls_project/bitexact.py) exactly;
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
