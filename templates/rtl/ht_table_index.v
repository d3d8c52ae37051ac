// ht_table_index: the nearest table point of x on a table of 2^LOGN entries
// over [-2^(LOGD-1), 2^(LOGD-1)): clip(floor(x * N / D + 1/2) + N / 2, 0, N - 1)
// (nnet::ht_sigmoid_index: LOGD = 4, nnet::ht_tanh_index: LOGD = 3).
// x: XW bits, XF fraction bits, signed. Combinational.
module ht_table_index #(parameter XW = 16, parameter XF = 10, parameter LOGN = 10, parameter LOGD = 4) (
    input  wire [XW-1:0]   x,
    output wire [LOGN-1:0] idx
);
    localparam E = LOGN - LOGD - XF;       // x * N / D = X * 2^E
    localparam IW = XW + ((E > 0) ? E : 0) + 3;
    wire signed [IW-1:0] xe = {{(IW - XW){x[XW-1]}}, x};
    wire signed [IW-1:0] t;
    generate
        if (E >= 0) begin : g_up
            assign t = xe <<< E;
        end else begin : g_round
            localparam signed [IW-1:0] HALF = {{(IW - 1){1'b0}}, 1'b1} <<< (-E - 1);
            assign t = (xe + HALF) >>> (-E);
        end
    endgenerate
    localparam signed [IW-1:0] NH = {{(IW - 1){1'b0}}, 1'b1} <<< (LOGN - 1);
    localparam signed [IW-1:0] NMAX = ({{(IW - 1){1'b0}}, 1'b1} <<< LOGN) - 1;
    wire signed [IW-1:0] i = t + NH;
    assign idx = (i < 0) ? {LOGN{1'b0}} : ((i > NMAX) ? NMAX[LOGN-1:0] : i[LOGN-1:0]);
endmodule
