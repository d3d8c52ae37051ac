// Verilator testbench of an RTL top with one AXI4-Stream in and one out
// (hls_project/rtl/sim.py writes tb_config.h beside it: TOP_CLASS, VM_HEADER,
// IN_VALUES, IN_BITS, OUT_VALUES, OUT_BITS, BEATS_PER_CLIP, WORDS_PER_CLIP,
// and RESULT_T / OUT_FRAC, the output's ap_fixed type).
//   tb <inputs> <outputs> <timing> <ready_probability> <seed> [max_cycles|0] [results_log]
// inputs: one clip per line, BEATS_PER_CLIP * IN_VALUES integers (the input
// type's bit patterns, signed); the clips are streamed back to back (TVALID
// always high while data is left, TLAST on each clip's last beat). The output
// TREADY is high with the given probability each cycle. outputs: one line per
// output word, OUT_VALUES signed integers. timing: per clip, the cycle its
// first beat was accepted, its last beat was accepted, its last output word
// first showed TVALID and was accepted. results_log: one line per clip, its
// output values printed as hls4ml's testbench prints them (nnet::print_result:
// the ap_fixed value through ap_types' operator<<, then " "; std::endl after
// the clip's last word), the format of tb_data/csim_results.log.
#include "tb_config.h"
#include "ap_fixed.h"
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "verilated.h"
#include VM_HEADER

template <class T> static void set_bits(T &sig, int lsb, int w, uint64_t v) {
    const uint64_t m = (w >= 64) ? ~0ull : ((1ull << w) - 1);
    uint64_t s = (uint64_t)sig;
    s = (s & ~(m << lsb)) | ((v & m) << lsb);
    sig = (T)s;
}
template <std::size_t N> static void set_bits(VlWide<N> &sig, int lsb, int w, uint64_t v) {
    for (int b = 0; b < w; b++) {
        const int k = lsb + b;
        const uint32_t bit = (v >> b) & 1u;
        sig[k / 32] = (sig[k / 32] & ~(1u << (k % 32))) | (bit << (k % 32));
    }
}
template <class T> static uint64_t get_bits(const T &sig, int lsb, int w) {
    const uint64_t m = (w >= 64) ? ~0ull : ((1ull << w) - 1);
    return ((uint64_t)sig >> lsb) & m;
}
template <std::size_t N> static uint64_t get_bits(const VlWide<N> &sig, int lsb, int w) {
    uint64_t v = 0;
    for (int b = 0; b < w; b++) {
        const int k = lsb + b;
        v |= (uint64_t)((sig[k / 32] >> (k % 32)) & 1u) << b;
    }
    return v;
}
static int64_t to_signed(uint64_t v, int w) {
    return (w < 64 && (v >> (w - 1)) & 1) ? (int64_t)v - (int64_t)(1ull << w) : (int64_t)v;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        std::fprintf(stderr, "usage: tb inputs outputs timing ready_probability seed [max_cycles]\n");
        return 2;
    }
    const double p_ready = std::atof(argv[4]);
    std::mt19937_64 rng(std::strtoull(argv[5], nullptr, 10));
    std::uniform_real_distribution<double> uni(0.0, 1.0);
    const uint64_t max_arg = argc > 6 ? std::strtoull(argv[6], nullptr, 10) : 0;
    const uint64_t max_cycles = max_arg ? max_arg : 2000000000ull;
    std::ofstream results;
    if (argc > 7)
        results.open(argv[7]);

    std::vector<std::vector<int64_t>> clips;
    {
        std::ifstream in(argv[1]);
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream ss(line);
            std::vector<int64_t> v;
            int64_t x;
            while (ss >> x)
                v.push_back(x);
            if (v.empty())
                continue;
            if (v.size() != (size_t)BEATS_PER_CLIP * IN_VALUES) {
                std::fprintf(stderr, "tb: a clip has %zu values, expected %d\n", v.size(), BEATS_PER_CLIP * IN_VALUES);
                return 2;
            }
            clips.push_back(v);
        }
    }
    const size_t n_clips = clips.size();
    const size_t n_words = n_clips * WORDS_PER_CLIP;
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto top = std::make_unique<TOP_CLASS>(ctx.get());
    std::FILE *out = std::fopen(argv[2], "w");
    std::FILE *tim = std::fopen(argv[3], "w");
    std::vector<uint64_t> first_in(n_clips, 0), last_in(n_clips, 0), valid_at(n_words, 0), out_at(n_words, 0);

    top->clk = 0;
    top->rst = 1;
    top->s_axis_tvalid = 0;
    top->m_axis_tready = 0;
    for (int k = 0; k < 4; k++) {
        top->clk = 0;
        top->eval();
        top->clk = 1;
        top->eval();
    }
    top->rst = 0;
    size_t clip = 0, beat = 0, words = 0;
    bool valid_seen = false;
    uint64_t cycle = 0;
    for (; cycle < max_cycles && words < n_words; cycle++) {
        top->clk = 0;
        const bool have = clip < n_clips;
        top->s_axis_tvalid = have;
        top->s_axis_tlast = have && beat == BEATS_PER_CLIP - 1;
        if (have)
            for (int v = 0; v < IN_VALUES; v++)
                set_bits(top->s_axis_tdata, v * IN_BITS, IN_BITS, (uint64_t)clips[clip][beat * IN_VALUES + v]);
        top->m_axis_tready = uni(rng) < p_ready;
        top->eval();
        const bool in_fire = have && top->s_axis_tready;
        if (top->m_axis_tvalid && !valid_seen) {
            valid_at[words] = cycle;
            valid_seen = true;
        }
        if (top->m_axis_tvalid && top->m_axis_tready) {
            for (int v = 0; v < OUT_VALUES; v++) {
                const int64_t raw = to_signed(get_bits(top->m_axis_tdata, v * OUT_BITS, OUT_BITS), OUT_BITS);
                std::fprintf(out, "%s%lld", v ? " " : "", (long long)raw);
                if (results.is_open()) {
                    const RESULT_T value = std::ldexp((double)raw, -OUT_FRAC);  // exact: on the type's grid
                    results << value << " ";
                }
            }
            std::fprintf(out, "\n");
            if (results.is_open() && (words + 1) % WORDS_PER_CLIP == 0)
                results << std::endl;
            out_at[words] = cycle;
            words++;
            valid_seen = false;
        }
        top->clk = 1;
        top->eval();
        if (in_fire) {
            if (beat == 0)
                first_in[clip] = cycle;
            if (beat == BEATS_PER_CLIP - 1) {
                last_in[clip] = cycle;
                beat = 0;
                clip++;
            } else {
                beat++;
            }
        }
    }
    for (size_t c = 0; c < n_clips; c++) {
        const size_t w = (c + 1) * WORDS_PER_CLIP - 1;
        std::fprintf(tim, "%zu %llu %llu %llu %llu\n", c, (unsigned long long)first_in[c],
                     (unsigned long long)last_in[c], (unsigned long long)(w < words ? valid_at[w] : 0),
                     (unsigned long long)(w < words ? out_at[w] : 0));
    }
    std::fclose(out);
    std::fclose(tim);
    top->final();
    if (words < n_words) {
        std::fprintf(stderr, "tb: %zu of %zu output words after %llu cycles\n", words, n_words,
                     (unsigned long long)cycle);
        return 1;
    }
    std::printf("tb: %zu clips, %zu words, %llu cycles\n", n_clips, words, (unsigned long long)cycle);
    return 0;
}
