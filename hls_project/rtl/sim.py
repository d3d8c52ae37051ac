"""Verilator: build the RTL top with the AXI4-Stream testbench
(templates/rtl/tb_axis.cpp), stream clips through it, read the outputs and
the cycle at which each clip went in and came out."""

from __future__ import annotations

import os
import shutil
import time
from typing import Dict, List, Optional

import numpy as np

from hls_project.rtl import tools
from hls_project.rtl.generate import Design
from hls_project.rtl.verilog import TEMPLATES

TB = "tb_axis.cpp"
OBJ = "obj_dir"


def ap_types_dir(project_dir: Optional[str] = None) -> str:
    """ap_types' headers: the project's (firmware/ap_types), else hls4ml's own copy."""
    if project_dir and os.path.isfile(os.path.join(project_dir, "firmware", "ap_types", "ap_fixed.h")):
        return os.path.join(project_dir, "firmware", "ap_types")
    import hls4ml

    path = os.path.join(os.path.dirname(hls4ml.__file__), "templates", "vivado", "ap_types")
    if not os.path.isfile(os.path.join(path, "ap_fixed.h")):
        raise tools.RTLToolError(f"ap_types headers not found (tried {path}); reinstall hls4ml")
    return path


def tb_config(d: Design) -> str:
    defines = {"TOP_CLASS": f"V{d.top}", "VM_HEADER": f'"V{d.top}.h"', "IN_VALUES": d.stream_width,
               "IN_BITS": d.in_t.w, "OUT_VALUES": d.out_values, "OUT_BITS": d.out_t.w, "OUT_FRAC": d.out_t.f,
               "BEATS_PER_CLIP": d.in_words_per_clip, "WORDS_PER_CLIP": d.out_words_per_clip,
               "RESULT_T": d.out_t.cpp()}
    return "// written by hls_project/rtl/sim.py\n" + "".join(f"#define {k} {v}\n" for k, v in defines.items())


def build(d: Design, rtl_dir: str, srcs: List[str], jobs: int = 2, opt: str = "-O1",
          ap_types: Optional[str] = None) -> str:
    """Verilate and compile; returns the simulator's path."""
    shutil.copyfile(os.path.join(TEMPLATES, TB), os.path.join(rtl_dir, TB))
    with open(os.path.join(rtl_dir, "tb_config.h"), "w") as f:
        f.write(tb_config(d))
    cflags = f"-I{ap_types or ap_types_dir()} {opt}"
    obj = os.path.join(rtl_dir, OBJ)
    shutil.rmtree(obj, ignore_errors=True)
    args = ["--cc", "--exe", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", d.top, "-Mdir", OBJ,
            "-CFLAGS", cflags, "-o", "sim", *srcs, TB]
    tools.run("verilator", args, cwd=rtl_dir, log="verilator.log")
    tools.run_cmd(["make", "-j", str(jobs), "-C", OBJ, "-f", f"V{d.top}.mk", *tools.MAKE_FIXES,
                   "OPT_FAST=" + opt, "OPT_SLOW=-O0", "sim"], cwd=rtl_dir, log="verilator_make.log",
                  what="make (Verilator model)")
    return os.path.join(obj, "sim")


def run(exe: str, rtl_dir: str, inputs: np.ndarray, ready: float = 1.0, seed: int = 1, tag: str = "run",
        max_cycles: Optional[int] = None, results_log: Optional[str] = None) -> Dict[str, object]:
    """Stream ``inputs`` (clips x values, the input type's integers) through
    the simulator; returns outputs (words x values), the timing rows and the
    wall time."""
    inp = os.path.join(rtl_dir, f"{tag}_in.txt")
    outp = os.path.join(rtl_dir, f"{tag}_out.txt")
    timp = os.path.join(rtl_dir, f"{tag}_timing.txt")
    np.savetxt(inp, np.asarray(inputs, dtype=np.int64), fmt="%d")
    t0 = time.time()
    args = [exe, inp, outp, timp, str(ready), str(seed), str(max_cycles or 0)] + ([results_log] if results_log else [])
    tools.run_cmd(args, cwd=rtl_dir, log=f"{tag}.log", what="the Verilator simulation")
    secs = time.time() - t0
    out = np.loadtxt(outp, dtype=np.int64, ndmin=2)
    timing = np.loadtxt(timp, dtype=np.int64, ndmin=2)
    return {"outputs": out, "timing": timing, "seconds": secs}


def cycles(timing: np.ndarray) -> Dict[str, object]:
    """Latency (first clip: first input beat accepted to its output word
    valid, both cycles counted) and the clip interval in steady state: the
    mean distance between successive clips' first input beats over the
    second half of the clips (the input runs ahead of a slower recurrence
    by the FIFOs and ping-pong buffers at first); the same for the output
    words."""
    starts = timing[:, 1].astype(np.int64)
    valid = timing[:, 3].astype(np.int64)
    ends = timing[:, 4].astype(np.int64)
    n = len(starts)
    out: Dict[str, object] = {"latency_cycles": int(valid[0] - starts[0] + 1)}
    if n >= 2:
        k0 = n // 2 if n >= 4 else 0
        out["interval_cycles"] = float((starts[-1] - starts[k0]) / (n - 1 - k0))
        out["output_interval_cycles"] = float((ends[-1] - ends[k0]) / (n - 1 - k0))
        d = np.diff(starts[k0:])
        out["interval_cycles_min"], out["interval_cycles_max"] = int(d.min()), int(d.max())
    return out
