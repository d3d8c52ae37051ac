"""csim-vs-Keras fidelity at ap_fixed<16,6> and with --precision auto, per data set.

    python benchmarks/fidelity_sets.py             # writes build/fidelity/*.npz
    python benchmarks/bench_fidelity.py [NAME.npz ...] [--jobs 2]

For each data set: ``build.py --csim --precision auto --data X`` (trains the
default config's model on it, cached), then ``build.py --csim --data X
--model <that model>`` at the default ap_fixed<16,6>; prints one row each:
top-1 agreement and weight bits of both, the types auto chose, and the time
the auto search took. Default data sets: the built-in digits and the three of
fidelity_sets.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from keras_model.common import fixedtype  # noqa: E402


def _build(args, out):
    cmd = [sys.executable, os.path.join(ROOT, "build.py"), "--csim", "--output-dir", out, *args]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    path = os.path.join(out, "csim_report.json")
    if not os.path.isfile(path):
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {res.returncode}):\n{res.stderr[-2000:]}")
    with open(path) as f:
        return json.load(f), res.returncode


def one(data):
    name = os.path.splitext(os.path.basename(data))[0] if data else "digits (built-in)"
    base = os.path.join(ROOT, "build", "fidelity", "prj", name.split(" ")[0])
    extra = ["--data", data] if data else []
    auto, rc_a = _build(extra + ["--precision", "auto"], base + "-auto")
    fixed, rc_f = _build(extra + ["--model", auto["model_path"]], base + "-16_6")
    pa = auto["precision_auto"]
    return {"data": name, "samples": fixed["csim"]["samples"], "keras_accuracy": fixed["csim"]["keras_accuracy"],
            "agreement_16_6": fixed["csim"]["top1_agreement"], "weight_bits_16_6": fixed["weight_bits"],
            "agreement_auto": auto["csim"]["top1_agreement"], "weight_bits_auto": auto["weight_bits"],
            "auto_seconds": pa["seconds"], "auto_reached": pa["reached"], "auto_types": pa["types"],
            "max_type_bits": max(fixedtype.parse(t["type"]).width if "type" in t else int(t.get("width", 0) or 0)
                                 for t in pa["types"].values()),
            "exit_codes": (rc_a, rc_f)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", nargs="*")
    p.add_argument("--jobs", type=int, default=2)
    a = p.parse_args(argv)
    sets = a.data or [None] + [os.path.join(ROOT, "build", "fidelity", f"{n}.npz")
                               for n in ("sine32_f1", "sensor32_f6_hard", "clips6_30x40")]
    with ThreadPoolExecutor(a.jobs) as ex:
        rows = list(ex.map(one, sets))
    print("| data set | test clips | Keras acc. | agreement at ap_fixed<16,6> | weight bits | agreement, auto | "
          "weight bits, auto | widest data type, auto | auto search |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        print(f"| {r['data']} | {r['samples']} | {r['keras_accuracy']:.3f} | {100 * r['agreement_16_6']:.2f} % | "
              f"{r['weight_bits_16_6']:,} | {100 * r['agreement_auto']:.2f} %"
              f"{'' if r['auto_reached'] else ' (target not reached on calibration)'} | {r['weight_bits_auto']:,} | "
              f"{r['max_type_bits']} bits | {r['auto_seconds']:.0f} s |")
    with open(os.path.join(ROOT, "build", "fidelity", "bench_fidelity.json"), "w") as f:
        json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
