"""Open synthesis of the generated RTL: Yosys ``synth_xilinx`` (resource
counts for the configured part's family; Vivado's own counts differ) and
Yosys ``synth_ecp5`` + nextpnr-ecp5 (a real place and route: Fmax and
utilisation on a Lattice ECP5)."""

from __future__ import annotations

import json
import os
import re
import time
from typing import Dict, List

from hls_project.rtl import tools

#: Xilinx cell name patterns -> report keys
XILINX_KEYS = {
    "lut": r"^LUT[1-6]$", "ff": r"^FD[RSCP]E$", "carry": r"^CARRY(4|8)$", "dsp": r"^DSP48E[12]$",
    "bram18": r"^RAMB18", "bram36": r"^RAMB36", "uram": r"^URAM288", "lutram": r"^RAM(32|64|128|256)",
    "srl": r"^SRL", "mux": r"^MUXF[789]$",
}
ECP5_KEYS = {"lut4": r"^LUT4$", "ff": r"^TRELLIS_FF$", "ccu2": r"^CCU2C$", "mult18": r"^MULT18X18D$",
             "alu54": r"^ALU54B$", "ebr": r"^DP16KD$", "lutram": r"^TRELLIS_DPR16X4$"}


def family_of(part: str) -> str:
    """synth_xilinx's -family for a Xilinx part name (UltraScale+ for xcvu9p, ..)."""
    p = part.lower()
    if p.startswith(("xcvu", "xcku", "xczu", "xcau")) and ("p" in p[4:7] or p.startswith(("xczu", "xcau"))):
        return "xcup"
    if p.startswith(("xcvu", "xcku")):
        return "xcu"
    if p.startswith(("xc7", "xa7", "xq7")):
        return "xc7"
    return "xcup"


def _counts(stat_json: str, keys: Dict[str, str], top: str) -> Dict[str, int]:
    with open(stat_json) as f:
        data = json.load(f)
    mods = data.get("modules", {})
    mod = mods.get(f"\\{top}") or mods.get(top) or (next(iter(mods.values())) if mods else {})
    if "design" in data and data["design"].get("num_cells_by_type"):
        cells = data["design"]["num_cells_by_type"]
    else:
        cells = mod.get("num_cells_by_type", {})
    out = {k: 0 for k in keys}
    for cell, n in cells.items():
        name = cell.lstrip("\\").split("$")[-1] if cell.startswith("$") else cell.lstrip("\\")
        for k, pat in keys.items():
            if re.match(pat, name):
                out[k] += int(n)
    out["cells"] = int(sum(int(n) for n in cells.values()))
    return out


def _script(srcs: List[str], lines: List[str]) -> str:
    return "\n".join([f"read_verilog -defer {s}" for s in srcs] + lines) + "\n"


def yosys_xilinx(rtl_dir: str, srcs: List[str], top: str, family: str = "xcup",
                 timeout: float = 3600) -> Dict[str, object]:
    """``synth_xilinx -family F``; if it fails (ABC9 has died on large
    designs), the script up to ``map_luts``, ``abc -lut 6``, then the rest."""
    full = ["hierarchy -check -top " + top, f"synth_xilinx -family {family} -top {top} -flatten",
            "tee -q -o yosys_xilinx_stat.json stat -json", "tee -q -o yosys_xilinx_stat.txt stat"]
    split = ["hierarchy -check -top " + top, f"synth_xilinx -family {family} -top {top} -flatten -run :map_luts",
             "abc -lut 6", "clean", f"synth_xilinx -family {family} -top {top} -flatten -run map_cells:",
             "tee -q -o yosys_xilinx_stat.json stat -json", "tee -q -o yosys_xilinx_stat.txt stat"]
    t0 = time.time()
    flow = "synth_xilinx"
    with open(os.path.join(rtl_dir, "yosys_xilinx.ys"), "w") as f:
        f.write(_script(srcs, full))
    try:
        tools.run("yosys", ["-q", "-s", "yosys_xilinx.ys"], cwd=rtl_dir, log="yosys_xilinx.log", timeout=timeout)
    except tools.RTLToolError:
        flow = "synth_xilinx -run :map_luts; abc -lut 6; synth_xilinx -run map_cells:"
        with open(os.path.join(rtl_dir, "yosys_xilinx.ys"), "w") as f:
            f.write(_script(srcs, split))
        tools.run("yosys", ["-q", "-s", "yosys_xilinx.ys"], cwd=rtl_dir, log="yosys_xilinx.log", timeout=timeout)
    out: Dict[str, object] = _counts(os.path.join(rtl_dir, "yosys_xilinx_stat.json"), XILINX_KEYS, top)
    out.update({"family": family, "flow": flow, "seconds": round(time.time() - t0, 1),
                "label": "open synthesis (Yosys); Vivado's counts differ"})
    return out


def ecp5(rtl_dir: str, srcs: List[str], top: str, device: str = "85k", package: str = "CABGA381",
         freq_mhz: float = 100.0, timeout: float = 3600, seed: int = 1) -> Dict[str, object]:
    """Yosys ``synth_ecp5`` + nextpnr-ecp5: Fmax (nextpnr's timing report)
    and utilisation of the placed and routed design. The top is placed
    behind ``<top>_ooc`` (serial I/O, generate.ooc_verilog): its AXI words
    are wider than the package's pins."""
    t0 = time.time()
    core = top
    if os.path.exists(os.path.join(rtl_dir, f"{top}_ooc.v")):
        srcs, top = list(srcs) + [f"{top}_ooc.v"], f"{top}_ooc"
    with open(os.path.join(rtl_dir, "yosys_ecp5.ys"), "w") as f:
        f.write(_script(srcs, ["hierarchy -check -top " + top, f"synth_ecp5 -top {top} -json {top}_ecp5.json",
                               "tee -q -o yosys_ecp5_stat.json stat -json"]))
    tools.run("yosys", ["-q", "-s", "yosys_ecp5.ys"], cwd=rtl_dir, log="yosys_ecp5.log", timeout=timeout)
    synth_s = time.time() - t0
    cells = _counts(os.path.join(rtl_dir, "yosys_ecp5_stat.json"), ECP5_KEYS, top)
    args = [f"--{device}", "--package", package, "--json", f"{top}_ecp5.json", "--freq", str(freq_mhz),
            "--report", "nextpnr_ecp5_report.json", "--seed", str(seed), "--timing-allow-fail"]
    tools.run("nextpnr-ecp5", args, cwd=rtl_dir, log="nextpnr_ecp5.log", timeout=timeout)
    with open(os.path.join(rtl_dir, "nextpnr_ecp5_report.json")) as f:
        rep = json.load(f)
    fmax = rep.get("fmax", {})
    achieved = [v.get("achieved") for v in fmax.values() if isinstance(v, dict) and v.get("achieved")]
    util = {k: {"used": int(v.get("used", 0)), "available": int(v.get("available", 0))}
            for k, v in rep.get("utilization", {}).items() if int(v.get("used", 0))}
    return {"device": f"LFE5U-{device.upper().replace('K', 'F')}", "package": package,
            "fmax_mhz": round(min(achieved), 2) if achieved else None, "target_mhz": freq_mhz,
            "clocks": {k: round(v.get("achieved", 0), 2) for k, v in fmax.items() if isinstance(v, dict)},
            "utilisation": util, "yosys_cells": cells, "synth_seconds": round(synth_s, 1),
            "seconds": round(time.time() - t0, 1), "tools": "Yosys synth_ecp5 + nextpnr-ecp5",
            "placed_top": top, "core": core}
