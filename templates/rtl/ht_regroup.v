// ht_regroup: the RTL of nnet::ht_regroup. Input words of W values (the
// AXI4-Stream beats) -> words of Q values (Q | W) for the first stage, then
// zero words for the box entries past the input: BOX_WORDS words per frame,
// one per cycle, the first IN_WORDS from the input.
module ht_regroup #(
    parameter W = 4, parameter Q = 1, parameter VW = 16, parameter BOX_WORDS = 4, parameter IN_WORDS = 4
) (
    input  wire          clk,
    input  wire          rst,
    input  wire          in_valid,
    output wire          in_ready,
    input  wire [W*VW-1:0] in_data,
    output wire          out_valid,
    input  wire          out_ready,
    output wire [Q*VW-1:0] out_data
);
    reg [W*VW-1:0] regw;
    reg [15:0] i, k;
    wire need = (i < IN_WORDS) && (k == 0);       // this word starts a new input word
    wire zero = i >= IN_WORDS;
    assign out_valid = need ? in_valid : 1'b1;
    assign in_ready = need && out_ready;
    assign out_data = zero ? {Q*VW{1'b0}} : (need ? in_data[Q*VW-1:0] : regw[Q*VW-1:0]);
    wire step = out_valid && out_ready;
    always @(posedge clk) begin
        if (rst) begin
            i <= 0;
            k <= 0;
        end else if (step) begin
            i <= (i == BOX_WORDS - 1) ? 16'd0 : i + 16'd1;
            if (!zero) begin
                k <= (k == W / Q - 1) ? 16'd0 : k + 16'd1;
                regw <= (need ? in_data : regw) >> (Q * VW);
            end
        end
    end
endmodule
