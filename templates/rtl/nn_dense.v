// nn_dense: hls4ml's Dense layer (nnet::dense, io_stream; the Resource
// strategy with reuse factor R <= n_in: P = N_IN / R inputs per cycle, one
// multiplier per (input lane, output)). One clip at a time:
//   LOAD : IN_WORDS input words of WORD values (the previous layer's stream)
//          are collected into the input vector (N_IN values of the input type);
//   RUN  : STEPS = ceil(N_IN / P) issues, one per cycle: weight ROM row j
//          (P x N_OUT weights, lane [p][o]) and inputs x[j*P + p]; the exact
//          products, each cast to accum_t (its quantisation mode, wrapping),
//          summed over p, added to acc[o], which starts at the bias cast to
//          accum_t (all in accum_t's wrapping arithmetic, so the order of the
//          sum does not matter);
//   SEND : out[o] = acc[o] cast to the result type, one word of N_OUT values.
// Pipeline: ROM/input read 1 | multiply MUL_STAGES | cast + lane sum 1 |
// accumulate 1. The input vector is a shift register: LOAD shifts each word
// in at the top of its N_IN values, RUN shifts P values out at the bottom per
// issue, so no variable index (a multiplier and a decoder in front of every
// register bit: it was an ECP5 critical path) addresses it. Verilog-2005.
module nn_dense #(
    parameter N_IN = 32, parameter N_OUT = 4, parameter WORD = 32, parameter IN_WORDS = 1, parameter P = 1,
    parameter XW = 16, parameter XF = 10, parameter XS = 1,                          // input type
    parameter WW = 16, parameter WF = 10, parameter WS = 1,                          // weight_t
    parameter BW = 16, parameter BF = 10, parameter BS = 1,                          // bias_t
    parameter CW = 38, parameter CF = 20, parameter CRND = 0,                        // accum_t (signed, wrapping)
    parameter OW = 16, parameter OF = 10, parameter OS = 1, parameter ORND = 0, parameter OSAT = 0,  // result
    parameter MUL_STAGES = 3,
    parameter W_FILE = "dense_w.hex", parameter B_FILE = "dense_b.hex"
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire                  s_valid,
    output wire                  s_ready,
    input  wire [WORD*XW-1:0]    s_data,
    output wire                  m_valid,
    input  wire                  m_ready,
    output wire [N_OUT*OW-1:0]   m_data
);
    localparam STEPS = (N_IN + P - 1) / P;
    localparam NPAD = STEPS * P;
    localparam PW = XW + WW + 2;                // fx_mul's exact product
    localparam NV = 1 + MUL_STAGES + 1;         // read, multiply, cast + sum
    localparam LW = IN_WORDS * WORD * XW;       // the loaded values (N_IN); above them, zero padding to NPAD
    localparam S_LOAD = 0, S_RUN = 1, S_SEND = 2;

    reg [P*N_OUT*WW-1:0] w_rom [0:STEPS-1];
    reg [N_OUT*BW-1:0] b_rom [0:0];
    initial begin
        $readmemh(W_FILE, w_rom);
        $readmemh(B_FILE, b_rom);
    end

    reg [1:0] state;
    reg [15:0] wcount, j;
    reg [NPAD*XW-1:0] xbuf;
    reg [NV:1] v;
    reg [CW*N_OUT-1:0] acc;
    reg [OW*N_OUT-1:0] out_word;
    reg out_valid;

    assign s_ready = state == S_LOAD;
    assign m_valid = out_valid;
    assign m_data = out_word;

    // ---- read: inputs x[j*P + p] (the bottom of xbuf, shifted down P values per issue) and the weight row j ----
    reg [P*XW-1:0] x_q;
    reg [P*N_OUT*WW-1:0] w_q;
    wire issue = state == S_RUN && j != STEPS;
    always @(posedge clk) begin
        if (issue) begin
            x_q <= xbuf[P * XW - 1:0];
            w_q <= w_rom[j];
        end
    end
    // xbuf after one LOAD beat: the word in at the top of the loaded values, the others one word down
    wire [NPAD*XW-1:0] xbuf_in;
    generate
        if (IN_WORDS == 1) begin : g_one
            assign xbuf_in[LW - 1:0] = s_data;
        end else begin : g_shift
            assign xbuf_in[LW - 1:0] = {s_data, xbuf[LW - 1:WORD * XW]};
        end
        if (NPAD * XW > LW) begin : g_pad
            assign xbuf_in[NPAD * XW - 1:LW] = {(NPAD * XW - LW){1'b0}};
        end
    endgenerate

    // ---- multiply (MUL_STAGES registers), cast to accum_t, sum over p ----
    wire [P*N_OUT*PW-1:0] prod;
    reg [P*N_OUT*PW-1:0] prod_q [1:MUL_STAGES];
    wire [P*N_OUT*CW-1:0] pc;
    genvar gp, go;
    generate
        for (gp = 0; gp < P; gp = gp + 1) begin : g_p
            for (go = 0; go < N_OUT; go = go + 1) begin : g_o
                fx_mul #(.AW(XW), .AS(XS), .BW(WW), .BS(WS)) mul (
                    .a(x_q[gp * XW +: XW]), .b(w_q[(gp * N_OUT + go) * WW +: WW]),
                    .p(prod[(gp * N_OUT + go) * PW +: PW]));
                fx_cast #(.IW(PW), .IF(XF + WF), .IS(1), .OW(CW), .OF(CF), .OS(1), .RND(CRND), .SAT(0)) cast (
                    .in(prod_q[MUL_STAGES][(gp * N_OUT + go) * PW +: PW]), .out(pc[(gp * N_OUT + go) * CW +: CW]));
            end
        end
    endgenerate
    integer s;
    always @(posedge clk) begin
        prod_q[1] <= prod;
        for (s = 2; s <= MUL_STAGES; s = s + 1)
            prod_q[s] <= prod_q[s - 1];
    end
    reg [CW*N_OUT-1:0] lane_sum;
    integer o, p;
    reg [CW-1:0] t;
    always @(posedge clk) begin
        for (o = 0; o < N_OUT; o = o + 1) begin
            t = {CW{1'b0}};
            for (p = 0; p < P; p = p + 1)
                t = t + pc[(p * N_OUT + o) * CW +: CW];
            lane_sum[o * CW +: CW] <= t;
        end
    end

    // ---- bias in accum_t; result cast ----
    wire [CW*N_OUT-1:0] bias_acc;
    wire [OW*N_OUT-1:0] res;
    generate
        for (go = 0; go < N_OUT; go = go + 1) begin : g_b
            fx_cast #(.IW(BW), .IF(BF), .IS(BS), .OW(CW), .OF(CF), .OS(1), .RND(CRND), .SAT(0)) bcast (
                .in(b_rom[0][go * BW +: BW]), .out(bias_acc[go * CW +: CW]));
            fx_cast #(.IW(CW), .IF(CF), .IS(1), .OW(OW), .OF(OF), .OS(OS), .RND(ORND), .SAT(OSAT)) ocast (
                .in(acc[go * CW +: CW]), .out(res[go * OW +: OW]));
        end
    endgenerate

    always @(posedge clk) begin
        if (rst) begin
            state <= S_LOAD;
            wcount <= 0;
            j <= 0;
            v <= 0;
            out_valid <= 1'b0;
            xbuf <= {(NPAD * XW){1'b0}};
        end else begin
            v <= {v[NV-1:1], issue};
            if (v[NV])
                for (o = 0; o < N_OUT; o = o + 1)
                    acc[o * CW +: CW] <= acc[o * CW +: CW] + lane_sum[o * CW +: CW];
            case (state)
                S_LOAD: if (s_valid) begin
                    xbuf <= xbuf_in;
                    if (wcount == IN_WORDS - 1) begin
                        wcount <= 0;
                        j <= 0;
                        acc <= bias_acc;
                        state <= S_RUN;
                    end else begin
                        wcount <= wcount + 1'b1;
                    end
                end
                S_RUN: begin
                    if (issue) begin
                        j <= j + 1'b1;
                        xbuf <= xbuf >> (P * XW);
                    end
                    else if (v == 0) begin
                        out_word <= res;
                        out_valid <= 1'b1;
                        state <= S_SEND;
                    end
                end
                default: if (m_ready) begin
                    out_valid <= 1'b0;
                    state <= S_LOAD;
                end
            endcase
        end
    end
endmodule
