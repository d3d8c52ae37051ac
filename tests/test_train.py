"""keras_model.train: a short real training run, its files, determinism, the
model cache and the command line (as a subprocess)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_model import train
from keras_model.common import config
from keras_model.common.config import config_hash, load_config
from keras_model.models import load_keras_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SMALL = {"data": {"n_train": 300, "n_test": 100}, "train": {"epochs": 2, "verbose": 0}}
METRIC_FIELDS = ("params", "test_accuracy", "epochs_run", "train_seconds", "seeds", "versions", "weights_sha256")


def small_cfg(**sections):
    overrides = {k: dict(v) for k, v in SMALL.items()}
    for section, values in sections.items():
        overrides.setdefault(section, {}).update(values)
    return load_config(overrides=overrides)


def quiet(*_args, **_kwargs):
    pass


@pytest.fixture(scope="module")
def dataset():
    from keras_model.data import load_dataset

    return load_dataset(small_cfg()["data"])


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, dataset):
    out = tmp_path_factory.mktemp("run1") / "fdht"
    cfg = small_cfg()
    model, metrics, path = train.train(cfg, dataset=dataset, out_dir=str(out), log=quiet)
    return cfg, model, metrics, path, out


def test_short_training_writes_model_metrics_and_hash(first_run):
    cfg, model, metrics, path, out = first_run
    assert path == str(out / "model.h5")
    assert sorted(os.listdir(out)) == ["metrics.json", "model.h5", "weights.sha256"]
    with open(out / "metrics.json") as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(metrics))
    # the parameter figures ("params"): whole model and recurrent layer
    assert saved["model_params"] == model.count_params() > saved["rnn_params"] > 0
    assert saved["kind"] == "fdht" and saved["config_hash"] == config_hash(cfg)
    for field in METRIC_FIELDS:
        if field == "params":
            continue
        assert field in saved, field
    assert 0.0 <= saved["test_accuracy"] <= 1.0
    assert saved["epochs_run"] == 2 and saved["train_seconds"] > 0
    assert saved["n_train"] + saved["n_val"] == 300 and saved["n_test"] == 100
    assert saved["seeds"] == {"train": 0, "model": 0, "data": 0}
    assert {"python", "numpy", "tensorflow", "keras", "qkeras"} <= set(saved["versions"])
    sha = saved["weights_sha256"]
    assert len(sha) == 64 and int(sha, 16) >= 0
    assert (out / "weights.sha256").read_text().strip() == sha
    assert train.weights_hash(model) == sha
    # the saved file holds the trained weights
    loaded = load_keras_model(path)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert train.weights_hash(loaded) == sha
    assert not [p for p in os.listdir(out.parent) if p.startswith(".tmp-")]  # atomic write cleaned up


def test_same_config_and_seed_give_same_weights(first_run, dataset, tmp_path):
    cfg, _, metrics, _, _ = first_run
    _, again, _ = train.train(cfg, dataset=dataset, out_dir=str(tmp_path / "again"), log=quiet)
    assert again["weights_sha256"] == metrics["weights_sha256"]
    assert again["test_accuracy"] == metrics["test_accuracy"]
    other_cfg = small_cfg(train={"seed": 1})
    _, other, _ = train.train(other_cfg, dataset=dataset, out_dir=str(tmp_path / "seed1"), log=quiet)
    assert other["weights_sha256"] != metrics["weights_sha256"]


def test_cached_or_train_reuses_and_retrains(tmp_path, monkeypatch, dataset):
    monkeypatch.setenv(config.WORKDIR_ENV, str(tmp_path))
    logs = []
    cfg = small_cfg(train={"epochs": 1})
    model, metrics, path, cached = train.cached_or_train(cfg, dataset=dataset, log=logs.append)
    assert not cached and path.startswith(str(tmp_path))
    assert path == os.path.join(str(tmp_path), "models", f"default-fdht-{config_hash(cfg)}", "model.h5")
    x = dataset.x_test[:8].astype("float32") / 255.0
    y = model.predict(x, verbose=0)

    logs.clear()
    model2, metrics2, path2, cached2 = train.cached_or_train(cfg, dataset=dataset, log=logs.append)
    assert cached2 and path2 == path and metrics2 == json.loads(json.dumps(metrics))
    assert any("cached" in line for line in logs)
    np.testing.assert_array_equal(model2.predict(x, verbose=0), y)

    # another config (hash) trains a new model next to it
    cfg_b = small_cfg(train={"epochs": 1, "seed": 3})
    _, metrics_b, path_b, cached_b = train.cached_or_train(cfg_b, dataset=dataset, log=quiet)
    assert not cached_b and path_b != path and metrics_b["config_hash"] == config_hash(cfg_b)

    # a cache entry whose recorded hash does not match is not trusted: retrain
    mpath = os.path.join(os.path.dirname(path), "metrics.json")
    with open(mpath) as f:
        stale = json.load(f)
    stale["config_hash"] = "0" * 12
    with open(mpath, "w") as f:
        json.dump(stale, f)
    _, metrics3, path3, cached3 = train.cached_or_train(cfg, dataset=dataset, log=quiet)
    assert not cached3 and path3 == path
    with open(mpath) as f:
        assert json.load(f)["config_hash"] == config_hash(cfg)
    assert metrics3["weights_sha256"] == metrics["weights_sha256"]  # deterministic retrain


def _cli(args, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "hls_project.cli", "train", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_trains_and_exits_zero(tmp_path):
    """The result alone on stdout (one JSON line); Keras's epoch lines and the
    progress lines on stderr."""
    cfg_path = tmp_path / "tiny.yml"
    cfg_path.write_text("data:\n  n_train: 200\n  n_test: 50\nmodel:\n  units: 16\n  ranks: 5\n")
    out = tmp_path / "out"
    proc = _cli(["--config", str(cfg_path), "--epochs", "1", "--out", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("\n") == 1, proc.stdout
    summary = json.loads(proc.stdout)
    epoch_lines = [line for line in proc.stderr.splitlines() if " - loss: " in line and "val_accuracy" in line]
    assert len(epoch_lines) == 1, proc.stderr[-2000:]  # Keras's line for the one epoch
    assert summary["kind"] == "fdht" and summary["epochs_run"] == 1
    assert set(summary) == {"kind", "model_params", "rnn_params", "macs_per_step", "test_accuracy",
                            "epochs_run", "train_seconds"}
    assert sorted(os.listdir(out)) == ["metrics.json", "model.h5", "weights.sha256"]
    with open(out / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["config"] == "tiny" and metrics["units"] == 16


def test_cli_unknown_config_key_exits_2_with_one_error_line(tmp_path):
    cfg_path = tmp_path / "bad.yml"
    cfg_path.write_text("model:\n  unitz: 16\n")
    proc = _cli(["--config", str(cfg_path), "--epochs", "1", "--out", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "model.unitz: unknown key" in lines[0] and str(cfg_path) in lines[0]
    assert proc.stdout == "" and not (tmp_path / "out").exists()


def test_training_learns_the_built_in_task(tmp_path):
    """A real learning check, not a range check: 6 epochs on 600 clips of the
    built-in data take the FDHT-LSTM from chance (0.25, 4 classes) to >= 0.75
    test accuracy (0.91 measured at the pinned stack, seed 0)."""
    cfg = load_config(overrides={"data": {"n_train": 600, "n_test": 200},
                                 "train": {"epochs": 6, "verbose": 0, "patience": 100}})
    _, metrics, _ = train.train(cfg, out_dir=str(tmp_path / "learn"), log=quiet)
    assert metrics["epochs_run"] == 6
    assert metrics["test_accuracy"] >= 0.75, metrics["test_accuracy"]
