"""``<project>/rtl/component.xml``: the generated top as an IP-XACT component
(IEEE 1685-2009, the ``spirit`` namespace Vivado's IP packager writes), so
that Vivado's IP catalog can take the RTL as it is: the AXI4-Stream slave
``s_axis`` and master ``m_axis`` (``xilinx.com:interface:axis:1.0``, port
maps TDATA / TVALID / TREADY / TLAST), the clock ``clk``
(``xilinx.com:signal:clock:1.0``, ASSOCIATED_BUSIF ``s_axis:m_axis``,
ASSOCIATED_RESET ``rst``), the synchronous active-high reset ``rst``
(``xilinx.com:signal:reset:1.0``, POLARITY ACTIVE_HIGH), the model's views
and ports (with widths) and one file set with every Verilog source and every
``$readmemh`` data file (which must sit beside the sources).

Not checked here: that Vivado itself accepts it (no Vivado on this machine);
the structure is checked by tests/test_rtl.py.
"""

from __future__ import annotations

import os
from typing import Dict, List, Sequence, Tuple
from xml.etree import ElementTree as ET

NS = "http://www.spiritconsortium.org/XMLSchema/SPIRIT/1685-2009"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XILINX = "http://www.xilinx.com"
AXIS = {"TDATA": "tdata", "TVALID": "tvalid", "TREADY": "tready", "TLAST": "tlast"}
FILESET = "xilinx_anylanguagesynthesis_view_fileset"
SIM_FILESET = "xilinx_anylanguagebehavioralsimulation_view_fileset"


def _s(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _el(parent, tag: str, text=None, **attrs):
    e = ET.SubElement(parent, _s(tag), {_s(k): str(v) for k, v in attrs.items()})
    if text is not None:
        e.text = str(text)
    return e


def _vlnv(parent, tag: str, library: str, name: str):
    _el(parent, tag, vendor="xilinx.com", library=library, name=name, version="1.0")


def _bus(parent, name: str, library: str, kind: str, mode: str, maps: Dict[str, str], params: Dict[str, str]):
    bi = _el(parent, "busInterface")
    _el(bi, "name", name)
    _vlnv(bi, "busType", library, kind)
    _vlnv(bi, "abstractionType", library, f"{kind}_rtl")
    _el(bi, mode)
    pms = _el(bi, "portMaps")
    for logical, physical in maps.items():
        pm = _el(pms, "portMap")
        _el(_el(pm, "logicalPort"), "name", logical)
        _el(_el(pm, "physicalPort"), "name", physical)
    if params:
        ps = _el(bi, "parameters")
        for k, v in params.items():
            p = _el(ps, "parameter")
            _el(p, "name", k)
            _el(p, "value", v, id=f"BUSIFPARAM_VALUE.{name.upper()}.{k}", resolve="immediate")


def _view(views, name: str, display: str, env: str, top: str, fileset: str):
    v = _el(views, "view")
    _el(v, "name", name)
    _el(v, "displayName", display)
    _el(v, "envIdentifier", env)
    _el(v, "language", "Verilog")
    _el(v, "modelName", top)
    _el(_el(v, "fileSetRef"), "localName", fileset)


def _fileset(parent, name: str, files: Sequence[str]):
    fs = _el(parent, "fileSet")
    _el(fs, "name", name)
    for f in files:
        fe = _el(fs, "file")
        _el(fe, "name", f)
        if f.endswith(".v"):
            _el(fe, "fileType", "verilogSource")
        else:  # $readmemh data, read at elaboration from the sources' directory
            _el(fe, "userFileType", "mem")


def component(top: str, ports: List[Tuple[str, str, int]], sources: Sequence[str], data_files: Sequence[str],
              description: str = "") -> ET.Element:
    """The component element. ``ports``: (name, 'in' | 'out', width)."""
    ET.register_namespace("spirit", NS)
    ET.register_namespace("xilinx", XILINX)
    ET.register_namespace("xsi", XSI)
    root = ET.Element(_s("component"))
    for tag, text in (("vendor", "fdht"), ("library", "hls"), ("name", top), ("version", "1.0")):
        _el(root, tag, text)
    bis = _el(root, "busInterfaces")
    _bus(bis, "s_axis", "interface", "axis", "slave", {k: f"s_axis_{v}" for k, v in AXIS.items()}, {})
    _bus(bis, "m_axis", "interface", "axis", "master", {k: f"m_axis_{v}" for k, v in AXIS.items()}, {})
    _bus(bis, "rst", "signal", "reset", "slave", {"RST": "rst"}, {"POLARITY": "ACTIVE_HIGH"})
    _bus(bis, "clk", "signal", "clock", "slave", {"CLK": "clk"},
         {"ASSOCIATED_BUSIF": "s_axis:m_axis", "ASSOCIATED_RESET": "rst"})
    model = _el(root, "model")
    views = _el(model, "views")
    _view(views, "xilinx_anylanguagesynthesis", "Synthesis", ":vivado.xilinx.com:synthesis", top, FILESET)
    _view(views, "xilinx_anylanguagebehavioralsimulation", "Simulation", ":vivado.xilinx.com:simulation", top,
          SIM_FILESET)
    pts = _el(model, "ports")
    for name, direction, width in ports:
        p = _el(pts, "port")
        _el(p, "name", name)
        w = _el(p, "wire")
        _el(w, "direction", direction)
        if width > 1:
            vec = _el(w, "vector")
            _el(vec, "left", width - 1, format="long")
            _el(vec, "right", 0, format="long")
        defs = _el(w, "wireTypeDefs")
        d = _el(defs, "wireTypeDef")
        _el(d, "typeName", "wire")
        _el(d, "viewNameRef", "xilinx_anylanguagesynthesis")
        _el(d, "viewNameRef", "xilinx_anylanguagebehavioralsimulation")
    sets = _el(root, "fileSets")
    files = list(sources) + list(data_files)
    _fileset(sets, FILESET, files)
    _fileset(sets, SIM_FILESET, files)
    _el(root, "description", description or f"{top}: RTL generated by hls_project/rtl")
    return root


def top_ports(d) -> List[Tuple[str, str, int]]:
    """The generated top's ports (generate.top_verilog writes them so)."""
    return [("clk", "in", 1), ("rst", "in", 1),
            ("s_axis_tdata", "in", d.stream_width * d.in_t.w), ("s_axis_tvalid", "in", 1),
            ("s_axis_tready", "out", 1), ("s_axis_tlast", "in", 1),
            ("m_axis_tdata", "out", d.out_values * d.out_t.w), ("m_axis_tvalid", "out", 1),
            ("m_axis_tready", "in", 1), ("m_axis_tlast", "out", 1)]


def write(d, rtl_dir: str, sources: Sequence[str]) -> str:
    """Write ``component.xml`` for design ``d`` into ``rtl_dir``; returns its path."""
    data = sorted(d.files)
    layer = f"the {'HTDense' if d.kind == 'dense' else 'FDHT-LSTM'} layer"
    root = component(d.top, top_ports(d), sources, data,
                     f"{d.top}: {d.head.output if d.head is not None else layer}; "
                     "AXI4-Stream in/out, one clock, synchronous active-high reset")
    ET.indent(root)
    path = os.path.join(rtl_dir, "component.xml")
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)
    return path
