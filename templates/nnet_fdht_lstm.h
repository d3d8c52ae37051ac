#ifndef NNET_FDHT_LSTM_H_
#define NNET_FDHT_LSTM_H_

// FDHT-LSTM: an LSTM whose whole weight matrix (all four gates, input and
// recurrent part) is one HT matrix W_mega of shape (4H, prod(input_modes)):
//
//     z_t = W_mega [x_t ; h_{t-1} ; 0-pad] + b          (gates in Keras order i, f, c, o)
//     c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
//     h_t = sigmoid(o) * tanh(c_t)
//
// The product is the layer's generated functor (see nnet_ht.h); the
// activations are hls4ml's table-based ones, picked through the config like
// hls4ml's own LSTM (activation_recr for i, f, o; activation for g and c).

#include "nnet_activation.h"
#include "nnet_common.h"
#include "nnet_ht.h"
#include "nnet_recr_activations.h"

namespace nnet {

struct fdht_lstm_config {
    // Layer sizes: n_padded = prod(input_modes) >= n_in + n_state,
    // the product's output is 4 * n_state = prod(output_modes)
    static const unsigned n_timesteps = 1;
    static const unsigned n_in = 2;
    static const unsigned n_state = 2;
    static const unsigned n_padded = 4;

    // Output all n_timesteps * n_state values (step 0 first) or the last n_state
    static const bool return_sequences = false;
    static const unsigned reuse_factor = 1;

    // Internal data type definitions
    typedef float in_t;    // [x_t ; h_{t-1} ; 0] fed to the product
    typedef float accum_t; // z_t = W v + b, the activations' input
    typedef float bias_t;
    typedef float act_t;   // activated gates and tanh(c)
    typedef float state_t; // the cell state c
    typedef float h_t;     // the hidden state h

    // Activation configs (n_in = n_state): recurrent activation (i, f, o) and activation (g, c)
    typedef activ_config ACT_CONFIG_RECR_T;
    typedef activ_config ACT_CONFIG_T;
    template <class x_T, class y_T, class config_T>
    using activation_recr = nnet::activation::sigmoid<x_T, y_T, config_T>;
    template <class x_T, class y_T, class config_T> using activation = nnet::activation::tanh<x_T, y_T, config_T>;
};

template <class data_T, class res_T, typename CONFIG_T, class PRODUCT_T>
void fdht_lstm(const data_T x[CONFIG_T::n_timesteps * CONFIG_T::n_in],
               res_T y[(CONFIG_T::return_sequences ? CONFIG_T::n_timesteps : 1) * CONFIG_T::n_state],
               const PRODUCT_T &product, const typename CONFIG_T::bias_t bias[4 * CONFIG_T::n_state]) {
    typedef typename CONFIG_T::accum_t accum_t;
    typedef typename CONFIG_T::act_t act_t;
    typedef typename CONFIG_T::state_t state_t;
    static const unsigned n_in = CONFIG_T::n_in;
    static const unsigned n_state = CONFIG_T::n_state;

    typename CONFIG_T::h_t h[n_state];
    state_t c[n_state];

ResetState:
    for (unsigned j = 0; j < n_state; j++) {
        #pragma HLS UNROLL
        h[j] = 0;
        c[j] = 0;
    }

TimeLoop:
    for (unsigned t = 0; t < CONFIG_T::n_timesteps; t++) {
        // The recurrence (h, c feed the next step) keeps this loop sequential.
        typename CONFIG_T::in_t v[CONFIG_T::n_padded];
        accum_t z[4 * n_state];
        accum_t z_i[n_state], z_f[n_state], z_g[n_state], z_o[n_state];
        act_t g_i[n_state], g_f[n_state], g_g[n_state], g_o[n_state], c_act[n_state];

    ConcatX:
        for (unsigned k = 0; k < n_in; k++) {
            #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
            v[k] = x[t * n_in + k];
        }
    ConcatH:
        for (unsigned k = 0; k < n_state; k++) {
            #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
            v[n_in + k] = h[k];
        }
    ConcatPad:
        for (unsigned k = n_in + n_state; k < CONFIG_T::n_padded; k++) {
            #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
            v[k] = 0;
        }

        product(v, z);

    GateBias:
        for (unsigned j = 0; j < n_state; j++) {
            #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
            z_i[j] = z[j];
            z_i[j] += bias[j];
            z_f[j] = z[n_state + j];
            z_f[j] += bias[n_state + j];
            z_g[j] = z[2 * n_state + j];
            z_g[j] += bias[2 * n_state + j];
            z_o[j] = z[3 * n_state + j];
            z_o[j] += bias[3 * n_state + j];
        }

        CONFIG_T::template activation_recr<accum_t, act_t, typename CONFIG_T::ACT_CONFIG_RECR_T>::activation(z_i, g_i);
        CONFIG_T::template activation_recr<accum_t, act_t, typename CONFIG_T::ACT_CONFIG_RECR_T>::activation(z_f, g_f);
        CONFIG_T::template activation<accum_t, act_t, typename CONFIG_T::ACT_CONFIG_T>::activation(z_g, g_g);
        CONFIG_T::template activation_recr<accum_t, act_t, typename CONFIG_T::ACT_CONFIG_RECR_T>::activation(z_o, g_o);

    CellUpdate:
        for (unsigned j = 0; j < n_state; j++) {
            #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
            c[j] = (state_t)(g_f[j] * c[j] + g_i[j] * g_g[j]);
        }

        CONFIG_T::template activation<state_t, act_t, typename CONFIG_T::ACT_CONFIG_T>::activation(c, c_act);

    HiddenUpdate:
        for (unsigned j = 0; j < n_state; j++) {
            #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
            h[j] = (typename CONFIG_T::h_t)(g_o[j] * c_act[j]);
            if (CONFIG_T::return_sequences) {
                y[t * n_state + j] = (res_T)h[j];
            }
        }
    }

    if (!CONFIG_T::return_sequences) {
    LastState:
        for (unsigned j = 0; j < n_state; j++) {
            #pragma HLS UNROLL
            y[j] = (res_T)h[j];
        }
    }
}

} // namespace nnet

#endif
