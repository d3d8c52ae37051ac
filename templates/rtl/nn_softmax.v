// nn_softmax: hls4ml's softmax on one word of N values (nnet::softmax, io_stream).
//   IMPL 0, stable (softmax_stable): x_max; d_j = x_max - x_j in inp_norm_t;
//        e_j = exp_table[top NBE bits of d_j] in accum_t; the sum of the e_j in
//        accum_t (non-negative values on accum_t's grid: saturating once at
//        the end equals saturating every add of hls4ml's adder tree), then
//        inv_inp_t; inv = invert_table[top NBI bits of the sum's bit pattern];
//        out_j = e_j * inv in the result type.
//   IMPL 1, argmax: the result type's 1 (ONE) at the first maximum, 0 elsewhere.
// The tables are $readmemh files (hls_project/rtl/head.py computes them as
// hls4ml's init_exp_table / init_invert_table do). One word at a time, a
// fixed sequence of registered steps. The maximum takes one comparison per
// cycle (N - 1 cycles), and the differences the next: a chain of N - 1
// comparisons, or the maximum and the differences in one cycle, was the
// whole model's ECP5 critical path. Verilog-2005.
module nn_softmax #(
    parameter N = 4, parameter IMPL = 0,
    parameter XW = 16, parameter XF = 9, parameter XS = 1,                           // input (logits)
    parameter DW = 15, parameter DF = 9, parameter DS = 0, parameter DRND = 0, parameter DSAT = 0,  // inp_norm_t
    parameter NBE = 10,                                                              // exp table address bits
    parameter EW = 18, parameter EF = 10, parameter ES = 1,                          // exp_table_t
    parameter CW = 18, parameter CF = 10, parameter CS = 1, parameter CRND = 0, parameter CSAT = 0,  // accum_t
    parameter IW = 18, parameter IF = 14, parameter IS = 1, parameter IRND = 0, parameter ISAT = 0,  // inv_inp_t
    parameter NBI = 10,                                                              // invert table address bits
    parameter VW = 18, parameter VF = 10, parameter VS = 1,                          // inv_table_t
    parameter OW = 16, parameter OF = 10, parameter OS = 1, parameter ORND = 0, parameter OSAT = 0,  // result
    parameter [OW-1:0] ONE = 16'd1024,
    parameter EXP_FILE = "softmax_exp.hex", parameter INV_FILE = "softmax_inv.hex"
) (
    input  wire             clk,
    input  wire             rst,
    input  wire             s_valid,
    output wire             s_ready,
    input  wire [N*XW-1:0]  s_data,
    output wire             m_valid,
    input  wire             m_ready,
    output wire [N*OW-1:0]  m_data
);
    localparam SUMW = CW + 8;   // the exact sum of N <= 128 accum_t values
    localparam S_IDLE = 0, S_MAX = 1, S_DIFF = 2, S_EXP = 3, S_ACC = 4, S_SUM = 5, S_INV = 6, S_INV_Q = 7,
               S_MUL = 8, S_CAST = 9, S_SEND = 10;

    reg [EW-1:0] exp_rom [0:(1 << NBE) - 1];
    reg [VW-1:0] inv_rom [0:(1 << NBI) - 1];
    initial begin
        if (IMPL == 0) begin
            $readmemh(EXP_FILE, exp_rom);
            $readmemh(INV_FILE, inv_rom);
        end
    end

    reg [3:0] state;
    reg [N*XW-1:0] x;
    reg [N*DW-1:0] d;
    reg [N*EW-1:0] e_raw;
    reg [N*CW-1:0] e;
    reg [IW-1:0] s_inv;
    reg [VW-1:0] inv, inv_q;   // the table's word, then a register beside the multipliers
    reg [N*OW-1:0] out_word;

    assign s_ready = state == S_IDLE;
    assign m_valid = state == S_SEND;
    assign m_data = out_word;

    // ---- the maximum (first index on ties) and the differences ----
    function signed [XW:0] sx;  // a value of the input type, sign- or zero-extended
        input [XW-1:0] r;
        sx = XS ? {r[XW-1], r} : {1'b0, r};
    endfunction
    reg [XW-1:0] xmax_r;   // the maximum of x[0..kmax-1] (the first index on ties)
    reg [15:0] imax_r, kmax;
    wire [XW-1:0] x_k = x[kmax * XW +: XW];
    integer k;
    wire [N*DW-1:0] d_w;
    wire [N*CW-1:0] e_w;
    wire [N*OW-1:0] out_w;
    genvar g;
    generate
        for (g = 0; g < N; g = g + 1) begin : g_n
            wire signed [XW+1:0] diff = sx(xmax_r) - sx(x[g * XW +: XW]);
            fx_cast #(.IW(XW + 2), .IF(XF), .IS(1), .OW(DW), .OF(DF), .OS(DS), .RND(DRND), .SAT(DSAT)) dcast (
                .in(diff), .out(d_w[g * DW +: DW]));
            fx_cast #(.IW(EW), .IF(EF), .IS(ES), .OW(CW), .OF(CF), .OS(CS), .RND(CRND), .SAT(CSAT)) ecast (
                .in(e_raw[g * EW +: EW]), .out(e_w[g * CW +: CW]));
            wire [CW+VW+1:0] pr;
            reg [CW+VW+1:0] pr_q;   // the product registered before its cast
            fx_mul #(.AW(CW), .AS(CS), .BW(VW), .BS(VS)) mul (.a(e[g * CW +: CW]), .b(inv_q), .p(pr));
            always @(posedge clk)
                if (state == S_MUL)
                    pr_q <= pr;
            fx_cast #(.IW(CW + VW + 2), .IF(CF + VF), .IS(1), .OW(OW), .OF(OF), .OS(OS), .RND(ORND), .SAT(OSAT))
                ocast (.in(pr_q), .out(out_w[g * OW +: OW]));
        end
    endgenerate

    // ---- the sum of the e_j: exact, then accum_t, then inv_inp_t ----
    reg [SUMW-1:0] sum;
    always @* begin
        sum = {SUMW{1'b0}};
        for (k = 0; k < N; k = k + 1)
            sum = sum + (CS ? {{(SUMW - CW){e[k * CW + CW - 1]}}, e[k * CW +: CW]}
                            : {{(SUMW - CW){1'b0}}, e[k * CW +: CW]});
    end
    wire [CW-1:0] sum_acc;
    wire [IW-1:0] sum_inv;
    fx_cast #(.IW(SUMW), .IF(CF), .IS(1), .OW(CW), .OF(CF), .OS(CS), .RND(CRND), .SAT(CSAT)) scast (
        .in(sum), .out(sum_acc));
    fx_cast #(.IW(CW), .IF(CF), .IS(CS), .OW(IW), .OF(IF), .OS(IS), .RND(IRND), .SAT(ISAT)) icast (
        .in(sum_acc), .out(sum_inv));

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
        end else begin
            case (state)
                S_IDLE: if (s_valid) begin
                    x <= s_data;
                    xmax_r <= s_data[0 +: XW];
                    imax_r <= 0;
                    kmax <= 1;
                    state <= N > 1 ? S_MAX : S_DIFF;
                end
                S_MAX: begin
                    if (sx(x_k) > sx(xmax_r)) begin
                        xmax_r <= x_k;
                        imax_r <= kmax;
                    end
                    kmax <= kmax + 1;
                    if (kmax == N - 1)
                        state <= S_DIFF;
                end
                S_DIFF: begin
                    d <= d_w;
                    if (IMPL == 1) begin
                        for (k = 0; k < N; k = k + 1)
                            out_word[k * OW +: OW] <= (k == imax_r) ? ONE : {OW{1'b0}};
                        state <= S_SEND;
                    end else begin
                        state <= S_EXP;
                    end
                end
                S_EXP: begin
                    for (k = 0; k < N; k = k + 1)
                        e_raw[k * EW +: EW] <= exp_rom[d[k * DW + DW - 1 -: NBE]];
                    state <= S_ACC;
                end
                S_ACC: begin
                    e <= e_w;
                    state <= S_SUM;
                end
                S_SUM: begin
                    s_inv <= sum_inv;
                    state <= S_INV;
                end
                S_INV: begin
                    inv <= inv_rom[s_inv[IW - 1 -: NBI]];
                    state <= S_INV_Q;
                end
                S_INV_Q: begin
                    inv_q <= inv;
                    state <= S_MUL;
                end
                S_MUL:
                    state <= S_CAST;
                S_CAST: begin
                    out_word <= out_w;
                    state <= S_SEND;
                end
                default: if (m_ready)
                    state <= S_IDLE;
            endcase
        end
    end
endmodule
