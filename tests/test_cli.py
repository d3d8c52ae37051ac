"""The one command (`fdht`), its shims, the packaging and the new-user fixes:
one exit-code mapping, labels with gaps, useless ranks, the prepare layout
check, the sweep folder, the frame-size convention."""

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from hls_project import cli as fdht_cli
from hls_project.cli import common as cli
from keras_model import ht
from keras_model.common.errors import ConfigError, DataError, ShapeError, ToolError
from hls_project.cli import main as fdht_main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_fdht_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as info:
        fdht_cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in ("train", "build", "sweep", "report", "lint", "prepare", "sample-videos", "experiment", "compress"):
        assert re.search(rf"^\s+{name}\s+\S", out, re.M), name


@pytest.mark.parametrize("name", sorted(fdht_cli.COMMANDS))
def test_every_subcommand_has_help_and_shared_flags(name, capsys):
    with pytest.raises(SystemExit) as info:
        fdht_cli.main([name, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: fdht {name}")
    assert "--verbose" in out and "--quiet" in out
    if name in ("train", "build", "sweep", "experiment", "compress"):
        for flag in ("--config", "--data", "--output-dir"):
            assert flag in out, (name, flag)


def test_unknown_command_and_option_exit_2(capsys):
    assert fdht_cli.main(["bild"]) == 2
    assert "invalid choice: 'bild'" in capsys.readouterr().err
    assert fdht_cli.main(["--nope", "build"]) == 2
    assert fdht_cli.main([]) == 2


def test_one_place_maps_errors_to_exit_codes(capsys):
    def parser(prog="t"):
        return cli.add_common(cli.ArgumentParser(prog=prog))

    def raising(exc):
        def run(args):
            raise exc
        return run

    assert cli.run_command(parser, raising(ToolError("g++ not found")), []) == 3
    assert cli.run_command(parser, raising(ConfigError("bad key")), []) == 2
    assert cli.run_command(parser, raising(DataError("bad file")), []) == 2
    assert cli.run_command(parser, raising(KeyboardInterrupt()), []) == 130
    assert cli.run_command(parser, lambda a: 0, ["--bogus"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[:3] == ["error: g++ not found", "error: bad key", "error: bad file"]


def _closed_stdout_run(args):
    """Run ``python args`` with its stdout a pipe whose reader has already gone
    (what ``| head`` leaves after its first line); returns (status, stderr)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    err = proc.stderr.read()
    return proc.wait(timeout=120), err


@pytest.mark.parametrize("args", [["-m", "hls_project.cli", "--help"], ["-m", "hls_project.cli", "train", "--help"],
                                  ["build.py", "--help"]], ids=["fdht", "fdht-train", "build.py"])
def test_closed_stdout_ends_quietly(args):
    code, err = _closed_stdout_run(args)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code in (0, cli.EXIT_CLOSED_STDOUT)


def test_closed_stdout_while_a_command_prints_its_result():
    """A result printed after the reader left (``fdht ... | head`` on a long
    report): no traceback, status 141, whatever the buffering."""
    probe = ("from hls_project.cli import common as cli\n"
             "def run(args):\n"
             "    for i in range(100000):\n"
             "        print('line', i)\n"
             "    return 0\n"
             "raise SystemExit(cli.run_command(lambda prog='t': cli.add_common(cli.ArgumentParser(prog=prog)), "
             "run, []))\n")
    code, err = _closed_stdout_run(["-c", probe])
    assert code == cli.EXIT_CLOSED_STDOUT and err == "", err


def test_fdht_help_piped_to_head_prints_one_line():
    shell = f"'{sys.executable}' -m hls_project.cli --help | head -1"
    proc = subprocess.run(["bash", "-c", shell], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.startswith("usage: fdht") and proc.stdout.count("\n") == 1


def test_workdir_moves_generated_files(tmp_path, monkeypatch):
    from keras_model.common import config

    monkeypatch.delenv(config.WORKDIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert config.build_dir() == str(tmp_path / "build")
    monkeypatch.setenv(config.WORKDIR_ENV, str(tmp_path / "w"))
    assert config.build_dir() == str(tmp_path / "w")
    assert config.BUILD_DIR == str(tmp_path / "w")


def test_shipped_config_by_name():
    from keras_model.common.config import load_config

    assert load_config("ucf11")["model"]["units"] == 256
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("no_such_config")


# -- packaging -----------------------------------------------------------------


def _requirements(name):
    return [l.split("#")[0].strip() for l in (ROOT / name).read_text().splitlines()
            if l.split("#")[0].strip() and not l.startswith("-r")]


def test_dependencies_are_pinned_and_test_extra_matches():
    import re

    runtime = _requirements("requirements.txt")
    assert runtime and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", r) for r in runtime), runtime
    assert any(r.startswith("tensorflow==2.21") for r in runtime) and "tf-keras==2.21.0" in runtime
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dependencies = {file = ["requirements.txt"]}' in pyproject
    extra = re.search(r"^test = \[(.*)\]$", pyproject, re.M).group(1)
    assert [x.strip().strip('"') for x in extra.split(",")] == _requirements("requirements-test.txt")


def test_wheel_ships_templates_configs_and_the_fdht_script(tmp_path):
    """`pip install .` content: build the wheel offline and look inside, then
    import the packages from the unpacked wheel in another directory."""
    import shutil

    src = tmp_path / "src"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns("build", ".git", "__pycache__", "*.egg-info",
                                                              ".pytest_cache", ".hypothesis"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(src)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("fdht_lstm-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        entries = z.read(entry).decode()
        assert "fdht = hls_project.cli:main" in entries
        assert "[hls4ml.backends]\nfdht = hls_project.ext.plugin:register" in entries
        z.extractall(tmp_path / "site")
    packages = sorted(str(p.parent.relative_to(ROOT)) for top in ("keras_model", "hls_project")
                      for p in (ROOT / top).rglob("__init__.py"))
    for package in packages:  # every sub-package is listed in pyproject.toml
        assert f"{package}/__init__.py" in names, package
    for header in ("nnet_ht_stream.h", "nnet_ht_probe.h"):
        assert f"hls_project/templates/{header}" in names
    for cfg in ("default.yml", "ucf11.yml", "default_q8.yml"):
        assert f"keras_model/configs/{cfg}" in names
    probe = ("import sys; sys.path.insert(0, sys.argv[1]);"
             "from hls_project.ext.registry import TEMPLATE_DIR; from keras_model.common.config import CONFIG_DIR, build_dir;"
             "print(TEMPLATE_DIR); print(CONFIG_DIR); print(build_dir())")
    other = tmp_path / "elsewhere"
    other.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FDHT_WORKDIR")}
    run = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "site")], cwd=other, capture_output=True,
                         text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    template_dir, config_dir, build = run.stdout.split()
    assert template_dir == str(tmp_path / "site" / "hls_project" / "templates")
    assert config_dir == str(tmp_path / "site" / "keras_model" / "configs")
    assert build == str(other / "build")


# -- fixes found by a new user ---------------------------------------------------------


def _npz(path, y_train, y_test, **extra):
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.random((len(y_train), 3, 4), dtype=np.float32), y_train=np.asarray(y_train),
             x_test=rng.random((len(y_test), 3, 4), dtype=np.float32), y_test=np.asarray(y_test), **extra)
    return path


def test_labels_with_gaps_are_refused_naming_the_empty_classes(tmp_path):
    from keras_model.data import load_npz

    path = _npz(tmp_path / "gaps.npz", [0, 1, 2, 99] * 3, [0, 1, 2, 99])
    with pytest.raises(DataError, match=r"class\(es\) 3-98 have no training samples.*100-class model.*relabel"):
        load_npz(path)


def test_labels_with_gaps_and_class_names_warn(tmp_path, caplog):
    from keras_model.data import load_npz

    names = np.array(["a", "b", "c", "d"])
    path = _npz(tmp_path / "named.npz", [0, 1, 3] * 3, [0, 1, 3], class_names=names)
    with caplog.at_level("WARNING", logger="fdht"):
        ds = load_npz(path)
    assert ds.n_classes == 4
    assert any("class(es) 2 (c) have no training samples" in r.getMessage() for r in caplog.records)


def test_absurd_ranks_are_refused_before_tensorflow():
    with pytest.raises(ShapeError, match=r"rank 100000 of node u1 .* at most 24 .* parameters"):
        ht.make_shape([6, 6, 6, 5], [4, 4, 4, 2], 100000, in_features=1056)
    # the same check reached from a config, before any model is built
    from keras_model.common.config import load_config
    from keras_model.models import build_model

    cfg = load_config(None, {"model": {"ranks": 100000}})
    with pytest.raises(ShapeError, match="at most"):
        build_model(cfg["model"], (8, 32, 32, 1), 4)
    # a uniform rank a little above a small leaf's bound stays allowed (saved models use it)
    assert ht.make_shape([2, 3], [2, 2], 6).ranks["u1"] == 6


def _video_tree(root, layout):
    """layout: {class: {group or '': n_clips}}; the files are NOT videos, so
    decoding any of them would fail (and print a 'skipped' warning)."""
    for cls, groups in layout.items():
        for group, n in groups.items():
            d = root / cls / group if group else root / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                (d / f"clip{i}.avi").write_bytes(b"not a video")


def test_prepare_checks_the_layout_before_decoding(tmp_path, capsys):
    _video_tree(tmp_path / "v", {"a": {"g1": 2, "g2": 2}, "b": {"": 1}})
    code = fdht_main(["prepare", "--video-dir", str(tmp_path / "v"), "--output", str(tmp_path / "o.npz"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "class 'b' has only one clip" in err
    assert "skipped" not in err  # nothing was decoded
    assert not (tmp_path / "o.npz").exists()


def test_single_group_class_is_split_by_clip_with_a_warning():
    from keras_model.data.video import Clip, split_clips

    clips = [Clip(Path(f"/v/a/g1/c{i}.avi"), "a", "g1") for i in range(4)]
    clips += [Clip(Path(f"/v/b/g{i}/c.avi"), "b", f"g{i}") for i in range(4)]
    notes = []
    train, test = split_clips(clips, 0.25, 0, warnings=notes)
    assert len(notes) == 1 and "class 'a' has one group folder (g1)" in notes[0]
    for cls in ("a", "b"):
        members = {i for i, c in enumerate(clips) if c.class_name == cls}
        assert members & set(train.tolist()) and members & set(test.tolist())
    # --split clip ignores the group folders for every class
    train_c, test_c = split_clips(clips, 0.25, 0, by="clip")
    assert len(train_c) + len(test_c) == len(clips) and len(test_c) >= 2


def test_frame_size_convention_is_width_x_height():
    from keras_model.common.config import frame_size_hw

    assert cli.frame_size("160x120") == (160, 120)
    assert frame_size_hw("160x120") == (120, 160)
    with pytest.raises(ConfigError, match="size: 160x120 for \\[height, width\\] = \\[120, 160\\]"):
        frame_size_hw([120, 160])


def test_build_py_is_fdht_build_and_argparse_lives_in_the_cli_package():
    """One parser per subcommand (``configure`` + ``set_defaults(func=run)``),
    all under hls_project/cli; ``python build.py`` runs ``fdht build``."""
    src = (ROOT / "build.py").read_text()
    assert 'main(["build", *sys.argv[1:]])' in src
    parser = fdht_cli.build_parser()
    for name, (module, _) in fdht_cli.COMMANDS.items():
        args = parser.parse_args([name] + (["x"] if name in ("lint", "report", "rtl") else
                                           ["--video-dir", "v", "--output", "o.npz"] if name == "prepare" else
                                           ["--output-dir", "o"] if name == "sample-videos" else
                                           ["--model", "m.h5"] if name == "compress" else []))
        assert args.func is module.run, name
    users = [str(p.relative_to(ROOT)) for d in ("keras_model", "hls_project") for p in (ROOT / d).rglob("*.py")
             if re.search(r"^\s*(import argparse|from argparse )", p.read_text(), re.M)]
    assert users and all(u.startswith("hls_project/cli/") for u in users), users


# -- models saved by the previous stack (TF 2.14 / Keras 2.14) --------------------------
# tests/data/keras214_*: a small float and a QKeras 8-bit FDHT model saved by the
# version before the move to TF 2.21 + tf-keras, with their predictions then.

DATA = Path(__file__).resolve().parent / "data"


@pytest.mark.parametrize("name", ["fdht", "fdht_q8"])
def test_h5_models_of_the_previous_version_load_and_predict_the_same(name):
    from keras_model.models import load_keras_model

    ref = np.load(DATA / "keras214_predictions.npz")
    model = load_keras_model(str(DATA / f"keras214_{name}.h5"))
    np.testing.assert_allclose(model.predict(ref["x"], verbose=0), ref[name], atol=1e-6)


def test_keras_format_of_the_previous_version_says_how_to_convert():
    from keras_model.models import load_keras_model

    with pytest.raises(DataError, match=r"saved as .keras by Keras 2\.14\.0.*\.h5 files of that version do load"):
        load_keras_model(str(DATA / "keras214_fdht.keras"))


def test_sweep_writes_where_the_user_said(tmp_path, capfd):
    """fdht sweep --output-dir X puts the table, the plot and one project per
    width into X itself (not X-sweep); real conversions and g++ builds. The
    worker processes keep the console as quiet as a single build (at 8 bits
    hls4ml warns about its softmax table size: not shown without -v)."""
    from keras_model.data import Dataset, save_npz
    from keras_model.models import build_model

    rng = np.random.default_rng(3)
    ds = Dataset(rng.random((16, 4, 12), dtype=np.float32), rng.integers(0, 3, 16),
                 rng.random((8, 4, 12), dtype=np.float32), rng.integers(0, 3, 8), ["a", "b", "c"])
    save_npz(tmp_path / "d.npz", ds)
    model = build_model({"kind": "fdht", "units": 4, "input_modes": [2, 2, 2, 2], "output_modes": [2, 2, 2, 2],
                         "ranks": 2, "seed": 1}, (4, 12), 3)
    model.save(tmp_path / "m.h5")
    out = tmp_path / "my-sweep"
    code = fdht_cli.main(["sweep", "--widths", "8,12", "--model", str(tmp_path / "m.h5"), "--data",
                          str(tmp_path / "d.npz"), "--samples", "4", "--output-dir", str(out)])
    assert code == 0
    assert {"sweep.md", "sweep.json", "sweep.png", "w8", "w12"} <= {p.name for p in out.iterdir()}
    assert not (tmp_path / "my-sweep-sweep").exists()
    rows = json.loads((out / "sweep.json").read_text())["rows"]
    assert [r["width"] for r in rows] == [8, 12] and all(r["samples"] == 4 for r in rows)
    err = capfd.readouterr().err
    assert "sweep:  8 bits" in err
    assert "UserWarning" not in err and "WARNING:tensorflow" not in err, err[-2000:]


@pytest.mark.parametrize("output", ["probabilities", "logits", "class"])
def test_printout_of_every_output_kind(output, capsys):
    """print_report for each hls.output, also when the attribution names no
    error source (e.g. a logit error of 0): one line per figure, no gaps."""
    from hls_project.cli.console import print_build_report as print_report

    logits = {"samples": 4, "bitexact_equals_csim": True, "max_abs_diff": 0.0, "mean_abs_diff": 0.0,
              "attribution": {"suspect": None, "logit_error": 0.0, "groups": []}}
    diff = None if output == "class" else 0.0
    report = {"config": "t", "output_dir": "/tmp/t", "weight_bits": 8,
              "parameters": {"model": 10, "recurrent": 8, "dense_lstm_recurrent": 100},
              "macs_per_step": 5, "dense_lstm_macs_per_step": 50, "min_agreement": 0.995,
              "stage_seconds": {"csim": 1.0},
              "csim": {"samples": 4, "output": output, "top1_agreement": 1.0, "flips": [], "max_abs_diff": diff,
                       "mean_abs_diff": diff, "logits": logits, "csim_equals_predict": True,
                       "csim_vs_predict_max_abs_diff": 0.0, "keras_accuracy": 1.0, "csim_accuracy": 1.0}}
    print_report(report)
    out = capsys.readouterr().out
    assert "top-1 agreement     100.00 %" in out and "threshold 99.5 %" in out
    assert ("|diff| of logits" in out) == (output == "logits")
    assert ("the class (one-hot)" in out) == (output == "class")
    assert ("logits              |diff| max 0" in out) == (output != "logits")
