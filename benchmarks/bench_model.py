"""The accelerator's cycle/resource MODEL across lane budgets (no g++, no vendor tool).

For the UCF11 shape (configs/ucf11.yml: 6 frames of 160x120x3, H = 256) and
the default model (configs/default.yml), the model is converted with hls4ml
(io_stream, our extension) at each ``hls.lanes`` setting and the report's
MODEL figures (hls_project/accel/model.py, the same code that writes
hardware_report.json) are printed: clips/s at the configured clock, DSP
estimate, lane utilisation, MAC lanes, buffer and constant bits, the top
port and the input-stream bound. Weights are untrained (they only set the
fixed-point widths, hence the DSP count per lane).

    python benchmarks/bench_model.py [--lanes 16,64,256,...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def figures(config_path: str, sample_shape, n_classes: int, lanes: int, backend=None):
    from hls_project.flow import pipeline as flow
    from hls_project.report import figures
    from keras_model.common.config import load_config, merge
    from keras_model.models import build_model

    cfg = load_config(config_path)
    cfg = merge(cfg, {"hls": {"io_type": "io_stream", "lanes": lanes, **({"backend": backend} if backend else {})}})
    model = build_model(cfg["model"], sample_shape, n_classes)
    with tempfile.TemporaryDirectory() as tmp:
        hm = flow.convert(model, cfg, tmp, input_range=1.0)
        fig = figures.model_figures(hm, float(cfg["hls"]["clock_period"]))
    return cfg, fig


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lanes", default="64,256", help="comma-separated lane budgets (the recommended one is added)")
    ap.add_argument("--backend", default=None, choices=["Vivado", "Vitis"], help="override the configs' hls.backend")
    args = ap.parse_args(argv)
    from hls_project.report import figures
    from hls_project.accel import model as cycle_model
    asked = [int(v) for v in args.lanes.split(",")]
    cases = [("UCF11 shape (configs/ucf11.yml)", os.path.join(ROOT, "configs", "ucf11.yml"), (6, 120, 160, 3), 11),
             ("default model (configs/default.yml)", os.path.join(ROOT, "configs", "default.yml"), (8, 32, 32, 1), 4)]
    for title, path, shape, classes in cases:
        print(f"\n{title}: MODEL figures (not synthesis)")
        print(f"{'lanes':>6} {'MAC lanes':>9} {'clips/s':>10} {'DSP':>6} {'lanes busy':>10} {'interval':>10} "
              f"{'latency':>10} {'buffer bits':>12} {'largest':>10} {'frame bits':>10} {'const bits':>10} "
              f"{'port':>5} {'I/O bound':>10}")
        rec = cycle_model.recommend_lanes(lambda b: figures(path, shape, classes, b, args.backend)[1]["headline"])
        budgets = sorted(set(asked) | {rec})
        for lanes in budgets:
            cfg, fig = figures(path, shape, classes, lanes, args.backend)
            h = fig["headline"]
            mark = "*" if lanes == rec else " "
            print(f"{lanes:>5}{mark} {h['mac_lanes']:>9} {h['clips_per_s']:>10,.0f} {h['dsp']:>6} "
                  f"{100 * h['lane_utilisation']:>9.1f}% {h['interval_cycles_per_clip']:>10,} "
                  f"{h['latency_cycles_per_clip']:>10,} {h['buffer_bits']:>12,} {h['largest_buffer_bits']:>10,} "
                  f"{h['frame_bits']:>10,} {h['constant_bits']:>10,} {h['top_port_bits']:>5} "
                  f"{h['io_bound_clips_per_s']:>10,.0f}")
        print(f"  * recommended: {cycle_model.RECOMMEND_RULE}")
        print(f"  clock {cfg['hls']['clock_period']} ns, stream_width {cfg['hls']['stream_width'] or 'auto'} values; "
              f"clips/s assume successive calls overlap (latency-bound figure in the report); "
              f"IIs from the HLS rules (hls_project/accel/rules.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
