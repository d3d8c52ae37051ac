"""DSP multipliers vs shift-add adder graphs (hls.stage_arith) in the RTL twin,
side by side in one run: per mode, bit-exactness and MEASURED cycles
(Verilator), Yosys synth_xilinx counts (LUT, FF, CARRY, DSP, BRAM) and,
with --ecp5, the nextpnr-ecp5 Fmax and utilisation on an LFE5U-85F.

    python benchmarks/bench_stage_arith.py --project build/hls/default_q8 --samples 50 --ecp5
    python benchmarks/bench_stage_arith.py --case lstm_d4_rank1_w12      # a small random shape

Each mode is written to <project>/rtl_arith/<mode>/ (or a temporary folder
for --case); the project's own rtl/ is left alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODES = ("dsp", "shift_add")


def _model(a):
    """(hls model, inputs, folder for the modes' RTL, the part)."""
    from hls_project import rtl

    if a.project:
        hm, cfg = rtl.project_model(a.project)
        x = rtl.project_inputs(a.project, a.samples)
        return hm, x, Path(a.project) / "rtl_arith", cfg["hls"].get("part") or "xcvu9p-flga2104-2L-e"
    from test_rtl import convert

    tmp = Path(tempfile.mkdtemp(prefix="bench_arith-"))
    hm, x = convert(a.case, tmp / a.case)
    return hm, x[:a.samples] if a.samples else x, tmp / "rtl_arith", "xcvu9p-flga2104-2L-e"


def measure(hm, x, out: Path, mode: str, part: str, ecp5: bool) -> dict:
    from hls_project import rtl
    from hls_project.rtl import synth

    t0 = time.time()
    r = rtl.simulate(hm, x, str(out / mode), ready=0.5, seed=1, stage_arith=mode)
    d = r.pop("_design")
    row = {"mode": mode, "bit_exact": r["bit_exact"], "samples": r["samples"],
           "interval": r["interval_cycles"], "latency": r["latency_cycles"],
           "model_interval": r["model"]["interval_cycles"],
           "shift_add_stages": [k for k, v in r["stage_arith"]["stages"].items() if v["arith"] == "shift_add"],
           "adders": sum(v.get("adders", 0) for v in r["stage_arith"]["stages"].values()),
           "sim_s": round(time.time() - t0, 1)}
    t1 = time.time()
    y = synth.yosys_xilinx(str(out / mode), r["sources"], d.top, synth.family_of(part))
    row["yosys"] = {k: y.get(k) for k in ("lut", "ff", "carry", "dsp", "bram18", "bram36", "flow")}
    row["yosys_s"] = round(time.time() - t1, 1)
    if ecp5:
        from hls_project.rtl.tools import RTLToolError

        t2 = time.time()
        try:
            e = synth.ecp5(str(out / mode), r["sources"], d.top)
            row["ecp5"] = {"fmax_mhz": e.get("fmax_mhz"),
                           **{k: e.get("utilisation", {}).get(k, {}).get("used")
                              for k in ("TRELLIS_COMB", "TRELLIS_FF", "MULT18X18D", "DP16KD")}}
        except RTLToolError as err:  # e.g. the design does not fit the LFE5U-85F: a figure too, not a crash
            row["ecp5"] = {"fmax_mhz": None, "error": str(err)}
        row["ecp5_s"] = round(time.time() - t2, 1)
    with open(out / mode / "stage_arith_row.json", "w") as f:
        json.dump({**row, "stage_arith": r["stage_arith"]}, f, indent=2, default=str)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--project", default=None, help="a written project (e.g. build/hls/default_q8)")
    p.add_argument("--case", default="lstm_d4_rank1_w12", help="else a random shape of tests/test_bitexact.py")
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--ecp5", action="store_true", help="also Yosys synth_ecp5 + nextpnr-ecp5 (minutes)")
    p.add_argument("--out", default=None, help="write the rows as JSON here")
    a = p.parse_args(argv)
    hm, x, out, part = _model(a)
    rows = []
    for mode in MODES:
        rows.append(measure(hm, x, out, mode, part, a.ecp5))
        print(json.dumps(rows[-1], default=str), flush=True)
    print(f"\n{'mode':10s} {'exact':>5s} {'II':>9s} {'latency':>8s} {'LUT':>8s} {'FF':>8s} {'CARRY':>6s} "
          f"{'DSP':>5s} {'BRAM18':>6s} {'Fmax':>7s}  shift-add stages")
    for r in rows:
        y, e = r["yosys"], r.get("ecp5") or {}
        print(f"{r['mode']:10s} {str(r['bit_exact']):>5s} {r['interval']:9.1f} {r['latency']:8d} {y['lut']:8,d} "
              f"{y['ff']:8,d} {y['carry']:6,d} {y['dsp']:5d} {y['bram18'] + 2 * (y.get('bram36') or 0):6d} "
              f"{e.get('fmax_mhz') or float('nan'):7.1f}  {','.join(r['shift_add_stages']) or '-'}")
        if e.get("error"):
            print(f"{'':10s} ECP5: {e['error']}")
    b, s = rows
    print(f"shift_add / dsp: LUT x{s['yosys']['lut'] / b['yosys']['lut']:.2f}, "
          f"DSP {b['yosys']['dsp']} -> {s['yosys']['dsp']}, same cycles: "
          f"{(s['interval'], s['latency']) == (b['interval'], b['latency'])}"
          + (f", Fmax x{s['ecp5']['fmax_mhz'] / b['ecp5']['fmax_mhz']:.2f}"
             if a.ecp5 and s["ecp5"]["fmax_mhz"] and b["ecp5"]["fmax_mhz"] else ""))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(rows, f, indent=2, default=str)


if __name__ == "__main__":
    main()
