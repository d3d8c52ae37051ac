"""C simulation with g++ alone: build hls4ml's testbench, run it, read its results.

hls4ml's ``myproject_test.cpp`` reads ``tb_data/tb_input_features.dat`` (one
sample per line, C order over (time, features)) and writes
``tb_data/csim_results.log`` (one line of outputs per sample). It compares
nothing; the comparison is done by the caller.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import List, Optional

import numpy as np

from keras_model.common.errors import ToolError

CXX_ENV = "CXX"


def find_compiler() -> str:
    """The C++ compiler: $CXX if set, else g++ on PATH."""
    cxx = os.environ.get(CXX_ENV) or "g++"
    path = shutil.which(cxx)
    if path is None:
        raise ToolError(f"C++ compiler '{cxx}' not found on PATH; install g++ (apt-get install g++) or set CXX")
    return path


def build_command(project_dir: str, project_name: str, cxx: Optional[str] = None, opt: str = "-O2",
                  fast: bool = True) -> List[str]:
    """g++ of hls4ml's testbench; with a board wrapper (VivadoAccelerator:
    ``firmware/<name>_axi.cpp``, which that testbench calls) the wrapper too.
    ``fast`` (hls.csim_arithmetic: fast): -DHT_FAST_CSIM, the HT stages'
    ap_fixed arithmetic emulated exactly on 64-bit integers
    (templates/nnet_ht_fast.h); False: the ap_types C++ model, as synthesis
    sees the source. Both give the same bits (tests/test_fast_csim.py)."""
    sources = [f"{project_name}_test.cpp", f"firmware/{project_name}.cpp"]
    if os.path.isfile(os.path.join(project_dir, "firmware", f"{project_name}_axi.cpp")):
        sources.append(f"firmware/{project_name}_axi.cpp")
    return [
        cxx or find_compiler(), "-std=c++17", opt, "-w", *(["-DHT_FAST_CSIM"] if fast else []),
        "-Ifirmware", "-Ifirmware/ap_types", '-DWEIGHTS_DIR="firmware/weights"',
        *sources, "-o", "csim",
    ]


def start_build(project_dir: str, project_name: str, fast: bool = True) -> subprocess.Popen:
    """Start the g++ build of the testbench (no shell); log to csim_build.log."""
    cmd = build_command(project_dir, project_name, fast=fast)
    log = open(os.path.join(project_dir, "csim_build.log"), "w")
    log.write(" ".join(cmd) + "\n")
    log.flush()
    proc = subprocess.Popen(cmd, cwd=project_dir, stdout=log, stderr=subprocess.STDOUT)
    proc._fdht_log = log  # closed in wait_build
    return proc


def stop(proc: subprocess.Popen) -> None:
    """Kill a build that is still running and close its log."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if not proc._fdht_log.closed:
        proc._fdht_log.close()


def wait_build(proc: subprocess.Popen, project_dir: str, timeout: float) -> str:
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise ToolError(f"g++ build of the testbench took more than {timeout:.0f} s and was stopped; "
                        "raise hls.csim_timeout") from None
    finally:
        proc._fdht_log.close()
    log_path = os.path.join(project_dir, "csim_build.log")
    if rc != 0:
        first = f"killed by signal {-rc}" if rc < 0 else _first_error(log_path)
        kept = _keep_log(log_path)
        raise ToolError(f"g++ failed to build the testbench ({first}); full log: {kept}")
    return os.path.join(project_dir, "csim")


def _keep_log(log_path: str) -> str:
    """Copy a failed build's log to build/logs/ (the temporary project
    folder it sits in is removed when the flow fails)."""
    import time

    from keras_model.common.config import build_dir

    dest_dir = os.path.join(build_dir(), "logs")
    try:
        os.makedirs(dest_dir, exist_ok=True)
        dest = os.path.join(dest_dir, time.strftime("csim_build-%Y%m%d-%H%M%S") + f"-{os.getpid()}.log")
        shutil.copyfile(log_path, dest)
        return dest
    except OSError:
        return log_path


def _first_error(log_path: str) -> str:
    with open(log_path, errors="replace") as f:
        lines = f.read().splitlines()
    for line in lines:
        if "error" in line.lower():
            return line.strip()
    return lines[-1].strip() if lines else "no output"


def run(project_dir: str, timeout: float) -> None:
    """Run the built testbench in its project folder."""
    binary = os.path.join(project_dir, "csim")
    try:
        res = subprocess.run([binary], cwd=project_dir, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError(f"the csim binary ran longer than {timeout:.0f} s and was stopped; "
                        "raise hls.csim_timeout or lower --samples") from None
    with open(os.path.join(project_dir, "csim_run.log"), "w") as f:
        f.write(res.stdout)
        f.write(res.stderr)
    if res.returncode != 0:
        raise ToolError(f"the csim binary failed with exit code {res.returncode}; "
                        f"see {os.path.join(project_dir, 'csim_run.log')}")


def read_results(project_dir: str, n_samples: int, n_out: int) -> np.ndarray:
    path = os.path.join(project_dir, "tb_data", "csim_results.log")
    if not os.path.isfile(path):
        raise ToolError(f"csim wrote no results file {path}")
    with open(path) as f:
        text = f.read()
    if "data:" in text:
        # a board wrapper's testbench (VivadoAccelerator) prints the AXI words,
        # "{ data: 0.25, last: 0 }", each on its own line: n_out of them per sample
        values = [float(v) for v in re.findall(r"data:\s*([^,\s}]+)", text)]
        rows = [values[i:i + n_out] for i in range(0, len(values), n_out)] if n_out else []
    else:
        rows = [[float(v) for v in line.split()] for line in text.splitlines() if line.strip()]
    if len(rows) != n_samples or any(len(r) != n_out for r in rows):
        lens = sorted({len(r) for r in rows})
        raise ToolError(f"csim results file {path} has {len(rows)} lines of {lens} values; "
                        f"expected {n_samples} lines of {n_out}")
    return np.asarray(rows)
