"""The RTL twin inside the flow: ``fdht build --csim --rtl`` (``hls.rtl``)
writes ``<project>/rtl/``, simulates the test samples in Verilator, and its
MEASURED figures join the hardware report and lead the printout; bad RTL
settings are refused before anything is written. Real Verilator builds of the
tiny FDHT-LSTM; the figures are compared with the cost model's own numbers
and with the bit-exact model, never with the RTL's own report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hls_project.cli import main as fdht_main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_fdht, sequence_npz):
    root = tmp_path_factory.mktemp("rtlflow")
    data = sequence_npz(root / "tiny.npz", n_train=10, n_test=6, seed=1)
    h5 = root / "tiny.h5"
    tiny_fdht().save(h5)
    config = root / "tiny.yml"
    config.write_text("model:\n  units: 8\n  ranks: 3\nhls:\n  lanes: 16\n")
    return {"data": str(data), "h5": str(h5), "config": str(config), "root": root}


def _build(tiny, out: Path, *flags) -> int:
    return fdht_main(["build", "--config", tiny["config"], "--model", tiny["h5"], "--data", tiny["data"],
                      "--output-dir", str(out), "--csim", *flags])


def test_build_rtl_adds_the_measured_tier(tiny, capsys):
    out = tiny["root"] / "prj"
    assert _build(tiny, out, "--rtl") == 0
    printed = capsys.readouterr().out
    rtl = json.loads((out / "rtl" / "rtl_report.json").read_text())
    hw = json.loads((out / "hardware_report.json").read_text())
    csim = json.loads((out / "csim_report.json").read_text())
    # every simulated sample equals the bit-exact model (which test_bitexact shows equal to csim)
    assert rtl["bit_exact"] is True and rtl["samples"] == csim["csim"]["samples"] == 6
    assert rtl["csim_log"]["equal"] and rtl["csim_log"]["lines_equal"] == 6
    assert (out / "rtl" / f"{rtl['top']}.v").is_file()
    # the hardware report keeps the measured tier beside the MODEL, which now names interval_cycles too
    assert hw["rtl"]["interval_cycles"] == rtl["interval_cycles"]
    assert hw["model"]["interval_cycles"] == hw["model"]["interval_cycles_per_clip"] > 0
    # measured within 5 % of the MODEL's interval (the cost model, computed independently of the RTL)
    assert abs(rtl["interval_cycles"] - hw["model"]["interval_cycles"]) <= 0.05 * hw["model"]["interval_cycles"]
    # the whole model's output: the RTL's log equals csim's, read here from both files
    csim_lines = (out / "tb_data" / "csim_results.log").read_text().splitlines()
    assert (out / "rtl" / "rtl_results.log").read_text().splitlines() == csim_lines[:6]
    # the measured tier leads the hardware lines of the printout and of the .md
    lines = printed.splitlines()
    first = next(i for i, l in enumerate(lines) if l.startswith("RTL twin (MEASURED"))
    assert first < next(i for i, l in enumerate(lines) if l.startswith("hardware (MODEL)"))
    md = (out / "hardware_report.md").read_text()
    assert 0 <= md.index("## Measured in RTL") < md.index("MODEL")
    assert csim["rtl"]["bit_exact"] is True
    # no temporary folder is left beside the project
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".prj")]


def test_bad_rtl_synth_is_refused_and_the_project_kept(tiny, capsys):
    out = tiny["root"] / "keep"
    out.mkdir()
    (out / "marker").write_text("previous project")
    assert _build(tiny, out, "--rtl-synth", "yosys,vivado") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "hls.rtl_synth" in err[0] and "vivado" in err[0]
    assert sorted(p.name for p in out.iterdir()) == ["marker"]


def test_build_stage_arith_reaches_the_rtl(tiny, capsys):
    """``fdht build --stage-arith shift_add`` turns the RTL twin on with
    hls.stage_arith: the report names the mode and, per stage, shift-add or
    why it keeps its multipliers; the bits still equal csim's."""
    out = tiny["root"] / "prj_sa"
    assert _build(tiny, out, "--stage-arith", "shift_add") == 0
    rtl = json.loads((out / "rtl" / "rtl_report.json").read_text())
    assert rtl["stage_arith"]["mode"] == "shift_add" and rtl["stage_arith"]["stages"]
    for name, st in rtl["stage_arith"]["stages"].items():
        if st["arith"] == "shift_add":
            assert (out / "rtl" / f"{st['module']}.v").is_file() and st["adders"] > 0, st
        else:
            assert st["arith"] == "dsp" and (st["why"].startswith("ROM ") or " adders for " in st["why"]), st
    assert rtl["bit_exact"] is True and rtl["csim_log"]["equal"]
    printed = capsys.readouterr()
    assert "RTL: shift-add stages" in printed.out + printed.err
