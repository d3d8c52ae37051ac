"""FDHT-LSTM vs a dense LSTM at the UCF11 shape: training-step time, peak
memory, MACs per time step and parameters, side by side in one run.

    python benchmarks/bench_train.py            # 6 frames of 120x160x3, H = 256, batch 4
    python benchmarks/bench_train.py --quick    # 6 frames of 30x40x3, H = 64 (a few seconds)

Each kind runs in a fresh subprocess (``--worker KIND``) so that its peak
resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own;
the step time is the median of ``--steps`` ``train_on_batch`` calls after
``--warmup`` untimed ones (the first builds the graph). MACs per time step are
those of the gate pre-activations (``models.rnn_costs``): the planned HT
contraction chain for FDHT, ``(N + H) x 4H`` for the dense LSTM.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (frames, height, width, channels), units, FDHT modes and rank, batch, classes
SHAPES = {
    "ucf11": {"sample": (6, 120, 160, 3), "units": 256, "input_modes": [8, 20, 20, 19],
              "output_modes": [16, 4, 4, 4], "ranks": 5, "batch": 4, "classes": 11},
    # 3,600 + 64 = 3,664 inputs -> 4x10x10x10 = 4,000 (9 % padding); 4H = 256 = 4x4x4x4
    "quick": {"sample": (6, 30, 40, 3), "units": 64, "input_modes": [4, 10, 10, 10],
              "output_modes": [4, 4, 4, 4], "ranks": 5, "batch": 4, "classes": 11},
}
KINDS = ("fdht", "dense")


def _rss_bytes() -> int:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB


def worker(kind: str, shape_name: str, steps: int, warmup: int, threads: int) -> dict:
    """Build, compile and time one kind in this process; returns the figures."""
    import numpy as np
    from keras_model.common.keras2 import keras, tf

    sys.path.insert(0, ROOT)
    from keras_model.models import build_model, rnn_costs

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    s = SHAPES[shape_name]
    rng = np.random.default_rng(0)
    x = rng.random((s["batch"],) + tuple(s["sample"]), dtype=np.float32)
    y = rng.integers(0, s["classes"], s["batch"])
    rss_before = _rss_bytes()  # TensorFlow imported and the batch made, no model yet

    model_cfg = {"kind": kind, "units": s["units"], "seed": 0}
    if kind == "fdht":
        model_cfg.update(input_modes=s["input_modes"], output_modes=s["output_modes"], ranks=s["ranks"])
    keras.utils.set_random_seed(0)
    model = build_model(model_cfg, s["sample"], s["classes"])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    costs = rnn_costs(model)
    for _ in range(warmup):
        model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = model.train_on_batch(x, y)
        times.append(time.perf_counter() - t0)
    return {
        "kind": kind,
        "model_params": costs["model_params"],
        "rnn_params": costs["rnn_params"],
        "macs_per_step": costs["macs_per_step"],
        "dense_lstm_macs_per_step": costs["dense_lstm_macs_per_step"],
        "features_per_step": costs["features_per_step"],
        "units": costs["units"],
        "step_seconds": float(np.median(times)),
        "step_seconds_all": [round(t, 4) for t in times],
        "peak_rss_bytes": _rss_bytes(),
        "baseline_rss_bytes": rss_before,
        "final_loss": float(loss),
        "threads": threads or None,
        "tf_threads": [tf.config.threading.get_intra_op_parallelism_threads(),
                       tf.config.threading.get_inter_op_parallelism_threads()],
    }


def run_kind(kind: str, args) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--threads", str(args.threads)]
    if args.quick:
        cmd.append("--quick")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise SystemExit(f"error: the {kind} worker failed (exit {proc.returncode}):\n{tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _gb(b: int) -> str:
    return f"{b / 2 ** 30:.2f}"


def report(results: dict, shape_name: str, args) -> str:
    s = SHAPES[shape_name]
    t, hgt, wid, ch = s["sample"]
    fd, de = results["fdht"], results["dense"]
    n, h = fd["features_per_step"], fd["units"]
    lines = [
        f"shape: {t} frames of {hgt}x{wid}x{ch} ({n:,} inputs per step), H = {h}, batch {s['batch']}, "
        f"{s['classes']} classes; fdht modes {'x'.join(map(str, s['input_modes']))} -> "
        f"{'x'.join(map(str, s['output_modes']))}, rank {s['ranks']}",
        f"step time: median of {args.steps} train_on_batch calls after {args.warmup} warm-up; "
        f"peak memory: ru_maxrss of a fresh process per kind; TF threads: "
        f"{fd['threads'] or 'TF default'} on {os.cpu_count()} CPUs",
        "",
        f"{'kind':<6} {'params (model)':>15} {'params (LSTM)':>14} {'MACs / step':>13} "
        f"{'step (s)':>9} {'peak RSS (GB)':>14} {'RSS before model (GB)':>22}",
    ]
    for r in (fd, de):
        lines.append(
            f"{r['kind']:<6} {r['model_params']:>15,} {r['rnn_params']:>14,} {r['macs_per_step']:>13,} "
            f"{r['step_seconds']:>9.4f} {_gb(r['peak_rss_bytes']):>14} {_gb(r['baseline_rss_bytes']):>22}"
        )
    extra_fd = fd["peak_rss_bytes"] - fd["baseline_rss_bytes"]
    extra_de = de["peak_rss_bytes"] - de["baseline_rss_bytes"]
    lines += [
        "",
        f"dense / fdht: step time {de['step_seconds'] / fd['step_seconds']:.1f}x, "
        f"peak memory {de['peak_rss_bytes'] / fd['peak_rss_bytes']:.1f}x "
        f"(above the pre-model baseline: {_gb(extra_de)} vs {_gb(extra_fd)} GB), "
        f"MACs {de['macs_per_step'] / fd['macs_per_step']:.1f}x, "
        f"LSTM parameters {de['rnn_params'] / fd['rnn_params']:,.0f}x",
        f"dense MACs per step = ({n:,} + {h}) x {4 * h:,} = {n + h:,} x {4 * h:,} = {de['macs_per_step']:,}; "
        f"fdht plan = {fd['macs_per_step']:,}",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a smaller shape (6 frames of 30x40x3, H = 64)")
    p.add_argument("--steps", type=int, default=5, help="timed training steps per kind (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed training steps first")
    p.add_argument("--threads", type=int, default=0, help="TF intra/inter-op threads (0: TF default)")
    p.add_argument("--json", default=None, help="also write the raw figures to this file")
    p.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 1:
        p.error("--steps and --warmup must be >= 1")
    shape_name = "quick" if args.quick else "ucf11"
    if args.worker:
        print(json.dumps(worker(args.worker, shape_name, args.steps, args.warmup, args.threads)))
        return 0
    results = {kind: run_kind(kind, args) for kind in KINDS}
    print(report(results, shape_name, args))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"shape": shape_name, **results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
