// ht_drain_dense: the RTL of nnet::ht_drain_dense. The x-chain's output z
// (one bank, one lane, N words in C order: z[0][n][0] is output n) -> one
// output per cycle, n = 0 .. N-1: z cast to z_t plus the bias (bias[n] cast
// to z_t), the sum in z_t (wrapping, as the C++ assigns it to z_t), then cast
// to the layer's result type. The values are shifted into an output word of
// WOUT values (word[m] = word[m + 1]; word[WOUT-1] = the new value, so lane m
// holds output w*WOUT + m); a full word goes into the output FIFO (held back
// while the FIFO has no room for the words in flight). y_data's top bit marks
// the clip's last word (TLAST).
module ht_drain_dense #(
    parameter N = 4, parameter WOUT = 4,
    parameter VW = 24, parameter VF = 14,                    // z buffer values (the last stage's output type)
    parameter ZW = 24, parameter ZF = 14,                    // z_t
    parameter BW = 16, parameter BF = 10, parameter BS = 1,  // bias_t
    parameter OW = 16, parameter OF = 10, parameter OS = 1, parameter ORND = 0, parameter OSAT = 0,  // result
    parameter FIFO_DEPTH = 2,
    parameter BIAS_FILE = "bias.hex"
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              start,
    output wire              busy,
    output wire              done,
    output wire              z_re,
    output wire [15:0]       z_addr,
    input  wire [VW-1:0]     z_data,
    output wire              y_valid,
    output wire [WOUT*OW:0]  y_data,
    input  wire [15:0]       y_count
);
    reg [BW-1:0] bias [0:N-1];
    initial $readmemh(BIAS_FILE, bias);
    reg running;
    reg [15:0] n, k;            // issue: the output index, its lane in the word
    reg v1, last1, end1;        // the value read in flight; it ends a word; it ends the clip
    reg v2;                     // a full word to push
    reg [BW-1:0] bias_q;
    reg [WOUT*OW-1:0] word_q;
    reg [WOUT*OW:0] y_q;
    wire word_end = k == WOUT - 1;
    wire room = y_count + ((v1 && last1) ? 16'd1 : 16'd0) + (v2 ? 16'd1 : 16'd0) < FIFO_DEPTH;
    wire iss = running && n != N && (!word_end || room);
    assign z_re = iss;
    assign z_addr = n;

    wire [ZW-1:0] zs;
    wire [OW-1:0] val;
    ht_zbias #(.VW(VW), .VF(VF), .BW(BW), .BF(BF), .BS(BS), .ZW(ZW), .ZF(ZF)) zb (.v(z_data), .b(bias_q), .z(zs));
    fx_cast #(.IW(ZW), .IF(ZF), .IS(1), .OW(OW), .OF(OF), .OS(OS), .RND(ORND), .SAT(OSAT)) co (.in(zs), .out(val));
    wire [(WOUT+1)*OW-1:0] shifted = {val, word_q};
    wire [WOUT*OW-1:0] word_next = shifted[(WOUT+1)*OW-1:OW];

    assign y_valid = v2;
    assign y_data = y_q;
    wire fin = running && n == N && !v1 && !v2;
    assign done = fin;
    assign busy = running;
    always @(posedge clk) begin
        if (rst) begin
            running <= 1'b0;
            v1 <= 1'b0;
            v2 <= 1'b0;
        end else begin
            v1 <= iss;
            v2 <= v1 && last1;
            if (!running && start) begin
                running <= 1'b1;
                n <= 0;
                k <= 0;
            end else if (fin) begin
                running <= 1'b0;
            end else if (iss) begin
                n <= n + 16'd1;
                k <= word_end ? 16'd0 : k + 16'd1;
            end
        end
        if (iss) begin
            bias_q <= bias[n];
            last1 <= word_end;
            end1 <= n == N - 1;
        end
        if (v1) begin
            word_q <= word_next;
            if (last1)
                y_q <= {end1, word_next};
        end
    end
endmodule
