"""RTL twin of whole models (FDHT-LSTM layer, classifier, softmax), per shape: Verilator build and simulation time per clip,
measured vs MODEL cycles (interval, latency), bit-exactness on the samples,
and optionally Yosys synth_xilinx counts and ECP5 Fmax.

    python benchmarks/bench_rtl.py [--cases a,b] [--yosys] [--ecp5] [--out FILE]
    python benchmarks/bench_rtl.py --project build/hls/default --samples 200 --yosys --ecp5

Shapes: the random small cases of tests/test_bitexact.py (random weights;
bit-exactness does not depend on training), or a written project.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_CASES = ["lstm_d2_parallel", "lstm_d3_stream", "lstm_d4_stream_w18", "lstm_d3_frames_stream",
                 "lstm_d3_long", "lstm_d2_seq_flatten", "lstm_d4_rank1_w12", "lstm_d3_qkeras_act"]


def row(name, r):
    m = r["model"]
    return {"shape": name, "bit_exact": r["bit_exact"], "samples": r["samples"],
            "interval_rtl": r["interval_cycles"], "interval_model": m["interval_cycles"],
            "latency_rtl": r["latency_cycles"], "latency_model": m["latency_cycles"],
            "sim_s_per_clip": r["sim"]["seconds_per_clip"], "build_s": r["sim"]["verilator_build_s"],
            "yosys": r.get("yosys"), "ecp5": r.get("ecp5")}


def main(argv=None):
    from hls_project import rtl
    from hls_project.rtl import synth

    p = argparse.ArgumentParser()
    p.add_argument("--cases", default=",".join(DEFAULT_CASES))
    p.add_argument("--project", default=None)
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--yosys", action="store_true")
    p.add_argument("--ecp5", action="store_true")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    rows = []
    if a.project:
        r = rtl.build(a.project, samples=a.samples, yosys=a.yosys, ecp5=a.ecp5)
        rows.append(row(os.path.basename(os.path.abspath(a.project)), r))
    else:
        import test_bitexact as tb

        tmp = Path(tempfile.mkdtemp(prefix="bench_rtl-"))
        for name in [c for c in a.cases.split(",") if c]:
            hm, _, x, _ = tb.hls_model(name, tmp / name)
            d = str(tmp / name / "rtl")
            r = rtl.simulate(hm, x.reshape(len(x), -1), d)
            des = r.pop("_design")
            if a.yosys:
                r["yosys"] = synth.yosys_xilinx(d, r["sources"], des.top)
            if a.ecp5:
                r["ecp5"] = synth.ecp5(d, r["sources"], des.top)
            rows.append(row(name, r))
            print(json.dumps(rows[-1], default=str), flush=True)
    print(f"{'shape':24s} {'exact':>5s} {'II rtl':>9s} {'II model':>9s} {'lat rtl':>8s} {'lat model':>9s} "
          f"{'s/clip':>8s}")
    for x in rows:
        print(f"{x['shape']:24s} {str(x['bit_exact']):>5s} {x['interval_rtl']:9.1f} {x['interval_model']:9d} "
              f"{x['latency_rtl']:8d} {x['latency_model']:9d} {x['sim_s_per_clip']:8.4f}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(rows, f, indent=2, default=str)


if __name__ == "__main__":
    main()
