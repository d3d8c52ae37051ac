"""Shared test set-up: the project root is importable (``keras_model``,
``hls_project``) whether pytest is run as ``python -m pytest`` or ``pytest``,
TensorFlow's start-up chatter is silenced, and the fixtures several test
files use:

* ``tiny_fdht``: the tiny FDHT-LSTM the flow tests convert and simulate
  (sequences ``(4, 12)``, H = 8, ``[x;h] = 20 = 5x2x2x1``, ``4H = 32 =
  4x2x2x2``, rank 3: it converts and compiles in seconds);
* ``sequence_npz``: a small random sequence data set written as ``.npz``.

Plain helper functions the tests share (hashes of folders, error lines) are
in ``tests/helpers.py``.
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: the tiny FDHT-LSTM's model section (for (4, 12) sequences)
TINY_MODEL = {"kind": "fdht", "units": 8, "input_modes": [5, 2, 2, 1], "output_modes": [4, 2, 2, 2],
              "ranks": 3, "seed": 1}


@pytest.fixture(scope="session")
def tiny_fdht():
    """``tiny_fdht(n_classes=3, sample_shape=(4, 12), seed=1, quantizers=None)``
    -> a new, untrained Keras model: the tiny FDHT-LSTM, Dense, softmax. Other
    feature counts than 12 get input modes 3x2x2x2 (up to 24 = F + H)."""

    def build(n_classes=3, sample_shape=(4, 12), seed=1, quantizers=None):
        from keras_model.models import build_model

        model_cfg = dict(TINY_MODEL, seed=seed)
        if sample_shape[-1] != 12:
            model_cfg["input_modes"] = [3, 2, 2, 2]
        return build_model(model_cfg, tuple(sample_shape), n_classes, quantizers=quantizers)

    return build


@pytest.fixture(scope="session")
def sequence_npz():
    """``sequence_npz(path, n_train=16, n_test=8, n_classes=3, shape=(4, 12),
    seed=0, std=1.0, learnable=False)`` -> ``path``: normal random sequences
    (float32) with labels cycling through the classes, saved (validated) as
    ``.npz``. ``learnable``: class c lifts feature c at every step by 2."""

    def write(path, n_train=16, n_test=8, n_classes=3, shape=(4, 12), seed=0, std=1.0, learnable=False):
        import numpy as np

        from keras_model.data import Dataset, save_npz

        rng = np.random.default_rng(seed)
        n = n_train + n_test
        x = rng.normal(0.0, std, (n,) + tuple(shape)).astype(np.float32)
        y = np.arange(n) % n_classes
        if learnable:
            x[np.arange(n), :, y] += 2.0
        names = ["a", "b", "c"] if n_classes == 3 else [f"c{k}" for k in range(n_classes)]
        save_npz(path, Dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:], names))
        return path

    return write
