"""Small functions several test files share (fixtures are in conftest.py):
``from helpers import tree_hash, stray_folders, error_lines, numpy_lstm``."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import List

import numpy as np

# the flow's temporary folders beside an output folder (project, old copy, write probe)
STRAY_PATTERNS = (re.compile(r"^\..*-tmp-"), re.compile(r"^\.old-"), re.compile(r"^\.probe-"))


def tree_hash(folder: Path) -> str:
    """sha256 over every entry of a folder: relative path, mode, and the
    bytes of files (link target of symlinks)."""
    h = hashlib.sha256()
    for p in sorted(Path(folder).rglob("*")):
        st = p.lstat()
        h.update(str(p.relative_to(folder)).encode() + b"\0" + oct(st.st_mode).encode() + b"\0")
        if p.is_symlink():
            h.update(os.readlink(p).encode())
        elif p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def stray_folders(parent: Path) -> List[str]:
    """Temporary folders of the flow left beside an output folder."""
    parent = Path(parent)
    if not parent.is_dir():
        return []
    return sorted(p.name for p in parent.iterdir() if any(r.match(p.name) for r in STRAY_PATTERNS))


def error_lines(stderr: str) -> List[str]:
    """The ``error: ...`` lines of a command's stderr."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_lstm(x, units, gate_preact, return_sequences=False):
    """The reference LSTM, written out in numpy. ``gate_preact(x_t, h_prev)
    -> z (B, 4H)``; gates in Keras order i, f, c, o; sigmoid / tanh."""
    batch, steps, _ = x.shape
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    outs = []
    for t in range(steps):
        z = gate_preact(x[:, t], h)
        zi, zf, zg, zo = (z[:, k * units:(k + 1) * units] for k in range(4))
        c = _sigmoid(zf) * c + _sigmoid(zi) * np.tanh(zg)
        h = _sigmoid(zo) * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1) if return_sequences else h
