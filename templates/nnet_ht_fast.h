#ifndef NNET_HT_FAST_H_
#define NNET_HT_FAST_H_

// Fast C simulation of the HT stages' fixed-point arithmetic.
//
// The stage types of the accelerator are written as nnet::ht_fast<T>::type.
// Without HT_FAST_CSIM (synthesis, and a vendor csim or cosim that does not
// set it) that is T itself: the ap_fixed types the design is synthesised
// with. The flow's g++ csim build sets -DHT_FAST_CSIM: then every ap_fixed /
// ap_ufixed of up to 31 bits (no saturation-bit count, no AP_WRAP_SM) becomes
// ht_fx, which keeps the value as a 64-bit integer count of LSBs and does
// exactly what ap_fixed does with it: full-precision products, and on every
// conversion the target type's quantisation mode, then its overflow mode.
// The ap_types C++ model spends about a hundred instructions on one
// multiply-add; ht_fx a handful.
//
// Only the operations the stage functions use exist (construction from an
// int, a double, an ap_fixed or another ht_fx; *, +=, ht_cast back to an
// ap type): anything else does not compile, so a new use cannot silently
// leave the emulated semantics. Equality with ap_fixed is tested bit for bit
// (tests/test_fast_csim.py: every mode on random values, and whole projects
// built both ways give byte-identical results).

#include "ap_fixed.h"
#if defined(HT_FAST_CSIM) && !defined(__SYNTHESIS__)
#include <type_traits>
#endif

namespace nnet {

#if defined(HT_FAST_CSIM) && !defined(__SYNTHESIS__)

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O> struct ht_fx;

// x (an integer count of LSBs) into W bits, signedness S, overflow mode O;
// T: long long for W <= 62, else __int128
template <int W, bool S, ap_o_mode O, class T> inline T ht_fx_overflow(T x) {
    const T lo = S ? -((T)1 << (W - 1)) : (T)0;
    const T hi = S ? ((T)1 << (W - 1)) - 1 : ((T)1 << W) - 1;
    if (O == AP_SAT_SYM && S && x == lo) // ap_fixed: the minimum itself becomes -max
        return -hi;
    if (x >= lo && x <= hi)
        return x;
    switch (O) {
    case AP_SAT:
        return x < lo ? lo : hi;
    case AP_SAT_ZERO:
        return 0;
    case AP_SAT_SYM:
        return x < lo ? (S ? -hi : lo) : hi;
    default: { // AP_WRAP: the low W bits
        const T m = ((T)1 << (W - 1)) * 2 - 1; // 2^W - 1 without overflow
        const T u = x & m;
        return (S && (u >> (W - 1)) & 1) ? u - m - 1 : u;
    }
    }
}

// v * 2^-F (F may be negative, or larger than W: both are legal ap types)
// converted to W bits with F2 fraction bits, signedness S, modes Q and O:
// quantisation first, then overflow, as ap_fixed converts
template <int F, int W, int F2, bool S, ap_q_mode Q, ap_o_mode O> inline long long ht_fx_convert(long long v) {
    static_assert(F2 - F <= 62 && F - F2 <= 62, "nnet_ht_fast.h: a conversion between types whose fraction bits "
                                                "differ by more than 62; build the csim without -DHT_FAST_CSIM");
    if constexpr (F2 > F) { // more fraction bits: exact, can overflow long long on the way
        return (long long)ht_fx_overflow<W, S, O, __int128>((__int128)v * ((__int128)1 << (F2 - F)));
    } else {
        long long x = v;
        if constexpr (F2 < F) {
            constexpr int d = F - F2;
            const long long q = v >> d; // floor
            bool up = false;
            if constexpr (Q != AP_TRN) {
                const long long rem = v - q * (1LL << d);
                const long long half = 1LL << (d - 1);
                switch (Q) {
                case AP_TRN_ZERO:
                    up = v < 0 && rem != 0;
                    break;
                case AP_RND:
                    up = rem >= half;
                    break;
                case AP_RND_ZERO:
                    up = rem > half || (rem == half && v < 0);
                    break;
                case AP_RND_MIN_INF:
                    up = rem > half;
                    break;
                case AP_RND_INF:
                    up = rem > half || (rem == half && v > 0);
                    break;
                case AP_RND_CONV:
                    up = rem > half || (rem == half && (q & 1));
                    break;
                default:
                    break;
                }
            }
            x = q + (up ? 1 : 0);
        }
        if constexpr (W <= 62)
            return ht_fx_overflow<W, S, O, long long>(x);
        else
            return (long long)ht_fx_overflow<W, S, O, __int128>((__int128)x);
    }
}

// the LSB count of an ap_fixed / ap_ufixed of up to 63 bits (ap_types' C++
// model keeps it sign-extended in one 64-bit word)
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
inline long long ht_raw(const ap_fixed_base<W, I, S, Q, O, N> &o) {
    static_assert(W <= 63, "nnet_ht_fast.h: an ap type wider than 63 bits; build the csim without -DHT_FAST_CSIM");
    return S ? (long long)o.V.to_int64() : (long long)o.V.to_uint64();
}

// floor(x * N / D + 1/2) (ht_round of x * N / D), on the LSB count: exact when
// D divides N (x * N / D is then x * (N / D), no division rounding)
template <class x_T, unsigned N, unsigned D> struct ht_fast_point_ok {
    static const bool value = N % D == 0 && x_T::width <= 40;
};
template <unsigned N, unsigned D, class x_T> inline int ht_fast_table_point(const x_T &x) {
    const long long v = ht_raw(x) * (long long)(N / D);
    constexpr int F = x_T::width - x_T::iwidth;
    if constexpr (F <= 0)
        return (int)(v * (1LL << -F));
    else
        return (int)((v + (1LL << (F - 1))) >> F);
}

template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O> struct ht_fx {
    static const int F = W - I;
    long long v; // the value in LSBs, within the type's range

    ht_fx() : v(0) {}
    ht_fx(int x) : v(ht_fx_convert<0, W, F, S, Q, O>(x)) {}
    // a constant from a double (the tables): 40 more fraction bits and a
    // sticky LSB for anything finer, then the type's own conversion
    ht_fx(double d) {
        static const int K = 40;
        double s = __builtin_ldexp(d, F + K);
        if (s > 4.0e18) s = 4.0e18;
        if (s < -4.0e18) s = -4.0e18;
        long long t = (long long)__builtin_floor(s);
        if ((double)t != s) t |= 1;
        v = ht_fx_convert<F + K, W, F, S, Q, O>(t);
    }
    template <int W2, int I2, bool S2, ap_q_mode Q2, ap_o_mode O2>
    ht_fx(const ht_fx<W2, I2, S2, Q2, O2> &o) : v(ht_fx_convert<W2 - I2, W, F, S, Q, O>(o.v)) {}
    template <int W2, int I2, bool S2, ap_q_mode Q2, ap_o_mode O2, int N2>
    ht_fx(const ap_fixed_base<W2, I2, S2, Q2, O2, N2> &o) : v(ht_fx_convert<W2 - I2, W, F, S, Q, O>(ht_raw(o))) {}
    ht_fx &operator+=(const ht_fx &o) {
        v = ht_fx_convert<F, W, F, S, Q, O>(v + o.v);
        return *this;
    }
};

// full precision, as ap_fixed: W1 + W2 bits, I1 + I2 integer bits
template <int W1, int I1, bool S1, ap_q_mode Q1, ap_o_mode O1, int W2, int I2, bool S2, ap_q_mode Q2, ap_o_mode O2>
inline ht_fx<W1 + W2, I1 + I2, S1 || S2, AP_TRN, AP_WRAP> operator*(const ht_fx<W1, I1, S1, Q1, O1> &a,
                                                                    const ht_fx<W2, I2, S2, Q2, O2> &b) {
    ht_fx<W1 + W2, I1 + I2, S1 || S2, AP_TRN, AP_WRAP> r;
    r.v = a.v * b.v; // |a.v|, |b.v| < 2^31: exact
    return r;
}

// ap_fixed / ap_ufixed of up to 31 bits, no saturation bits, no AP_WRAP_SM
template <class T> struct ht_fast {
    typedef T type;
};
template <int W, int I, ap_q_mode Q, ap_o_mode O> struct ht_fast<ap_fixed<W, I, Q, O, 0> > {
    typedef typename std::conditional<(W <= 31 && O != AP_WRAP_SM), ht_fx<W, I, true, Q, O>, ap_fixed<W, I, Q, O, 0> >::type
        type;
};
template <int W, int I, ap_q_mode Q, ap_o_mode O> struct ht_fast<ap_ufixed<W, I, Q, O, 0> > {
    typedef typename std::conditional<(W <= 31 && O != AP_WRAP_SM), ht_fx<W, I, false, Q, O>,
                                      ap_ufixed<W, I, Q, O, 0> >::type type;
};

// a layer uses the emulation only when all its stage types have one (a mix
// would not compile): ht_fast_if<all, T>
template <class T> struct ht_fast_ok {
    static const bool value = !std::is_same<typename ht_fast<T>::type, T>::value;
};
template <bool ALL, class T> struct ht_fast_if {
    typedef typename std::conditional<ALL, typename ht_fast<T>::type, T>::type type;
};

// back to an ap type T, with T's modes (any other value: a plain cast)
template <int W, int I, bool S, ap_q_mode Q, ap_o_mode O, int N>
constexpr bool ht_signed(const ap_fixed_base<W, I, S, Q, O, N> *) {
    return S;
}
template <class T, int W2, int I2, bool S2, ap_q_mode Q2, ap_o_mode O2> inline T ht_cast(const ht_fx<W2, I2, S2, Q2, O2> &x) {
    T r;
    r.range(T::width - 1, 0) = (unsigned long long)ht_fx_convert<W2 - I2, T::width, T::width - T::iwidth,
                                                                  ht_signed((const T *)nullptr), T::qmode, T::omode>(x.v);
    return r;
}
template <class T, class X> inline T ht_cast(const X &x) { return (T)x; }

#else

template <class T> struct ht_fast {
    typedef T type;
};
template <class T> struct ht_fast_ok {
    static const bool value = true;
};
template <bool ALL, class T> struct ht_fast_if {
    typedef T type;
};

template <class T, class X> inline T ht_cast(const X &x) { return (T)x; }

#endif

} // namespace nnet

#endif
