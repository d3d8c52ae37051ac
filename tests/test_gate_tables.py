"""The gate tables computed in Python (hls_project/accel/tables.py) against
the C++ that computed them at run time, entry by entry, exactly.

Three g++ programs, built in parallel once per module:

* ``tables``: hls4ml's own ``nnet::init_sigmoid_table`` / ``init_tanh_table``
  (bits <= 0) and the QKeras loops (bits > 0) of ``ht_sigmoid_table`` /
  ``ht_tanh_table``, copied verbatim from templates/nnet_ht_stream.h as it
  was before the tables moved to Python (that header is being rewritten).
  Each is instantiated with ``table_t = float`` (the float values, all 24
  bits, before any conversion) and with three ap_fixed table types.
* ``convert``: ap_types' double -> ap_fixed conversion over every
  quantisation x overflow mode :func:`to_fixed` supports, on ties, random
  values, overflow and tiny values.
* ``initializer``: ``const table_t t[N] = { c_initializer(...) };`` read
  back from C++.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

from hls_project.accel import tables
ROOT = Path(__file__).resolve().parents[1]
GXX = shutil.which("g++")

SIZES = (1024, 4096, 1000)  # 1000: the table points round twice (double, then float)
TYPES = ("ap_fixed<18,8>", "ap_fixed<16,6>", "ap_fixed<18,8,AP_RND,AP_SAT>")
QUANT = [(0, False), (4, False), (4, True), (8, False), (8, True), (1, True), (2, False)]
Q_MODES = ("AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_RND_CONV")
O_MODES = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")
CONVERT_TYPES = ([f"ap_fixed<8,2,{q},{o}>" for q in Q_MODES for o in O_MODES]
                 + [f"ap_ufixed<7,2,{q},{o}>" for q in Q_MODES for o in O_MODES]
                 + ["ap_fixed<18,8>", "ap_fixed<10,-2,AP_RND,AP_SAT>", "ap_fixed<6,9,AP_RND_CONV>",
                    "ap_ufixed<12,0,AP_RND_INF,AP_SAT_SYM>", "ap_fixed<53,20,AP_RND,AP_SAT>"])

COMMON = r'''
#include "ap_fixed.h"
#include "nnet_activation.h"
#include <cmath>
#include <cstdio>

inline double as_double(float v) { return v; }
template <class T> double as_double(const T &v) { return v.to_double(); }

template <class T> void print(const char *name, const T *t, unsigned n) {
    std::printf("%s", name);
    for (unsigned i = 0; i < n; i++) std::printf(" %.17g", as_double(t[i]));
    std::printf("\n");
}
'''

TABLES = COMMON + r'''
namespace nnet {
// ---- verbatim from templates/nnet_ht_stream.h (commit a442354) ----
template <class CONFIG_T, unsigned N>
void ht_sigmoid_table(typename CONFIG_T::table_t table[N], int bits, bool symmetric) {
    if (bits <= 0) {
        init_sigmoid_table<CONFIG_T, N>(table);
        return;
    }
    const float m = float(1u << bits);
    for (unsigned ii = 0; ii < N; ii++) {
        const float x = 2 * 8.0 * (ii - float(N) / 2.0) / float(N);
        const float q = std::floor(1.0f / (1.0f + std::exp(-x)) * m + 0.5f) / m;
        const float lo = (symmetric ? 1.0f : 0.0f) / m, hi = 1.0f - 1.0f / m;
        table[ii] = q < lo ? lo : (q > hi ? hi : q);
    }
}

template <class CONFIG_T, unsigned N>
void ht_tanh_table(typename CONFIG_T::table_t table[N], int bits, bool symmetric) {
    if (bits <= 0) {
        init_tanh_table<CONFIG_T, N>(table);
        return;
    }
    const float m = float(1u << (bits - 1));
    for (unsigned ii = 0; ii < N; ii++) {
        const float x = 2 * 4.0 * (ii - float(N) / 2.0) / float(N);
        const float q = std::floor(std::tanh(x) * m + 0.5f) / m;
        const float lo = -1.0f + (symmetric ? 1.0f : 0.0f) / m, hi = 1.0f - 1.0f / m;
        table[ii] = q < lo ? lo : (q > hi ? hi : q);
    }
}
// ---- end of the copy ----
}

template <unsigned N, class T> struct cfg {
    static const unsigned table_size = N;
    typedef T table_t;
};

template <class T, unsigned N> void dump(const char *name, bool sigmoid, int bits, bool symmetric) {
    static T t[N];
    if (sigmoid)
        nnet::ht_sigmoid_table<cfg<N, T>, N>(t, bits, symmetric);
    else
        nnet::ht_tanh_table<cfg<N, T>, N>(t, bits, symmetric);
    print(name, t, N);
}

int main() {
@CALLS@
    return 0;
}
'''

CONVERT = COMMON + r'''
static const double values[] = {
@VALUES@
};
static const unsigned n_values = sizeof(values) / sizeof(values[0]);

template <class T> void convert(const char *name) {
    static T t[sizeof(values) / sizeof(values[0])];
    for (unsigned i = 0; i < n_values; i++) t[i] = values[i];
    print(name, t, n_values);
}

int main() {
@CALLS@
    return 0;
}
'''

# (name, table_t, values): each read back through a const initialiser
INIT_CASES = [
    ("sig1024", "ap_fixed<18,8>", lambda: tables.to_fixed(tables.sigmoid_table(1024), "ap_fixed<18,8>")),
    ("tanh4096", "ap_fixed<16,6>", lambda: tables.to_fixed(tables.tanh_table(4096), "ap_fixed<16,6>")),
    ("qtanh", "ap_fixed<18,8,AP_RND,AP_SAT>",
     lambda: tables.to_fixed(tables.tanh_table(1000, 4, True), "ap_fixed<18,8,AP_RND,AP_SAT>")),
    ("wide", "ap_fixed<48,2>", lambda: tables.to_fixed(tables.sigmoid_table(4096), "ap_fixed<48,2>")),
    ("tiny", "ap_ufixed<40,-8>", lambda: tables.to_fixed(tables.sigmoid_table(1024) / 1024, "ap_ufixed<40,-8>")),
    ("large", "ap_fixed<20,30>", lambda: np.array([-2.0 ** 29, -1024.0, 0.0, 1024.0, 2.0 ** 29 - 1024])),
]


def _name(func: str, n: int, table_t: str, bits: int, symmetric: bool) -> str:
    return f"{func}|{n}|{table_t}|{bits}|{int(symmetric)}"


def _tables_source() -> str:
    calls = []
    for n in SIZES:
        for t in ("float",) + TYPES:
            for func in ("sigmoid", "tanh"):
                for bits, sym in QUANT:
                    flags = f'{str(func == "sigmoid").lower()}, {bits}, {str(sym).lower()}'
                    calls.append(f'    dump<{t}, {n}>("{_name(func, n, t, bits, sym)}", {flags});')
    return TABLES.replace("@CALLS@", "\n".join(calls))


def _convert_values() -> np.ndarray:
    rng = np.random.default_rng(7)
    grid = np.arange(-700, 701) / 128.0  # every 1/128: ties of ap_fixed<8,2> (LSB 1/64), in and out of range
    edges = [0.0, -0.0, 1e-30, -1e-30, 2.0 ** -60, -(2.0 ** -60), 1e6, -1e6, 2.0 ** 40 + 0.5, -(2.0 ** 40) - 0.5,
             2.0 ** 19 - 2.0 ** -33, -(2.0 ** 19), 1.0, -1.0, 2.0, -2.0, 1 - 2.0 ** -7, -1 + 2.0 ** -7]
    return np.concatenate([grid, rng.uniform(-6.0, 6.0, 400), rng.normal(0.0, 0.02, 200), edges])


def _convert_source() -> str:
    values = ",\n".join(float(v).hex() for v in _convert_values())
    calls = [f'    convert<{t} >("{t}");' for t in CONVERT_TYPES]
    return CONVERT.replace("@VALUES@", values).replace("@CALLS@", "\n".join(calls))


def _initializer_source() -> str:
    decls, prints = [], []
    for i, (name, t, values) in enumerate(INIT_CASES):
        v = values()
        decls.append(f"const {t} t{i}[{len(v)}] = {{\n{tables.c_initializer(v)}\n}};")
        prints.append(f'    print("{name}", t{i}, {len(v)});')
    return COMMON + "\n".join(decls) + "\nint main() {\n" + "\n".join(prints) + "\n    return 0;\n}\n"


def _ap_types_dir() -> Path:
    import hls4ml

    return Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"


def _nnet_utils_dir() -> Path:
    return _ap_types_dir().parent / "nnet_utils"


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> Dict[str, Dict[str, List[float]]]:
    """name -> {table / type name: printed values}, the three programs built in parallel."""
    if GXX is None:
        pytest.skip("needs g++ on PATH")
    tmp = tmp_path_factory.mktemp("gate_tables")
    sources = {"tables": _tables_source(), "convert": _convert_source(), "initializer": _initializer_source()}
    # -fno-exceptions for the initialisers: ap_private's destructor is not
    # trivial, so with exceptions every element of a const ap_fixed array gets
    # an EH cleanup region, and g++'s IPA passes go quadratic in them (a 4096
    # entry table alone: about 15 s at -O0..-O2, 2 s without exceptions)
    extra = {"initializer": ["-fno-exceptions"]}
    builds = {}
    for name, text in sources.items():
        (tmp / f"{name}.cpp").write_text(text)
        builds[name] = subprocess.Popen([GXX, "-std=c++17", "-O0", "-w", *extra.get(name, []), f"-I{_ap_types_dir()}",
                                         f"-I{_nnet_utils_dir()}", str(tmp / f"{name}.cpp"), "-o", str(tmp / name)],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = {}
    for name, proc in builds.items():
        log, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name}: {log[-3000:]}"
        run = subprocess.run([str(tmp / name)], capture_output=True, text=True, timeout=120, check=True)
        out[name] = {line.split(" ", 1)[0]: [float(w) for w in line.split()[1:]] for line in run.stdout.splitlines()}
    return out


def _py_table(func: str, n: int, bits: int, symmetric: bool) -> np.ndarray:
    return (tables.sigmoid_table if func == "sigmoid" else tables.tanh_table)(n, bits, symmetric)


def _assert_same(got: np.ndarray, want: List[float], what: str) -> None:
    want = np.array(want)
    assert got.shape == want.shape, what
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (f"{what}: {bad.size} entries differ, first at {bad[0]}: "
                           f"python {got[bad[0]]!r} C++ {want[bad[0]]!r}")


CASES = [(f, n, b, s) for f in ("sigmoid", "tanh") for n in SIZES for b, s in QUANT]


@pytest.mark.parametrize("func,n,bits,symmetric", CASES)
def test_float_values_equal_the_cpp_floats(programs, func, n, bits, symmetric):
    """All 24 bits of every float, before the ap_fixed conversion."""
    _assert_same(_py_table(func, n, bits, symmetric), programs["tables"][_name(func, n, "float", bits, symmetric)],
                 f"{func} n={n} bits={bits} symmetric={symmetric}")


@pytest.mark.parametrize("table_t", TYPES)
@pytest.mark.parametrize("func,n,bits,symmetric", CASES)
def test_fixed_tables_equal_the_cpp_tables(programs, func, n, bits, symmetric, table_t):
    got = tables.to_fixed(_py_table(func, n, bits, symmetric), table_t)
    _assert_same(got, programs["tables"][_name(func, n, table_t, bits, symmetric)],
                 f"{func} n={n} bits={bits} symmetric={symmetric} {table_t}")


def test_the_float_comparison_can_fail(programs):
    """The same functions in double (np.exp / np.tanh, then rounded to float)
    miss libm's float results somewhere: the exact comparison would see it."""
    x = np.array([tables._points(4096, 8.0), tables._points(4096, 4.0)], dtype=np.float64)
    sig = (1.0 / (1.0 + np.exp(-x[0]))).astype(np.float32)
    tanh = np.tanh(x[1]).astype(np.float32)
    assert np.any(sig != np.array(programs["tables"][_name("sigmoid", 4096, "float", 0, False)]))
    assert np.any(tanh != np.array(programs["tables"][_name("tanh", 4096, "float", 0, False)]))


@pytest.mark.parametrize("table_t", CONVERT_TYPES)
def test_to_fixed_equals_ap_types(programs, table_t):
    _assert_same(tables.to_fixed(_convert_values(), table_t), programs["convert"][table_t], table_t)


def test_the_conversions_differ_between_modes(programs):
    """The value set tells every quantisation mode and every overflow mode
    apart (so the test above can fail)."""
    out = programs["convert"]
    assert len({tuple(out[f"ap_fixed<8,2,{q},AP_SAT>"]) for q in Q_MODES}) == len(Q_MODES)
    assert len({tuple(out[f"ap_fixed<8,2,AP_TRN,{o}>"]) for o in O_MODES}) == len(O_MODES)


@pytest.mark.parametrize("name,table_t,values", INIT_CASES, ids=[c[0] for c in INIT_CASES])
def test_c_initializer_round_trips(programs, name, table_t, values):
    v = values()
    assert np.array_equal(tables.to_fixed(v, table_t), v), "the values are on the type's grid"
    _assert_same(v, programs["initializer"][name], f"{name} {table_t}")


def test_c_initializer_layout():
    text = tables.c_initializer(np.arange(30) / 4 - 2)
    lines = text.split("\n")
    assert [len(line.split(",")) - (i < 2) for i, line in enumerate(lines)] == [12, 12, 6]
    assert lines[0].startswith("    -2.0, -1.75,") and lines[1].endswith(",") and not lines[2].endswith(",")
    assert "e" not in text.lower()
    assert tables.c_initializer([-0.0, 2.0 ** -30]) == "    0.0, 0.000000000931322574615478515625"


@pytest.mark.parametrize("type_str", ["ap_fixed<16,6,AP_RND,AP_WRAP_SM>", "ap_fixed<16,6,AP_RND,AP_SAT,2>",
                                      "ap_fixed<64,8>", "float", "ap_fixed<16>"])
def test_unsupported_types_raise(type_str):
    with pytest.raises(ValueError):
        tables.to_fixed([0.5], type_str)


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        tables.to_fixed([math.nan], "ap_fixed<16,6>")
    with pytest.raises(ValueError):
        tables.sigmoid_table(1024, bits=32)
    with pytest.raises(ValueError):
        tables.tanh_table(1024, bits=33)
    with pytest.raises(ValueError):
        tables.sigmoid_table(0)
    assert tables.tanh_table(16, bits=32).shape == (16,)  # 1u << 31 is fine
