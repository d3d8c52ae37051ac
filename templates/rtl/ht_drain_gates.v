// ht_drain_gates: the RTL of nnet::ht_drain_gates. The x-chain's output z
// (4 gate banks x DEPTH words x L lanes) -> one hidden unit per cycle, its
// 4 gates cast to z_t plus the bias (bias[k][g], z_t), into the z_x FIFO
// (held back while the FIFO has no room for the words in flight).
module ht_drain_gates #(
    parameter H = 4, parameter L = 1, parameter DEPTH = 4,
    parameter VW = 24, parameter VF = 14,                    // z buffer values (the last stage's output type)
    parameter ZW = 24, parameter ZF = 14,                    // z_t
    parameter BW = 16, parameter BF = 10, parameter BS = 1,  // bias_t
    parameter FIFO_DEPTH = 8,
    parameter BIAS_FILE = "bias.hex"
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              start,
    output wire              busy,
    output wire              done,
    output wire              z_re,
    output wire [15:0]       z_addr,
    input  wire [4*L*VW-1:0] z_data,
    output wire              zx_valid,
    output wire [4*ZW-1:0]   zx_data,
    input  wire [15:0]       zx_count
);
    reg [4*BW-1:0] bias [0:H-1];
    initial $readmemh(BIAS_FILE, bias);
    reg running;
    reg [15:0] k, l, d;
    reg v1, v2;
    reg [15:0] l1;
    reg [4*BW-1:0] bias_q;
    reg [4*L*VW-1:0] word_q;   // the lanes still to leave (a shift register, as the HLS reg[4][L])
    reg [4*ZW-1:0] zx_q;
    wire room = zx_count + (v1 ? 16'd1 : 16'd0) + (v2 ? 16'd1 : 16'd0) < FIFO_DEPTH;
    wire iss = running && k != H && room;
    assign z_re = iss && l == 0;
    assign z_addr = d;
    wire [4*L*VW-1:0] word = (l1 == 0) ? z_data : word_q;
    wire [4*L*VW-1:0] word_next;
    wire [4*ZW-1:0] zx_w;
    genvar g;
    generate
        for (g = 0; g < 4; g = g + 1) begin : gate
            wire [L*VW-1:0] lanes = word[g*L*VW +: L*VW];
            wire [VW-1:0] v = lanes[VW-1:0];
            assign word_next[g*L*VW +: L*VW] = lanes >> VW;
            ht_zbias #(.VW(VW), .VF(VF), .BW(BW), .BF(BF), .BS(BS), .ZW(ZW), .ZF(ZF)) zb (
                .v(v), .b(bias_q[g*BW +: BW]), .z(zx_w[g*ZW +: ZW]));
        end
    endgenerate
    assign zx_valid = v2;
    assign zx_data = zx_q;
    wire fin = running && k == H && !v1 && !v2;
    assign done = fin;
    assign busy = running;
    always @(posedge clk) begin
        if (rst) begin
            running <= 1'b0;
            v1 <= 1'b0;
            v2 <= 1'b0;
        end else begin
            v1 <= iss;
            v2 <= v1;
            if (!running && start) begin
                running <= 1'b1;
                k <= 0;
                l <= 0;
                d <= 0;
            end else if (fin) begin
                running <= 1'b0;
            end else if (iss) begin
                k <= k + 16'd1;
                if (l == L - 1) begin
                    l <= 0;
                    d <= d + 16'd1;
                end else
                    l <= l + 16'd1;
            end
        end
        if (iss) begin
            bias_q <= bias[k];
            l1 <= l;
        end
        if (v1)
            word_q <= word_next;
        zx_q <= zx_w;
    end
endmodule
