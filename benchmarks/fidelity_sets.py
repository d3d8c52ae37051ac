"""Data sets for the csim-fidelity table (README "Choosing the precision"):
shapes the tests do not contain, generated here (no download).

    python benchmarks/fidelity_sets.py [--output-dir build/fidelity]

* ``sine32_f1``: 32 steps of 1 feature, a noisy sine whose frequency is the
  class (4 classes);
* ``sensor32_f6_hard``: 32 steps of 6 features, classes differ by a small
  drift buried in noise: a model near chance;
* ``clips6_30x40``: 6 frames of 30x40x3 uint8 video, a coloured square moving
  in one of 4 directions (the class), on noise.

Each is written as an .npz for ``python build.py --data``.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_model.data import Dataset, save_npz  # noqa: E402


def sine32_f1(rng, n):
    y = rng.integers(0, 4, n)
    t = np.arange(32)
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    freq = (0.05 + 0.04 * y)[:, None]
    x = np.sin(2 * np.pi * freq * t[None, :] + phase) + rng.normal(0, 0.3, (n, 32))
    return x[:, :, None].astype(np.float32), y


def sensor32_f6_hard(rng, n):
    y = rng.integers(0, 3, n)
    drift = np.linspace(0, 1, 32)[None, :, None] * (0.08 * (y[:, None, None] - 1))
    x = rng.normal(0, 1, (n, 32, 6)) + drift * np.array([1, -1, 0.5, 0, 0, 0])[None, None, :]
    return x.astype(np.float32), y


def clips6_30x40(rng, n):
    y = rng.integers(0, 4, n)
    x = rng.integers(0, 60, (n, 6, 30, 40, 3)).astype(np.uint8)
    steps = {0: (0, 3), 1: (0, -3), 2: (3, 0), 3: (-3, 0)}
    for i in range(n):
        r0, c0 = rng.integers(8, 22), rng.integers(10, 30)
        dr, dc = steps[int(y[i])]
        color = rng.integers(150, 256, 3)
        for f in range(6):
            r = int(np.clip(r0 + dr * (f - 2.5), 0, 26))
            c = int(np.clip(c0 + dc * (f - 2.5), 0, 36))
            x[i, f, r:r + 4, c:c + 4] = color
    return x, y


SETS = {"sine32_f1": (sine32_f1, 4), "sensor32_f6_hard": (sensor32_f6_hard, 3), "clips6_30x40": (clips6_30x40, 4)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--output-dir", default=os.path.join("build", "fidelity"))
    p.add_argument("--n-train", type=int, default=1200)
    p.add_argument("--n-test", type=int, default=600)
    args = p.parse_args(argv)
    for k, (name, (make, classes)) in enumerate(SETS.items()):
        rng = np.random.default_rng(100 + k)
        x, y = make(rng, args.n_train + args.n_test)
        ds = Dataset(x[: args.n_train], y[: args.n_train], x[args.n_train:], y[args.n_train:],
                     [f"c{c}" for c in range(classes)])
        path = save_npz(os.path.join(args.output_dir, f"{name}.npz"), ds)
        print(f"{path}: train {x[: args.n_train].shape}, test {x[args.n_train:].shape}, {classes} classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
