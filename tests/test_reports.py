"""hls_project.report.assemble: the hardware report of a written project.

Exact figures are checked against independent sources: weight bits against
the written firmware (``defines.h`` types x the sizes declared in
``weights/*.h``), MACs and stage iterations against an INSTRUMENTED C
simulation (the testbench built with ``-DHT_COUNT_TRIPS``, which counts
every pipelined loop's iterations), the port width against the written top
function, the lint's II per stage against the MODEL's. Synthesis figures
come from canned reports copied into the project.
"""

from __future__ import annotations

import json
import os
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from hls_project.flow import csim

from hls_project.report import assemble as reports  # noqa: E402
from test_vendor import AVAILABLE, CANNED, PROJECT, canned_files  # noqa: E402
from hls_project.cli import main as fdht_main  # noqa: E402

GXX = shutil.which("g++")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TIMESTEPS = 4


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A tiny FDHT-LSTM written by the real flow (no csim), reuse factor 2."""
    from hls_project.flow.pipeline import run_flow
    from keras_model.common.config import load_config
    from keras_model.data import Dataset, save_npz
    from keras_model.models import build_model

    root = tmp_path_factory.mktemp("reports")
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (14, TIMESTEPS, 12)).astype(np.float32)
    y = np.arange(14) % 3
    data = save_npz(root / "tiny.npz", Dataset(x[:10], y[:10], x[10:], y[10:], ["a", "b", "c"]))
    model = build_model({"kind": "fdht", "units": 8, "ranks": 4}, (TIMESTEPS, 12), 3)
    h5 = root / "tiny.h5"
    model.save(h5)
    out = root / "prj"
    cfg = load_config(None, {"data": {"source": str(data), "frames": None, "size": None},
                             "model": {"units": 8, "ranks": 4},
                             "hls": {"output_dir": str(out), "reuse_factor": 2}})
    report = run_flow(cfg, model_path=str(h5), csim_enabled=False, log=lambda *a: None)
    hw = json.loads((out / reports.JSON_NAME).read_text())
    return {"out": out, "report": report, "hw": hw, "cfg": cfg, "model": model}


# --------------------------------------------------------------------------
# Independent reading of the written firmware
# --------------------------------------------------------------------------

_TYPEDEF = re.compile(r"^typedef\s+(ap_u?fixed<[^;]*>|ap_u?int<\s*\d+\s*>)\s+(\w+)\s*;", re.M)
_DECL = re.compile(r"^(\w+)\s+(\w+)\[(\d+)\];", re.M)


def firmware_weight_bits(out: Path) -> dict:
    """{variable: (entries, bits)} from firmware/defines.h and firmware/weights/*.h."""
    widths = {}
    for text, name in _TYPEDEF.findall((out / "firmware" / "defines.h").read_text()):
        widths[name] = int(re.search(r"<\s*(\d+)", text).group(1))
    bits = {}
    for header in sorted((out / "firmware" / "weights").glob("*.h")):
        m = _DECL.search(header.read_text())
        assert m, f"no array declaration in {header}"
        type_name, var, size = m.group(1), m.group(2), int(m.group(3))
        bits[var] = (size, size * widths[type_name])
    return bits


def test_weight_bits_match_the_written_firmware(project):
    hw = project["hw"]
    fw = firmware_weight_bits(project["out"])
    (layer,) = hw["layers"]
    cores = layer["weights"]["cores"]
    assert set(cores) == {"u1", "u2", "u3", "u4", "b1_2", "b3_4", "b1_4"}
    for name, c in cores.items():
        entries, bits = fw[c["variable"]]
        assert c["entries"] == entries == int(np.prod(c["core_shape"]))
        assert c["bits"] == bits == entries * c["bits_each"]
    b = layer["weights"]["bias"]
    assert (b["entries"], b["bits"]) == fw[b["variable"]]
    assert layer["weights"]["total_bits"] == sum(c["bits"] for c in cores.values()) + b["bits"]
    # the whole model: every weight array the firmware declares
    assert hw["model"]["weight_bits"] == sum(v[1] for v in fw.values())
    assert hw["model"]["weight_bits"] == project["report"]["weight_bits"]  # the flow's own count agrees


@pytest.mark.skipif(GXX is None, reason="needs g++")
def test_macs_and_cycles_match_an_instrumented_csim(project, tmp_path):
    """The report's MACs and per-stage iterations against a csim build that
    counts every pipelined loop's iterations (HT_COUNT_TRIPS), one sample."""
    src = project["out"]
    work = tmp_path / "count"
    shutil.copytree(src, work, ignore=shutil.ignore_patterns("*.so", "csim"))
    for name in ("tb_input_features.dat", "tb_output_predictions.dat"):  # one sample
        p = work / "tb_data" / name
        p.write_text(p.read_text().splitlines()[0] + "\n")
    cmd = csim.build_command(str(work), PROJECT, cxx=GXX, opt="-O0")
    cmd = cmd[:-2] + ["-DHT_COUNT_TRIPS", "-o", "csim_count"]
    res = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    env = dict(os.environ, HT_TRIP_FILE=str(work / "trips.txt"))
    res = subprocess.run([str(work / "csim_count")], cwd=work, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    trips = {}
    for line in (work / "trips.txt").read_text().splitlines():
        k, v = line.rsplit(" ", 1)
        trips[k.split(".", 1)[1]] = int(v)
    assert len((work / "tb_data" / "csim_results.log").read_text().split("\n")[0].split()) == 3
    hw = project["hw"]
    (layer,) = hw["layers"]
    stages = layer["estimate"]["stages"]
    # iterations x lanes of every stage = its MACs; summed over stages = the report's MACs
    counted_macs = sum(trips[r["stage"]] * r["lanes"] for r in stages)
    assert counted_macs == layer["macs_per_clip"] == TIMESTEPS * layer["macs_per_step"]
    assert hw["model"]["macs_per_step"] == layer["macs_per_step"]
    for r in stages:
        assert trips[r["stage"]] == TIMESTEPS * r["trips"]
        assert r["cycles"] == r["trips"] + r["depth"]


def test_model_follows_the_schedule(project):
    """The MODEL's clip figures follow from its per-frame processes: the
    interval is the busiest process per clip, the latency lies between the
    bottleneck run T times and every process run back to back (no overlap),
    and each per-frame figure is made of the stages' trips x II + depth."""
    from hls_project.accel import model as cost
    hw = project["hw"]
    (layer,) = hw["layers"]
    e = layer["estimate"]
    procs = e["processes_cycles_per_frame"]
    per_clip = e["processes_cycles_per_clip"]
    assert set(procs) == set(per_clip) and "recurrence" in procs
    stages = {r["stage"]: r for r in e["stages"]}
    for r in stages.values():
        assert r["cycles"] == r["trips"] * r["ii"] + r["depth"]
    x_stages = [n for n in stages if n.startswith("x")]
    h_stages = [n for n in stages if n.startswith("h")]
    assert procs["regroup + x0"] >= stages["x0"]["cycles"]
    for n in x_stages[1:]:
        assert procs[n] == stages[n]["cycles"]
    # the recurrence: every h stage, then the gates one hidden unit (of 8) per cycle
    assert procs["recurrence"] == sum(stages[n]["cycles"] for n in h_stages) + 8 + cost.GATE_DEPTH
    # frame processes run once per frame; the recurrence also resets and writes h once
    for k, v in procs.items():
        if k != "recurrence":
            assert per_clip[k] == TIMESTEPS * v
    assert per_clip["recurrence"] > TIMESTEPS * procs["recurrence"]
    assert e["interval_cycles_per_clip"] == max(per_clip.values())
    assert e["interval_cycles_per_frame"] == max(procs.values())
    assert TIMESTEPS * max(procs.values()) <= e["cycles_per_clip"] <= sum(per_clip.values())
    head = hw["accelerator"]["headline"]
    assert head["label"].startswith("MODEL")
    for key in ("clips_per_s", "dsp", "lane_utilisation", "top_port_bits", "io_bound_clips_per_s"):
        assert hw["model"][key] == head[key]
    assert head["clips_per_s"] == pytest.approx(1e9 / (5 * head["interval_cycles_per_clip"]), rel=1e-6)
    assert 0 < head["lane_utilisation"] <= 1
    assert head["lane_utilisation"] == pytest.approx(
        e["macs_per_clip"] / (e["mac_lanes"] * head["interval_cycles_per_clip"]), abs=1e-4)
    # io_stream (the default): the input port is one stream word, as the written top function declares it
    defines = (project["out"] / "firmware" / "defines.h").read_text()
    header = (project["out"] / "firmware" / "myproject.h").read_text()
    in_type = re.search(r"hls::stream<(\w+)> &", header).group(1)
    m = re.search(rf"typedef nnet::array<ap_fixed<(\d+),\d+>, (\d+)\*1> {in_type};", defines)
    assert head["input_port_bits"] == int(m.group(1)) * int(m.group(2)) == 16 * e["stream_width"]
    assert head["top_port_bits"] <= 1024
    # the lint ran on the written project and every rule held
    assert hw["lint"]["rules"] == 8 and hw["lint"]["failed"] == []
    # the II the lint allows for each stage of the written C++ is the MODEL's
    assert {k.split(".", 1)[1]: v for k, v in hw["lint"]["ii"].items()} == {n: r["ii"] for n, r in stages.items()}
    # the classifier runs at reuse factor n_in: one multiplier per class
    (dense,) = [o for o in hw["accelerator"]["other_layers"] if o["class"] == "Dense"]
    assert dense["reuse_factor"] == 8 and dense["multipliers"] == 3
    # hls4ml's stock dense LSTM: multiplier_limit = ceil(n_in * n_out / reuse_factor) per product
    h, n_in = 8, 12
    d = hw["dense_lstm"]
    assert d["multipliers"] == {"W_x": math.ceil(n_in * 4 * h / 2), "W_h": math.ceil(h * 4 * h / 2),
                                "total": math.ceil(n_in * 4 * h / 2) + math.ceil(h * 4 * h / 2)}
    assert d["macs_per_step"] == (n_in + h) * 4 * h
    assert d["weight_bits"] == ((n_in + h) * 4 * h + 4 * h) * 16
    assert hw["device"]["DSP"] == 6840 and hw["device"]["BRAM_18K"] == 4320
    assert hw["estimate"]["fit"]["dsp_fits"] is True and hw["estimate"]["fit"]["dsp_available"] == 6840
    tables = {t["function"]: t for t in layer["activation_tables"]}
    assert tables["sigmoid"]["entries"] == 1024 and tables["sigmoid"]["bits"] == tables["sigmoid"]["tables"] * 1024 * 18
    assert tables["sigmoid"]["tables"] == 3 * e["gate_lanes"]
    assert hw["pipeline_style"] == "dataflow"
    assert not any("PIPELINE" in w for w in hw.get("warnings") or [])


def test_device_ceilings():
    d = reports.DEVICES
    assert d["xcu250-figd2104-2L-e"]["DSP"] == 12288
    assert d["xcvu9p-flga2104-2L-e"]["DSP"] == 6840
    assert d["xczu9eg-ffvb1156-2-e"]["DSP"] == 2520
    assert d["xcvu13p-flga2577-2-e"]["DSP"] == 12288
    for part, figures in AVAILABLE.items():  # what HLS prints as available for the part
        assert {k: d[part][k] for k in figures} == figures
    from hls_project.accel import model as cost
    big = cost.dense_lstm_estimate(57600, 256, 6, 1, 16)
    assert big["multipliers"]["total"] == 57600 * 1024 + 256 * 1024
    assert reports._fit(big["dsp"], big["weight_bits"], {**d["xcu250-figd2104-2L-e"]})["dsp_fits"] is False
    assert cost.dsp_per_multiplier(16, 16) == 1 and cost.dsp_per_multiplier(30, 16) == 2


def test_markdown_json_and_plot(project):
    out, hw = project["out"], project["hw"]
    md = (out / reports.MD_NAME).read_text()
    assert "MODEL: cycles and resources of the generated accelerator (not a synthesis result)" in md
    assert f"| **model** | {hw['model']['macs_per_step']:,} |" in md
    assert "hls4ml stock dense LSTM, same shape" in md
    assert "Not run: no synthesis reports" in md
    assert (out / reports.PLOT_NAME).read_bytes()[:8] == PNG_MAGIC
    kinds = {r["kind"]: r for r in hw["kinds"]}
    assert set(kinds) == {"fdht", "ht", "tt", "dense"}
    assert kinds["fdht"]["macs_per_step"] == hw["model"]["macs_per_step"]
    assert kinds["dense"]["macs_per_step"] == (12 + 8) * 32
    assert all(r["weight_bits"] == r["params"] * 16 for r in kinds.values())
    assert project["report"]["hardware_report"] == str(out / reports.JSON_NAME)
    assert json.loads((out / "csim_report.json").read_text())["hardware_report"] == str(out / reports.JSON_NAME)


def test_copied_in_synthesis_reports_are_parsed(project, tmp_path, capsys):
    work = tmp_path / "prj"
    shutil.copytree(project["out"], work)
    for rel, text in canned_files("Vivado", "xcvu9p-flga2104-2L-e", 5.0, export=False).items():
        p = work / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    # Vivado logic synthesis report (vsynth), in the layout hls4ml's parser reads
    (work / "vivado_synth.rpt").write_text(
        "1. CLB Logic\n------------\n\n+-------------------------+------+-------+-----------+-------+\n"
        "|        Site Type        | Used | Fixed | Available | Util% |\n"
        "+-------------------------+------+-------+-----------+-------+\n"
        "| CLB LUTs*               | 8123 |     0 |   1182240 |  0.69 |\n"
        "| CLB Registers           | 5012 |     0 |   2364480 |  0.21 |\n"
        "+-------------------------+------+-------+-----------+-------+\n\n"
        "2. BLOCKRAM\n-----------\n\n+-------------------+------+-------+-----------+-------+\n"
        "| Block RAM Tile    |    3 |     0 |      2160 |  0.14 |\n"
        "| URAM              |    0 |     0 |       960 |  0.00 |\n"
        "+-------------------+------+-------+-----------+-------+\n\n"
        "3. ARITHMETIC\n-------------\n\n+----------------+------+-------+-----------+-------+\n"
        "| DSPs           |   35 |     0 |      6840 |  0.51 |\n"
        "+----------------+------+-------+-----------+-------+\n")
    assert fdht_main(["report", str(work)]) == 0
    printed = capsys.readouterr().out
    assert "csynth             latency 16141-31121 cycles" in printed
    hw = json.loads((work / reports.JSON_NAME).read_text())
    s = hw["synthesis"]
    assert s["latency_cycles"] == {"min": CANNED["best"], "max": CANNED["worst"]}
    assert s["latency_ns"] == {"min": CANNED["best"] * 5.0, "max": CANNED["worst"] * 5.0}
    assert s["interval_cycles"] == {"min": CANNED["ii_min"], "max": CANNED["ii_max"]}
    assert s["resources"] == {k: CANNED[k] for k in ("DSP", "LUT", "FF", "BRAM_18K", "URAM")}
    assert s["available"] == AVAILABLE["xcvu9p-flga2104-2L-e"]
    assert s["vivado_synth"] == {"LUT": 8123, "FF": 5012, "BRAM_18K": 3.0, "URAM": 0, "DSP": 35}
    md = (work / reports.MD_NAME).read_text()
    assert "| DSP | 37 | 6,840 | 0.54 % |" in md
    assert "Vivado synthesis: DSP 35, LUT 8,123" in md
    assert f"Synthesis latency vs the MODEL: {CANNED['worst']:,} cycles" in md
