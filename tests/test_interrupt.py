"""An interrupted build (Ctrl-C during the g++ stage) leaves the previous
project untouched and no temporary folder, and a csim results file with the
wrong number of lines is an error, not a silent mis-comparison."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import tree_hash
from keras_model.common.errors import ToolError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def case(tmp_path_factory, tiny_fdht, sequence_npz):
    work = tmp_path_factory.mktemp("interrupt")
    tiny_fdht().save(work / "m.h5")
    sequence_npz(work / "d.npz")
    (work / "cfg.yml").write_text("hls:\n  min_agreement: 0\n")
    return work


def _cmd(work, out):
    return [sys.executable, str(ROOT / "build.py"), "--csim", "--config", str(work / "cfg.yml"),
            "--model", str(work / "m.h5"), "--data", str(work / "d.npz"), "--output-dir", str(out)]


def test_ctrl_c_during_the_build_keeps_the_previous_project(case):
    out = case / "prj"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    first = subprocess.run(_cmd(case, out), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    before = tree_hash(out)

    # A job started in the background (as CI may run us) inherits SIGINT as
    # ignored, and Python then installs no Ctrl-C handler: restore the default
    # in the child, as a terminal would have it.
    proc = subprocess.Popen(_cmd(case, out), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # wait until the new project is being compiled in its temporary folder
    deadline = time.time() + 300
    tmp = []
    while time.time() < deadline and proc.poll() is None:
        tmp = [p for p in case.iterdir() if p.name.startswith(".prj-tmp-") and (p / "csim_build.log").exists()]
        if tmp:
            break
        time.sleep(0.2)
    assert tmp, "the second run never reached the g++ stage"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    errors = [l for l in stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and "interrupted" in errors[0]
    assert tree_hash(out) == before
    left = [p.name for p in case.iterdir() if p.name.startswith(".")]
    assert left == [], left


def test_results_file_with_wrong_line_count_is_an_error(tmp_path):
    from hls_project.flow import csim
    (tmp_path / "tb_data").mkdir()
    (tmp_path / "tb_data" / "csim_results.log").write_text("0.1 0.9\n0.2 0.8\n")
    assert csim.read_results(str(tmp_path), 2, 2).shape == (2, 2)
    with pytest.raises(ToolError, match="has 2 lines"):
        csim.read_results(str(tmp_path), 3, 2)
    (tmp_path / "tb_data" / "csim_results.log").write_text("0.1 0.9\n0.2\n")
    with pytest.raises(ToolError, match="expected 2 lines of 2"):
        csim.read_results(str(tmp_path), 2, 2)
