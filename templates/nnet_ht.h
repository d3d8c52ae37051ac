#ifndef NNET_HT_H_
#define NNET_HT_H_

// Hierarchical Tucker (HT) matrix-vector product, y = W x with W kept as HT cores.
//
// The product is a planned chain of pairwise contractions (keras_model/ht.py,
// HTShape.plan). Each step is one call of ht_stage, whose loop structure
// (trip counts and strides into A, B and the output, all flat C-order
// arrays) is emitted per step by hls_project/codegen.py into a config struct.
// codegen.py also emits, per layer, a product functor that owns references to
// the layer's cores and runs the stages in plan order; ht_dense pads the input,
// calls it and adds the bias. Nothing about shapes is computed here.

#include "nnet_common.h"

namespace nnet {

#ifdef HT_COUNT_MACS
// Test instrumentation only (never defined for synthesis): every multiply-add
// that ht_stage executes increments nnet::ht_mac_count. One counter shared by
// all translation units, in C++11 as well (a template's static member).
template <int N> struct ht_mac_counter { static unsigned long long value; };
template <int N> unsigned long long ht_mac_counter<N>::value = 0;
static unsigned long long &ht_mac_count = ht_mac_counter<0>::value;
#endif

// One contraction stage: out[o] = sum over the summed indices of a[ia] * b[ib].
// Free (output) levels f0..f5 and summed levels s0..s3, outermost first; unused
// levels are padded on the OUTER side with n = 1 and strides 0, so the
// innermost levels are the real ones.
struct ht_stage_config {
    // Flat tensor sizes
    static const unsigned a_size = 1;
    static const unsigned b_size = 1;
    static const unsigned out_size = 1;

    // Internal data type definitions
    typedef float accum_t;

    // Free levels: trip count, stride in A, stride in B, stride in out
    static const unsigned f0_n = 1, f0_a = 0, f0_b = 0, f0_o = 0;
    static const unsigned f1_n = 1, f1_a = 0, f1_b = 0, f1_o = 0;
    static const unsigned f2_n = 1, f2_a = 0, f2_b = 0, f2_o = 0;
    static const unsigned f3_n = 1, f3_a = 0, f3_b = 0, f3_o = 0;
    static const unsigned f4_n = 1, f4_a = 0, f4_b = 0, f4_o = 0;
    static const unsigned f5_n = 1, f5_a = 0, f5_b = 0, f5_o = 0;

    // Summed levels: trip count, stride in A, stride in B
    static const unsigned s0_n = 1, s0_a = 0, s0_b = 0;
    static const unsigned s1_n = 1, s1_a = 0, s1_b = 0;
    static const unsigned s2_n = 1, s2_a = 0, s2_b = 0;
    static const unsigned s3_n = 1, s3_a = 0, s3_b = 0;

    // Parallelism: initiation interval of the innermost summed loop and the
    // number of its iterations unrolled into one. Pragmas only: the
    // accumulation order is the C order of the loops whatever the values.
    static const unsigned reuse_factor = 1;
    static const unsigned sum_unroll = 1;
};

template <class a_T, class b_T, class out_T, typename CONFIG_T>
void ht_stage(const a_T a[CONFIG_T::a_size], const b_T b[CONFIG_T::b_size], out_T out[CONFIG_T::out_size]) {
    typedef typename CONFIG_T::accum_t accum_t;

Free0:
    for (unsigned i0 = 0; i0 < CONFIG_T::f0_n; i0++) {
    Free1:
        for (unsigned i1 = 0; i1 < CONFIG_T::f1_n; i1++) {
        Free2:
            for (unsigned i2 = 0; i2 < CONFIG_T::f2_n; i2++) {
            Free3:
                for (unsigned i3 = 0; i3 < CONFIG_T::f3_n; i3++) {
                Free4:
                    for (unsigned i4 = 0; i4 < CONFIG_T::f4_n; i4++) {
                    Free5:
                        for (unsigned i5 = 0; i5 < CONFIG_T::f5_n; i5++) {
                            const unsigned a_free = i0 * CONFIG_T::f0_a + i1 * CONFIG_T::f1_a + i2 * CONFIG_T::f2_a +
                                                    i3 * CONFIG_T::f3_a + i4 * CONFIG_T::f4_a + i5 * CONFIG_T::f5_a;
                            const unsigned b_free = i0 * CONFIG_T::f0_b + i1 * CONFIG_T::f1_b + i2 * CONFIG_T::f2_b +
                                                    i3 * CONFIG_T::f3_b + i4 * CONFIG_T::f4_b + i5 * CONFIG_T::f5_b;
                            const unsigned o = i0 * CONFIG_T::f0_o + i1 * CONFIG_T::f1_o + i2 * CONFIG_T::f2_o +
                                               i3 * CONFIG_T::f3_o + i4 * CONFIG_T::f4_o + i5 * CONFIG_T::f5_o;
                            accum_t acc = 0;
                        Sum0:
                            for (unsigned j0 = 0; j0 < CONFIG_T::s0_n; j0++) {
                            Sum1:
                                for (unsigned j1 = 0; j1 < CONFIG_T::s1_n; j1++) {
                                Sum2:
                                    for (unsigned j2 = 0; j2 < CONFIG_T::s2_n; j2++) {
                                    Sum3:
                                        for (unsigned j3 = 0; j3 < CONFIG_T::s3_n; j3++) {
                                            #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
                                            #pragma HLS UNROLL factor=CONFIG_T::sum_unroll
                                            const unsigned ia = a_free + j0 * CONFIG_T::s0_a + j1 * CONFIG_T::s1_a +
                                                                j2 * CONFIG_T::s2_a + j3 * CONFIG_T::s3_a;
                                            const unsigned ib = b_free + j0 * CONFIG_T::s0_b + j1 * CONFIG_T::s1_b +
                                                                j2 * CONFIG_T::s2_b + j3 * CONFIG_T::s3_b;
                                            // Product quantised to accum_t, then added: the
                                            // same as one rounding of (acc + a*b) since acc
                                            // already lies on accum_t's grid.
                                            const accum_t prod = a[ia] * b[ib];
                                            acc += prod;
#ifdef HT_COUNT_MACS
                                            ht_mac_count++;
#endif
                                        }
                                    }
                                }
                            }
                            out[o] = (out_T)acc;
                        }
                    }
                }
            }
        }
    }
}

// Layer-level configuration of ht_dense.
struct ht_dense_config {
    // Layer sizes: n_in real inputs, zero-padded to n_in_padded = prod(input_modes);
    // n_out = prod(output_modes)
    static const unsigned n_in = 10;
    static const unsigned n_in_padded = 10;
    static const unsigned n_out = 10;

    static const bool use_bias = true;
    static const unsigned reuse_factor = 1;

    // Internal data type definitions
    typedef float in_t;    // the padded input fed to the product
    typedef float accum_t; // the product's result and the bias addition
    typedef float bias_t;
};

// v = [x ; 0 ... 0]
template <class data_T, class res_T, typename CONFIG_T>
void ht_pad(const data_T x[CONFIG_T::n_in], res_T v[CONFIG_T::n_in_padded]) {
PadCopy:
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
        v[i] = (res_T)x[i];
    }
PadZero:
    for (unsigned i = CONFIG_T::n_in; i < CONFIG_T::n_in_padded; i++) {
        #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
        v[i] = 0;
    }
}

// y = W x (+ bias). `product` is the layer's generated functor: product(v, z)
// computes z = W_padded v through the planned stages.
template <class data_T, class res_T, typename CONFIG_T, class PRODUCT_T>
void ht_dense(const data_T x[CONFIG_T::n_in], res_T y[CONFIG_T::n_out], const PRODUCT_T &product,
              const typename CONFIG_T::bias_t bias[CONFIG_T::n_out]) {
    typename CONFIG_T::in_t v[CONFIG_T::n_in_padded];
    typename CONFIG_T::accum_t z[CONFIG_T::n_out];

    ht_pad<data_T, typename CONFIG_T::in_t, CONFIG_T>(x, v);
    product(v, z);

Bias:
    for (unsigned i = 0; i < CONFIG_T::n_out; i++) {
        #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
        typename CONFIG_T::accum_t acc = z[i];
        if (CONFIG_T::use_bias) {
            acc += bias[i];
        }
        y[i] = (res_T)acc;
    }
}

} // namespace nnet

#endif
