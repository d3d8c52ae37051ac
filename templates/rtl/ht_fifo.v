// ht_fifo: a FIFO (hls::stream) of DEPTH words, first-word fall-through:
// out_valid/out_data show the head; pop when out_valid & out_ready.
// in_ready = not full; count = words held.
module ht_fifo #(parameter W = 16, parameter DEPTH = 2) (
    input  wire         clk,
    input  wire         rst,
    input  wire         in_valid,
    output wire         in_ready,
    input  wire [W-1:0] in_data,
    output wire         out_valid,
    input  wire         out_ready,
    output wire [W-1:0] out_data,
    output reg  [15:0]  count
);
    reg [W-1:0] mem [0:DEPTH-1];
    reg [15:0] rd, wr;
    wire push = in_valid & in_ready;
    wire pop = out_valid & out_ready;
    assign in_ready = count < DEPTH;
    assign out_valid = count != 0;
    assign out_data = mem[rd];
    always @(posedge clk) begin
        if (rst) begin
            rd <= 0;
            wr <= 0;
            count <= 0;
        end else begin
            if (push) begin
                mem[wr] <= in_data;
                wr <= (wr == DEPTH - 1) ? 16'd0 : wr + 16'd1;
            end
            if (pop)
                rd <= (rd == DEPTH - 1) ? 16'd0 : rd + 16'd1;
            count <= count + (push ? 16'd1 : 16'd0) - (pop ? 16'd1 : 16'd0);
        end
    end
endmodule
