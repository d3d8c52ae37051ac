"""The fast csim arithmetic (templates/nnet_ht_fast.h, -DHT_FAST_CSIM) against
ap_types' own C++ model of ap_fixed, bit for bit.

One g++ program: for every quantisation mode x overflow mode (28 pairs) on
five conversions (narrowing with rounding and overflow, widening, a product
into an accumulator with negative / beyond-width integer bits), and for the
other operations the stage functions use (``+=``, construction from an int,
a double and an ap_fixed, ``ht_cast`` back to an ap type, unsigned types,
the gates' table index from a value's LSB count),
thousands of random values are converted both ways and the raw bits compared.
The same program also compares deliberately different modes (AP_RND against
AP_RND_CONV, AP_SAT against AP_WRAP) and must find those differ: the
comparison can fail.

Whole projects built both ways give byte-identical csim results:
tests/test_bitexact.py (test_fast_csim_equals_the_ap_types_build); the flow
knob is tested in tests/test_flow.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GXX = shutil.which("g++")

Q_MODES = ["AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_RND_INF", "AP_RND_CONV", "AP_TRN", "AP_TRN_ZERO"]
O_MODES = ["AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM", "AP_WRAP"]
# (source W, I) -> (target W, I): one bit less (every other value a tie), narrowing, widening, negative and beyond-width integer bits
# (ap_types itself asserts when the shift exceeds the source width, so none does)
PAIRS = [((17, 6), (16, 6)), ((31, 12), (16, 6)), ((20, 6), (24, 10)), ((26, -2), (12, 3)), ((26, 4), (10, 12))]
N = 4000

PROGRAM = r'''
#include "ap_fixed.h"
#include "nnet_ht_fast.h"
#include <cstdio>
#include <cstdint>
#include <cmath>
#include <random>
using namespace nnet;

static std::mt19937_64 rng(12345);
static long long total = 0, bad = 0;

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
constexpr bool is_signed(const ap_fixed_base<W, I, S, Q, O, N> *) { return S; }

template <class A> long long bits(const A &a) {  // the raw value, sign-extended
    const int W = A::width;
    unsigned long long u = a.range(W - 1, 0).to_uint64();
    if (is_signed((const A *)nullptr) && W < 64 && ((u >> (W - 1)) & 1)) u |= ~0ULL << W;
    return (long long)u;
}

template <class A> A random_ap() {  // every bit pattern of A, with the edges more often
    A a;
    const int W = A::width;
    unsigned long long u = rng();
    switch (rng() % 8) {
    case 0: u = 0; break;
    case 1: u = ~0ULL; break;
    case 2: u = 1ULL << (W - 1); break;
    case 3: u = (1ULL << (W - 1)) - 1; break;
    default: break;
    }
    a.range(W - 1, 0) = u & (W == 64 ? ~0ULL : ((1ULL << W) - 1));
    return a;
}

// convert src -> dst with ap_fixed (A_DST) and ht_fx (H_DST); count mismatches
template <class A_SRC, class A_DST, class H_SRC, class H_DST> void conv(const char *what, int n, bool expect_equal) {
    long long mism = 0;
    for (int k = 0; k < n; k++) {
        const A_SRC a = random_ap<A_SRC>();
        const A_DST want = a;
        const H_DST got = H_DST(H_SRC(a));
        if (bits(want) != got.v) {
            if (expect_equal && mism < 3)
                std::printf("MISMATCH %s: src %s -> ap %s, ht raw %lld\n", what, a.to_string(10).c_str(),
                            want.to_string(10).c_str(), got.v);
            mism++;
        }
    }
    total += n;
    if (expect_equal) bad += mism;
    else std::printf("DIFFER %s %lld\n", what, mism);
}

// (acc)(a * b) summed, the stage MAC, both ways
template <class A1, class A2, class ACC> void mac(const char *what, int n) {
    typedef typename ht_fast<A1>::type H1;
    typedef typename ht_fast<A2>::type H2;
    typedef typename ht_fast<ACC>::type HACC;
    long long mism = 0;
    for (int k = 0; k < n; k++) {
        ACC sa = 0;
        HACC sh = 0;
        for (int j = 0; j < 7; j++) {
            const A1 a = random_ap<A1>();
            const A2 b = random_ap<A2>();
            sa += (ACC)(a * b);
            sh += (HACC)(H1(a) * H2(b));
        }
        if (bits(sa) != sh.v) mism++;
    }
    total += n;
    bad += mism;
    if (mism) std::printf("MISMATCH mac %s: %lld\n", what, mism);
}

// construction from a double (table constants) and ht_cast back to ap types
template <class A, class B> void doubles_and_back(const char *what, int n) {
    typedef typename ht_fast<A>::type H;
    long long mism = 0;
    std::uniform_real_distribution<double> u(-40.0, 40.0);
    for (int k = 0; k < n; k++) {
        const double d = (k % 2) ? u(rng) : random_ap<A>().to_double();  // off and on the grid
        const A a = d;
        const H h = d;
        if (bits(a) != h.v) mism++;
        const B back = ht_cast<B>(h);
        const B want = a;
        if (bits(back) != bits(want)) mism++;
    }
    total += 2 * n;
    bad += mism;
    if (mism) std::printf("MISMATCH doubles %s: %lld\n", what, mism);
}

// the gates' table point floor(x * N / D + 1/2) from the LSB count, against
// the same in double (exact: x * N / D has at most 40 + 12 significant bits)
template <class A, unsigned N, unsigned D> void table_point(const char *what, int n) {
    static_assert(ht_fast_point_ok<A, N, D>::value, "");
    long long mism = 0;
    for (int k = 0; k < n; k++) {
        const A x = random_ap<A>();
        const long long want = (long long)std::floor(x.to_double() * N / D + 0.5);
        if (ht_fast_table_point<N, D>(x) != want) mism++;
    }
    total += n;
    bad += mism;
    if (mism) std::printf("MISMATCH table point %s: %lld\n", what, mism);
}

int main() {
@CALLS@
    // from an int
    for (int i = -300; i <= 300; i++) {
        if (bits(ap_fixed<12, 6, AP_RND, AP_SAT>(i)) != ht_fx<12, 6, true, AP_RND, AP_SAT>(i).v) bad++;
        if (bits(ap_fixed<12, 6>(i)) != ht_fx<12, 6, true, AP_TRN, AP_WRAP>(i).v) bad++;
        total += 2;
    }
    std::printf("checked %lld bad %lld\n", total, bad);
    return bad != 0;
}
'''


def _calls() -> str:
    lines = []
    for (ws, is_), (wd, id_) in PAIRS:
        src = f"ap_fixed<{ws},{is_}>"
        hsrc = f"ht_fx<{ws},{is_},true,AP_TRN,AP_WRAP>"
        for q in Q_MODES:
            for o in O_MODES:
                dst = f"ap_fixed<{wd},{id_},{q},{o}>"
                hdst = f"ht_fx<{wd},{id_},true,{q},{o}>"
                lines.append(f'    conv<{src}, {dst}, {hsrc}, {hdst}>("{src}->{dst}", {N}, true);')
                udst = f"ap_ufixed<{wd},{id_},{q},{o}>"
                hudst = f"ht_fx<{wd},{id_},false,{q},{o}>"
                lines.append(f'    conv<{src}, {udst}, {hsrc}, {hudst}>("{src}->{udst}", {N // 4}, true);')
    # must differ: a mode the emulation does not use for this target
    lines.append(f'    conv<ap_fixed<17,6>, ap_fixed<16,6,AP_RND_CONV,AP_SAT>, ht_fx<17,6,true,AP_TRN,AP_WRAP>, '
                 f'ht_fx<16,6,true,AP_RND,AP_SAT> >("rnd-vs-conv", {N}, false);')
    lines.append(f'    conv<ap_fixed<31,12>, ap_fixed<16,6,AP_TRN,AP_SAT>, ht_fx<31,12,true,AP_TRN,AP_WRAP>, '
                 f'ht_fx<16,6,true,AP_TRN,AP_WRAP> >("sat-vs-wrap", {N}, false);')
    for a1, a2, acc in [("ap_fixed<16,6,AP_RND_CONV,AP_SAT>", "ap_fixed<16,0>", "ap_fixed<20,6>"),
                        ("ap_fixed<12,4>", "ap_fixed<14,-1>", "ap_fixed<18,5,AP_RND,AP_SAT>"),
                        ("ap_ufixed<8,0>", "ap_fixed<18,2>", "ap_fixed<22,4,AP_TRN,AP_SAT_SYM>"),
                        ("ap_fixed<31,10>", "ap_fixed<31,3>", "ap_fixed<31,12,AP_RND_CONV,AP_WRAP>")]:
        lines.append(f'    mac<{a1}, {a2}, {acc} >("{a1}*{a2}->{acc}", {N});')
    for a, b in [("ap_fixed<16,0>", "ap_fixed<12,3,AP_RND_CONV,AP_SAT>"), ("ap_fixed<18,8,AP_RND,AP_SAT>", "ap_fixed<24,10>"),
                 ("ap_fixed<14,-2>", "ap_ufixed<10,1,AP_RND_INF,AP_SAT>")]:
        lines.append(f'    doubles_and_back<{a}, {b} >("{a}->{b}", {N});')
    for a in ("ap_fixed<24,10>", "ap_fixed<18,8,AP_RND_CONV,AP_SAT>", "ap_fixed<12,14>", "ap_ufixed<16,2>"):
        for n, d in ((1024, 16), (1024, 8), (4096, 16), (32, 8)):
            lines.append(f'    table_point<{a}, {n}, {d}>("{a} {n}/{d}", {N});')
    return "\n".join(lines)


@pytest.fixture(scope="module")
def program_output(tmp_path_factory):
    if GXX is None:
        pytest.skip("needs g++ on PATH")
    tmp = tmp_path_factory.mktemp("fastcsim")
    src = tmp / "check.cpp"
    src.write_text(PROGRAM.replace("@CALLS@", _calls()))
    hls4ml_types = _ap_types_dir()
    exe = tmp / "check"
    build = subprocess.run([GXX, "-std=c++17", "-O1", "-w", "-DHT_FAST_CSIM", f"-I{ROOT / 'templates'}",
                            f"-I{hls4ml_types}", str(src), "-o", str(exe)], capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600)
    return run.returncode, run.stdout


def _ap_types_dir() -> Path:
    import hls4ml

    return Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"


def test_fast_arithmetic_equals_ap_fixed_bit_for_bit(program_output):
    rc, out = program_output
    checked = [line for line in out.splitlines() if line.startswith("checked")]
    assert checked, out[-2000:]
    total, bad = int(checked[0].split()[1]), int(checked[0].split()[3])
    assert total > 28 * len(PAIRS) * N, out[-2000:]
    assert bad == 0 and rc == 0, out[-3000:]


def test_the_comparison_detects_a_different_mode(program_output):
    _, out = program_output
    differ = {line.split()[1]: int(line.split()[2]) for line in out.splitlines() if line.startswith("DIFFER")}
    assert set(differ) == {"rnd-vs-conv", "sat-vs-wrap"}, out[-2000:]
    assert differ["rnd-vs-conv"] > 0 and differ["sat-vs-wrap"] > 0


def test_without_the_flag_the_stage_types_are_the_ap_types():
    """Without HT_FAST_CSIM (synthesis, a vendor csim or cosim) ht_fast<T> is T
    itself; with it, T's emulation (and a type too wide for it stays T)."""
    if GXX is None:
        pytest.skip("needs g++ on PATH")

    def compiles(flags, same):
        code = '#include "ap_fixed.h"\n#include "nnet_ht_fast.h"\n#include <type_traits>\n'
        for t, want in same:
            code += f'static_assert(std::is_same<nnet::ht_fast<{t} >::type, {want} >::value, "{t}");\n'
        r = subprocess.run([GXX, "-std=c++17", "-fsyntax-only", "-w", *flags, f"-I{ROOT / 'templates'}",
                            f"-I{_ap_types_dir()}", "-x", "c++", "-"], input=code + "int main() { return 0; }\n",
                           capture_output=True, text=True)
        return r.returncode == 0

    t1, t2, wide = "ap_fixed<16,6>", "ap_fixed<20,6,AP_RND_CONV,AP_SAT>", "ap_fixed<40,8>"
    assert compiles([], [(t1, t1), (t2, t2), (wide, wide)])
    fast = [(t1, "nnet::ht_fx<16,6,true,AP_TRN,AP_WRAP>"), (t2, "nnet::ht_fx<20,6,true,AP_RND_CONV,AP_SAT>"),
            (wide, wide)]
    assert compiles(["-DHT_FAST_CSIM"], fast)

    assert not compiles([], fast[:1]), "the check cannot fail"


def test_a_layer_with_a_type_too_wide_keeps_the_ap_types(tmp_path):
    """At ap_fixed<30,12> some stage accumulators exceed 31 bits: the layer
    then keeps every stage on ap types (a mix would not compile), and the
    fast build still equals the bit-exact reference."""
    if GXX is None:
        pytest.skip("needs g++ on PATH")
    import numpy as np

    import test_bitexact as tb
    from hls_project.flow import csim
    out = tmp_path / "wide"
    hm, _, _, _ = tb.hls_model("lstm_d2_parallel", out, precision="ap_fixed<30,12>")
    hm.write()
    text = (out / "firmware" / "parameters.h").read_text()
    assert "static const bool fast_csim =" in text and "typedef nnet::ht_fast_if<fast_csim, ap_fixed<30,12> >" in text
    build = subprocess.run(csim.build_command(str(out), "myproject", opt="-O0"), cwd=out, capture_output=True,
                           text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:]
    subprocess.run([str(out / "csim")], cwd=out, check=True, capture_output=True, timeout=600)
    got, ref, _ = tb._compare(out, hm)
    assert got.shape[0] == tb.N_SAMPLES and np.array_equal(got, ref)
