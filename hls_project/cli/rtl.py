"""``fdht rtl DIR``: the RTL twin of a written project (``hls_project.rtl``):
Verilog on the accelerator's schedule, simulated cycle-accurately in
Verilator against the bit-exact model, optionally synthesised by Yosys and
placed and routed for ECP5; writes ``DIR/rtl/rtl_report.json``."""

from __future__ import annotations

import argparse

from hls_project.cli import console

PARSER = dict(description="RTL twin of a written project: Verilator bit-exact + cycles, optional Yosys / ECP5; "
                          "writes rtl/rtl_report.json")


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command's arguments on ``p`` (the ``fdht rtl`` sub-parser)."""
    p.add_argument("project_dir", help="a project written by fdht build (e.g. build/hls/default)")
    p.add_argument("--samples", type=int, default=None, help="simulate the first N test samples (default: all)")
    p.add_argument("--config", default=None, help="the project's config (default: the one its report names)")
    p.add_argument("--yosys", action="store_true", help="Yosys synth_xilinx resource counts")
    p.add_argument("--ecp5", action="store_true", help="Yosys synth_ecp5 + nextpnr-ecp5 (LFE5U-85F) Fmax")
    p.add_argument("--ready", type=float, default=0.5, help="output TREADY probability in the bit-exact run")
    p.add_argument("--layer", action="store_true", help="the FDHT-LSTM layer alone (no classifier / softmax)")
    p.add_argument("--stage-arith", default=None, choices=("dsp", "shift_add"),
                   help="the stages' products by multipliers (dsp) or by shift-add adder graphs of the constant "
                        "cores (shift_add: stages with ROMs of <= 64 rows and <= 32 adders per multiplier); default: the config's "
                        "hls.stage_arith (dsp)")
    return p


def run(a: argparse.Namespace) -> int:
    from keras_model.common.config import load_config
    from keras_model.common.errors import ToolError
    from hls_project.rtl import build
    from hls_project.rtl.tools import RTLToolError

    try:
        rep = build(a.project_dir, cfg=load_config(a.config) if a.config else None, samples=a.samples,
                    yosys=a.yosys, ecp5=a.ecp5, ready=a.ready, whole=not a.layer, stage_arith=a.stage_arith)
    except RTLToolError as e:  # a missing or failing open tool: exit 3 like the vendor tools
        raise ToolError(str(e)) from None
    console.print_rtl(rep)
    return 0 if rtl_agrees(rep) else 1


def rtl_agrees(rep) -> bool:
    """Every simulated sample equals the bit-exact model, and the RTL's
    rtl_results.log equals csim's where the project has one."""
    return bool(rep.get("bit_exact")) and (rep.get("csim_log") is None or rep["csim_log"]["equal"])
