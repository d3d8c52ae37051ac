#ifndef NNET_HT_STREAM_H_
#define NNET_HT_STREAM_H_

// The streaming HT accelerator: HTDense and FDHT-LSTM for io_stream, and the
// same processes behind an array interface for io_parallel (bit-identical).
//
// What is generated per layer (hls_project/accelgen.py, from the schedule in
// hls_project/schedule.py) is a config struct with the layer's sizes and
// types and its processes as static functions:
//
//   x0(x, out), x1(a, out), ..  one frame through one x-chain stage: x0
//                               consumes the frame's input words as they
//                               arrive, x1.. read the previous stage's output
//   drain(z, zs)                adds the bias, writes z words
//   x_chain<word_T, zword_T>(x, zs)   all frames of a call through the chain:
//       frame channels (default): every stage is its own process looping over
//         the frames, handing each frame's tensor to the next stage through an
//         hls::stream_of_blocks (ping-pong blocks, Vitis HLS); the processes
//         sit in the caller's DATAFLOW region, so successive calls overlap too
//       HT_FRAME_PIPO (Vivado HLS, which has no stream_of_blocks): a frame
//         loop around one DATAFLOW region per frame with ping-pong arrays
//         (x_frame); frames overlap inside a call, calls do not
//   h_scatter(h, hbox), h_chain(hbox, zh)   (LSTM) the recurrent part W [0 ; h ; 0]
//
// Both channel kinds run the same stage functions in the same order, so they
// give bit-identical results (tested with -DHT_FRAME_PIPO). This header holds
// what is common: the frame channels, the gates, the time loop and the
// interface wrappers. Loops are labelled; pipelined loops have II = 1.

#include "hls_stream.h"
#include "nnet_activation.h"
#include "nnet_common.h"
#include "nnet_ht_fast.h"
#include "nnet_ht_probe.h"
#include "nnet_types.h"
#include <cmath>
#ifndef __SYNTHESIS__
#include <cstdlib>
#include <deque>
#include <iostream>
#endif


#ifndef HT_FRAME_PIPO
#if defined(__SYNTHESIS__) && !defined(__VITIS_HLS__)
#define HT_FRAME_PIPO 1
#else
#define HT_FRAME_PIPO 0
#endif
#endif

// Vitis HLS's own stream_of_blocks: always in synthesis, and in a C simulation
// built with -DHT_HLS_STREAM_OF_BLOCKS (Vitis's csim headers on the include path)
#if !defined(HT_HLS_STREAM_OF_BLOCKS) && defined(__SYNTHESIS__) && defined(__VITIS_HLS__)
#define HT_HLS_STREAM_OF_BLOCKS 1
#endif
#if defined(HT_HLS_STREAM_OF_BLOCKS)
#include "hls_streamofblocks.h"
#endif

namespace nnet {

// --------------------------------------------------------------------------
// Frame channels: a stream of blocks (one block = one frame's tensor)
// --------------------------------------------------------------------------
#if defined(HT_HLS_STREAM_OF_BLOCKS)
template <class B> using ht_blocks = hls::stream_of_blocks<B>;
template <class B> using ht_read_lock = hls::read_lock<B>;
template <class B> using ht_write_lock = hls::write_lock<B>;
#elif !HT_FRAME_PIPO
// C simulation: the processes of a dataflow region run one after another, so
// the channel holds every block its producer wrote until the consumer takes
// it (a FIFO of blocks); a lock is the block it acquired, as in Vitis.
template <class B> class ht_blocks {
    struct holder {
        B data;
    };
    std::deque<holder *> full_;
    template <class> friend class ht_read_lock;
    template <class> friend class ht_write_lock;

  public:
    ht_blocks() {}
    ~ht_blocks() {
        for (typename std::deque<holder *>::iterator it = full_.begin(); it != full_.end(); ++it)
            delete *it;
    }
};

template <class B> class ht_read_lock {
    ht_blocks<B> &ch_;
    typename ht_blocks<B>::holder *h_;

  public:
    explicit ht_read_lock(ht_blocks<B> &ch) : ch_(ch), h_(0) {
        if (ch_.full_.empty()) {
            std::cerr << "ht_blocks: a frame was read before it was written" << std::endl;
            std::abort();
        }
        h_ = ch_.full_.front();
        ch_.full_.pop_front();
    }
    ~ht_read_lock() { delete h_; }
    operator B &() { return h_->data; }
};

template <class B> class ht_write_lock {
    ht_blocks<B> &ch_;
    typename ht_blocks<B>::holder *h_;

  public:
    explicit ht_write_lock(ht_blocks<B> &ch) : ch_(ch), h_(new typename ht_blocks<B>::holder()) {}
    ~ht_write_lock() { ch_.full_.push_back(h_); }
    operator B &() { return h_->data; }
};
#endif

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
// entries, at the NEAREST table point (hls4ml's own lookup truncates towards
// zero: twice the error, and biased)
template <class x_T, typename CONFIG_T> inline int ht_sigmoid_index(x_T x) {
    int i = ht_table_point<CONFIG_T::table_size, 16>(x) + 8 * CONFIG_T::table_size / 16;
    return i < 0 ? 0 : (i > int(CONFIG_T::table_size) - 1 ? int(CONFIG_T::table_size) - 1 : i);
}

// ... and on hls4ml's tanh table layout: [-4, 4).
template <class x_T, typename CONFIG_T> inline int ht_tanh_index(x_T x) {
    int i = ht_table_point<CONFIG_T::table_size, 8>(x) + 4 * CONFIG_T::table_size / 8;
    return i < 0 ? 0 : (i > int(CONFIG_T::table_size) - 1 ? int(CONFIG_T::table_size) - 1 : i);
}

// The gate tables: hls4ml's (bits = 0), or a QKeras quantized_sigmoid /
// quantized_tanh with use_real_*: the real function at hls4ml's table points,
// rounded to the quantizer's grid (sigmoid 2^-bits, tanh 2^-(bits-1)) and
// clipped to its range, as QKeras computes it in float.
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

// --------------------------------------------------------------------------
// HTDense
// --------------------------------------------------------------------------

template <class data_T, class res_T, typename CONFIG_T>
void ht_dense_stream(hls::stream<data_T> &x, hls::stream<res_T> &y) {
    #pragma HLS DATAFLOW
    CONFIG_T::template x_chain<data_T, res_T>(x, y);
}

template <class data_T, class res_T, typename CONFIG_T>
void ht_dense_pack(const data_T x[CONFIG_T::n_in], hls::stream<typename CONFIG_T::word_t> &xs) {
PackWords:
    for (unsigned w = 0; w < CONFIG_T::n_in / CONFIG_T::word_t::size; w++) {
        #pragma HLS PIPELINE II=1
        typename CONFIG_T::word_t word;
        for (unsigned k = 0; k < CONFIG_T::word_t::size; k++) {
            #pragma HLS UNROLL
            word[k] = x[w * CONFIG_T::word_t::size + k];
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
    ht_dense_pack<data_T, res_T, CONFIG_T>(x, xs);
    ht_dense_stream<typename CONFIG_T::word_t, typename CONFIG_T::out_word_t, CONFIG_T>(xs, ys);
    ht_unpack<res_T, typename CONFIG_T::out_word_t, CONFIG_T::n_out>(ys, y);
}

// --------------------------------------------------------------------------
// FDHT-LSTM
// --------------------------------------------------------------------------

// The recurrence: per step, h-chain then gates (gate_lanes hidden units per cycle).
template <class res_T, typename CONFIG_T>
void fdht_recurrence(hls::stream<typename CONFIG_T::zword_t> &zx, hls::stream<res_T> &y) {
    static const unsigned H = CONFIG_T::n_state;
    static const unsigned G = CONFIG_T::gate_lanes;
    typedef typename CONFIG_T::z_t z_t;
    typedef typename CONFIG_T::act_t act_t;
    typedef typename CONFIG_T::state_t state_t;
    typedef typename CONFIG_T::h_t h_t;
    typedef typename CONFIG_T::ACT_CONFIG_T::table_t table_t;

    h_t h[H];
    state_t c[H];
    #pragma HLS ARRAY_PARTITION variable=h cyclic factor=CONFIG_T::state_banks
    #pragma HLS ARRAY_PARTITION variable=c cyclic factor=CONFIG_T::state_banks
    typename CONFIG_T::hbox_t hbox[CONFIG_T::hbox_size];
    typename CONFIG_T::zh_t zh[4 * H];
    #pragma HLS ARRAY_PARTITION variable=zh cyclic factor=CONFIG_T::zh_banks

    // One table copy per lookup per lane: every lookup has its own port.
    static table_t sig_table[3 * G][CONFIG_T::ACT_CONFIG_RECR_T::table_size];
    static table_t tanh_table[2 * G][CONFIG_T::ACT_CONFIG_T::table_size];
    #pragma HLS ARRAY_PARTITION variable=sig_table complete dim=1
    #pragma HLS ARRAY_PARTITION variable=tanh_table complete dim=1
    static bool tables_ready = false;
    if (!tables_ready) {
        for (unsigned k = 0; k < 3 * G; k++)
            ht_sigmoid_table<typename CONFIG_T::ACT_CONFIG_RECR_T, CONFIG_T::ACT_CONFIG_RECR_T::table_size>(
                sig_table[k], CONFIG_T::recr_act_bits, CONFIG_T::recr_act_symmetric);
        for (unsigned k = 0; k < 2 * G; k++)
            ht_tanh_table<typename CONFIG_T::ACT_CONFIG_T, CONFIG_T::ACT_CONFIG_T::table_size>(
                tanh_table[k], CONFIG_T::act_bits, CONFIG_T::act_symmetric);
        tables_ready = true;
    }

ResetState:
    for (unsigned j = 0; j < H; j++) {
        #pragma HLS PIPELINE II=1
        HT_TRIP(CONFIG_T::trip_reset());
        h[j] = 0;
        c[j] = 0;
    }
    CONFIG_T::h_reset(hbox);

    HT_BANK_PROBE(probe_zh, CONFIG_T::probe_zh(), CONFIG_T::zh_banks);
    HT_BANK_PROBE(probe_c, CONFIG_T::probe_state(), CONFIG_T::state_banks);

TimeLoop:
    for (unsigned t = 0; t < CONFIG_T::n_timesteps; t++) {
        CONFIG_T::h_scatter(h, hbox);
        CONFIG_T::h_chain(hbox, zh);
        res_T out_word;
    Gates:
        for (unsigned jj = 0; jj < H / G; jj++) {
            #pragma HLS PIPELINE II=1
            HT_TRIP(CONFIG_T::trip_gates());
            typename CONFIG_T::zword_t zw = zx.read();
            for (unsigned l = 0; l < G; l++) {
                #pragma HLS UNROLL
                const unsigned j = jj * G + l;
                HT_BANK_READ(probe_zh, j);
                HT_BANK_READ(probe_zh, H + j);
                HT_BANK_READ(probe_zh, 2 * H + j);
                HT_BANK_READ(probe_zh, 3 * H + j);
                HT_BANK_READ(probe_c, j);
                HT_BANK_WRITE(probe_c, j);
                // z = (W x + b) + W h, in a type that holds every sum exactly
                const z_t zi = (z_t)zw[l] + ht_cast<z_t>(zh[j]);
                const z_t zf = (z_t)zw[G + l] + ht_cast<z_t>(zh[H + j]);
                const z_t zg = (z_t)zw[2 * G + l] + ht_cast<z_t>(zh[2 * H + j]);
                const z_t zo = (z_t)zw[3 * G + l] + ht_cast<z_t>(zh[3 * H + j]);
                const act_t gi = (act_t)sig_table[3 * l][ht_sigmoid_index<z_t, typename CONFIG_T::ACT_CONFIG_RECR_T>(zi)];
                const act_t gf =
                    (act_t)sig_table[3 * l + 1][ht_sigmoid_index<z_t, typename CONFIG_T::ACT_CONFIG_RECR_T>(zf)];
                const act_t go =
                    (act_t)sig_table[3 * l + 2][ht_sigmoid_index<z_t, typename CONFIG_T::ACT_CONFIG_RECR_T>(zo)];
                const act_t gg = (act_t)tanh_table[2 * l][ht_tanh_index<z_t, typename CONFIG_T::ACT_CONFIG_T>(zg)];
                const state_t cn = (state_t)(gf * c[j] + gi * gg);
                c[j] = cn;
                const act_t ca = (act_t)tanh_table[2 * l + 1][ht_tanh_index<state_t, typename CONFIG_T::ACT_CONFIG_T>(cn)];
                h[j] = (h_t)(go * ca);
                if (CONFIG_T::return_sequences)
                    out_word[j] = h[j];
            }
            HT_BANK_END(probe_zh);
            HT_BANK_END(probe_c);
        }
        if (CONFIG_T::return_sequences)
            y.write(out_word);
    }
    if (!CONFIG_T::return_sequences) {
        res_T out_word;
    LastState:
        for (unsigned j = 0; j < H; j++) {
            #pragma HLS PIPELINE II=1
            HT_TRIP(CONFIG_T::trip_last());
            out_word[j] = h[j];
        }
        y.write(out_word);
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void fdht_lstm_stream(hls::stream<data_T> &x, hls::stream<res_T> &y) {
    #pragma HLS DATAFLOW
    hls::stream<typename CONFIG_T::zword_t> zx("fdht_zx");
    // two frames of z_x words: the x-chain runs one frame ahead of the recurrence
    #pragma HLS STREAM variable=zx depth=CONFIG_T::zx_depth
    CONFIG_T::template x_chain<data_T, typename CONFIG_T::zword_t>(x, zx);
    fdht_recurrence<res_T, CONFIG_T>(zx, y);
}

template <class data_T, typename CONFIG_T>
void fdht_pack(const data_T x[CONFIG_T::n_timesteps * CONFIG_T::n_in], hls::stream<typename CONFIG_T::word_t> &xs) {
    static const unsigned K = CONFIG_T::word_t::size;
PackWords:
    for (unsigned w = 0; w < CONFIG_T::n_timesteps * CONFIG_T::n_in / K; w++) {
        #pragma HLS PIPELINE II=1
        typename CONFIG_T::word_t word;
        for (unsigned k = 0; k < K; k++) {
            #pragma HLS UNROLL
            word[k] = x[w * K + k];
        }
        xs.write(word);
    }
}

// io_parallel: the same processes, fed through internal streams.
template <class data_T, class res_T, typename CONFIG_T>
void fdht_lstm_array(const data_T x[CONFIG_T::n_timesteps * CONFIG_T::n_in],
                     res_T y[(CONFIG_T::return_sequences ? CONFIG_T::n_timesteps : 1) * CONFIG_T::n_state]) {
    #pragma HLS DATAFLOW
    hls::stream<typename CONFIG_T::word_t> xs("fdht_x");
    hls::stream<typename CONFIG_T::out_word_t> ys("fdht_y");
    fdht_pack<data_T, CONFIG_T>(x, xs);
    fdht_lstm_stream<typename CONFIG_T::word_t, typename CONFIG_T::out_word_t, CONFIG_T>(xs, ys);
    ht_unpack<res_T, typename CONFIG_T::out_word_t,
              (CONFIG_T::return_sequences ? CONFIG_T::n_timesteps : 1) * CONFIG_T::n_state>(ys, y);
}

} // namespace nnet

#endif
