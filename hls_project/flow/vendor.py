"""C synthesis, co-simulation, IP export and Vivado synthesis of a written
project through hls4ml's own ``build()``, with the vendor tools.

* Vivado backend: hls4ml runs ``vivado_hls -f build_prj.tcl "reset=.. csim=..
  synth=.. cosim=.. validation=.. export=.. vsynth=.. fifo_opt=.."`` with
  ``os.system`` in the project folder (it ignores the exit status).
* Vitis backend: hls4ml writes the options into ``build_opt.tcl`` (a Tcl
  ``array set opt {..}``) and runs ``vitis-run --tcl build_prj.tcl --mode hls``
  in the project folder.

``export`` is hls4ml's ``export_design -format ip_catalog``: the IP lands in
``<project>_prj/solution1/impl/ip`` (``component.xml`` and the IP ``.zip``;
Vitis HLS also writes ``solution1/impl/export.zip``).

Part and clock come from the config: the flow passes them to the converter,
which writes them into ``project.tcl``.

The build runs in the FINAL project folder, after the flow has written it and
moved it into place. hls4ml's ``build()`` uses the model's recorded output
folder (the flow's temporary folder, gone after the move; hls4ml would even
re-write the project there), so it is pointed at the final folder first.

Without the tool on PATH nothing runs: :class:`ToolError` carries one line with
the tool's name and the exact command to run later in the project folder
(for Vitis the requested options are written into ``build_opt.tcl``, as
hls4ml would have done, so the command needs no arguments).
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import shlex
import shutil
import time
from typing import Any, Dict, List, Optional

from keras_model.common.errors import ConfigError, ToolError
from keras_model.common.logs import info

TOOLS = {"Vivado": "vivado_hls", "Vitis": "vitis-run", "VivadoAccelerator": "vivado_hls"}
#: hls4ml's VivadoAccelerator build(bitfile=True): after the IP export, Vivado
#: builds the board design (design.tcl) into a bitstream.
BITFILE_COMMAND = "vivado -mode batch -source design.tcl"

#: build_prj.tcl's options, in the order hls4ml's build() formats them.
OPTION_ORDER = ("reset", "csim", "synth", "cosim", "validation", "export", "vsynth", "fifo_opt")


def build_options(synth: bool = False, cosim: bool = False, export: bool = False, vsynth: bool = False) -> Dict[str, int]:
    """The keyword arguments of ``hls_model.build()`` (0/1, as build_prj.tcl reads them).

    C simulation is ours (g++), so ``csim`` is always 0. Co-simulation, export
    and Vivado synthesis need the RTL of C synthesis, so they imply ``synth``
    (build_prj.tcl's vsynth step stops with an error without it)."""
    synth = bool(synth or cosim or export or vsynth)
    return {"reset": 0, "csim": 0, "synth": int(synth), "cosim": int(bool(cosim)), "validation": 0,
            "export": int(bool(export)), "vsynth": int(bool(vsynth)), "fifo_opt": 0}


def vivado_command(opts: Dict[str, int]) -> str:
    """The shell command hls4ml's VivadoBackend.build() runs (same formatting)."""
    o = opts
    return (f'vivado_hls -f build_prj.tcl "reset={o["reset"]} csim={o["csim"]} synth={o["synth"]} '
            f'cosim={o["cosim"]} validation={o["validation"]} export={o["export"]} '
            f'vsynth={o["vsynth"]} fifo_opt={o["fifo_opt"]}"')


VITIS_COMMAND = "vitis-run --tcl build_prj.tcl --mode hls"


def vitis_build_opts(opts: Dict[str, int]) -> str:
    """The ``build_opt.tcl`` text hls4ml's VitisBackend.build() writes (same formatting)."""
    return ("array set opt {\n"
            + "".join(f"    {k:<10} {int(opts[k])}\n" for k in OPTION_ORDER)
            + "}\n")


def tool_for(backend: str) -> str:
    if backend not in TOOLS:
        raise ConfigError(f"hls.backend '{backend}' has no vendor build here; use Vivado, Vitis or VivadoAccelerator")
    return TOOLS[backend]


def command_for(backend: str, opts: Dict[str, int]) -> str:
    if backend == "Vitis":
        return VITIS_COMMAND
    if backend == "VivadoAccelerator" and opts.get("export"):
        return f"{vivado_command(opts)} && {BITFILE_COMMAND}"  # the IP, then the board's bitstream
    return vivado_command(opts)


def later_command(backend: str, project_dir: str, opts: Dict[str, int]) -> str:
    """``cd <project> && <the command hls4ml would run>``."""
    return f"cd {shlex.quote(project_dir)} && {command_for(backend, opts)}"


def requested(opts: Dict[str, int]) -> str:
    steps = [name for key, name in (("synth", "C synthesis"), ("cosim", "C/RTL co-simulation"),
                                    ("export", "IP export"), ("vsynth", "Vivado synthesis")) if opts.get(key)]
    return ", ".join(steps)


# --------------------------------------------------------------------------
# Reading what the tools wrote
# --------------------------------------------------------------------------


def solution_dir(project_dir: str, project_name: str) -> str:
    return os.path.join(project_dir, f"{project_name}_prj", "solution1")


def find_ip(project_dir: str, project_name: str) -> Optional[Dict[str, Any]]:
    """The ``ip_catalog`` package export_design wrote, or None."""
    impl = os.path.join(solution_dir(project_dir, project_name), "impl")
    ip_dir = os.path.join(impl, "ip")
    if not os.path.isdir(ip_dir):
        return None
    zips = sorted(set(glob.glob(os.path.join(ip_dir, "*.zip")) + glob.glob(os.path.join(impl, "*.zip"))))
    component = os.path.join(ip_dir, "component.xml")
    return {"ip_dir": ip_dir, "component_xml": component if os.path.isfile(component) else None, "zip": zips}


def _num(v) -> Optional[float]:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _int(v) -> Optional[int]:
    f = _num(v)
    return None if f is None else int(round(f))


RESOURCES = ("DSP", "LUT", "FF", "BRAM_18K", "URAM")


def parse_synthesis(project_dir: str) -> Optional[Dict[str, Any]]:
    """The csynth figures (and Vivado synthesis / co-simulation ones when
    present) from the reports in ``project_dir``, through hls4ml's
    ``parse_vivado_report``; None when there is no csynth report."""
    from hls4ml.report import parse_vivado_report

    quiet = io.StringIO()
    try:
        with contextlib.redirect_stdout(quiet):
            raw = parse_vivado_report(project_dir)
    except (IndexError, KeyError, ValueError, OSError, AttributeError) as e:  # partial/odd report trees
        return {"error": f"could not parse the synthesis reports: {type(e).__name__}: {e}"}
    if not raw or "CSynthesisReport" not in raw:
        return None
    c = raw["CSynthesisReport"]
    clock = _num(c.get("TargetClockPeriod"))
    lat = {"min": _int(c.get("BestLatency")), "max": _int(c.get("WorstLatency"))}
    out: Dict[str, Any] = {
        "target_clock_ns": clock,
        "estimated_clock_ns": _num(c.get("EstimatedClockPeriod")),
        "latency_cycles": lat,
        "latency_ns": {k: (None if v is None or clock is None else round(v * clock, 3)) for k, v in lat.items()},
        "interval_cycles": {"min": _int(c.get("IntervalMin")), "max": _int(c.get("IntervalMax"))},
        "resources": {k: _int(c.get(k)) for k in RESOURCES},
        "available": {k: _int(c.get("Available" + k)) for k in RESOURCES},
    }
    out["utilization_pct"] = {
        k: (round(100.0 * out["resources"][k] / out["available"][k], 2)
            if out["resources"][k] is not None and out["available"][k] else None) for k in RESOURCES}
    if raw.get("VivadoSynthReport"):
        v = raw["VivadoSynthReport"]
        out["vivado_synth"] = {"LUT": _int(v.get("LUT")), "FF": _int(v.get("FF")),
                               "BRAM_18K": _num(v.get("BRAM_18K")), "URAM": _int(v.get("URAM")),
                               "DSP": _int(v.get("DSP48E"))}
    if raw.get("CosimReport"):
        out["cosim"] = {k: raw["CosimReport"].get(k) for k in
                        ("RTL", "Status", "LatencyMin", "LatencyMax", "IntervalMin", "IntervalMax")}
    return out


# --------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------


def hls_model_for(cfg: Dict[str, Any], project_dir: str, report: Dict[str, Any]):
    """An hls4ml model of the written project, for its ``build()``: the flow's
    hardware model (``hls.output``) converted again with the same config,
    input range and Dense output ranges (the report keeps them), so its types
    are the written ones; its output folder the project (nothing is written:
    the project already is)."""
    from keras_model.models import load_keras_model

    from hls_project.flow.convert import convert, hardware_model

    model_path = report.get("model_path")
    if not model_path or not os.path.isfile(model_path):
        raise ToolError(f"the model of {project_dir} ({model_path}) is gone; run the flow again")
    model = hardware_model(load_keras_model(model_path), cfg["hls"].get("output") or "probabilities")
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):  # hls4ml prints the whole layer list
        return convert(model, cfg, project_dir, input_range=float(report.get("input_range", 1.0)),
                       dense_ranges=report.get("dense_ranges"))


def synthesize(cfg: Dict[str, Any], project_dir: str, synth: bool = False, cosim: bool = False,
               export: bool = False, vsynth: bool = False, hls_model=None, report: Optional[Dict[str, Any]] = None,
               log=info) -> Dict[str, Any]:
    """Run the requested vendor steps in ``project_dir`` through
    ``hls_model.build()`` (``hls_model``, or the flow's model converted again
    from ``report``, see :func:`hls_model_for`); returns what ran, where the IP
    is and the parsed synthesis figures. Raises :class:`ToolError` (exit
    status 3) when the tool is not on PATH (with the command to run later) or
    fails; the error's ``vendor_result`` says what was asked."""
    h = cfg["hls"]
    backend = h["backend"]
    tool = tool_for(backend)
    opts = build_options(synth, cosim, export, vsynth)
    project_dir = os.path.abspath(project_dir)
    project_name = h["project_name"]
    if not os.path.isfile(os.path.join(project_dir, "build_prj.tcl")):
        raise ToolError(f"{project_dir} is not a written hls4ml project (no build_prj.tcl); run the flow first")
    result: Dict[str, Any] = {
        "backend": backend, "tool": tool, "part": h["part"], "clock_period_ns": h["clock_period"],
        "options": opts, "cwd": project_dir, "command": command_for(backend, opts),
        "later_command": later_command(backend, project_dir, opts),
    }
    if backend == "Vitis":
        result["build_opt_tcl"] = os.path.join(project_dir, "build_opt.tcl")

    if shutil.which(tool) is None:
        if backend == "Vitis":  # what hls4ml's build() would have written before running the tool
            with open(os.path.join(project_dir, "build_opt.tcl"), "w") as f:
                f.write(vitis_build_opts(opts))
        opts_note = " (options written to build_opt.tcl)" if backend == "Vitis" else ""
        err = ToolError(f"{tool} not found on PATH; the project is written and complete. For {requested(opts)} "
                        f"with the {backend} tools, run later{opts_note}: {result['later_command']}")
        err.vendor_result = {**result, "status": "tool missing"}
        raise err

    if hls_model is None:
        hls_model = hls_model_for(cfg, project_dir, report or {})
    # hls4ml's build() works in (and, if it does not exist, re-writes the
    # project into) the model's recorded output folder: the final one.
    hls_model.config.config["OutputDir"] = project_dir
    log(f"[{tool}] {requested(opts)} in {project_dir}: {result['command']}")
    kwargs = dict(opts)
    if backend == "VivadoAccelerator":
        kwargs["bitfile"] = bool(opts.get("export"))
    if backend == "Vitis":
        kwargs["log_to_stdout"] = False  # build_stdout.log / build_stderr.log in the project
    t = time.time()
    try:
        hls_model.build(**kwargs)
    except Exception as e:  # hls4ml raises bare Exceptions for a missing tool or a failed run
        logs = [p for p in ("build_stdout.log", "build_stderr.log", "vivado_hls.log")
                if os.path.isfile(os.path.join(project_dir, p))]
        where = f"; logs: {', '.join(os.path.join(project_dir, p) for p in logs)}" if logs else ""
        err = ToolError(f"{tool} failed ({str(e).splitlines()[0] if str(e) else type(e).__name__}){where}")
        err.vendor_result = {**result, "status": "failed"}
        raise err from None
    result["seconds"] = round(time.time() - t, 1)

    result["synthesis"] = parse_synthesis(project_dir)
    result["ip"] = find_ip(project_dir, project_name)
    problems: List[str] = []
    if opts["synth"] and not result["synthesis"]:
        problems.append("no csynth report "
                        f"({os.path.join(solution_dir(project_dir, project_name), 'syn', 'report', project_name + '_csynth.xml')})")
    if opts["export"] and not result["ip"]:
        problems.append(f"no exported IP ({os.path.join(solution_dir(project_dir, project_name), 'impl', 'ip')})")
    if problems:
        log_file = "vivado_hls.log" if backend == "Vivado" else "build_stdout.log"
        err = ToolError(f"{tool} ran but wrote {' and '.join(problems)}; see {os.path.join(project_dir, log_file)}")
        err.vendor_result = {**result, "status": "failed"}
        raise err
    result["status"] = "ok"
    return result
