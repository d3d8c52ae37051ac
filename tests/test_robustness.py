"""Bad inputs through the real command lines: every one must end with one
``error: ...`` line on stderr that names the problem, a documented non-zero
exit code (2 bad input, 3 tool missing/failing), and for ``build.py`` a
previous good project in the same ``--output-dir`` that is byte-for-byte
untouched, with no ``.*-tmp-*`` / ``.old-*`` / ``.probe-*`` folder left beside it.

Covered here (``tests/test_flow.py`` already has: g++ not on PATH, $CXX
nonexistent, a $CXX that fails, a Conv1D model, an unknown config key, an
output dir under a file, a missing --model):

* configs: bad YAML, wrong top level, unknown / non-mapping section, wrong
  types and values, project names with spaces, quotes and ``;``, several
  problems at once, bad command-line values;
* ``.npz`` files: missing, not a zip, a lone ``.npy``, missing key, bad
  labels, NaN, float frames, mismatched or empty sets, object arrays;
* saved models: truncated, not HDF5, wrong input shape, NaN weights, a folder;
* video folders (``fdht prepare``): empty, corrupt or too
  short clips, a class without readable clips, one class, bad ``--size``;
* training (``fdht train``): modes too small, bad epochs;
* output folders: under /proc, on read-only sysfs, an existing file, an
  existing folder that is not a project, and names with spaces / quotes /
  ``;`` / ``$(...)`` (no shell is involved: such a name must simply work,
  or be refused up front with exit 2);
* tools: a csim binary that hangs (stopped by hls.csim_timeout), a compiler
  killed by SIGKILL mid-build.

A case that shows a defect is written the right way and can be marked
``xfail(strict=True)`` with the reason (none is, now). Every case is one
subprocess; they run two at a time (each against its own copy of the good project, so the before/after
hashes stay per case) since most of their time is TensorFlow's start-up.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import pytest

from helpers import error_lines, stray_folders, tree_hash

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ on PATH")

BUILD_PY = str(ROOT / "build.py")
T, F, N_CLASSES = 4, 12, 4  # sequences (N, 4, 12): the tiny FDHT-LSTM of conftest.py
JOBS = 2  # cases run in parallel (each is mostly TF start-up or a g++ build)
CASE_TIMEOUT = 600  # s, per subprocess (generous: the machine may be shared)
# Names with spaces, quotes, ';' and shell syntax, for input files.
ODD = "my \"odd\" name; $(touch pwned) 'x'"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    e = dict(os.environ)
    e["TF_CPP_MIN_LOG_LEVEL"] = "3"
    e["PYTHONUNBUFFERED"] = "1"
    if extra:
        e.update(extra)
    return e


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    end_time: float


def _run(cmd: List[str], env: Dict[str, str], timeout: float = CASE_TIMEOUT) -> Run:
    """One CLI call in its own process group; on a timeout the whole group
    (build.py and any compiler or csim it started) is killed."""
    t0 = time.time()
    proc = subprocess.Popen([str(c) for c in cmd], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n[test] killed after {timeout} s"
    return Run(proc.returncode, out, err, time.time() - t0, time.time())


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _sequences(rng, n: int, f: int = F) -> np.ndarray:
    return rng.normal(size=(n, T, f)).astype(np.float32)


def _npz(path: Path, **arrays) -> Path:
    """np.savez without any validation (and without numpy adding '.npz')."""
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _good_arrays(rng=None, f: int = F) -> Dict[str, np.ndarray]:
    rng = rng or np.random.default_rng(0)
    x = _sequences(rng, 40, f)
    y = np.arange(40, dtype=np.int64) % N_CLASSES
    return {"x_train": x[:32], "y_train": y[:32], "x_test": x[32:], "y_test": y[32:],
            "class_names": np.array([f"c{k}" for k in range(N_CLASSES)])}


# --------------------------------------------------------------------------
# assets: tiny models, a tiny data set, a base config, fake compilers, clips
# --------------------------------------------------------------------------


@dataclass
class Assets:
    work: Path
    model: Path  # FDHT-LSTM on (4, 12), 4 classes
    model_f16: Path  # the same on (4, 16)
    model_3cls: Path  # (4, 12), 3 classes
    model_nan: Path  # a NaN in a core
    data: Path  # sequences (N, 4, 12), 4 classes
    config: Path  # hls.min_agreement 0: an untrained model passes, so the good project exits 0
    clips: Dict[str, Path] = field(default_factory=dict)


def _write_clip(path: Path, n_frames: int) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    for i in range(n_frames):
        frame = np.zeros((24, 32, 3), dtype=np.uint8)
        frame[4:12, 2 + i: 10 + i] = (0, 0, 255)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def assets(tmp_path_factory, tiny_fdht) -> Assets:
    import warnings

    from keras_model.data import Dataset, save_npz

    work = tmp_path_factory.mktemp("robust")
    a = work / "assets"
    a.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "HDF5 is a legacy format"
        m = tiny_fdht(N_CLASSES, (T, F))
        m.save(a / "model.h5")
        tiny_fdht(N_CLASSES, (T, 16)).save(a / "model_f16.h5")
        tiny_fdht(3, (T, F)).save(a / "model_3cls.h5")
        layer = m.get_layer("fdhtlstm")
        w = layer.get_weights()
        w[0] = np.array(w[0], copy=True)
        w[0].flat[0] = np.nan
        layer.set_weights(w)
        m.save(a / "model_nan.h5")
    g = _good_arrays()
    save_npz(a / "data.npz", Dataset(g["x_train"], g["y_train"], g["x_test"], g["y_test"], list(g["class_names"])))
    cfg = _write(a / "base.yml", "hls:\n  min_agreement: 0.0\n")
    clips = {
        "good1": _write_clip(a / "clips" / "good1.avi", 10),
        "good2": _write_clip(a / "clips" / "good2.avi", 10),
        "short": _write_clip(a / "clips" / "short.avi", 3),
    }
    return Assets(work, a / "model.h5", a / "model_f16.h5", a / "model_3cls.h5", a / "model_nan.h5",
                  a / "data.npz", cfg, clips)


@pytest.fixture(scope="module")
def good_project(assets) -> Path:
    """A previous good project, built once through build.py --csim."""
    out = assets.work / "good" / "prj"
    r = _run([sys.executable, BUILD_PY, "--csim", "--config", assets.config, "--model", assets.model,
              "--data", assets.data, "--output-dir", out], _env())
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    assert (out / "csim_report.json").is_file() and (out / "csim").is_file()
    assert stray_folders(out.parent) == []
    return out


# --------------------------------------------------------------------------
# the cases
# --------------------------------------------------------------------------


@dataclass
class Ctx:
    """What a case's setup gets: its own folder ``d`` (holding a copy of the
    good project as ``d/prj`` for build.py cases) and the shared assets."""

    d: Path
    a: Assets

    @property
    def prj(self) -> Path:
        return self.d / "prj"

    def build(self, *extra, model=None, data=None, config=None, out=None, csim=True) -> List:
        args = [sys.executable, BUILD_PY]
        if csim:
            args.append("--csim")
        return args + ["--config", config or self.a.config, "--model", model or self.a.model,
                       "--data", data or self.a.data, "--output-dir", out or self.prj, *extra]

    def config(self, text: str, name: str = "bad.yml") -> Path:
        return _write(self.d / name, text)

    def npz(self, name: str = "bad.npz", **changes) -> Path:
        arrays = _good_arrays()
        for k, v in changes.items():
            if v is None:
                arrays.pop(k)
            else:
                arrays[k] = v
        return _npz(self.d / name, **arrays)

    def train(self, *extra) -> List:
        return [sys.executable, "-m", "hls_project.cli", "train", "--output-dir", self.d / "trained", *extra]

    def prepare(self, videos: Path, *extra, out: Optional[Path] = None) -> List:
        return [sys.executable, "-m", "hls_project.cli", "prepare", "--video-dir", videos,
                "--output", out or self.d / "out.npz", "--no-progress", *extra]

    def videos(self, layout: Dict[str, List[str]]) -> Path:
        """<d>/videos/<class>/<clip>.avi from asset clips ('good1', 'short', ...) or 'corrupt'."""
        root = self.d / "videos"
        root.mkdir()
        for cls, kinds in layout.items():
            (root / cls).mkdir()
            for i, kind in enumerate(kinds):
                dst = root / cls / f"{cls}_{i}.avi"
                if kind == "corrupt":
                    dst.write_bytes(np.random.default_rng(i).integers(0, 256, 4096, dtype=np.uint8).tobytes())
                else:
                    shutil.copyfile(self.a.clips[kind], dst)
        return root


Setup = Callable[[Ctx], Tuple[List, Dict[str, str]]]


@dataclass
class Case:
    id: str
    cli: str  # "build" | "train" | "prepare"
    code: int  # expected exit status
    expect: Tuple[str, ...]  # substrings of the error line
    setup: Setup
    xfail: str = ""
    check: Optional[Callable] = None  # (ctx, run): replaces the error-line checks (cases that may succeed)
    extra: Optional[Callable] = None  # (ctx, run): more checks after the error-line checks
    cost: int = 1  # rough cost, for scheduling the long ones first


def _b(fn) -> Setup:
    """A setup returning only args."""
    return lambda c: (fn(c), {})


def _cfg(text: str, *extra) -> Setup:
    return lambda c: (c.build(*extra, config=c.config(text)), {})


def _data(**changes) -> Setup:
    return lambda c: (c.build(data=c.npz(**changes)), {})


_rng = np.random.default_rng(7)
_SEQ = _sequences(_rng, 8)


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _npy(path: Path) -> Path:
    with open(path, "wb") as f:
        np.save(f, _SEQ)
    return path


def _truncated(c: Ctx) -> Path:
    data = c.a.model.read_bytes()
    p = c.d / "truncated.h5"
    p.write_bytes(data[: len(data) // 2])
    return p


def _hang_setup(c: Ctx):
    """A fake compiler that writes a ``csim`` that hangs (records when it
    started and its pid, then execs sleep 60); hls.csim_timeout 3."""
    probe = _mkdir(c.d / "probe")
    started, pid = probe / "csim.started", probe / "csim.pid"
    cxx = _executable(c.d / "hang-cxx", (
        "#!/bin/sh\nout=\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = \"-o\" ]; then out=\"$2\"; fi\n  shift\ndone\n"
        f"cat > \"$out\" <<'EOF'\n#!/bin/sh\ndate +%s.%N > '{started}'\necho $$ > '{pid}'\nexec sleep 60\nEOF\n"
        "chmod +x \"$out\"\n"))
    cfg = c.config("hls:\n  min_agreement: 0.0\n  csim_timeout: 3\n", "timeout.yml")
    return c.build(config=cfg), {"CXX": str(cxx)}


def _check_hang(c: Ctx, r: Run):
    started = float((c.d / "probe" / "csim.started").read_text())
    assert r.end_time - started < 20, f"the hanging csim was stopped only after {r.end_time - started:.1f} s"
    pid = int((c.d / "probe" / "csim.pid").read_text())
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b""
    if b"sleep" in cmdline:
        os.kill(pid, signal.SIGKILL)  # our own fake csim, left running
        pytest.fail("the hanging csim process was left running")


def _kill_setup(c: Ctx):
    """A compiler that is killed (SIGKILL, as by the OOM killer) while it runs, without any output."""
    cxx = _executable(c.d / "cxx-self-stop", "#!/bin/sh\nsleep 1\nkill -KILL $$\n")
    return c.build(), {"CXX": str(cxx)}


def _odd_out_check(c: Ctx, r: Run):
    """A folder name with spaces, ';', $(...), backticks and single quotes
    is only data (no shell sees it): the project must be written there."""
    out = c.d / ODD_OUT
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    assert not error_lines(r.stderr), r.stderr[-2000:]
    report = json.loads((out / "csim_report.json").read_text())
    assert report["output_dir"] == str(out) and report["csim"]["samples"] > 0
    assert (out / "csim").is_file() and (out / "firmware" / "myproject.cpp").is_file()
    for folder in (c.d, out, ROOT, Path.cwd()):
        assert not (folder / "pwned").exists(), f"a shell ran part of the folder name in {folder}"


ODD_OUT = "my prj ;x $(touch pwned) `touch pwned` 'sq'"
QUOTE_OUT = 'prj "quoted"'


def _quote_out_check(c: Ctx, r: Run):
    """A '"' in the folder name: the project must work there (exit 0) or be
    refused up front with exit 2 naming the folder; it is neither a tool
    failure (exit 3) nor a reason to flood stdout with compiler output."""
    out = c.d / QUOTE_OUT
    if r.returncode == 0:
        assert (out / "csim_report.json").is_file()
    else:
        errors = error_lines(r.stderr)
        assert r.returncode == 2, f"exit {r.returncode}: {errors}"
        assert len(errors) == 1 and QUOTE_OUT in errors[0], errors


def _non_project_setup(c: Ctx):
    folder = c.d / "my-documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("months of work\n")
    # --profile alone writes the project without a g++ build (quick)
    return c.build("--profile", out=folder, csim=False), {}


def _check_non_project(c: Ctx, r: Run):
    """--output-dir naming an existing folder that is not a project (no
    csim_report.json / hls4ml_config.yml): the flow must not delete it."""
    notes = c.d / "my-documents" / "thesis.txt"
    assert notes.is_file() and notes.read_text() == "months of work\n", \
        f"exit {r.returncode}: the existing folder's files were deleted"
    if r.returncode != 0:
        assert r.returncode == 2 and len(error_lines(r.stderr)) == 1, r.stderr[-2000:]


CASES: List[Case] = [
    # ---- configs (build.py --config) ------------------------------------
    Case("config-invalid-yaml", "build", 2, ("bad.yml", "not valid YAML", "line 3"),
         _cfg("hls:\n  project_name: [unclosed\n  backend: Vivado\n")),
    Case("config-top-level-list", "build", 2, ("must be a mapping of sections",), _cfg("- data\n- hls\n")),
    Case("config-unknown-section", "build", 2, ("hsl: unknown section",), _cfg("hsl:\n  reuse_factor: 2\n")),
    Case("config-section-not-a-mapping", "build", 2, ("hls: must be a mapping",), _cfg("hls: 5\n")),
    Case("config-units-wrong-type", "build", 2, ("model.units: expected integer", "'big'"),
         _cfg("model:\n  units: big\n")),
    Case("config-negative-ranks", "build", 2, ("model.ranks", ">= 1", "-3"), _cfg("model:\n  ranks: [3, -3, 3]\n")),
    Case("config-output-modes-not-4h", "build", 2, ("model.output_modes", "multiply to 48", "4 x units = 32"),
         _cfg("model:\n  units: 8\n  output_modes: [4, 2, 2, 3]\n")),
    Case("config-unknown-kind", "build", 2, ("model.kind", "'gru' is unknown"), _cfg("model:\n  kind: gru\n")),
    Case("config-bad-backend", "build", 2, ("hls.backend", "'Quartus'"), _cfg("hls:\n  backend: Quartus\n")),
    Case("config-bad-io-type", "build", 2, ("hls.io_type", "'io_serial'"), _cfg("hls:\n  io_type: io_serial\n")),
    Case("config-bad-csim-arithmetic", "build", 2, ("hls.csim_arithmetic", "'float'", "fast, ap_types"),
         _cfg("hls:\n  csim_arithmetic: float\n")),
    Case("config-min-agreement-1.5", "build", 2, ("hls.min_agreement", "[0, 1]", "1.5"),
         _cfg("hls:\n  min_agreement: 1.5\n")),
    Case("config-project-name-space", "build", 2, ("hls.project_name", "'my proj'", "C++ identifier"),
         _cfg("hls:\n  project_name: my proj\n")),
    Case("config-project-name-quote", "build", 2, ("hls.project_name", 'a"b', "C++ identifier"),
         _cfg("hls:\n  project_name: 'a\"b'\n")),
    Case("config-project-name-semicolon", "build", 2, ("hls.project_name", "x;rm -rf /tmp/x", "C++ identifier"),
         _cfg("hls:\n  project_name: 'x;rm -rf /tmp/x'\n")),
    Case("config-several-problems", "build", 2,
         ("4 problems", "model.units", "hls.backend", "hls.min_agreement", "hls.project_name"),
         _cfg("model:\n  units: big\nhls:\n  backend: Quartus\n  min_agreement: 2\n  project_name: 9lives\n")),
    Case("config-missing-file", "build", 2, ("config file", "nope.yml", "does not exist"),
         _b(lambda c: c.build(config=c.d / ODD / "nope.yml"))),
    Case("cli-samples-0", "build", 2, ("hls.samples: must be > 0",), _b(lambda c: c.build("--samples", "0"))),
    Case("cli-reuse-factor-negative", "build", 2, ("hls.reuse_factor: must be > 0", "-2"),
         _b(lambda c: c.build("--reuse-factor", "-2"))),
    Case("config-not-utf8", "build", 2, ("bad.yml",),
         _b(lambda c: c.build(config=_write_bytes(c.d / "bad.yml", b"hls:\n  project_name: caf\xe9\n")))),
    Case("cli-precision-garbage", "build", 2, ("banana",), _b(lambda c: c.build("--precision", "banana"))),
    Case("cli-reuse-factor-not-a-number", "build", 2, ("--reuse-factor", "abc"),
         _b(lambda c: c.build("--reuse-factor", "abc"))),
    Case("config-project-name-cpp-keyword", "build", 2, ("hls.project_name", "class"),
         _cfg("hls:\n  min_agreement: 0.0\n  project_name: class\n"), cost=3),
    # ---- .npz data (build.py --data) ------------------------------------
    Case("npz-missing-file", "build", 2, ("nope.npz", "file not found"),
         _b(lambda c: c.build(data=c.d / "nope.npz"))),
    Case("npz-not-a-zip", "build", 2, (ODD + ".npz", "not a valid .npz archive"),
         _b(lambda c: c.build(data=_write(c.d / (ODD + ".npz"), "x_train,y_train\n1,2\n")))),
    Case("npz-single-npy-array", "build", 2, ("single .npy array",),
         lambda c: (c.build(data=_npy(c.d / "array.npz")), {})),
    Case("npz-missing-key", "build", 2, ("missing key(s) y_test",), _data(y_test=None)),
    Case("npz-label-out-of-range", "build", 2, ("y_test has label 7 out of range for 4 class_names",),
         _data(y_test=np.array([0, 1, 2, 7, 0, 1, 2, 3]))),
    Case("npz-negative-label", "build", 2, ("y_train has negative label -1",),
         _data(y_train=np.r_[-1, np.arange(31) % 4])),
    Case("npz-one-hot-labels", "build", 2, ("y_train has shape (32, 4)", "1-D"),
         _data(y_train=np.eye(4, dtype=np.int64)[np.arange(32) % 4])),
    Case("npz-single-class", "build", 2, ("only 1 class",),
         _data(y_train=np.zeros(32, np.int64), y_test=np.zeros(8, np.int64), class_names=None)),
    Case("npz-nan-in-x", "build", 2, ("x_test contains 1 NaN/Inf",),
         _data(x_test=np.where(np.arange(_SEQ.size).reshape(_SEQ.shape) == 5, np.nan, _SEQ).astype(np.float32))),
    Case("npz-float-frames", "build", 2, ("x_train holds frames", "float32", "must be uint8"),
         _data(x_train=np.random.default_rng(1).random((32, T, 3, 4, 1)).astype(np.float32))),
    Case("npz-int-sequences", "build", 2, ("x_train holds sequences", "int32", "must be float"),
         _data(x_train=np.ones((32, T, F), np.int32))),
    Case("npz-train-test-shape-mismatch", "build", 2, ("x_train samples are (4, 12)", "x_test samples are (4, 16)"),
         _data(x_test=_sequences(np.random.default_rng(2), 8, 16))),
    Case("npz-empty-test-set", "build", 2, ("x_test is empty",),
         _data(x_test=np.zeros((0, T, F), np.float32), y_test=np.zeros(0, np.int64))),
    Case("npz-object-array", "build", 2, ("key class_names cannot be read",),
         _data(class_names=np.array(["a", 1, None, 2.5], dtype=object))),
    # ---- saved models (build.py --model) --------------------------------
    Case("model-truncated-h5", "build", 2, ("cannot load model", "truncated.h5"),
         lambda c: (c.build(model=_truncated(c)), {})),
    Case("model-text-file", "build", 2, ("cannot load model", "model.h5"),
         _b(lambda c: c.build(model=_write(c.d / "model.h5", "this is not a model\n")))),
    Case("model-input-shape-mismatch", "build", 2, ("the model takes samples of shape (4, 16)", "(4, 12)"),
         _b(lambda c: c.build(model=c.a.model_f16))),
    Case("model-nan-weights", "build", 2, ("model weight", "NaN/Inf"), _b(lambda c: c.build(model=c.a.model_nan))),
    Case("model-is-a-folder", "build", 2, ("saved-model-dir",),
         _b(lambda c: c.build(model=_mkdir(c.d / "saved-model-dir")))),
    Case("model-class-count-mismatch", "build", 2, ("class",),
         _b(lambda c: c.build("--profile", model=c.a.model_3cls, csim=False)), cost=2),
    # ---- output folders -------------------------------------------------
    Case("outdir-under-proc", "build", 2, ("/proc/fdht_out", "cannot be written"),
         _b(lambda c: c.build(out="/proc/fdht_out"))),
    Case("outdir-read-only-sysfs", "build", 2, ("/sys/fdht_out", "cannot be written"),
         _b(lambda c: c.build(out="/sys/fdht_out"))),
    Case("outdir-is-a-file", "build", 2, ("exists and is not a folder",),
         _b(lambda c: c.build(out=_write(c.d / "prj.txt", "a file\n")))),
    Case("outdir-name-with-shell-chars", "build", 0, (), _b(lambda c: c.build(out=c.d / ODD_OUT)),
         check=_odd_out_check, cost=10),
    Case("outdir-name-with-double-quote", "build", 0, (), _b(lambda c: c.build(out=c.d / QUOTE_OUT)),
         check=_quote_out_check, cost=5),
    Case("outdir-existing-non-project-folder", "build", 2, (), _non_project_setup, check=_check_non_project, cost=3),
    # ---- tools -----------------------------------------------------------
    Case("csim-hangs", "build", 3, ("csim binary ran longer than 3 s", "hls.csim_timeout"), _hang_setup,
         extra=_check_hang, cost=8),
    Case("compiler-dies-mid-build", "build", 3, ("g++ failed to build the testbench",), _kill_setup, cost=6),
    # ---- video folders (fdht prepare) ------------------
    Case("video-empty-folder", "prepare", 2, ("no video clips found",),
         _b(lambda c: c.prepare(_mkdir(c.d / ODD)))),
    Case("video-only-corrupt-clips", "prepare", 2, ("class folder(s) a, b have no readable clips",),
         _b(lambda c: c.prepare(c.videos({"a": ["corrupt", "corrupt"], "b": ["corrupt", "corrupt"]})))),
    Case("video-class-without-readable-clips", "prepare", 2, ("class folder(s) b have no readable clips",),
         _b(lambda c: c.prepare(c.videos({"a": ["good1", "good2"], "b": ["corrupt", "corrupt"]})))),
    Case("video-clips-too-short", "prepare", 2, ("class folder(s) a, b have no readable clips",),
         _b(lambda c: c.prepare(c.videos({"a": ["short", "short"], "b": ["short", "short"]}), "--frames", "6"))),
    Case("video-single-class", "prepare", 2, ("found 1 class folder(s)", "at least 2"),
         _b(lambda c: c.prepare(c.videos({"a": ["good1", "good2"]})))),
    Case("video-class-with-one-clip", "prepare", 2, ("class 'b' has only one clip",),
         _b(lambda c: c.prepare(c.videos({"a": ["good1", "good2"], "b": ["good1"]})))),
    Case("video-bad-size", "prepare", 2, ("--size", "WIDTHxHEIGHT", "160by120"),
         _b(lambda c: c.prepare(c.videos({"a": ["good1", "good2"], "b": ["good1", "good2"]}), "--size", "160by120"))),
    Case("video-out-not-npz", "prepare", 2, ("must be an .npz",),
         _b(lambda c: c.prepare(c.videos({"a": ["good1", "good2"], "b": ["good1", "good2"]}),
                                out=c.d / "out.txt"))),
    # ---- training (fdht train) --------------------------
    Case("train-modes-too-small", "train", 2, ("input_modes [2, 2] multiply to 4", "20 inputs"),
         _b(lambda c: c.train("--data", c.a.data, "--config", c.config(
             "model:\n  units: 8\n  input_modes: [2, 2]\n  output_modes: [4, 8]\ntrain:\n  epochs: 1\n")))),
    Case("train-epochs-0", "train", 2, ("train.epochs: must be > 0",),
         _b(lambda c: c.train("--data", c.a.data, "--epochs", "0"))),
    Case("train-config-section-not-a-mapping", "train", 2, ("model: must be a mapping of keys, got list",),
         _b(lambda c: c.train("--data", c.a.data, "--config", c.config("model: [fdht, 8]\n")))),
    Case("train-data-is-a-folder", "train", 2, ("it is a folder",),
         _b(lambda c: c.train("--data", _mkdir(c.d / ODD), "--epochs", "1"))),
]


assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


# --------------------------------------------------------------------------
# running: every case in its own folder, JOBS at a time
# --------------------------------------------------------------------------


@dataclass
class Result:
    ctx: Ctx
    run: Run
    prj_before: Optional[str]  # hash of the good project copy before the run
    listing_before: List[str]


@pytest.fixture(scope="module")
def results(request, assets, good_project):
    """Start every selected case (long ones first); a test waits for its own."""
    wanted = set()
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if isinstance(params.get("case"), Case):
            wanted.add(params["case"].id)
        elif item.name == "test_killed_compiler_message_says_it_was_killed":
            wanted.add("compiler-dies-mid-build")
    pool = ThreadPoolExecutor(max_workers=JOBS)
    futures = {}
    for case in sorted((c for c in CASES if c.id in wanted), key=lambda c: -c.cost):
        d = assets.work / "cases" / case.id
        d.mkdir(parents=True)
        ctx = Ctx(d, assets)
        before = None
        if case.cli == "build":
            shutil.copytree(good_project, ctx.prj, symlinks=True)
            before = tree_hash(ctx.prj)
        cmd, env = case.setup(ctx)
        listing = sorted(p.name for p in d.iterdir())
        timeout = 120 if case.id == "csim-hangs" else CASE_TIMEOUT
        fut = pool.submit(_run, cmd, _env(env), timeout)
        futures[case.id] = (ctx, fut, before, listing)
    yield {k: (lambda v=v: Result(v[0], v[1].result(), v[2], v[3])) for k, v in futures.items()}
    pool.shutdown(wait=True)
    for _, fut, _, _ in futures.values():
        if fut.done() and not fut.exception():
            _forget_kept_log(fut.result().stderr)  # also for cases deselected or not reached


def _assert_one_error(case: Case, r: Run):
    tail = f"\n--- stderr ---\n{r.stderr[-3000:]}\n--- stdout ---\n{r.stdout[-1500:]}"
    assert r.returncode == case.code, f"exit {r.returncode}, expected {case.code}{tail}"
    assert "Traceback" not in r.stderr, tail
    errors = error_lines(r.stderr)
    assert len(errors) == 1, f"{len(errors)} 'error:' lines{tail}"
    assert len(errors[0].splitlines()) == 1
    assert r.stderr.rstrip().splitlines()[-1] == errors[0], f"output after the error line{tail}"
    for s in case.expect:
        assert s in errors[0], f"{s!r} not in {errors[0]!r}"


def _params():
    out = []
    for c in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_bad_input(case: Case, results):
    res = results[case.id]()
    ctx, r = res.ctx, res.run
    # shown with -rA / -s: the case's outcome in one line
    print(f"{case.id}: exit {r.returncode} in {r.seconds:.1f} s: {(error_lines(r.stderr) or ['(no error line)'])[-1]}")
    try:
        if case.check is not None:
            case.check(ctx, r)
        else:
            _assert_one_error(case, r)
            if case.extra is not None:
                case.extra(ctx, r)
        if case.cli == "build":
            assert tree_hash(ctx.prj) == res.prj_before, "the previous good project was modified"
            assert stray_folders(ctx.d) == [], "temporary folders left beside the project"
            new = sorted(set(p.name for p in ctx.d.iterdir()) - set(res.listing_before))
            allowed = {ODD_OUT, QUOTE_OUT} if case.code == 0 or case.check else set()
            assert set(new) <= allowed, f"new entries beside the project: {new}"
        elif case.cli == "prepare":
            assert not (ctx.d / "out.npz").exists() and not (ctx.d / "out.txt").exists(), "wrote output on error"
            assert not [p for p in ctx.d.iterdir() if p.name.startswith(".out.")], "left a temp file"
        elif case.cli == "train":
            assert not (ctx.d / "trained").exists(), "wrote a model folder on error"
            assert not [p for p in ctx.d.iterdir() if p.name.startswith(".tmp-")], "left a temp folder"
    finally:
        _forget_kept_log(r.stderr)


def _forget_kept_log(stderr: str) -> None:
    """A failed g++ build copies its log to <repo>/build/logs/; remove the
    one this test caused (it names it in its error line)."""
    m = re.search(r"full log: (\S+/build/logs/csim_build-[\d-]+(?:-\d+)?\.log)", stderr)
    if m and Path(m.group(1)).is_file() and str(ROOT) in m.group(1):
        Path(m.group(1)).unlink()


def test_killed_compiler_message_says_it_was_killed(results):
    """The error line of a compiler killed by a signal should say so."""
    r = results["compiler-dies-mid-build"]().run
    _forget_kept_log(r.stderr)
    errors = error_lines(r.stderr)
    assert r.returncode == 3 and len(errors) == 1, r.stderr[-2000:]
    assert re.search(r"signal|killed|SIGKILL", errors[0], re.I), errors[0]
