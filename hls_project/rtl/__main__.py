"""python -m hls_project.rtl PROJECT_DIR [--samples N] [--yosys] [--ecp5] [--ready P]"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hls_project.rtl",
                                description="RTL twin of a written project's FDHT-LSTM layer: Verilator "
                                            "bit-exact + cycles, optional Yosys / ECP5; writes rtl/rtl_report.json")
    p.add_argument("project_dir")
    p.add_argument("--samples", type=int, default=None, help="simulate the first N test samples (default: all)")
    p.add_argument("--config", default=None, help="the project's config (default: the one its report names)")
    p.add_argument("--yosys", action="store_true", help="Yosys synth_xilinx resource counts")
    p.add_argument("--ecp5", action="store_true", help="Yosys synth_ecp5 + nextpnr-ecp5 (LFE5U-85F) Fmax")
    p.add_argument("--ready", type=float, default=0.5, help="output TREADY probability in the bit-exact run")
    a = p.parse_args(argv)
    from keras_model.common.config import load_config
    from keras_model.common.errors import ConfigError

    from . import build
    from .tools import RTLToolError

    try:
        rep = build(a.project_dir, cfg=load_config(a.config) if a.config else None, samples=a.samples,
                    yosys=a.yosys, ecp5=a.ecp5, ready=a.ready)
    except (RTLToolError, ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    return 0 if rep["bit_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
