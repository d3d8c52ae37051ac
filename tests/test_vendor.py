"""hls_project.flow.vendor and build.py's --synth/--cosim/--export/--vsynth.

The real flow runs up to the vendor tool; the tool is a FAKE ``vivado_hls`` /
``vitis-run`` placed first on PATH: a small script that records its argv, cwd
and build options and (unless told to fail) writes canned csynth reports and an
exported IP into the project in the layout hls4ml's ``parse_vivado_report``
reads and Vivado/Vitis HLS write. Without the tools on PATH the project must
still be complete: its csim is built with g++ and run afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hls_project.flow import csim, vendor  # noqa: E402
from hls_project.cli import main as fdht_main  # noqa: E402

GXX = shutil.which("g++")
TOOLS = ("vivado_hls", "vitis-run")
PROJECT = "myproject"

# Canned synthesis figures (what the fake tool "measured")
CANNED = {
    "best": 16141, "worst": 31121, "ii_min": 16142, "ii_max": 31122, "est_clock": 3.912,
    "BRAM_18K": 6, "DSP": 37, "FF": 5821, "LUT": 9377, "URAM": 0,
}
# the Available* figures of the parts the tests use, as Vivado/Vitis HLS print them
AVAILABLE = {
    "xcvu9p-flga2104-2L-e": {"BRAM_18K": 4320, "DSP": 6840, "FF": 2364480, "LUT": 1182240, "URAM": 960},
    "xczu9eg-ffvb1156-2-e": {"BRAM_18K": 1824, "DSP": 2520, "FF": 548160, "LUT": 274080, "URAM": 0},
}


# --------------------------------------------------------------------------
# Canned reports, in the layout the tools write
# --------------------------------------------------------------------------


def csynth_xml(backend: str, part: str, clock: float, figures=CANNED) -> str:
    """``<prj>/solution1/syn/report/<top>_csynth.xml`` as Vivado HLS 2020.1 /
    Vitis HLS 2023.2 write it (the nodes hls4ml's parser reads, and the usual
    neighbours). Vivado calls the DSPs ``DSP48E``, Vitis ``DSP``."""
    dsp = "DSP48E" if backend == "Vivado" else "DSP"
    version = "2020.1" if backend == "Vivado" else "2023.2"
    family = "zynquplus" if part.startswith("xczu") else "virtexuplus"
    av = AVAILABLE[part]
    f = figures
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<profile>
    <ReportVersion>
        <Version>{version}</Version>
    </ReportVersion>
    <UserAssignments>
        <unit>ns</unit>
        <ProductFamily>{family}</ProductFamily>
        <Part>{part}</Part>
        <TopModelName>{PROJECT}</TopModelName>
        <TargetClockPeriod>{clock:.2f}</TargetClockPeriod>
        <ClockUncertainty>{clock * 0.125:.2f}</ClockUncertainty>
        <FlowTarget>{backend.lower()}</FlowTarget>
    </UserAssignments>
    <PerformanceEstimates>
        <PipelineType>none</PipelineType>
        <SummaryOfTimingAnalysis>
            <unit>ns</unit>
            <EstimatedClockPeriod>{f['est_clock']:.3f}</EstimatedClockPeriod>
        </SummaryOfTimingAnalysis>
        <SummaryOfOverallLatency>
            <unit>clock cycles</unit>
            <Best-caseLatency>{f['best']}</Best-caseLatency>
            <Average-caseLatency>{(f['best'] + f['worst']) // 2}</Average-caseLatency>
            <Worst-caseLatency>{f['worst']}</Worst-caseLatency>
            <Best-caseRealTimeLatency>{f['best'] * clock / 1000:.3f} us</Best-caseRealTimeLatency>
            <Average-caseRealTimeLatency>{(f['best'] + f['worst']) / 2 * clock / 1000:.3f} us</Average-caseRealTimeLatency>
            <Worst-caseRealTimeLatency>{f['worst'] * clock / 1000:.3f} us</Worst-caseRealTimeLatency>
            <Interval-min>{f['ii_min']}</Interval-min>
            <Interval-max>{f['ii_max']}</Interval-max>
        </SummaryOfOverallLatency>
        <SummaryOfLoopLatency>
            <TimeLoop>
                <TripCount>4</TripCount>
                <Latency>
                    <range>
                        <min>16132</min>
                        <max>31112</max>
                    </range>
                </Latency>
            </TimeLoop>
        </SummaryOfLoopLatency>
    </PerformanceEstimates>
    <AreaEstimates>
        <Resources>
            <BRAM_18K>{f['BRAM_18K']}</BRAM_18K>
            <{dsp}>{f['DSP']}</{dsp}>
            <FF>{f['FF']}</FF>
            <LUT>{f['LUT']}</LUT>
            <URAM>{f['URAM']}</URAM>
        </Resources>
        <AvailableResources>
            <BRAM_18K>{av['BRAM_18K']}</BRAM_18K>
            <{dsp}>{av['DSP']}</{dsp}>
            <FF>{av['FF']}</FF>
            <LUT>{av['LUT']}</LUT>
            <URAM>{av['URAM']}</URAM>
        </AvailableResources>
    </AreaEstimates>
    <InterfaceSummary>
        <RtlPorts>
            <name>ap_clk</name>
            <Object>{PROJECT}</Object>
            <Type>return value</Type>
            <Scope></Scope>
            <IOProtocol>ap_ctrl_hs</IOProtocol>
            <IOConfig></IOConfig>
            <Dir>in</Dir>
            <Bits>1</Bits>
            <Attribute>control</Attribute>
        </RtlPorts>
    </InterfaceSummary>
</profile>
"""


def csynth_rpt(backend: str, part: str, clock: float, figures=CANNED) -> str:
    """The text summary beside the XML (``<top>_csynth.rpt``); hls4ml's
    ``read_vivado_report`` prints it, the parser uses the XML."""
    f, av = figures, AVAILABLE[part]
    tool = "Vivado HLS" if backend == "Vivado" else "Vitis HLS"
    return f"""

================================================================
== {tool} Report for '{PROJECT}'
================================================================
* Date:           Thu Nov 27 16:00:00 2026

* Project:        {PROJECT}_prj
* Solution:       solution1
* Product family: virtexuplus
* Target device:  {part}


================================================================
== Performance Estimates
================================================================
+ Timing:
    * Summary:
    +--------+---------+----------+------------+
    |  Clock |  Target | Estimated| Uncertainty|
    +--------+---------+----------+------------+
    |ap_clk  | {clock:5.2f} ns | {f['est_clock']:6.3f} ns |   {clock * 0.125:.2f} ns   |
    +--------+---------+----------+------------+

+ Latency:
    * Summary:
    +---------+---------+----------+----------+-------+-------+---------+
    |  Latency (cycles) |  Latency (absolute) |    Interval   | Pipeline|
    |   min   |   max   |    min   |    max   |  min  |  max  |   Type  |
    +---------+---------+----------+----------+-------+-------+---------+
    |    {f['best']}|    {f['worst']}| {f['best'] * clock / 1000:.3f} us| {f['worst'] * clock / 1000:.3f} us|  {f['ii_min']}|  {f['ii_max']}|   none  |
    +---------+---------+----------+----------+-------+-------+---------+

================================================================
== Utilization Estimates
================================================================
* Summary:
+-----------------+---------+-------+---------+---------+------+
|       Name      | BRAM_18K| DSP48E|    FF   |   LUT   | URAM |
+-----------------+---------+-------+---------+---------+------+
|Total            |        {f['BRAM_18K']}|     {f['DSP']}|     {f['FF']}|     {f['LUT']}|     {f['URAM']}|
+-----------------+---------+-------+---------+---------+------+
|Available        |     {av['BRAM_18K']}|   {av['DSP']}|  {av['FF']}|  {av['LUT']}|   {av['URAM']}|
+-----------------+---------+-------+---------+---------+------+
"""


def app_xml(backend: str) -> str:
    """``<prj>/vivado_hls.app`` (Vivado HLS) or ``<prj>/hls.app`` (Vitis HLS): the solution list."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="com.autoesl.autopilot.project" name="{PROJECT}_prj" top="{PROJECT}">
    <includePaths/>
    <libraryPaths/>
    <Simulation>
        <SimFlow name="csim" csimMode="0" lastCsimMode="0"/>
    </Simulation>
    <files xmlns="">
        <file name="../../{PROJECT}_test.cpp" sc="0" tb="1" cflags=" -std=c++0x -Wno-unknown-pragmas" csimflags=" -Wno-unknown-pragmas" blackbox="false"/>
        <file name="../../firmware/weights" sc="0" tb="1" cflags="" csimflags="" blackbox="false"/>
        <file name="../../tb_data" sc="0" tb="1" cflags="" csimflags="" blackbox="false"/>
        <file name="firmware/{PROJECT}.cpp" sc="0" tb="false" cflags="-std=c++0x" csimflags="" blackbox="false"/>
    </files>
    <solutions xmlns="">
        <solution name="solution1" status="active"/>
    </solutions>
</project>
"""


def canned_files(backend: str, part: str, clock: float, export: bool) -> dict:
    """{relative path: text} the fake tool writes into the project."""
    prj = f"{PROJECT}_prj"
    sol = f"{prj}/solution1"
    files = {
        f"{prj}/{'vivado_hls.app' if backend == 'Vivado' else 'hls.app'}": app_xml(backend),
        f"{sol}/syn/report/{PROJECT}_csynth.xml": csynth_xml(backend, part, clock),
        f"{sol}/syn/report/{PROJECT}_csynth.rpt": csynth_rpt(backend, part, clock),
        f"{sol}/syn/verilog/{PROJECT}.v": f"// canned RTL of {PROJECT}\nmodule {PROJECT}();\nendmodule\n",
    }
    if export:
        files[f"{sol}/impl/ip/component.xml"] = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<spirit:component xmlns:spirit='
            '"http://www.spiritconsortium.org/XMLSchema/SPIRIT/1685-2009">\n  <spirit:vendor>xilinx.com'
            f'</spirit:vendor>\n  <spirit:library>hls</spirit:library>\n  <spirit:name>{PROJECT}</spirit:name>\n'
            '  <spirit:version>1.0</spirit:version>\n</spirit:component>\n')
        files[f"{sol}/impl/ip/xilinx_com_hls_{PROJECT}_1_0.zip"] = "PK canned ip archive\n"
        if backend == "Vitis":
            files[f"{sol}/impl/export.zip"] = "PK canned export archive\n"
    return files


FAKE_TOOL = r'''#!{python}
"""A fake {tool}: records argv, cwd and build options; writes canned reports."""
import json, os, re, sys
log = {log!r}
opts = None
if os.path.isfile("build_opt.tcl"):  # Vitis: hls4ml writes the options here
    text = open("build_opt.tcl").read()
    opts = {{k: int(v) for k, v in re.findall(r"^\s*(\w+)\s+(\d+)\s*$", text, re.M)}}
    build_opt = text
else:
    build_opt = None
if {tool!r} == "vivado_hls":  # the options are one argument, read as build_prj.tcl's regexp does
    arg = " ".join(sys.argv[1:])
    opts = {{o: int(re.search(o + r"=+(\w+)", arg).group(1) in ("1", "True", "true")) for o in
            ("reset", "csim", "synth", "cosim", "validation", "export", "vsynth", "fifo_opt")}}
entry = {{"argv": sys.argv[1:], "cwd": os.getcwd(), "opts": opts, "build_opt": build_opt,
         "present": sorted(p for p in ("build_prj.tcl", "project.tcl", "firmware/{project}.cpp",
                                       "firmware/parameters.h", "{project}_test.cpp",
                                       "tb_data/tb_input_features.dat", "hardware_report.json")
                           if os.path.exists(p)),
         "project_tcl": open("project.tcl").read() if os.path.exists("project.tcl") else None}}
with open(log, "a") as f:
    f.write(json.dumps(entry) + "\n")
if {fail!r}:
    print("ERROR: [HLS 200-70] Compilation errors found (fake)")
    sys.exit(1 if {tool!r} == "vitis-run" else 0)  # vivado_hls failures do not show in os.system's status
files = {files!r}
for rel, text in files.items():
    if "/impl/" in rel and not opts.get("export"):
        continue
    if "/syn/" in rel and not opts.get("synth"):
        continue
    os.makedirs(os.path.dirname(rel), exist_ok=True)
    with open(rel, "w") as f:
        f.write(text)
print("***** C/RTL SYNTHESIS COMPLETED IN 0h0m1s *****")
'''


def make_fake_tool(bindir: Path, tool: str, log: Path, backend: str, part: str, clock: float,
                   fail: bool = False) -> Path:
    bindir.mkdir(parents=True, exist_ok=True)
    path = bindir / tool
    path.write_text(FAKE_TOOL.format(python=sys.executable, tool=tool, log=str(log), project=PROJECT, fail=fail,
                                     files=canned_files(backend, part, clock, export=True)))
    path.chmod(path.stat().st_mode | stat.S_IEXEC | stat.S_IXGRP | stat.S_IXOTH)
    return path


def path_without_tools() -> str:
    """PATH with every folder holding vivado_hls / vitis-run left out."""
    keep = []
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if d and not any(os.path.exists(os.path.join(d, t)) for t in TOOLS):
            keep.append(d)
    return os.pathsep.join(keep)


def read_log(log: Path) -> list:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_fdht, sequence_npz):
    """The tiny FDHT-LSTM (sequences (4, 12), units 8) saved as .h5, a tiny .npz
    and a config with a non-default part and clock."""
    root = tmp_path_factory.mktemp("vendor")
    data = sequence_npz(root / "tiny.npz", n_train=10, n_test=6, seed=1)
    h5 = root / "tiny.h5"
    tiny_fdht().save(h5)
    config = root / "zu9.yml"
    config.write_text("model:\n  units: 8\n  ranks: 3\n"
                      "hls:\n  part: xczu9eg-ffvb1156-2-e\n  clock_period: 4\n")
    return {"data": str(data), "h5": str(h5), "config": str(config), "root": root}


def run_build(tiny, out: Path, *flags) -> int:
    argv = ["--config", tiny["config"], "--model", tiny["h5"], "--data", tiny["data"],
            "--output-dir", str(out), *flags]
    return fdht_main(["build", *argv])


def project_files_ok(out: Path):
    for rel in ("build_prj.tcl", "project.tcl", "vivado_synth.tcl", f"{PROJECT}_test.cpp",
                f"firmware/{PROJECT}.cpp", f"firmware/{PROJECT}.h", "firmware/parameters.h", "firmware/defines.h",
                "firmware/nnet_utils/nnet_ht_stream.h", "firmware/nnet_utils/nnet_ht_probe.h", "firmware/ap_types/ap_fixed.h",
                "tb_data/tb_input_features.dat", "tb_data/tb_output_predictions.dat", "csim_report.json",
                "hardware_report.json", "hardware_report.md", "hardware_kinds.png"):
        assert (out / rel).is_file(), f"project misses {rel}"
    assert list((out / "firmware" / "weights").glob("core_*.txt")), "no core weights written"
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}-tmp-")]
    assert not leftovers, f"temp folders left behind: {leftovers}"


# --------------------------------------------------------------------------
# Our command = hls4ml's command (derived from hls4ml's own build())
# --------------------------------------------------------------------------


class _StubConfig:
    def __init__(self, out):
        self.out = str(out)

    def get_output_dir(self):
        return self.out

    def get_project_name(self):
        return PROJECT


class _StubModel:
    def __init__(self, out):
        self.config = _StubConfig(out)


@pytest.mark.parametrize("flags", [dict(export=True), dict(synth=True), dict(cosim=True, vsynth=True)])
def test_vivado_command_is_what_hls4ml_runs(tmp_path, monkeypatch, flags):
    """VivadoBackend.build() formats the options itself; ours must be the same text."""
    import hls4ml.backends.vivado.vivado_backend as vb
    from hls4ml.backends import get_backend

    seen = []

    def fake_system(cmd):
        seen.append(cmd)
        return 0

    monkeypatch.setattr(vb.os, "system", fake_system)
    monkeypatch.setattr(vb, "parse_vivado_report", lambda d: {})
    opts = vendor.build_options(**flags)
    cwd = os.getcwd()
    get_backend("Vivado").build(_StubModel(tmp_path), **opts)
    assert os.getcwd() == cwd
    assert seen[0].startswith("command -v vivado_hls")
    assert seen[1] == vendor.vivado_command(opts)
    assert opts["synth"] == 1 and opts["csim"] == 0


def test_vitis_options_are_what_hls4ml_writes(tmp_path, monkeypatch):
    import hls4ml.backends.vitis.vitis_backend as vb
    from hls4ml.backends import get_backend

    ran = []

    class FakePopen:
        returncode = 0

        def __init__(self, cmd, **kw):
            ran.append((cmd, kw.get("cwd")))

        def communicate(self):
            return None, None

    monkeypatch.setattr(vb.os, "system", lambda cmd: 0)
    monkeypatch.setattr(vb.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(vb, "parse_vivado_report", lambda d: {})
    opts = vendor.build_options(synth=True, export=True)
    get_backend("Vitis").build(_StubModel(tmp_path), **opts, log_to_stdout=True)
    assert ran == [(vendor.VITIS_COMMAND, str(tmp_path))]
    assert (tmp_path / "build_opt.tcl").read_text() == vendor.vitis_build_opts(opts)


# --------------------------------------------------------------------------
# The flow with a fake tool
# --------------------------------------------------------------------------


def test_export_with_fake_vivado_hls(tiny, tmp_path, monkeypatch, capsys):
    log = tmp_path / "calls.jsonl"
    bindir = tmp_path / "bin"
    make_fake_tool(bindir, "vivado_hls", log, "Vivado", "xczu9eg-ffvb1156-2-e", 4.0)
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + path_without_tools())
    out = tmp_path / "prj"
    rc = run_build(tiny, out, "--export")
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    calls = read_log(log)
    assert len(calls) == 1
    call = calls[0]
    # the exact arguments hls4ml passes, run in the FINAL project folder
    assert call["argv"] == ["-f", "build_prj.tcl",
                            "reset=0 csim=0 synth=1 cosim=0 validation=0 export=1 vsynth=0 fifo_opt=0"]
    assert call["opts"] == {"reset": 0, "csim": 0, "synth": 1, "cosim": 0, "validation": 0, "export": 1,
                            "vsynth": 0, "fifo_opt": 0}
    assert os.path.realpath(call["cwd"]) == os.path.realpath(out)
    # the project was complete (and its hardware report written) when the tool ran
    assert call["present"] == sorted(["build_prj.tcl", "project.tcl", f"firmware/{PROJECT}.cpp",
                                      "firmware/parameters.h", f"{PROJECT}_test.cpp",
                                      "tb_data/tb_input_features.dat", "hardware_report.json"])
    # part and clock of the config reach the tool through project.tcl
    assert 'set part "xczu9eg-ffvb1156-2-e"' in call["project_tcl"]
    assert re.search(r"^set clock_period 4(\.0)?$", call["project_tcl"], re.M)
    project_files_ok(out)

    # the IP and the parsed figures
    ip_dir = out / f"{PROJECT}_prj" / "solution1" / "impl" / "ip"
    assert f"exported IP         {ip_dir}" in captured.out
    assert "latency 16141-31121 cycles (64564.0-124484.0 ns), II 16142-31122" in captured.out
    hw = json.loads((out / "hardware_report.json").read_text())
    s = hw["synthesis"]
    assert s["latency_cycles"] == {"min": 16141, "max": 31121}
    assert s["latency_ns"] == {"min": 16141 * 4.0, "max": 31121 * 4.0}
    assert s["interval_cycles"] == {"min": 16142, "max": 31122}
    assert s["target_clock_ns"] == 4.0 and s["estimated_clock_ns"] == pytest.approx(3.912)
    assert s["resources"] == {k: CANNED[k] for k in ("DSP", "LUT", "FF", "BRAM_18K", "URAM")}
    assert s["available"] == AVAILABLE["xczu9eg-ffvb1156-2-e"]
    assert s["utilization_pct"]["DSP"] == pytest.approx(100 * 37 / 2520, abs=0.01)
    v = hw["vendor"]
    assert v["status"] == "ok" and v["tool"] == "vivado_hls" and v["part"] == "xczu9eg-ffvb1156-2-e"
    assert v["ip"]["ip_dir"] == str(ip_dir)
    assert v["ip"]["zip"] == [str(ip_dir / f"xilinx_com_hls_{PROJECT}_1_0.zip")]
    md = (out / "hardware_report.md").read_text()
    assert "latency 16,141 - 31,121 cycles" in md and str(ip_dir) in md
    # the device ceilings in the report are the part's (ZU9EG), the same figures HLS reports as available
    assert hw["device"]["DSP"] == 2520 and hw["device"]["BRAM_18K"] == 1824
    assert hw["device"]["LUT"] == 274080 and hw["device"]["FF"] == 548160


def test_synth_with_fake_vitis_run(tiny, tmp_path, monkeypatch, capsys):
    log = tmp_path / "calls.jsonl"
    bindir = tmp_path / "bin"
    make_fake_tool(bindir, "vitis-run", log, "Vitis", "xczu9eg-ffvb1156-2-e", 4.0)
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + path_without_tools())
    out = tmp_path / "prj"
    rc = run_build(tiny, out, "--synth", "--backend", "Vitis")
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    (call,) = read_log(log)
    assert call["argv"] == ["--tcl", "build_prj.tcl", "--mode", "hls"]
    assert os.path.realpath(call["cwd"]) == os.path.realpath(out)
    # the Tcl options the tool read from build_opt.tcl
    assert call["build_opt"] == vendor.vitis_build_opts(vendor.build_options(synth=True))
    assert call["opts"] == {"reset": 0, "csim": 0, "synth": 1, "cosim": 0, "validation": 0, "export": 0,
                            "vsynth": 0, "fifo_opt": 0}
    assert 'set backend "vitis"' in call["project_tcl"]
    project_files_ok(out)
    assert (out / "build_stdout.log").is_file()  # hls4ml's Vitis build logs into the project
    hw = json.loads((out / "hardware_report.json").read_text())
    s = hw["synthesis"]
    assert s["resources"]["DSP"] == 37  # Vitis's <DSP> tag
    assert s["latency_cycles"] == {"min": 16141, "max": 31121}
    assert hw["vendor"]["ip"] is None  # no export asked, none written


def test_tool_that_writes_nothing_fails_with_exit_3(tiny, tmp_path, monkeypatch, capsys):
    log = tmp_path / "calls.jsonl"
    bindir = tmp_path / "bin"
    make_fake_tool(bindir, "vivado_hls", log, "Vivado", "xczu9eg-ffvb1156-2-e", 4.0, fail=True)
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + path_without_tools())
    out = tmp_path / "prj"
    rc = run_build(tiny, out, "--synth")
    err = capsys.readouterr().err
    assert rc == 3
    assert "vivado_hls ran but wrote no csynth report" in err
    hw = json.loads((out / "hardware_report.json").read_text())
    assert hw["vendor"]["status"] == "failed"
    project_files_ok(out)


# --------------------------------------------------------------------------
# No tool on PATH
# --------------------------------------------------------------------------


def test_vitis_missing_writes_options_and_names_the_command(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", path_without_tools())
    out = tmp_path / "vitis prj"  # a space: the printed command must quote it
    rc = run_build(tiny, out, "--export", "--backend", "Vitis")
    err = capsys.readouterr().err
    assert rc == 3
    lines = [l for l in err.splitlines() if l.startswith("error:")]
    assert len(lines) == 1
    assert "vitis-run not found on PATH" in lines[0]
    assert lines[0].endswith(f"run later (options written to build_opt.tcl): cd '{out}' && "
                             "vitis-run --tcl build_prj.tcl --mode hls")
    assert (out / "build_opt.tcl").read_text() == vendor.vitis_build_opts(vendor.build_options(export=True))
    project_files_ok(out)


@pytest.mark.skipif(GXX is None, reason="needs g++")
def test_vivado_missing_exit_3_and_project_csim_runs(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", path_without_tools())
    out = tmp_path / "prj"
    rc = run_build(tiny, out, "--export")
    captured = capsys.readouterr()
    assert rc == 3
    errors = [l for l in captured.err.splitlines() if l.startswith("error:")]
    assert len(errors) == 1
    command = f'cd {out} && vivado_hls -f build_prj.tcl "reset=0 csim=0 synth=1 cosim=0 validation=0 export=1 vsynth=0 fifo_opt=0"'
    assert "vivado_hls not found on PATH" in errors[0]
    assert errors[0].endswith(command)
    # the report was printed before the error; the hardware report records the command
    assert "hardware (MODEL)" in captured.out
    hw = json.loads((out / "hardware_report.json").read_text())
    assert hw["vendor"]["status"] == "tool missing" and hw["vendor"]["later_command"] == command
    assert command in (out / "hardware_report.md").read_text()
    assert not (out / "build_opt.tcl").exists()  # Vivado takes its options on the command line
    project_files_ok(out)

    # the written project is usable: its own csim builds and runs with g++
    cmd = csim.build_command(str(out), PROJECT, cxx=GXX, opt="-O0")
    res = subprocess.run(cmd, cwd=out, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    res = subprocess.run([str(out / "csim")], cwd=out, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    expected = np.loadtxt(out / "tb_data" / "tb_output_predictions.dat", ndmin=2)
    got = np.loadtxt(out / "tb_data" / "csim_results.log", ndmin=2)
    assert got.shape == expected.shape == (6, 3)
    assert np.all(np.isfinite(got))
    assert np.abs(got - expected).max() < 0.1  # fixed point vs Keras float, untrained model
