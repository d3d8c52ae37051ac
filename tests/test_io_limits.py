"""io_parallel is refused where its top port passes the tools' limits, and
hls.lint takes only its two values: one error line, exit 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _build(tmp_path: Path, hls_lines: str):
    cfg = tmp_path / "cfg.yml"
    out = tmp_path / "prj"
    cfg.write_text("data:\n  source: digits\n  n_train: 64\n  n_test: 16\n"
                   f"hls:\n  output_dir: {out}\n{hls_lines}")
    res = subprocess.run([sys.executable, str(ROOT / "build.py"), "--config", str(cfg), "--csim"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    return res, out


def test_io_parallel_with_a_wide_port_is_refused(tmp_path):
    # 8 frames of 32x32 at 16 bits: one 131,072-bit port
    res, out = _build(tmp_path, "  io_type: io_parallel\n")
    assert res.returncode == 2, res.stderr[-2000:]
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "io_parallel" in errors[0] and "131,072-bit" in errors[0] \
        and "use io_stream" in errors[0], res.stderr[-2000:]
    assert not out.exists() and not list(tmp_path.glob(".prj-tmp-*"))


@pytest.mark.parametrize("value", ["never", "1"])
def test_lint_setting_is_checked(tmp_path, value):
    res, out = _build(tmp_path, f"  lint: '{value}'\n")
    assert res.returncode == 2
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "hls.lint" in errors[0] and "error, warn" in errors[0], res.stderr[-2000:]
    assert not out.exists()
