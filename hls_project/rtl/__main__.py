"""python -m hls_project.rtl PROJECT_DIR [--samples N] [--yosys] [--ecp5] [--ready P] [--layer]"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hls_project.rtl",
                                description="RTL twin of a written project's model (FDHT-LSTM layer, classifier, "
                                            "softmax / argmax): Verilator bit-exact + cycles, optional Yosys / ECP5; "
                                            "writes rtl/rtl_report.json and rtl/rtl_results.log")
    p.add_argument("project_dir")
    p.add_argument("--samples", type=int, default=None, help="simulate the first N test samples (default: all)")
    p.add_argument("--config", default=None, help="the project's config (default: the one its report names)")
    p.add_argument("--yosys", action="store_true", help="Yosys synth_xilinx resource counts")
    p.add_argument("--ecp5", action="store_true", help="Yosys synth_ecp5 + nextpnr-ecp5 (LFE5U-85F) Fmax")
    p.add_argument("--ready", type=float, default=0.5, help="output TREADY probability in the bit-exact run")
    p.add_argument("--layer", action="store_true", help="the FDHT-LSTM layer alone (no classifier / softmax)")
    a = p.parse_args(argv)
    from keras_model.common.config import load_config
    from keras_model.common.errors import ConfigError

    from . import build, summary_lines
    from .tools import RTLToolError

    try:
        rep = build(a.project_dir, cfg=load_config(a.config) if a.config else None, samples=a.samples,
                    yosys=a.yosys, ecp5=a.ecp5, ready=a.ready, whole=not a.layer)
    except (RTLToolError, ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    print("\n".join(summary_lines(rep)))
    csim_ok = rep.get("csim_log") is None or rep["csim_log"]["equal"]
    return 0 if rep["bit_exact"] and csim_ok else 1


if __name__ == "__main__":
    sys.exit(main())
