"""YAML configs: defaults, a safe loader and one validation pass.

A config has five sections: ``data``, ``model``, ``train``, ``quantization``
and ``hls``. The file a user gives is merged over ``DEFAULTS``; every key is
checked against the schema below (unknown keys, wrong types) and all problems
are reported together, each with its key path, before anything heavy starts.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
from typing import Any, Dict, List, Optional

import yaml

from . import fixedtype
from .errors import ConfigError

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # keras_model/
ROOT = os.path.dirname(PACKAGE_DIR)


def _shipped(package_dir: str, source_dir: str) -> str:
    """A folder of shipped files: inside the installed package (``pip install .``
    puts ``configs/`` in ``keras_model/``) or, in a source checkout, beside the package."""
    here = os.path.join(PACKAGE_DIR, package_dir)
    return here if os.path.isdir(here) else os.path.join(ROOT, source_dir)


CONFIG_DIR = _shipped("configs", "configs")
#: boards of hls4ml 1.3.0's VivadoAccelerator backend (its supported_boards.json)
BOARDS = ("pynq-z2", "zcu102", "alveo-u50", "alveo-u250", "alveo-u200", "alveo-u280")
WORKDIR_ENV = "FDHT_WORKDIR"


def build_dir() -> str:
    """Where everything generated goes (trained models, projects, caches, logs):
    ``--workdir`` (env ``FDHT_WORKDIR``) if given, else ``./build`` of the
    current directory."""
    return os.path.abspath(os.environ.get(WORKDIR_ENV) or os.path.join(os.getcwd(), "build"))


def __getattr__(name):  # BUILD_DIR follows --workdir and the current directory
    if name == "BUILD_DIR":
        return build_dir()
    raise AttributeError(name)


def default_config_path() -> str:
    return os.path.join(CONFIG_DIR, "default.yml")


def resolve_config_path(path: Optional[str]) -> Optional[str]:
    """A config file, or the name of a shipped one (``ucf11`` -> configs/ucf11.yml)."""
    if path is None or os.path.isfile(path):
        return path
    shipped = os.path.join(CONFIG_DIR, path if path.endswith((".yml", ".yaml")) else path + ".yml")
    if os.sep not in path and os.path.isfile(shipped):
        return shipped
    return path

#: model kinds: this paper's FDHT-LSTM, HT on W_x only, TT-LSTM, Keras's dense LSTM
KINDS = ("fdht", "ht", "tt", "dense")

# (type or tuple of types, or "any"), None allowed where the default is None
_INT, _NUM, _STR, _BOOL = int, (int, float), str, bool
_LIST = list

DEFAULTS: Dict[str, Dict[str, Any]] = {
    "data": {
        "source": "digits",  # 'digits' (built-in moving digits) or a path to an .npz
        "frames": 8,
        "size": "32x32",  # WIDTHxHEIGHT, as the --size flags
        "seed": 0,
        "n_train": 2000,
        "n_test": 500,
    },
    "model": {
        "kind": "fdht",
        "units": 32,
        "d": 4,
        "input_modes": None,
        "output_modes": None,
        "ranks": 6,
        "unit_forget_bias": True,
        "activation": "tanh",
        "recurrent_activation": "sigmoid",
        "seed": 0,
        "param_budget": None,  # fdht: choose modes and ranks with <= this many recurrent parameters
        "mac_budget": None,  # fdht: ... and <= this many MACs per time step
    },
    "train": {
        "epochs": 60,
        "batch_size": 64,
        "learning_rate": 0.01,
        "patience": 12,
        "validation_split": 0.15,
        "clipnorm": 1.0,
        "seed": 0,
        "verbose": "auto",
    },
    "quantization": {
        "enabled": False,
        "kernel": {"bits": 8, "integer": 0},
        "bias": {"bits": 8, "integer": 2},
        "activation": {"bits": 0},  # > 0: quantized_sigmoid/tanh (use_real_*) at this width
        "from_float": None,  # path of a trained float model to start from
    },
    "hls": {
        "output_dir": None,  # default: build/hls/<config name>
        "project_name": "myproject",
        "backend": "Vivado",  # Vivado, Vitis, or VivadoAccelerator (a board design around the IP)
        "board": None,  # VivadoAccelerator: pynq-z2 (default), zcu102, alveo-u50, alveo-u200, alveo-u250, alveo-u280
        "interface": None,  # VivadoAccelerator: axi_stream (default), axi_master, axi_lite
        "part": "xcvu9p-flga2104-2L-e",
        "clock_period": 5,
        "io_type": "io_stream",
        "precision": "ap_fixed<16,6>",
        "state_precision": None,  # default: ap_fixed<W, bits for |c| <= T>, rounding + saturation
        "accum_precision": None,  # default: derived so sums cannot overflow
        "table_size": 1024,
        "reuse_factor": 1,
        "lanes": 128,  # multiply-add lanes of each HT layer, spread over its stages (MODEL-driven)
        "stream_width": None,  # values per input word (io_stream port); null: the largest divisor of the values per step up to 16
        "stage_lanes": None,  # per-stage override, e.g. {x0: 32, h1: 2, gates: 4}
        "classifier_reuse": "auto",  # Dense reuse factor; 'auto': n_in (one multiplier per output)
        "layers": {},
        "output": "probabilities",  # what the hardware outputs: probabilities (softmax), logits, or class (one-hot)
        "min_agreement": 0.995,
        "samples": None,
        "csim_timeout": 600,
        "csim_arithmetic": "fast",  # fast: the HT stages' ap_fixed arithmetic emulated exactly on integers (same bits); ap_types: ap_types' C++ model
        "lint": "error",  # the HLS-rules lint after writing: 'error' stops the build on a failed rule, 'warn' reports it
        "pipeline_style": "dataflow",  # hls4ml Model.PipelineStyle: 'pipeline' would unroll the time loop
        "sweep_precision": None,  # e.g. [6, 8, 10, 12, 16] for fdht sweep without --widths
        "rtl": False,  # the RTL twin after csim: Verilog on the same schedule, Verilator bit-exact + cycles
        "rtl_synth": [],  # with rtl: open synthesis too, any of yosys (UltraScale+ counts), ecp5 (nextpnr Fmax)
        "stage_arith": "dsp",  # the RTL's stage products: dsp (multipliers) or shift_add (constant adder graphs)
    },
}

#: hls.output: the softmax probabilities (as the Keras model), the logits (no
#: softmax in hardware), or the class (hls4ml's argmax: a one-hot vector)
OUTPUTS = ("probabilities", "logits", "class")

#: hls.csim_arithmetic: how the g++ csim computes the HT stages (same bits)
CSIM_ARITHMETIC = ("fast", "ap_types")

SCHEMA: Dict[str, Dict[str, Any]] = {
    "data": {"source": _STR, "frames": _INT, "size": (_STR, _LIST), "seed": _INT, "n_train": _INT, "n_test": _INT},
    "model": {
        "kind": _STR, "units": _INT, "d": _INT, "input_modes": _LIST, "output_modes": _LIST,
        "ranks": (int, list, dict), "unit_forget_bias": _BOOL, "activation": _STR,
        "recurrent_activation": _STR, "seed": _INT, "param_budget": _INT, "mac_budget": _INT,
    },
    "train": {
        "epochs": _INT, "batch_size": _INT, "learning_rate": _NUM, "patience": _INT,
        "validation_split": _NUM, "clipnorm": _NUM, "seed": _INT, "verbose": (str, int),
    },
    "quantization": {"enabled": _BOOL, "kernel": dict, "bias": dict, "activation": dict, "from_float": _STR},
    "hls": {
        "output_dir": _STR, "project_name": _STR, "backend": _STR, "board": _STR, "interface": _STR, "part": _STR, "clock_period": _NUM,
        "io_type": _STR, "precision": _STR, "state_precision": _STR, "accum_precision": _STR,
        "table_size": _INT, "reuse_factor": _INT, "lanes": _INT, "stream_width": _INT, "stage_lanes": dict,
        "classifier_reuse": (int, str), "layers": dict, "output": _STR, "min_agreement": _NUM,
        "samples": _INT, "csim_timeout": _NUM, "csim_arithmetic": _STR, "pipeline_style": _STR, "lint": _STR, "sweep_precision": _LIST,
        "rtl": _BOOL, "rtl_synth": _LIST, "stage_arith": _STR,
    },
}

#: one line per key: what it means (the configuration reference of the docs
#: site is generated from DEFAULTS, SCHEMA and this; tests/test_docs.py checks
#: that every key has one)
DESCRIPTIONS: Dict[str, str] = {
    "data.source": "`digits` or `digit_order` (built in, no download) or the path of an `.npz` "
                   "(`x_train`, `y_train`, `x_test`, `y_test`, optionally `class_names`)",
    "data.frames": "frames per built-in clip; for an `.npz`, if given, it must match the file",
    "data.size": "frame size WIDTHxHEIGHT of the built-in clips; for an `.npz`, if given, it must match",
    "data.seed": "seed of the built-in data",
    "data.n_train": "training clips of the built-in data",
    "data.n_test": "test clips of the built-in data",
    "model.kind": "`fdht` (this paper), `ht` (HT on W_x only), `tt` (TT-LSTM) or `dense` (Keras LSTM)",
    "model.units": "hidden size H",
    "model.d": "number of HT (or TT) modes when the modes are derived",
    "model.input_modes": "modes of `[x ; h]` (product >= N + H; zero-padded); null: derived from the data",
    "model.output_modes": "modes of the 4H gate pre-activations (product exactly 4H); null: derived",
    "model.ranks": "one integer for every tree node, a list in node order, or `{u1: .., b1_2: ..}`",
    "model.unit_forget_bias": "forget-gate bias initialised to 1 (as Keras's LSTM)",
    "model.activation": "cell activation (`tanh`, or a QKeras quantizer through `quantization.activation`)",
    "model.recurrent_activation": "gate activation (`sigmoid`)",
    "model.seed": "seed of the weight initialisation",
    "model.param_budget": "fdht: choose modes and ranks with at most this many recurrent parameters",
    "model.mac_budget": "fdht: ... and at most this many MACs per time step",
    "train.epochs": "at most this many epochs",
    "train.batch_size": "batch size",
    "train.learning_rate": "Adam learning rate",
    "train.patience": "early stopping: epochs without a better validation loss",
    "train.validation_split": "share of the training set held out for early stopping (by group when "
                              "the data records groups)",
    "train.clipnorm": "gradient norm clipping (null: none)",
    "train.seed": "seed of the training order (and TensorFlow's op determinism is on)",
    "train.verbose": "Keras's epoch output on stderr: `auto` (a bar on a terminal, else a line per epoch), 0, 1 or 2",
    "quantization.enabled": "quantization-aware training with QKeras quantizers",
    "quantization.kernel": "`{bits, integer}` of every HT core (`quantized_bits(bits, integer, alpha=1)`)",
    "quantization.bias": "`{bits, integer}` of the bias",
    "quantization.activation": "`{bits}`: > 0 uses `quantized_sigmoid/tanh(use_real_*)` at this width",
    "quantization.from_float": "path of a trained float model to start from",
    "hls.output_dir": "project folder; null: `build/hls/<config name>`",
    "hls.project_name": "name of the top function and files (a C++ identifier)",
    "hls.backend": "`Vivado`, `Vitis`, or `VivadoAccelerator` (a board design around the IP)",
    "hls.board": "VivadoAccelerator: `pynq-z2` (default), `zcu102`, `alveo-u50`, `alveo-u200`, "
                 "`alveo-u250`, `alveo-u280`",
    "hls.interface": "VivadoAccelerator: `axi_stream` (default), `axi_master`, `axi_lite`",
    "hls.part": "FPGA part (the hardware report judges resources against it)",
    "hls.clock_period": "clock period in ns",
    "hls.io_type": "`io_stream` (default: AXI-Stream input words) or `io_parallel` (array ports; small models "
                   "only, refused above a 1,024-bit port)",
    "hls.precision": "default fixed-point type, in any hls4ml notation, or `auto` (the type search)",
    "hls.state_precision": "cell state type; null: derived, W bits with integer bits for |c| <= T, "
                           "rounding and saturation",
    "hls.accum_precision": "accumulator type of the HT stages; null: derived so sums cannot overflow",
    "hls.table_size": "entries of each gate activation table",
    "hls.reuse_factor": "hls4ml reuse factor",
    "hls.lanes": "multiply-add lanes of each HT layer, given by the cost model to the indices that shorten "
                 "the slowest process most",
    "hls.stream_width": "values per input word (io_stream); null: the largest divisor of the values "
                        "per step up to 16",
    "hls.stage_lanes": "per-stage lane override, e.g. `{x0: 32, h1: 2, gates: 4}`",
    "hls.classifier_reuse": "reuse factor of the Dense classifier; `auto`: n_in (one multiplier per class)",
    "hls.layers": "per-layer hls4ml overrides, e.g. `{fdhtlstm: {Precision: {core_u1: ap_fixed<8,1>}}}`",
    "hls.output": "what the hardware outputs: `probabilities` (softmax, as Keras), `logits` or `class` "
                  "(one-hot argmax)",
    "hls.min_agreement": "top-1 agreement of csim with Keras below which `build` exits 1",
    "hls.samples": "cap on the test samples C-simulated (null: all)",
    "hls.csim_timeout": "seconds before a csim run is stopped",
    "hls.csim_arithmetic": "`fast`: the HT stages' ap_fixed arithmetic emulated exactly on integers "
                           "(same bits); `ap_types`: ap_types' C++ model",
    "hls.lint": "the HLS-rules lint of the written C++: `error` (default) stops the build on a failed rule, "
                "`warn` writes the project anyway (`fdht lint DIR` checks any project)",
    "hls.pipeline_style": "hls4ml `Model.PipelineStyle`: `dataflow` (default), `pipeline` (would unroll "
                          "the time loop) or `auto`",
    "hls.sweep_precision": "widths for `fdht sweep` without `--widths`, e.g. `[6, 8, 10, 12, 16]`",
    "hls.rtl": "after csim, the RTL twin (`<project>/rtl/`): Verilog on the accelerator's schedule, simulated "
               "in Verilator against the bit-exact model (cycles MEASURED); `fdht build --rtl`",
    "hls.rtl_synth": "with `hls.rtl`: open synthesis of the RTL, a list of `yosys` (Yosys synth_xilinx counts) "
                     "and `ecp5` (Yosys + nextpnr-ecp5 Fmax on an LFE5U-85F, minutes)",
    "hls.stage_arith": "how the RTL's contraction stages multiply by their constant HT cores: `dsp` (multipliers, "
                       "DSP blocks) or `shift_add` (every stage whose ROM has at most 64 rows and whose adder graphs "
                       "need at most 32 adders per multiplier builds its "
                       "products as shift-add adder graphs of the constants, in LUTs; same bits and cycles). "
                       "RTL only: the HLS C++ keeps its multipliers",
}


def reference_markdown() -> str:
    """The configuration reference (one table per section: key, type,
    default, meaning) from DEFAULTS, SCHEMA and DESCRIPTIONS."""
    lines: List[str] = []
    for section, keys in SCHEMA.items():
        lines += [f"### `{section}`", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        for key, kind in keys.items():
            default = DEFAULTS[section].get(key)
            shown = "null" if default is None else json.dumps(default) if not isinstance(default, str) else default
            meaning = DESCRIPTIONS.get(f"{section}.{key}", "").replace("|", "\\|")
            lines.append(f"| `{key}` | {_type_name(kind)} | `{shown}` | {meaning} |")
        lines.append("")
    return "\n".join(lines)


_POSITIVE = {
    "data.frames", "data.n_train", "data.n_test", "model.units", "train.epochs", "train.batch_size",
    "hls.reuse_factor", "hls.table_size", "hls.lanes", "hls.stream_width", "hls.samples", "hls.csim_timeout",
    "hls.clock_period", "train.learning_rate", "model.param_budget", "model.mac_budget",
}


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return " or ".join(_type_name(x) for x in t)
    return {int: "integer", float: "number", str: "string", bool: "true/false", list: "list", dict: "mapping"}[t]


def _is(value, t) -> bool:
    types = t if isinstance(t, tuple) else (t,)
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


_CPP_RESERVED = set("""alignas alignof and and_eq asm auto bitand bitor bool break case catch char char16_t
char32_t class compl const constexpr const_cast continue decltype default delete do double dynamic_cast else enum
explicit export extern false float for friend goto if inline int long mutable namespace new noexcept not not_eq
nullptr operator or or_eq private protected public register reinterpret_cast return short signed sizeof static
static_assert static_cast struct switch template this thread_local throw true try typedef typeid typename union
unsigned using virtual void volatile wchar_t while xor xor_eq main nnet""".split())


def _section(cfg, name) -> Dict[str, Any]:
    value = cfg.get(name)
    return value if isinstance(value, dict) else {}


def validate(cfg: Dict[str, Any], source: str = "config") -> List[str]:
    """All problems of a merged config, as 'key.path: problem; fix' lines."""
    problems = _check_keys_and_types(cfg)
    d = _section(cfg, "data")
    if d.get("size") is not None:
        try:
            frame_size_hw(d["size"])
        except ConfigError as e:
            problems.append(str(e))
    problems += _check_model(_section(cfg, "model"))
    vs = _section(cfg, "train").get("validation_split")
    if _is(vs, _NUM) and not 0 <= vs < 1:
        problems.append(f"train.validation_split: must be in [0, 1), got {vs}")
    h = _section(cfg, "hls")
    return problems + _check_hls_choices(h) + _check_hls_values(h)


def _check_keys_and_types(cfg: Dict[str, Any]) -> List[str]:
    """Unknown sections and keys, wrong types, non-positive sizes."""
    problems: List[str] = []
    for section, value in cfg.items():
        if section.startswith("_"):
            continue
        if section not in SCHEMA:
            problems.append(f"{section}: unknown section; use one of {', '.join(SCHEMA)}")
            continue
        if not isinstance(value, dict):
            problems.append(f"{section}: must be a mapping of keys, got {type(value).__name__}")
            continue
        for key, v in value.items():
            path = f"{section}.{key}"
            if key not in SCHEMA[section]:
                near = [k for k in SCHEMA[section] if k.startswith(key[:3])]
                hint = f" (did you mean {near[0]}?)" if near else ""
                problems.append(f"{path}: unknown key{hint}; valid keys: {', '.join(SCHEMA[section])}")
                continue
            if v is None:
                continue
            t = SCHEMA[section][key]
            if not _is(v, t):
                problems.append(f"{path}: expected {_type_name(t)}, got {v!r}")
                continue
            if path in _POSITIVE and v <= 0:
                problems.append(f"{path}: must be > 0, got {v}")
    return problems


def _check_model(m: Dict[str, Any]) -> List[str]:
    """The model section: kind, modes against units, budgets, ranks, d."""
    problems: List[str] = []
    if m.get("kind") not in (None,) + KINDS:
        problems.append(f"model.kind: '{m.get('kind')}' is unknown; use fdht, ht, tt or dense")
    for key in ("input_modes", "output_modes"):
        v = m.get(key)
        if isinstance(v, list) and not all(_is(x, int) and x >= 1 for x in v):
            problems.append(f"model.{key}: expected a list of integers >= 1, got {v}")
    if isinstance(m.get("input_modes"), list) and isinstance(m.get("output_modes"), list):
        if len(m["input_modes"]) != len(m["output_modes"]):
            problems.append("model.input_modes/output_modes: must have the same length d")
    if isinstance(m.get("output_modes"), list) and _is(m.get("units"), int):
        if math.prod(m["output_modes"]) != 4 * m["units"] and m.get("kind") != "dense":
            problems.append(
                f"model.output_modes: {m['output_modes']} multiply to {math.prod(m['output_modes'])}, "
                f"need 4 x units = {4 * m['units']}"
            )
    if (m.get("param_budget") is not None or m.get("mac_budget") is not None) and m.get("kind") not in (None, "fdht"):
        problems.append(f"model.param_budget/mac_budget: only kind fdht chooses its modes and ranks from a budget, "
                        f"not '{m.get('kind')}'; set them to null or use kind fdht")
    r = m.get("ranks")
    if _is(r, int) and r < 1:
        problems.append(f"model.ranks: must be >= 1, got {r}")
    if isinstance(r, list) and not all(_is(x, int) and x >= 1 for x in r):
        problems.append(f"model.ranks: every rank must be an integer >= 1, got {r}")
    if isinstance(r, dict) and not all(_is(x, int) and x >= 1 for x in r.values()):
        problems.append(f"model.ranks: every rank must be an integer >= 1, got {r}")
    if _is(m.get("d"), int) and m["d"] < 2:
        problems.append(f"model.d: must be >= 2, got {m['d']}")
    return problems


def _check_hls_choices(h: Dict[str, Any]) -> List[str]:
    """The hls section's named choices: backend, board, interface, io_type,
    reuse, stage lanes, pipeline style."""
    problems: List[str] = []
    if h.get("backend") not in (None, "Vivado", "Vitis", "VivadoAccelerator"):
        problems.append(f"hls.backend: '{h.get('backend')}' is not supported; use Vivado, Vitis or VivadoAccelerator")
    if h.get("board") is not None and h.get("backend") != "VivadoAccelerator":
        problems.append("hls.board: a board is for hls.backend: VivadoAccelerator (which wraps the design for it)")
    if h.get("board") is not None or h.get("backend") == "VivadoAccelerator":
        board = h.get("board") or "pynq-z2"
        if board not in BOARDS:
            problems.append(f"hls.board: '{board}' is not a board hls4ml's VivadoAccelerator knows; use one of "
                            f"{', '.join(BOARDS)}")
    if h.get("interface") not in (None, "axi_stream", "axi_master", "axi_lite"):
        problems.append(f"hls.interface: '{h.get('interface')}' is not one of axi_stream, axi_master, axi_lite")
    if h.get("io_type") not in (None, "io_parallel", "io_stream"):
        problems.append(f"hls.io_type: '{h.get('io_type')}' is not supported by the HT kernels; "
                        "use io_stream or io_parallel")
    cr = h.get("classifier_reuse")
    if cr is not None and cr != "auto" and not (isinstance(cr, int) and not isinstance(cr, bool) and cr >= 1):
        problems.append(f"hls.classifier_reuse: must be 'auto' or a positive integer, got {cr!r}")
    sl = h.get("stage_lanes")
    if isinstance(sl, dict):
        for k, v in sl.items():
            if not re.match(r"^(x\d+|h\d+|gates)$", str(k)) or isinstance(v, bool) or not isinstance(v, int) or v < 1:
                problems.append(f"hls.stage_lanes: entry {k}: {v!r} must name a stage (x0, x1, .., h0, .., gates) "
                                "and give a positive integer")
    if h.get("stage_arith") not in (None, "dsp", "shift_add"):
        problems.append(f"hls.stage_arith: '{h.get('stage_arith')}' is not one of dsp, shift_add")
    bad = [s for s in (h.get("rtl_synth") or []) if s not in ("yosys", "ecp5")]
    if bad:
        problems.append(f"hls.rtl_synth: {bad} not among yosys, ecp5")
    if h.get("lint") not in (None, "error", "warn"):
        problems.append(f"hls.lint: '{h.get('lint')}' is not one of error, warn")
    if h.get("pipeline_style") not in (None, "dataflow", "pipeline", "auto"):
        problems.append(f"hls.pipeline_style: '{h.get('pipeline_style')}' is not one of dataflow, pipeline, auto")
    return problems


def _check_hls_values(h: Dict[str, Any]) -> List[str]:
    """The hls section's free values: project name, fixed-point types, output
    kind, csim arithmetic, agreement threshold."""
    problems: List[str] = []
    pn = h.get("project_name")
    if isinstance(pn, str) and (not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", pn) or pn in _CPP_RESERVED):
        problems.append(f"hls.project_name: {pn!r} must be a C++ identifier (letters, digits, _; not starting "
                        "with a digit; not a C++ keyword or 'main'), since it names the top function and files")
    for key in ("precision", "state_precision", "accum_precision"):
        value = h.get(key)
        if key == "precision" and isinstance(value, str) and value.strip().lower() == "auto":
            continue  # hls.precision: auto, the search (hls_project/numerics/autoprec.py)
        if isinstance(value, str):
            try:
                fixedtype.parse(value)
            except ValueError as e:
                problems.append(f"hls.{key}: {e}")
    out = h.get("output")
    if _is(out, _STR) and out not in OUTPUTS:
        problems.append(f"hls.output: {out!r} is not one of {', '.join(OUTPUTS)}")
    arith = h.get("csim_arithmetic")
    if _is(arith, _STR) and arith not in CSIM_ARITHMETIC:
        problems.append(f"hls.csim_arithmetic: {arith!r} is not one of {', '.join(CSIM_ARITHMETIC)}")
    ma = h.get("min_agreement")
    if _is(ma, _NUM) and not 0 <= ma <= 1:
        problems.append(f"hls.min_agreement: must be a fraction in [0, 1], got {ma}")
    return problems


_SIZE = re.compile(r"\s*(\d+)\s*[xX]\s*(\d+)\s*")


def parse_frame_size(text: str) -> tuple:
    """'160x120' -> (width, height): the one frame-size convention, WIDTHxHEIGHT,
    for flags and configs alike. Raises ValueError."""
    match = _SIZE.fullmatch(str(text))
    if not match:
        raise ValueError(f"expected WIDTHxHEIGHT such as 160x120, got {text!r}")
    width, height = int(match.group(1)), int(match.group(2))
    if width < 1 or height < 1:
        raise ValueError(f"width and height must be >= 1, got {text!r}")
    return width, height


def frame_size_hw(value) -> Optional[tuple]:
    """``data.size`` ('160x120', WIDTHxHEIGHT like every --size flag) as
    (height, width), the order of the frame arrays; None stays None."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        raise ConfigError(f"data.size: {list(value)} is a list; write WIDTHxHEIGHT like the --size flags, e.g. "
                          f"size: {value[-1]}x{value[0]} for [height, width] = {list(value)}")
    try:
        width, height = parse_frame_size(value)
    except ValueError as e:
        raise ConfigError(f"data.size: {e}") from None
    return height, width


def data_file_override(path: str) -> Dict[str, Any]:
    """The ``data`` override of a ``--data FILE.npz`` flag: frames/size
    describe the built-in digits; a file brings its own shape."""
    return {"source": path, "frames": None, "size": None}


def merge(base: Dict, override: Dict) -> Dict:
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "layers":
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_config(path: Optional[str] = None, overrides: Optional[Dict] = None) -> Dict[str, Any]:
    """Defaults <- YAML file <- overrides, validated. ``cfg['_name']`` is the
    config's name (file stem, 'default' without a file)."""
    user: Dict[str, Any] = {}
    name = "default"
    path = resolve_config_path(path)
    if path is not None:
        if not os.path.isfile(path):
            raise ConfigError(f"config file {path} does not exist; see configs/ for examples")
        try:
            with open(path, encoding="utf-8") as f:
                user = yaml.safe_load(f) or {}
        except UnicodeDecodeError as e:
            raise ConfigError(f"config file {path} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None
        except OSError as e:
            raise ConfigError(f"config file {path} cannot be read ({e.strerror})") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"config file {path} is not valid YAML{where}: {getattr(e, 'problem', e)}") from None
        if not isinstance(user, dict):
            raise ConfigError(f"config file {path} must be a mapping of sections (data, model, train, hls)")
        name = os.path.splitext(os.path.basename(path))[0]
    bad = [f"{k}: must be a mapping of keys, got {type(v).__name__}" for k, v in user.items()
           if k in SCHEMA and not isinstance(v, dict) and v is not None]
    if bad:
        raise ConfigError(f"{path or 'config'}: " + " | ".join(bad))
    user = {k: v for k, v in user.items() if v is not None}  # an empty section means the defaults
    cfg = merge(DEFAULTS, user)
    cfg = merge(cfg, overrides or {})
    problems = validate(cfg)
    if problems:
        where = path or "config"
        if len(problems) == 1:
            raise ConfigError(f"{where}: {problems[0]}")
        raise ConfigError(f"{where}: {len(problems)} problems: " + " | ".join(problems))
    cfg["_name"] = name
    return cfg


def config_hash(cfg: Dict[str, Any], sections=("data", "model", "train", "quantization")) -> str:
    """Hash of what determines a trained model (not the hls section)."""
    blob = json.dumps({k: cfg.get(k) for k in sections}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
