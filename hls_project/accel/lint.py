"""The HLS-rules lint: reads a written project's C++ and checks the rules an
HLS scheduler applies (``rules.py``), so a design that cannot reach its MODEL
is caught before any vendor tool runs.

It reads what the tool would read: the generated config structs in
``firmware/parameters.h`` (lanes, strides, word shapes), the kernels in
``firmware/nnet_utils/nnet_ht_*.h`` and the top function's ports. Rules
(sources in docs/hardware.md):

  static-banks       every lane index of every access is a constant (a lane
                     map entry inside its word) and every address stays in
                     its array; producer and consumer words agree
  ports              accesses per bank and iteration within the ports (II 1)
  partition-limit    no partitioned dimension over 4,096
  no-partition-on-stream-of-blocks
                     ARRAY_PARTITION / ARRAY_RESHAPE never on a stream of blocks
  constant-tables    no ``static`` array that is not ``const`` (a table filled
                     at run time)
  one-carried-adder  accumulators updated by one addition after the tree
  carried-distance   an accumulator RAM updated in rotation declares its
                     distance (DEPENDENCE), so the II stays 1
  top-port           top-level ports within 1,024 bits
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from hls_project.accel import rules
@dataclass
class Rule:
    name: str
    source: str
    failures: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


RULES = {
    "static-banks": "UG1399 ARRAY_PARTITION (a dynamic index is charged to every bank)",
    "ports": "UG1399 Arrays: RAM ports (II >= accesses per port)",
    "partition-limit": "UG902 XFORM 203-103 / hls4ml build_prj.tcl (4,096 elements)",
    "no-partition-on-stream-of-blocks": "UG1399 hls::stream_of_blocks (partition and reshape not supported)",
    "constant-tables": "UG1399 Initializing arrays: static const arrays become ROMs",
    "one-carried-adder": "UG1399 Loop-carried dependencies (the carried path sets the II)",
    "carried-distance": "UG1399 DEPENDENCE pragma, distance option",
    "top-port": "this project's limit for a top-level port (1,024 bits)",
}


# --------------------------------------------------------------------------
# Parsing the generated C++
# --------------------------------------------------------------------------

_CFG = re.compile(r"struct (\w+)_cfg \{(.*?)\n    \};", re.S)
_SCALAR = re.compile(r"(\w+) = (\d+)")
_ARRAY = re.compile(r"static constexpr unsigned (\w+)\[\d+\] = \{([\d, ]*)\};")


def parse_configs(text: str) -> Dict[str, Dict[str, object]]:
    """Every stage config struct of parameters.h: {'config2.x0': {...}}."""
    out = {}
    layers = [(m.start(), m.group(1)) for m in re.finditer(r"struct (\w+) : nnet::\w+accel_config \{", text)]
    for m in _CFG.finditer(text):
        layer = [name for pos, name in layers if pos < m.start()][-1] if layers else ""
        body = m.group(2)
        cfg: Dict[str, object] = {}
        for line in body.splitlines():
            if "static const unsigned" in line:
                cfg.update({k: int(v) for k, v in _SCALAR.findall(line)})
        for name, vals in _ARRAY.findall(body):
            cfg[name] = [int(v) for v in vals.replace(" ", "").split(",") if v]
        out[f"{layer}.{m.group(1)}"] = cfg
    return out


def _max_index(cfg, stride_key: str) -> int:
    return sum((t - 1) * s for t, s in zip(cfg["lv_trips"], cfg[stride_key]))


def check_stage(name: str, cfg, banks: Rule, ports: Rule, limit: Rule) -> int:
    """Static banks and limits of one stage; returns the II its accumulator allows."""
    fl, sl = cfg["free_lanes"], cfg["sum_lanes"]
    if len(cfg["a_lane"]) != fl * sl or len(cfg["b_lane"]) != fl * sl:
        banks.failures.append(f"{name}: lane maps do not cover {fl} x {sl} products")
    if any(v >= cfg["a_lanes"] for v in cfg["a_lane"]):
        banks.failures.append(f"{name}: an A lane index lies outside the {cfg['a_lanes']}-lane word")
    if any(v >= cfg["rom_lanes"] for v in cfg["b_lane"]):
        banks.failures.append(f"{name}: a ROM lane index lies outside the {cfg['rom_lanes']}-lane word")
    for key, size in (("lv_a", "a_words"), ("lv_b", "rom_rows"), ("lv_o", "out_depth"), ("lv_g", "out_banks")):
        if _max_index(cfg, key) >= cfg[size]:
            banks.failures.append(f"{name}: {key} strides reach {_max_index(cfg, key)}, past {size} = {cfg[size]}")
    prod = 1
    for t in cfg["lv_trips"]:
        prod *= t
    if prod != cfg["trips"]:
        banks.failures.append(f"{name}: loop levels give {prod} iterations, trips = {cfg['trips']}")
    ii = rules.acc_ii(cfg["acc_rows"])
    if ii > 1:
        ports.failures.append(f"{name}: its accumulator rotation ({cfg['acc_rows']} rows) allows II {ii}")
    for what, n in (("A word", cfg["a_lanes"]), ("ROM word", cfg["rom_lanes"]), ("out word", fl),
                    ("out banks", cfg["out_banks"])):
        if n > rules.MAX_PARTITION:
            limit.failures.append(f"{name}: {what} partitioned into {n} > {rules.MAX_PARTITION}")
    return ii


def _word_shapes(text: str, cfgs, banks: Rule) -> None:
    """A consumer's A words are its producer's output words."""
    for layer in {k.split(".")[0] for k in cfgs}:
        for chain in ("x", "h"):
            k = 1
            while f"{layer}.{chain}{k}" in cfgs:
                p, c = cfgs[f"{layer}.{chain}{k - 1}"], cfgs[f"{layer}.{chain}{k}"]
                if (p["out_depth"], p["free_lanes"]) != (c["a_words"], c["a_lanes"]):
                    banks.failures.append(f"{layer}.{chain}{k}: reads {c['a_words']} x {c['a_lanes']} words, "
                                          f"{chain}{k - 1} writes {p['out_depth']} x {p['free_lanes']}")
                k += 1


def _sources(project: str) -> Dict[str, str]:
    files = glob.glob(os.path.join(project, "firmware", "nnet_utils", "nnet_ht_*.h"))
    files += [os.path.join(project, "firmware", n) for n in ("parameters.h", "myproject.cpp")]
    out = {}
    for f in files:
        if os.path.isfile(f):
            with open(f) as fh:
                out[os.path.relpath(f, project)] = fh.read()
    return out


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _kernels(srcs: Dict[str, str]) -> str:
    return _strip_comments(srcs.get(os.path.join("firmware", "nnet_utils", "nnet_ht_stream.h"), ""))


def _body(kernels: str, fn: str) -> Optional[str]:
    """The body of kernel ``fn`` (after its signature)."""
    m = re.search(rf"void {fn}\(.*?\n}}\n", kernels, re.S)
    return m.group(0)[m.group(0).index("{"):] if m else None


#: per kernel: (array access pattern, kind, ports) for every memory a pipelined
#: iteration touches; 'rom' has two read ports, 'ram' one read and one write port
PORT_CHECKS = {
    "ht_stage": [(r"\ba\[0\]", "ram"), (r"\brom\[", "rom"), (r"\bout\[", "ram")],
    "ht_stage_stream": [(r"\brom\[", "rom"), (r"\bout\[", "ram"), (r"\bacc\[row\]", "ram")],
    "ht_drain_gates": [(r"\bz\[g\]", "ram"), (r"\bbias\[", "rom")],
    "fdht_recurrence": [(r"\bc\[j\]", "ram"), (r"\bh\[j\]", "ram"), (r"\bhbox\[0\]\[C::hbox_offset", "ram")]
    + [(rf"\bzh\[{g}\]", "ram") for g in range(4)] + [(rf"\bsig\[{k}\]", "rom") for k in range(3)]
    + [(rf"\btnh\[{k}\]", "rom") for k in range(2)] + [(r"\bunit_j\[", "rom"), (r"\bzh_addr\[", "rom")],
}


def access_sites(body: str, pattern: str):
    """(reads, writes) of an array in a loop body: access sites, a site followed
    by '=' (not '==') after its subscripts being a write."""
    reads = writes = 0
    for m in re.finditer(pattern, body):
        k = m.start()
        while k < len(body) and (body[k].isalnum() or body[k] == "_"):
            k += 1
        while k < len(body) and body[k] == "[":  # the subscripts
            depth = 0
            while True:
                depth += {"[": 1, "]": -1}.get(body[k], 0)
                k += 1
                if depth == 0:
                    break
        if re.match(r"\s*=(?!=)", body[k:]):
            writes += 1
        else:
            reads += 1
    return reads, writes


def check_ports(srcs: Dict[str, str], ports: Rule) -> Dict[str, int]:
    """Access sites per memory and iteration within its ports; the II per kernel."""
    kernels = _kernels(srcs)
    out = {}
    for fn, checks in PORT_CHECKS.items():
        body = _body(kernels, fn)
        if body is None:
            ports.failures.append(f"kernel {fn} not found")
            continue
        ii = 1
        for pattern, kind in checks:
            r, w = access_sites(body, pattern)
            if kind == "rom":
                ii = max(ii, rules.ii_ports(r, rules.ROM_PORTS))
                if w:
                    ports.failures.append(f"{fn}: a ROM ({pattern}) is written")
            else:
                ii = max(ii, rules.ii_ports(r, rules.RAM_READ_PORTS), rules.ii_ports(w, rules.RAM_WRITE_PORTS))
        if ii > 1:
            ports.failures.append(f"{fn}: more accesses per iteration than ports: II {ii}")
        out[fn] = ii
    return out


def check_sources(srcs: Dict[str, str], blocks: Rule, tables: Rule, adder: Rule, dist: Rule) -> None:
    for path, raw in srcs.items():
        text = _strip_comments(raw)
        sob = set(re.findall(r"stream_of_blocks\s*<[^;]*?>\s+(\w+)\s*;", text))
        sob |= set(re.findall(r"ht_blocks\s*<[^;]*?>\s+(\w+)\s*;", text))
        for var in sob:
            if re.search(rf"#pragma HLS ARRAY_(PARTITION|RESHAPE)[^\n]*variable={var}\b", text):
                blocks.failures.append(f"{path}: ARRAY_PARTITION/RESHAPE on stream of blocks '{var}'")
        for m in re.finditer(r"\bstatic\s+(?!const\b|constexpr\b|void\b|inline\b|bool\s+\w+\s*\()([\w:<>, ]+?)\s+(\w+)\s*\[",
                             text):
            tables.failures.append(f"{path}: static array '{m.group(2)}' is not const (a table filled at run time)")
    kernels = _kernels(srcs)
    for fn in ("ht_stage", "ht_stage_stream"):
        body = _body(kernels, fn)
        if body is None:
            adder.failures.append(f"kernel {fn} not found")
            continue
        if re.search(r"for \(unsigned s\b[^}]*?\b(acc|s)\b[^;]*\+=", body, re.S):
            adder.failures.append(f"{fn}: the sum lanes are added one by one into the accumulator (an adder chain "
                                  "on the carried path)")
        if len(re.findall(r"\+=", body)) != 1 or "ht_lane_sum" not in body:
            adder.failures.append(f"{fn}: the accumulator must take one addition of the tree's result")
        if fn == "ht_stage_stream" and not re.search(
                r"#pragma HLS DEPENDENCE variable=acc inter RAW distance=C::acc_rows true", body):
            dist.failures.append(f"{fn}: the accumulator RAM is updated in rotation without its DEPENDENCE "
                                 "distance (the tool assumes distance 1: II 2)")


_TYPEDEF = re.compile(r"typedef (.+?) (\w+);")


def _type_bits(t: str, typedefs: Dict[str, str]) -> int:
    t = typedefs.get(t.strip(), t.strip())
    m = re.match(r"nnet::array<\s*(.+),\s*([\d*]+)\s*>$", t)
    if m:
        n = 1
        for f in m.group(2).split("*"):
            n *= int(f)
        return n * _type_bits(m.group(1), typedefs)
    m = re.match(r"ap_u?(?:fixed|int)<\s*(\d+)", t)
    return int(m.group(1)) if m else 32


def check_top_ports(project: str, port: Rule) -> None:
    path_h = os.path.join(project, "firmware", "myproject.h")
    heads = glob.glob(os.path.join(project, "firmware", "*.h"))
    typedefs: Dict[str, str] = {}
    for h in heads:
        with open(h) as f:
            typedefs.update({name: t for t, name in _TYPEDEF.findall(f.read())})
    tops = [p for p in glob.glob(os.path.join(project, "firmware", "*.h"))
            if os.path.basename(p) not in ("parameters.h", "defines.h")]
    for path in tops if not os.path.isfile(path_h) else [path_h]:
        with open(path) as f:
            text = f.read()
        m = re.search(r"void \w+\(\s*(.*?)\);", text, re.S)
        if not m:
            continue
        for arg in [a.strip() for a in m.group(1).split(",") if a.strip()]:
            s = re.match(r"hls::stream<(\w+)>", arg)
            a = re.match(r"(\w+)\s+(\w+)\[([^\]]+)\]", arg)
            if s:
                bits = _type_bits(s.group(1), typedefs)
            elif a:
                n = 1
                for f in re.split(r"\s*\*\s*", a.group(3)):
                    n *= int(f) if f.isdigit() else 1
                bits = n * _type_bits(a.group(1), typedefs)
            else:
                continue
            if bits > rules.MAX_PORT_BITS:
                port.failures.append(f"top port '{arg}' is {bits:,} bits (> {rules.MAX_PORT_BITS:,}): use io_stream")


def lint(project: str) -> Dict[str, object]:
    """Every rule on a written project: {'rules': [...], 'failed': [...], 'ii': {stage: II}}."""
    rs = {name: Rule(name, src) for name, src in RULES.items()}
    srcs = _sources(project)
    cfgs = parse_configs(srcs.get(os.path.join("firmware", "parameters.h"), ""))
    ii = {name: check_stage(name, cfg, rs["static-banks"], rs["ports"], rs["partition-limit"])
          for name, cfg in cfgs.items()}
    _word_shapes(srcs.get(os.path.join("firmware", "parameters.h"), ""), cfgs, rs["static-banks"])
    check_sources(srcs, rs["no-partition-on-stream-of-blocks"], rs["constant-tables"], rs["one-carried-adder"],
                  rs["carried-distance"])
    check_top_ports(project, rs["top-port"])
    kernel_ii = check_ports(srcs, rs["ports"])
    ii = {name: max(v, kernel_ii.get("ht_stage_stream" if name.split(".")[1] == "x0" else "ht_stage", 1))
          for name, v in ii.items()}
    if not rs["carried-distance"].ok:  # without its distance the tool assumes 1: a RAM accumulator at II 2
        ii = {name: max(v, rules.ii_carried(rules.ACC_LATENCY_RAM, 1)) if cfgs[name]["acc_rows"] > 1 else v
              for name, v in ii.items()}
    rows = [{"rule": r.name, "source": r.source, "ok": r.ok, "failures": r.failures} for r in rs.values()]
    return {"rules": rows, "failed": [r.name for r in rs.values() if not r.ok], "ii": ii, "stages": len(cfgs)}


def summary(result: Dict[str, object]) -> str:
    n = len(result["rules"])
    return f"HLS rules: {n - len(result['failed'])}/{n} hold" + (
        "" if not result["failed"] else " (failed: " + ", ".join(result["failed"]) + ")")
