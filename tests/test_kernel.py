"""The C++ HT kernels (templates/nnet_ht.h, nnet_fdht_lstm.h) and their
generated configs (hls_project/codegen.py), built with g++ and checked
against independent numpy references.

No hls4ml conversion here: a small harness writes one .cpp per precision
family (several layers per binary, one namespace per layer, emitted exactly
as an hls4ml template would), builds it with hls4ml's ap_types and
nnet_utils, runs it and parses the printed outputs. Builds are cached by a
hash of everything that goes into them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hls_project import codegen as cg  # noqa: E402
from keras_model import ht  # noqa: E402
from keras_model.errors import ConfigError  # noqa: E402

TEMPLATES = ROOT / "templates"
OUR_HEADERS = ("nnet_ht.h", "nnet_fdht_lstm.h")
GXX = shutil.which("g++")


def _hls4ml_vivado_dir() -> Optional[Path]:
    """hls4ml's templates/vivado folder, found without importing hls4ml (slow)."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "templates" / "vivado"
    return path if (path / "nnet_utils").is_dir() and (path / "ap_types").is_dir() else None


VIVADO = _hls4ml_vivado_dir()
pytestmark = pytest.mark.skipif(GXX is None or VIVADO is None, reason="needs g++ and the hls4ml package")

# --------------------------------------------------------------------------
# Precisions
# --------------------------------------------------------------------------

FX16 = "ap_fixed<16,6>"  # data, weights, intermediates: LSB 2^-10, range [-32, 32)
FX32 = "ap_fixed<32,12>"  # accumulators: LSB 2^-20
LSB16 = 2.0**-10
LSB32 = 2.0**-20
TABLE_T = "ap_fixed<18,8>"  # hls4ml's default activation table type, LSB 2^-10
TABLE_LSB = 2.0**-10
TABLE_SIZE = 1024


def on_grid(a: np.ndarray, lsb: float, limit: float = 30.0) -> np.ndarray:
    """Round to a fixed-point grid so that the C++ and numpy see the same values."""
    q = np.round(np.asarray(a) / lsb) * lsb
    assert np.all(np.abs(q) < limit), "test value outside the fixed-point range"
    return q


def cnum(v: float) -> str:
    return repr(float(v))  # shortest round-trip repr: g++ parses it to the same double


def carray(a: np.ndarray) -> str:
    a = np.asarray(a)
    if a.ndim == 1:
        return "{" + ", ".join(cnum(v) for v in a) + "}"
    return "{" + ", ".join(carray(r) for r in a) + "}"


# --------------------------------------------------------------------------
# Test layers
# --------------------------------------------------------------------------

BATCH = 3


@dataclass
class DenseCase:
    """An HT dense layer: y = W x + b through nnet::ht_dense."""

    name: str
    shape: ht.HTShape
    fixed: bool
    use_bias: bool = True
    reuse_factor: object = 1
    sum_unroll: object = 1
    core_types: Dict[str, str] = field(default_factory=dict)  # overrides of the default type per node
    core_lsb: Dict[str, float] = field(default_factory=dict)  # their grids
    inter_t: object = None
    seed: int = 0

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        s = self.shape
        self.cores = ht.init_cores(s, rng)
        self.bias = rng.uniform(-0.5, 0.5, s.out_features) if self.use_bias else np.zeros(s.out_features)
        self.x = rng.uniform(-1, 1, (BATCH, s.in_features))
        if self.fixed:
            self.cores = {n: on_grid(c, self.core_lsb.get(n, LSB16)) for n, c in self.cores.items()}
            self.bias = on_grid(self.bias, LSB16)
            self.x = on_grid(self.x, LSB16)
        if self.inter_t is None:
            self.inter_t = FX16 if self.fixed else "double"

    @property
    def n_out(self) -> int:
        return self.shape.out_features

    def cpp(self, index: int) -> str:
        s, p = self.shape, f"config{index}"
        data_t = FX16 if self.fixed else "double"
        accum_t = FX32 if self.fixed else "double"
        core_types = {n: self.core_types.get(n, data_t) for n in s.core_names}
        out = [f"namespace {self.name} {{"]
        out += [f"typedef {data_t} input_t;", f"typedef {data_t} layer{index}_t;", f"typedef {data_t} bias{index}_t;"]
        out += [f"typedef {core_types[n]} {n}_{index}_t;" for n in s.core_names]
        out.append("")
        out.append(cg.layer_code(s, p, {n: f"{n}_{index}_t" for n in s.core_names}, self.inter_t, accum_t,
                                 self.reuse_factor, self.sum_unroll))
        out.append(cg.dense_config(s, p, data_t, accum_t, f"bias{index}_t", self.use_bias))
        for n in s.core_names:
            out.append(f"{n}_{index}_t {n}_{index}[{self.cores[n].size}] = {carray(self.cores[n].reshape(-1))};")
        out.append(f"bias{index}_t b{index}[{s.out_features}] = {carray(self.bias)};")
        out.append(f"const input_t x[{BATCH}][{s.in_features}] = {carray(self.x)};")
        call = cg.product_call(s, p, {n: f"{n}_{index}" for n in s.core_names})
        out.append(
            f"""
void run() {{
    for (int s = 0; s < {BATCH}; s++) {{
        layer{index}_t y[{s.out_features}];
        nnet::ht_dense<input_t, layer{index}_t, {p}>(x[s], y, {call}, b{index});
        print_row("{self.name}", s, y, {s.out_features});
    }}
}}
}} // namespace {self.name}
"""
        )
        return "\n".join(out)


@dataclass
class LstmCase:
    """An FDHT-LSTM layer through nnet::fdht_lstm."""

    name: str
    n_in: int
    n_state: int
    n_timesteps: int
    input_modes: tuple
    output_modes: tuple
    ranks: object
    fixed: bool
    return_sequences: bool
    reuse_factor: object = 1
    sum_unroll: object = 1
    seed: int = 0

    def __post_init__(self):
        self.shape = ht.make_shape(self.input_modes, self.output_modes, self.ranks,
                                   in_features=self.n_in + self.n_state, out_features=4 * self.n_state)
        rng = np.random.default_rng(self.seed)
        h = self.n_state
        self.cores = ht.init_cores(self.shape, rng)
        self.bias = rng.uniform(-0.5, 0.5, 4 * h)
        self.bias[h : 2 * h] += 1.0  # Keras unit_forget_bias
        self.x = rng.uniform(-1, 1, (BATCH, self.n_timesteps, self.n_in))
        if self.fixed:
            self.cores = {n: on_grid(c, LSB16) for n, c in self.cores.items()}
            self.bias = on_grid(self.bias, LSB16)
            self.x = on_grid(self.x, LSB16)

    @property
    def n_out(self) -> int:
        return (self.n_timesteps if self.return_sequences else 1) * self.n_state

    def cpp(self, index: int) -> str:
        s, p = self.shape, f"config{index}"
        data_t = FX16 if self.fixed else "double"
        accum_t = FX32 if self.fixed else "double"
        out = [f"namespace {self.name} {{"]
        out += [f"typedef {data_t} input_t;", f"typedef {data_t} layer{index}_t;", f"typedef {data_t} bias{index}_t;"]
        out += [f"typedef {data_t} {n}_{index}_t;" for n in s.core_names]
        out.append("")
        out.append(cg.layer_code(s, p, {n: f"{n}_{index}_t" for n in s.core_names}, data_t, accum_t,
                                 self.reuse_factor, self.sum_unroll))
        out.append(cg.activation_config(f"sigmoid_config{index}", self.n_state, TABLE_T, TABLE_SIZE))
        out.append(cg.activation_config(f"tanh_config{index}", self.n_state, TABLE_T, TABLE_SIZE))
        out.append(cg.lstm_config(
            s, p, self.n_timesteps, self.n_in, self.return_sequences,
            in_t=data_t, accum_t=accum_t, bias_t=f"bias{index}_t", act_t=data_t, state_t=data_t, h_t=data_t,
            act_config=f"tanh_config{index}", recr_act_config=f"sigmoid_config{index}",
            reuse_factor=self.reuse_factor if isinstance(self.reuse_factor, int) else 1,
        ))
        for n in s.core_names:
            out.append(f"{n}_{index}_t {n}_{index}[{self.cores[n].size}] = {carray(self.cores[n].reshape(-1))};")
        out.append(f"bias{index}_t b{index}[{4 * self.n_state}] = {carray(self.bias)};")
        out.append(f"const input_t x[{BATCH}][{self.n_timesteps * self.n_in}] = {carray(self.x.reshape(BATCH, -1))};")
        call = cg.product_call(s, p, {n: f"{n}_{index}" for n in s.core_names})
        out.append(
            f"""
void run() {{
    for (int s = 0; s < {BATCH}; s++) {{
        layer{index}_t y[{self.n_out}];
        nnet::fdht_lstm<input_t, layer{index}_t, {p}>(x[s], y, {call}, b{index});
        print_row("{self.name}", s, y, {self.n_out});
    }}
}}
}} // namespace {self.name}
"""
        )
        return "\n".join(out)


# (a) double precision: exact to 1e-9 over tree depths, uneven modes, padding and ranks.
DOUBLE_SHAPES = {
    "d2_pad": ht.make_shape((2, 3), (3, 2), 2, in_features=5),
    "d3_ranks": ht.make_shape((2, 3, 4), (3, 2, 2), {"u1": 2, "u2": 3, "u3": 1, "b1_2": 2}, in_features=20),
    "d4_pad": ht.make_shape((4, 5, 3, 2), (2, 3, 2, 4), 3, in_features=100),
    "d5_mixed": ht.make_shape((2, 3, 2, 2, 3), (2, 2, 3, 2, 2), [2, 3, 1, 2, 3, 2, 2, 3], in_features=60),
    "rank1": ht.make_shape((3, 2, 2), (2, 2, 3), 1),
    "uneven": ht.make_shape((7, 2, 5), (1, 6, 2), [3, 2, 4, 2], in_features=66),
    "d6": ht.make_shape((2, 2, 2, 2, 2, 2), (2, 1, 2, 1, 2, 2), 2, in_features=60),
}
DOUBLE_CASES = [
    DenseCase(f"dbl_{k}", s, fixed=False, use_bias=(k != "d3_ranks"), seed=i)
    for i, (k, s) in enumerate(DOUBLE_SHAPES.items())
]

# (b) ap_fixed<16,6> data/weights/intermediates, ap_fixed<32,12> accumulators.
FIXED_CASES = [
    DenseCase("fx_d4", DOUBLE_SHAPES["d4_pad"], fixed=True, seed=11),
    # per-core types: a coarser root core, and a wider intermediate for the first step
    DenseCase("fx_d3_types", ht.make_shape((3, 4, 2), (2, 3, 2), [3, 2, 2, 3], in_features=22), fixed=True,
              core_types={"b1_3": "ap_fixed<12,4>"}, core_lsb={"b1_3": 2.0**-8},
              inter_t=["ap_fixed<20,6>", FX16, FX16, FX16, FX16], seed=12),
]
# (d) the same layer with other parallelism knobs: the output must be bit-identical.
KNOB_CASES = [
    DenseCase("fx_d4_knobs", DOUBLE_SHAPES["d4_pad"], fixed=True, seed=11, reuse_factor=4,
              sum_unroll=[2, 3, 1, 4, 2, 3, 5][: len(DOUBLE_SHAPES["d4_pad"].plan.steps)]),
]

# (c) FDHT-LSTM, both return_sequences, double arithmetic (tables only) and fixed point.
LSTM_A = dict(n_in=5, n_state=3, n_timesteps=4, input_modes=(3, 3), output_modes=(4, 3), ranks=3)
LSTM_B = dict(n_in=6, n_state=4, n_timesteps=5, input_modes=(2, 3, 2), output_modes=(2, 4, 2),
              ranks=[2, 3, 2, 3])
LSTM_CASES = [
    LstmCase("lstm_dbl_seq", **LSTM_A, fixed=False, return_sequences=True, seed=21),
    LstmCase("lstm_dbl_last", **LSTM_A, fixed=False, return_sequences=False, seed=21),
    LstmCase("lstm_fx_seq", **LSTM_B, fixed=True, return_sequences=True, seed=22),
    LstmCase("lstm_fx_last", **LSTM_B, fixed=True, return_sequences=False, seed=22),
]
KNOB_CASES.append(
    LstmCase("lstm_fx_seq_knobs", **LSTM_B, fixed=True, return_sequences=True, seed=22, reuse_factor=3, sum_unroll=2)
)

# Two translation units, built in parallel: double-only and fixed-point.
UNITS = {
    "kernel_double": DOUBLE_CASES + LSTM_CASES[:2],
    "kernel_fixed": FIXED_CASES + LSTM_CASES[2:] + KNOB_CASES,
}
ALL_CASES = {c.name: c for cases in UNITS.values() for c in cases}

PRELUDE = """\
#include <cstdio>

#include "ap_fixed.h"
#include "nnet_fdht_lstm.h"
#include "nnet_ht.h"

inline double to_double(double v) { return v; }
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N> double to_double(const ap_fixed<W, I, Q, O, N> &v) {
    return v.to_double();
}
template <class T> void print_row(const char *name, int s, const T *y, int n) {
    std::printf("%s %d", name, s);
    for (int i = 0; i < n; i++)
        std::printf(" %.17g", to_double(y[i]));
    std::printf("\\n");
}
"""


def unit_source(cases) -> str:
    parts = [PRELUDE]
    for index, case in enumerate(cases, start=1):
        parts.append(case.cpp(index))
    parts.append("int main() {\n" + "".join(f"    {c.name}::run();\n" for c in cases) + "    return 0;\n}\n")
    return "\n".join(parts)


# --------------------------------------------------------------------------
# Building (cached) and running
# --------------------------------------------------------------------------


def _include_flags() -> List[str]:
    return [f"-I{TEMPLATES}", f"-I{VIVADO / 'nnet_utils'}", f"-I{VIVADO / 'ap_types'}"]


def _fingerprint(source: str, flags: List[str]) -> str:
    h = hashlib.sha256()
    h.update(source.encode())
    h.update(" ".join(flags).encode())
    h.update(subprocess.run([GXX, "--version"], capture_output=True, text=True).stdout.encode())
    for name in OUR_HEADERS:  # every header we own; hls4ml's are pinned by its version
        h.update((TEMPLATES / name).read_bytes())
    h.update(str(VIVADO).encode())
    return h.hexdigest()[:20]


def _our_warnings(stderr: str) -> List[str]:
    """Compiler diagnostics pointing into our headers or the generated code."""
    ours = OUR_HEADERS + ("kernel_double.cpp", "kernel_fixed.cpp")
    return [ln for ln in stderr.splitlines() if re.search(r"(warning|error)", ln) and any(o in ln for o in ours)]


def _launch(cache: Path, name: str, source: str, flags: List[str]):
    """Start one g++ job unless its cached result exists; returns (key dir, Popen or None)."""
    key = cache / f"{name}-{_fingerprint(source, flags)}"
    if (key / "done").exists():
        return key, None
    key.mkdir(parents=True, exist_ok=True)
    cpp = key / f"{name}.cpp"
    cpp.write_text(source)
    cmd = [GXX, *flags, *_include_flags(), str(cpp), "-o", str(key / "bin.tmp")]
    return key, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=key)


def _finish(key: Path, proc) -> str:
    """Wait for the job; returns its compiler diagnostics."""
    if proc is not None:
        _, err = proc.communicate()
        (key / "stderr.txt").write_text(err)
        if proc.returncode != 0:
            raise AssertionError(f"g++ failed ({key}):\n{err[-4000:]}")
        os.replace(key / "bin.tmp", key / "bin")  # atomic: a half-written binary is never reused
        (key / "done").write_text("ok")
    return (key / "stderr.txt").read_text()


# HLS pragmas and loop labels (hls4ml style) are expected to be unknown/unused to g++.
QUIET = ["-Wno-unknown-pragmas", "-Wno-unused-label"]
BUILD_FLAGS = ["-std=c++11", "-O1", "-Wall", "-Wextra", *QUIET]
# The other standard, unoptimised: a static const member that is odr-used
# without an out-of-class definition only fails to link at -O0.
CHECK_FLAGS = ["-std=c++17", "-O0", "-Wall", "-Wextra", *QUIET]


def _run(binary: Path) -> Dict[str, np.ndarray]:
    run = subprocess.run([str(binary)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    rows: Dict[str, Dict[int, np.ndarray]] = {}
    for line in run.stdout.splitlines():
        name, s, *vals = line.split()
        rows.setdefault(name, {})[int(s)] = np.array([float(v) for v in vals])
    return {name: np.stack([by_sample[s] for s in range(BATCH)]) for name, by_sample in rows.items()}


@pytest.fixture(scope="session")
def builds(request, tmp_path_factory):
    """Build both units as C++11 -O1 (the outputs under test) and as C++17
    -O0, all four jobs in parallel, and run them. Returns the C++11 outputs
    {case: (BATCH, n_out)}, the C++17 ones, and every job's diagnostics."""
    cache = None
    if getattr(request.config, "cache", None) is not None:
        cache = Path(request.config.cache.mkdir("fdht_kernel_builds"))
    if cache is None:
        cache = tmp_path_factory.mktemp("fdht_kernel_builds")
    jobs = []
    for name, cases in UNITS.items():
        src = unit_source(cases)
        for flags in (BUILD_FLAGS, CHECK_FLAGS):
            jobs.append((flags, f"{name} {' '.join(flags)}", *_launch(cache, name, src, flags)))
    result = {"outputs": {}, "outputs_alt": {}, "diagnostics": {}}
    for flags, label, key, proc in jobs:
        result["diagnostics"][label] = _finish(key, proc)
        result["outputs" if flags is BUILD_FLAGS else "outputs_alt"].update(_run(key / "bin"))
    assert set(result["outputs"]) == set(ALL_CASES)
    return result


# --------------------------------------------------------------------------
# Independent numpy references and derived error bounds
# --------------------------------------------------------------------------


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def product_bound(v: np.ndarray, e_v: np.ndarray, case, lsb_acc: float, lsb_inter) -> tuple:
    """Exact z = W_padded v and a per-entry bound on |z_kernel - z| when the
    kernel gets v' with |v' - v| <= e_v and runs the stages with fixed-point
    intermediates.

    Split z' - z = [Fq(v') - F(v')] + W (v' - v), with F the exact (linear)
    chain and Fq the quantised one:
    * |W (v' - v)| <= |W| e_v (dense W from ht.reconstruct);
    * Fq(v') - F(v'): per step ``out = sum_S a*b`` with kernel operands
      a' = a + da, b' = b + db, |da| <= Ea, |db| <= Eb (E = 0 for v' and for
      the cores, which are exactly on their grids):
          a'b' - ab = a db + da b + da db  =>  |.| <= |a| Eb + Ea |b| + Ea Eb,
      summed over the S terms by the same einsum, where |a(v')| <= |a(v)| + Pa
      and P (the input perturbation carried through the exact chain) obeys the
      same product rule with P = e_v for v' and 0 for the cores; plus
      S * lsb_acc for quantising each product to accum_t (exact in practice:
      10+10 fraction bits fit accum's 20; kept as a safe upper bound) and
      lsb_inter for writing the sum to the intermediate type (ap_fixed
      truncates: |err| < 1 LSB). The last step writes accum_t z from an
      accum_t sum: no extra term.
    Assumes no overflow (values stay far inside the ranges).
    """
    s = case.shape
    def spread(spec, xa, ea, xb, eb):  # bound on |a'b' - ab| summed, given |a|, |b| and their errors
        return np.einsum(spec, xa, eb) + np.einsum(spec, ea, xb) + np.einsum(spec, ea, eb)

    vals = {"x": v.reshape(s.input_modes)}
    perts = {"x": e_v.reshape(s.input_modes)}
    errs = {"x": np.zeros(s.input_modes)}
    for name, core in case.cores.items():
        vals[name] = core[..., 0] if name == s.root.name else core
        perts[name] = errs[name] = np.zeros_like(vals[name])
    steps = s.plan.steps
    inter = lsb_inter if isinstance(lsb_inter, list) else [lsb_inter] * len(steps)
    for k, (a, b, out, spec) in enumerate(s.plan.einsum_steps()):
        vals[out] = np.einsum(spec, vals[a], vals[b])
        perts[out] = spread(spec, np.abs(vals[a]), perts[a], np.abs(vals[b]), perts[b])
        ma, mb = np.abs(vals[a]) + perts[a], np.abs(vals[b]) + perts[b]  # >= |a(v')|, |b(v')|
        e = spread(spec, ma, errs[a], mb, errs[b])
        e = e + steps[k].sum_size * lsb_acc
        if k < len(steps) - 1:
            e = e + inter[k]
        errs[out] = e
    last = steps[-1].out
    w_abs = np.abs(ht.reconstruct(case.cores, s))
    linear = w_abs @ e_v[: s.in_features]
    return vals[last].reshape(-1), errs[last].reshape(-1) + linear


# Activation tables (hls4ml nnet_activation.h): sigmoid samples [-8, 8) and tanh
# [-4, 4) at table_size points; the index is the input scaled and truncated, so
# the sampled point is less than one step from the input (or the input is
# beyond the range, where the clipped value errs by < 1 - sigmoid(8 - step) resp.
# 1 - tanh(4 - step), both below the slope term). Error of one lookup:
#   max slope x step  +  table_t LSB (truncating the stored value)  +  float evaluation
SIG_TABLE_ERR = 0.25 * (16.0 / TABLE_SIZE) + TABLE_LSB + 1e-6  # sigmoid' <= 1/4
TANH_TABLE_ERR = 1.0 * (8.0 / TABLE_SIZE) + TABLE_LSB + 1e-6  # tanh' <= 1


def lstm_reference_and_bound(case: LstmCase, x: np.ndarray) -> tuple:
    """Keras-order LSTM on W = ht.reconstruct (dense, plan-independent) for one
    sequence x: (T, n_in); returns (h per step (T, H), error bound per step).

    The bound propagates first-order-exact interval terms along the exact
    trajectory: z through product_bound (its input error is h's), each
    activation by Lipschitz constant x input error + one table error, products
    p*q by |p| Eq + Ep |q| + Ep Eq, and one LSB per quantising assignment
    (act_t, state_t, h_t; zero for double).
    """
    H, s = case.n_state, case.shape
    W = ht.reconstruct(case.cores, s)  # (4H, n_in + H)
    lsb = LSB16 if case.fixed else 0.0
    lsb_acc = LSB32 if case.fixed else 0.0
    h, c = np.zeros(H), np.zeros(H)
    e_h, e_c = np.zeros(H), np.zeros(H)
    hs, bounds = [], []
    for t in range(case.n_timesteps):
        v = np.concatenate([x[t], h, np.zeros(s.padded_in - s.in_features)])
        e_v = np.concatenate([np.zeros(case.n_in), e_h, np.zeros(s.padded_in - s.in_features)])
        z_prod, e_z = product_bound(v, e_v, case, lsb_acc, lsb)
        z = W @ v[: s.in_features] + case.bias
        np.testing.assert_allclose(z_prod + case.bias, z, atol=1e-12)  # plan == dense, sanity
        zi, zf, zg, zo = np.split(z, 4)
        ei, ef, eg, eo = np.split(e_z, 4)  # bias add in accum_t is exact (bias on the 2^-10 grid)
        gi, gf, gg, go = sigmoid(zi), sigmoid(zf), np.tanh(zg), sigmoid(zo)
        ei, ef, eo = (0.25 * e + SIG_TABLE_ERR + lsb for e in (ei, ef, eo))
        eg = 1.0 * eg + TANH_TABLE_ERR + lsb
        c_new = gf * c + gi * gg
        e_c = np.abs(gf) * e_c + ef * np.abs(c) + ef * e_c + np.abs(gi) * eg + ei * np.abs(gg) + ei * eg + lsb
        c = c_new
        tc = np.tanh(c)
        e_tc = 1.0 * e_c + TANH_TABLE_ERR + lsb
        h = go * tc
        e_h = np.abs(go) * e_tc + eo * np.abs(tc) + eo * e_tc + lsb
        hs.append(h)
        bounds.append(e_h)  # the output type equals h_t: no further rounding
    return np.array(hs), np.array(bounds)


# --------------------------------------------------------------------------
# codegen.py (pure Python)
# --------------------------------------------------------------------------


def test_stage_configs_come_from_the_plan():
    s = DOUBLE_SHAPES["d4_pad"]
    text = cg.stage_configs(s, "config7", "acc_t")
    sizes = cg.tensor_sizes(s)
    assert sizes["x"] == 120 and sizes["b1_4"] == 3 * 3 * 1
    for k, step in enumerate(s.plan.steps):
        body = text.split(f"struct config7_s{k} ")[1].split("};")[0]
        got = {m: int(v) for m, v in re.findall(r"\b([fs]\d_[nabo])\s*=\s*(\d+)", body)}
        assert len(got) == ht.MAX_FREE_LEVELS * 4 + ht.MAX_SUM_LEVELS * 3
        # real levels innermost, padding (n=1, strides 0) on the outer side
        pad_f = ht.MAX_FREE_LEVELS - len(step.free_loops)
        for level in range(ht.MAX_FREE_LEVELS):
            lp = step.free_loops[level - pad_f] if level >= pad_f else ht.Loop(1, 0, 0, 0)
            assert [got[f"f{level}_{m}"] for m in "nabo"] == [lp.size, lp.a_stride, lp.b_stride, lp.out_stride]
        pad_s = ht.MAX_SUM_LEVELS - len(step.sum_loops)
        for level in range(ht.MAX_SUM_LEVELS):
            lp = step.sum_loops[level - pad_s] if level >= pad_s else ht.Loop(1, 0, 0, 0)
            assert [got[f"s{level}_{m}"] for m in "nab"] == [lp.size, lp.a_stride, lp.b_stride]
        assert f"a_size = {sizes[step.a]};" in body and f"out_size = {step.out_size};" in body


def test_functor_and_call_follow_plan_order():
    s = DOUBLE_SHAPES["d3_ranks"]
    text = cg.product_functor(s, "config3", {n: f"{n}_3_t" for n in s.core_names}, "inter3_t")
    calls = re.findall(r"nnet::ht_stage<([^>]*)>\((\w+), (\w+), (\w+)\)", text)
    assert len(calls) == len(s.plan.steps)
    for (targs, a, b, out), step in zip(calls, s.plan.steps):
        assert (a, b) == tuple("v" if t == "x" else t for t in (step.a, step.b))
        assert out == ("z" if step is s.plan.steps[-1] else step.out)
    assert cg.product_call(s, "config3", {n: f"{n}_3" for n in s.core_names}) == (
        "config3_ht(" + ", ".join(f"{n}_3" for n in s.core_names) + ")"
    )


def test_reports_and_validation():
    s = DOUBLE_SHAPES["d4_pad"]
    rows = cg.stage_report(s, reuse_factor=2, sum_unroll=3)
    # the reference kernel runs every step, core-only ones included
    assert sum(r["macs"] for r in rows) == s.plan.macs + s.plan.constant_macs
    assert all(r["macs"] == r["out_size"] * r["sum_size"] for r in rows)
    assert all(r["cycles_estimate"] >= r["macs"] * 2 // 3 for r in rows)
    summary = cg.buffer_summary(s)
    assert summary["macs"] == s.plan.macs and summary["largest_intermediate"] <= s.plan.max_intermediate
    with pytest.raises(ConfigError, match="sum_unroll"):
        cg.stage_configs(s, "c", "acc_t", sum_unroll=0)
    with pytest.raises(ConfigError, match="one per step"):
        cg.stage_configs(s, "c", "acc_t", reuse_factor=[1, 2])
    with pytest.raises(ConfigError, match="core_types misses"):
        cg.product_functor(s, "c", {"u1": "t"}, "i_t")
    with pytest.raises(ConfigError, match="not a multiple of 4|\\[x ; h\\]"):
        cg.lstm_n_state(s, 3)


# --------------------------------------------------------------------------
# The compiled kernels
# --------------------------------------------------------------------------


def test_builds_clean_cxx11_and_cxx17(builds):
    """Both units build as C++11 -O1 (build_prj.tcl uses -std=c++0x) and as
    C++17 -O0, with no -Wall -Wextra diagnostic in our headers or generated
    code, and give the same bits."""
    assert len(builds["diagnostics"]) == 4
    for label, stderr in builds["diagnostics"].items():
        assert _our_warnings(stderr) == [], f"{label}:\n{stderr[-3000:]}"
    assert set(builds["outputs_alt"]) == set(builds["outputs"])
    for name, y in builds["outputs"].items():
        np.testing.assert_array_equal(builds["outputs_alt"][name], y, err_msg=name)


@pytest.mark.parametrize("case", DOUBLE_CASES, ids=lambda c: c.name)
def test_ht_dense_double_exact(builds, case):
    y = builds["outputs"][case.name]
    ref = ht.forward(case.x, case.cores, case.shape) + case.bias
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-9)
    dense = case.x @ ht.reconstruct(case.cores, case.shape).T + case.bias  # independent of the plan
    np.testing.assert_allclose(y, dense, rtol=0, atol=1e-9)


@pytest.mark.parametrize("case", FIXED_CASES, ids=lambda c: c.name)
def test_ht_dense_fixed_within_derived_bound(builds, case):
    y = builds["outputs"][case.name]
    inter = case.inter_t if isinstance(case.inter_t, list) else [case.inter_t] * len(case.shape.plan.steps)
    lsb_inter = [2.0 ** -(int(w) - int(i)) for w, i in (re.findall(r"<(\d+),(\d+)>", t)[0] for t in inter)]
    for s in range(BATCH):
        x_pad = ht.pad_input(case.x[s : s + 1], case.shape)[0]
        z, e_z = product_bound(x_pad, np.zeros_like(x_pad), case, LSB32, lsb_inter)
        ref = z + case.bias
        bound = e_z + LSB16  # + the final cast of accum_t to the ap_fixed<16,6> result
        np.testing.assert_allclose(ref, ht.forward(case.x[s : s + 1], case.cores, case.shape)[0] + case.bias,
                                   atol=1e-12)
        err = np.abs(y[s] - ref)
        assert np.all(err <= bound + 1e-12), (err - bound).max()
        # Worst case (every truncation coherent, no cancellation): observed
        # errors are 5-10x smaller; this only guards against a vacuous bound.
        assert bound.max() < 0.15 * np.abs(ref).max()
    assert np.abs(y - (ht.forward(case.x, case.cores, case.shape) + case.bias)).max() > 0  # really fixed point


@pytest.mark.parametrize("case", LSTM_CASES, ids=lambda c: c.name)
def test_fdht_lstm_vs_numpy(builds, case):
    y = builds["outputs"][case.name]
    H = case.n_state
    for s in range(BATCH):
        hs, bounds = lstm_reference_and_bound(case, case.x[s])
        if case.return_sequences:
            ref, bound = hs.reshape(-1), bounds.reshape(-1)
        else:
            ref, bound = hs[-1], bounds[-1]
        assert y[s].shape == (case.n_out,) == ref.shape
        err = np.abs(y[s] - ref)
        assert np.all(err <= bound + 1e-12), f"sample {s}: error {err.max():.3g} above bound {bound[err.argmax()]:.3g}"
        # Not vacuous for h in (-1, 1): worst case over the whole recurrence
        # (double: tables only; fixed: also 16-bit intermediates, ~0.02 on z per step,
        # more since the plan puts more steps among the cores, each rounded here).
        # Measured errors are about 0.01 in both.
        assert bound.max() < (0.4 if case.fixed else 0.05)
    if not case.return_sequences:  # same layer and inputs: the last state is the sequence's last step
        np.testing.assert_array_equal(y, builds["outputs"][case.name.replace("_last", "_seq")][:, -H:])


def test_parallelism_knobs_are_bit_identical(builds):
    """reuse_factor / sum_unroll change pragmas only: same bits out."""
    out = builds["outputs"]
    assert "reuse_factor = 4;" in KNOB_CASES[0].cpp(99) and "sum_unroll = 3;" in KNOB_CASES[0].cpp(99)
    np.testing.assert_array_equal(out["fx_d4_knobs"], out["fx_d4"])
    np.testing.assert_array_equal(out["lstm_fx_seq_knobs"], out["lstm_fx_seq"])
