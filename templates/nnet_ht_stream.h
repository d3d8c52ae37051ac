#ifndef NNET_HT_STREAM_H_
#define NNET_HT_STREAM_H_

// The HT accelerator's kernels: HTDense and FDHT-LSTM for io_stream, and the
// same processes behind an array interface for io_parallel (bit-identical).
//
// Every kernel is a function template driven by a CONFIG_T struct that
// hls_project/accel/writer.py generates per stage (sizes, lanes, loop levels,
// strides, lane maps) and by constant tables (the stage ROMs, the bias, the
// gate tables) written as initialisers at conversion. Python writes config
// structs, tables and the calls that connect processes; the loops are here.
//
// Storage: every tensor between stages is an array of words
//     T buf[banks][depth][lanes]   (ARRAY_PARTITION complete on dims 1 and 3)
// A stage iteration reads one A word and one ROM word and writes at most one
// output word, so every lane index is a compile-time constant after
// unrolling: each access goes to a bank the scheduler knows (the only
// run-time bank is the gate bank of the last stage's write, one access per
// iteration, which every bank can take). The HLS rules this relies on, and
// their sources, are listed in docs/hardware.md; `fdht lint` checks them.
//
// Processes of one frame (a loop over the frames with DATAFLOW in its body,
// ping-pong arrays between the stages: UG1399 "Canonical Forms"):
//   ht_regroup   input words -> words of the first stage (+ zero words)
//   ht_stage     x0 (A from a FIFO, in arrival order), x1.. (A from a buffer)
//   drain        bias; LSTM: one hidden unit's 4 gates per cycle (FIFO z_x)
// and, for an LSTM, the recurrence process beside it: per step the h-chain
// stages, then the gates (one hidden unit per cycle).

#include "hls_stream.h"
#include "nnet_activation.h"
#include "nnet_common.h"
#include "nnet_ht_fast.h"
#include "nnet_ht_probe.h"
#include "nnet_types.h"

namespace nnet {

// Base of the generated layer structs (they define everything).
struct ht_accel_config {};
struct fdht_accel_config {};

// floor(v + 1/2): the nearest integer (v exact in ap_fixed)
template <class v_T> inline int ht_round(v_T v) {
    const ap_ufixed<1, 0> half = 0.5;
    const auto w = v + half;
    int r = w.to_int(); // towards zero
    if (w < 0 && w != r)
        r -= 1;
    return r;
}

// ht_round(x * N / D): the nearest table point of x (in the fast csim, the
// same integer from x's LSB count, nnet_ht_fast.h)
template <unsigned N, unsigned D, class x_T> inline int ht_table_point(x_T x) {
#if defined(HT_FAST_CSIM) && !defined(__SYNTHESIS__)
    if constexpr (ht_fast_point_ok<x_T, N, D>::value)
        return ht_fast_table_point<N, D>(x);
#endif
    return ht_round(x * N / D);
}

// Table lookup on hls4ml's sigmoid table layout: [-8, 8) over table_size
// entries, at the NEAREST table point
template <class x_T, unsigned N> inline int ht_sigmoid_index(x_T x) {
    int i = ht_table_point<N, 16>(x) + 8 * N / 16;
    return i < 0 ? 0 : (i > int(N) - 1 ? int(N) - 1 : i);
}

// ... and on hls4ml's tanh table layout: [-4, 4).
template <class x_T, unsigned N> inline int ht_tanh_index(x_T x) {
    int i = ht_table_point<N, 8>(x) + 4 * N / 8;
    return i < 0 ? 0 : (i > int(N) - 1 ? int(N) - 1 : i);
}

// A table entry stored as its bit pattern (a ROM of integers: the same bits,
// and a C++ initialiser that compiles fast)
template <class T> inline T ht_from_bits(int raw) {
    #pragma HLS INLINE
    T v;
    v.range(T::width - 1, 0) = raw;
    return v;
}

// --------------------------------------------------------------------------
// Loop levels of a stage: compile-time recursion over CONFIG_T's level
// arrays (constants at each level, so no level table exists in hardware)
// --------------------------------------------------------------------------

struct ht_pos {
    unsigned a, b, o, g;   // A word, ROM row, out word (depth), out bank
    bool first, last;      // first / last iteration of the sum
    bool fresh;            // the B-only levels are all 0: a new A word (stream stage)
};

template <class C, int L> struct ht_levels {
    static const unsigned T = C::lv_trips[L], A = C::lv_a[L], B = C::lv_b[L], O = C::lv_o[L], G = C::lv_g[L];
    static const bool S = C::lv_sum[L] != 0, BONLY = C::lv_bonly[L] != 0;

    static void pos(const unsigned cnt[C::n_levels], ht_pos &p) {
        #pragma HLS INLINE
        p.a += cnt[L] * A;
        p.b += cnt[L] * B;
        p.o += cnt[L] * O;
        p.g += cnt[L] * G;
        if (S) {
            p.first = p.first && cnt[L] == 0;
            p.last = p.last && cnt[L] == T - 1;
        }
        if (BONLY)
            p.fresh = p.fresh && cnt[L] == 0;
        ht_levels<C, L - 1>::pos(cnt, p);
    }

    // odometer: the innermost level counts, a carry moves outwards
    static void next(unsigned cnt[C::n_levels], bool carry) {
        #pragma HLS INLINE
        const bool wrap = cnt[L] == T - 1;
        if (carry)
            cnt[L] = wrap ? 0 : cnt[L] + 1;
        ht_levels<C, L - 1>::next(cnt, carry && wrap);
    }
};

template <class C> struct ht_levels<C, -1> {
    static void pos(const unsigned *, ht_pos &) {}
    static void next(unsigned *, bool) {}
};

template <class C> inline ht_pos ht_position(const unsigned cnt[C::n_levels]) {
    #pragma HLS INLINE
    ht_pos p = {0, 0, 0, 0, true, true, true};
    ht_levels<C, int(C::n_levels) - 1>::pos(cnt, p);
    return p;
}

// Balanced adder tree over N values in the accumulator type: the products of
// one output lane are reduced here, then added to the accumulator once.
template <class acc_T, int N> struct ht_tree {
    template <class V> static acc_T sum(const V &v, int lo) {
        #pragma HLS INLINE
        acc_T r = ht_tree<acc_T, N / 2>::sum(v, lo);
        r += ht_tree<acc_T, N - N / 2>::sum(v, lo + N / 2);
        return r;
    }
};
template <class acc_T> struct ht_tree<acc_T, 1> {
    template <class V> static acc_T sum(const V &v, int lo) {
        #pragma HLS INLINE
        return v[lo];
    }
};

// --------------------------------------------------------------------------
// One contraction stage: out[o] = sum_s A[a] * B[b], free_lanes x sum_lanes
// products per iteration. CONFIG_T: n_levels, lv_* (per level: trips, A word
// / ROM row / out word / out bank strides, summed, B-only), trips, free_lanes,
// sum_lanes, a_lanes, a_words, rom_rows, out_banks, out_depth, acc_rows,
// a_lane[free_lanes * sum_lanes] (the A lane of product (f, s)), accum_t.
// --------------------------------------------------------------------------

// The iteration's products for output lane f, reduced (w: the A word, r: the
// ROM word, both already in registers)
template <class a_word_T, class tab_T, class C>
inline typename C::accum_t ht_lane_sum(const a_word_T &w, const tab_T r[C::rom_lanes], unsigned f) {
    #pragma HLS INLINE
    typedef typename C::accum_t acc_T;
    acc_T prod[C::sum_lanes];
    #pragma HLS ARRAY_PARTITION variable=prod complete
    for (unsigned s = 0; s < C::sum_lanes; s++) {
        #pragma HLS UNROLL
        prod[s] = (acc_T)(w[C::a_lane[f * C::sum_lanes + s]] * r[C::b_lane[f * C::sum_lanes + s]]);
    }
    return ht_tree<acc_T, C::sum_lanes>::sum(prod, 0);
}

// A from a word buffer (x1.., h0..; one bank: a[0]): loop levels free...,
// summed...; the accumulators are registers.
template <class a_T, class out_T, class tab_T, class C>
void ht_stage(const a_T a[1][C::a_words][C::a_lanes], out_T out[C::out_banks][C::out_depth][C::free_lanes],
              const tab_T rom[C::rom_rows][C::rom_lanes]) {
    #pragma HLS INLINE
    typedef typename C::accum_t acc_T;
    unsigned cnt[C::n_levels];
    #pragma HLS ARRAY_PARTITION variable=cnt complete
    acc_T acc[C::free_lanes];
    #pragma HLS ARRAY_PARTITION variable=acc complete
    for (unsigned l = 0; l < C::n_levels; l++) {
        #pragma HLS UNROLL
        cnt[l] = 0;
    }
Stage:
    for (unsigned it = 0; it < C::trips; it++) {
        #pragma HLS PIPELINE II=1
        HT_TRIP(C::trip_name());
        const ht_pos p = ht_position<C>(cnt);
        a_T w[C::a_lanes];
        tab_T r[C::rom_lanes];
        #pragma HLS ARRAY_PARTITION variable=w complete
        #pragma HLS ARRAY_PARTITION variable=r complete
        for (unsigned k = 0; k < C::a_lanes; k++) {
            #pragma HLS UNROLL
            w[k] = a[0][p.a][k]; // one read per lane bank
        }
        for (unsigned k = 0; k < C::rom_lanes; k++) {
            #pragma HLS UNROLL
            r[k] = rom[p.b][k]; // one read per ROM lane bank
        }
        for (unsigned f = 0; f < C::free_lanes; f++) {
            #pragma HLS UNROLL
            const acc_T t = ht_lane_sum<a_T *, tab_T, C>(w, r, f);
            acc_T s = p.first ? acc_T(0) : acc[f];
            s += t; // the one adder on the carried path
            acc[f] = s;
            if (p.last)
                out[p.g][p.o][f] = (out_T)acc[f];
        }
        ht_levels<C, int(C::n_levels) - 1>::next(cnt, true);
    }
}

// A from a FIFO, each word read once in arrival order (x0): loop levels
// A-free..., summed..., B-only...; one accumulator row per B-only iteration
// (rows > 1: a RAM updated at distance acc_rows, DEPENDENCE below).
template <class a_word_T, class out_T, class tab_T, class C>
void ht_stage_stream(hls::stream<a_word_T> &a, out_T out[C::out_banks][C::out_depth][C::free_lanes],
                     const tab_T rom[C::rom_rows][C::rom_lanes]) {
    #pragma HLS INLINE
    typedef typename C::accum_t acc_T;
    unsigned cnt[C::n_levels];
    #pragma HLS ARRAY_PARTITION variable=cnt complete
    acc_T acc[C::acc_rows][C::free_lanes];
    #pragma HLS ARRAY_PARTITION variable=acc complete dim=2
    #pragma HLS DEPENDENCE variable=acc inter RAW distance=C::acc_rows true
    unsigned row = 0;
    a_word_T w;
    for (unsigned l = 0; l < C::n_levels; l++) {
        #pragma HLS UNROLL
        cnt[l] = 0;
    }
Stage:
    for (unsigned it = 0; it < C::trips; it++) {
        #pragma HLS PIPELINE II=1
        HT_TRIP(C::trip_name());
        const ht_pos p = ht_position<C>(cnt);
        if (p.fresh)
            w = a.read();
        tab_T r[C::rom_lanes];
        #pragma HLS ARRAY_PARTITION variable=r complete
        for (unsigned k = 0; k < C::rom_lanes; k++) {
            #pragma HLS UNROLL
            r[k] = rom[p.b][k]; // one read per ROM lane bank
        }
        for (unsigned f = 0; f < C::free_lanes; f++) {
            #pragma HLS UNROLL
            const acc_T t = ht_lane_sum<a_word_T, tab_T, C>(w, r, f);
            acc_T s = p.first ? acc_T(0) : acc[row][f];
            s += t; // the one adder on the carried path
            acc[row][f] = s;
            if (p.last)
                out[p.g][p.o][f] = (out_T)s;
        }
        row = row == C::acc_rows - 1 ? 0 : row + 1;
        ht_levels<C, int(C::n_levels) - 1>::next(cnt, true);
    }
}

// Input words (W values) -> the first stage's words (Q values, Q | W), then
// zero words for the box entries past the input.
template <class in_word_T, class a_word_T, class C>
void ht_regroup(hls::stream<in_word_T> &x, hls::stream<a_word_T> &a) {
    #pragma HLS INLINE
    static const unsigned W = in_word_T::size, Q = a_word_T::size;
    typename in_word_T::value_type reg[W];
    #pragma HLS ARRAY_PARTITION variable=reg complete
    unsigned k = 0;
Regroup:
    for (unsigned i = 0; i < C::box_words; i++) {
        #pragma HLS PIPELINE II=1
        HT_TRIP(C::trip_regroup());
        a_word_T out;
        if (i < C::in_words) {
            if (k == 0) {
                const in_word_T w = x.read();
                for (unsigned l = 0; l < W; l++) {
                    #pragma HLS UNROLL
                    reg[l] = w[l];
                }
            }
            for (unsigned l = 0; l < Q; l++) {
                #pragma HLS UNROLL
                out[l] = reg[l];
            }
            for (unsigned l = 0; l + Q < W; l++) {
                #pragma HLS UNROLL
                reg[l] = reg[l + Q];
            }
            k = k == W / Q - 1 ? 0 : k + 1;
        } else {
            for (unsigned l = 0; l < Q; l++) {
                #pragma HLS UNROLL
                out[l] = 0;
            }
        }
        a.write(out);
    }
}

// LSTM drain: z words (4 gate banks x L lanes) -> one hidden unit per cycle
// (its 4 gates + bias), in word order; the lanes leave through a shift register.
template <class z_T, class zword_T, class bias_T, class C>
void ht_drain_gates(const z_T z[4][C::z_depth][C::z_lanes], hls::stream<zword_T> &zx,
                    const bias_T bias[C::n_state][4]) {
    #pragma HLS INLINE
    z_T reg[4][C::z_lanes];
    #pragma HLS ARRAY_PARTITION variable=reg complete dim=0
    unsigned d = 0, l = 0;
Drain:
    for (unsigned k = 0; k < C::n_state; k++) {
        #pragma HLS PIPELINE II=1
        HT_TRIP(C::trip_drain());
        if (l == 0) {
            for (unsigned g = 0; g < 4; g++) {
                #pragma HLS UNROLL
                for (unsigned m = 0; m < C::z_lanes; m++) {
                    #pragma HLS UNROLL
                    reg[g][m] = z[g][d][m];
                }
            }
        }
        zword_T word;
        for (unsigned g = 0; g < 4; g++) {
            #pragma HLS UNROLL
            word[g] = ht_cast<typename C::z_t>(reg[g][0]) + (typename C::z_t)bias[k][g];
            for (unsigned m = 0; m + 1 < C::z_lanes; m++) {
                #pragma HLS UNROLL
                reg[g][m] = reg[g][m + 1];
            }
        }
        zx.write(word);
        if (l == C::z_lanes - 1) {
            l = 0;
            d++;
        } else {
            l++;
        }
    }
}

// HTDense drain: z (one lane, C order) + bias -> output words of out_width values.
template <class z_T, class oword_T, class bias_T, class C>
void ht_drain_dense(const z_T z[1][C::n_out][1], hls::stream<oword_T> &y, const bias_T bias[C::n_out]) {
    #pragma HLS INLINE
    static const unsigned W = oword_T::size;
    oword_T word;
    unsigned k = 0;
Drain:
    for (unsigned n = 0; n < C::n_out; n++) {
        #pragma HLS PIPELINE II=1
        HT_TRIP(C::trip_drain());
        for (unsigned m = 0; m + 1 < W; m++) {
            #pragma HLS UNROLL
            word[m] = word[m + 1];
        }
        word[W - 1] = ht_cast<typename C::z_t>(z[0][n][0]) + (typename C::z_t)bias[n];
        if (k == W - 1) {
            y.write(word);
            k = 0;
        } else {
            k++;
        }
    }
}

// --------------------------------------------------------------------------
// FDHT-LSTM recurrence: per step the h-chain (CONFIG_T::h_chain over the
// h-box, which holds h_{t-1} at hbox_offset..), then the gates, one hidden
// unit per cycle in the drain's order (unit_j: its index, zh_addr: its z_h word).
// --------------------------------------------------------------------------

template <class res_T, class table_T, class C>
void fdht_recurrence(hls::stream<typename C::zword_t> &zx, hls::stream<res_T> &y,
                     const int sig[3][C::table_size], const int tnh[2][C::table_size],
                     const unsigned unit_j[C::n_state], const unsigned zh_addr[C::n_state]) {
    #pragma HLS INLINE
    static const unsigned H = C::n_state, N = C::table_size;
    typedef typename C::z_t z_t;
    typedef typename C::act_t act_t;
    typedef typename C::state_t state_t;
    typedef typename C::h_t h_t;

    h_t h[H];
    state_t c[H];
    typename C::hbox_t hbox[1][C::hbox_size][1];
    typename C::zh_t zh[4][C::zh_depth][1];
    #pragma HLS ARRAY_PARTITION variable=zh complete dim=1
    #pragma HLS DEPENDENCE variable=c inter false
    #pragma HLS DEPENDENCE variable=h inter false
    #pragma HLS DEPENDENCE variable=hbox inter false

Reset:
    for (unsigned i = 0; i < C::reset_trips; i++) {
        #pragma HLS PIPELINE II=1
        HT_TRIP(C::trip_reset());
        if (i < H) {
            h[i] = 0;
            c[i] = 0;
        }
        if (i < C::hbox_size)
            hbox[0][i][0] = 0;
    }

TimeLoop:
    for (unsigned t = 0; t < C::n_timesteps; t++) {
        C::h_chain(hbox, zh);
    Gates:
        for (unsigned k = 0; k < H; k++) {
            #pragma HLS PIPELINE II=1
            HT_TRIP(C::trip_gates());
            const typename C::zword_t zw = zx.read();
            const unsigned j = unit_j[k], q = zh_addr[k];
            // z = (W x + b) + W h, in a type that holds every sum exactly
            const z_t zi = (z_t)zw[0] + ht_cast<z_t>(zh[0][q][0]);
            const z_t zf = (z_t)zw[1] + ht_cast<z_t>(zh[1][q][0]);
            const z_t zg = (z_t)zw[2] + ht_cast<z_t>(zh[2][q][0]);
            const z_t zo = (z_t)zw[3] + ht_cast<z_t>(zh[3][q][0]);
            const act_t gi = (act_t)ht_from_bits<table_T>(sig[0][ht_sigmoid_index<z_t, N>(zi)]);
            const act_t gf = (act_t)ht_from_bits<table_T>(sig[1][ht_sigmoid_index<z_t, N>(zf)]);
            const act_t go = (act_t)ht_from_bits<table_T>(sig[2][ht_sigmoid_index<z_t, N>(zo)]);
            const act_t gg = (act_t)ht_from_bits<table_T>(tnh[0][ht_tanh_index<z_t, N>(zg)]);
            const state_t cn = (state_t)(gf * c[j] + gi * gg);
            c[j] = cn;
            const act_t ca = (act_t)ht_from_bits<table_T>(tnh[1][ht_tanh_index<state_t, N>(cn)]);
            const h_t hn = (h_t)(go * ca);
            h[j] = hn;
            hbox[0][C::hbox_offset + j][0] = hn;
        }
        if (C::return_sequences || t == C::n_timesteps - 1) {
            res_T out_word;
        Output:
            for (unsigned j = 0; j < H; j++) {
                #pragma HLS PIPELINE II=1
                HT_TRIP(C::trip_output());
                for (unsigned m = 0; m + 1 < H; m++) {
                    #pragma HLS UNROLL
                    out_word[m] = out_word[m + 1];
                }
                out_word[H - 1] = h[j];
            }
            y.write(out_word);
        }
    }
}

// --------------------------------------------------------------------------
// Layer entry points (the generated struct supplies x_chain and recurrence)
// --------------------------------------------------------------------------

template <class data_T, class res_T, typename CONFIG_T>
void ht_dense_stream(hls::stream<data_T> &x, hls::stream<res_T> &y) {
    #pragma HLS INLINE
    CONFIG_T::template x_chain<data_T, res_T>(x, y);
}

template <class data_T, class res_T, typename CONFIG_T>
void fdht_lstm_stream(hls::stream<data_T> &x, hls::stream<res_T> &y) {
    #pragma HLS DATAFLOW
    hls::stream<typename CONFIG_T::zword_t> zx("fdht_zx");
    // two frames of z_x: the x-chain runs up to a frame ahead of the recurrence
    #pragma HLS STREAM variable=zx depth=CONFIG_T::zx_depth
    CONFIG_T::template x_chain<data_T, typename CONFIG_T::zword_t>(x, zx);
    CONFIG_T::template recurrence<res_T>(zx, y);
}

template <class data_T, unsigned N, class word_T>
void ht_pack(const data_T x[N], hls::stream<word_T> &xs) {
    static const unsigned K = word_T::size;
PackWords:
    for (unsigned w = 0; w < N / K; w++) {
        #pragma HLS PIPELINE II=1
        word_T word;
        for (unsigned k = 0; k < K; k++) {
            #pragma HLS UNROLL
            word[k] = x[w * K + k];
        }
        xs.write(word);
    }
}

template <class res_T, class word_T, unsigned N>
void ht_unpack(hls::stream<word_T> &ys, res_T y[N]) {
UnpackWords:
    for (unsigned w = 0; w < N / word_T::size; w++) {
        #pragma HLS PIPELINE II=1
        word_T word = ys.read();
        for (unsigned k = 0; k < word_T::size; k++) {
            #pragma HLS UNROLL
            y[w * word_T::size + k] = (res_T)word[k];
        }
    }
}

// io_parallel: the same processes, fed through internal streams.
template <class data_T, class res_T, typename CONFIG_T>
void ht_dense_array(const data_T x[CONFIG_T::n_in], res_T y[CONFIG_T::n_out]) {
    #pragma HLS DATAFLOW
    hls::stream<typename CONFIG_T::word_t> xs("ht_dense_x");
    hls::stream<typename CONFIG_T::out_word_t> ys("ht_dense_y");
    ht_pack<data_T, CONFIG_T::n_in, typename CONFIG_T::word_t>(x, xs);
    ht_dense_stream<typename CONFIG_T::word_t, typename CONFIG_T::out_word_t, CONFIG_T>(xs, ys);
    ht_unpack<res_T, typename CONFIG_T::out_word_t, CONFIG_T::n_out>(ys, y);
}

template <class data_T, class res_T, typename CONFIG_T>
void fdht_lstm_array(const data_T x[CONFIG_T::n_timesteps * CONFIG_T::n_in],
                     res_T y[(CONFIG_T::return_sequences ? CONFIG_T::n_timesteps : 1) * CONFIG_T::n_state]) {
    #pragma HLS DATAFLOW
    hls::stream<typename CONFIG_T::word_t> xs("fdht_x");
    hls::stream<typename CONFIG_T::out_word_t> ys("fdht_y");
    ht_pack<data_T, CONFIG_T::n_timesteps * CONFIG_T::n_in, typename CONFIG_T::word_t>(x, xs);
    fdht_lstm_stream<typename CONFIG_T::word_t, typename CONFIG_T::out_word_t, CONFIG_T>(xs, ys);
    ht_unpack<res_T, typename CONFIG_T::out_word_t,
              (CONFIG_T::return_sequences ? CONFIG_T::n_timesteps : 1) * CONFIG_T::n_state>(ys, y);
}

} // namespace nnet

#endif
