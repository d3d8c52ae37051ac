// ht_pp: the ping-pong control of a two-slot buffer between a producer and a
// consumer process (HLS DATAFLOW's ping-pong channel): the producer takes the
// free slot wslot when it starts a frame and marks it full when it is done;
// the consumer reads the full slot rslot and frees it when it is done.
module ht_pp (
    input  wire clk,
    input  wire rst,
    input  wire p_done,
    input  wire c_done,
    output wire p_free,   // the producer may start a frame
    output wire c_full,   // the consumer may start a frame
    output reg  wslot,
    output reg  rslot
);
    reg [1:0] full;
    assign p_free = !full[wslot];
    assign c_full = full[rslot];
    always @(posedge clk) begin
        if (rst) begin
            full <= 2'b00;
            wslot <= 1'b0;
            rslot <= 1'b0;
        end else begin
            if (p_done) begin
                full[wslot] <= 1'b1;
                wslot <= ~wslot;
            end
            if (c_done) begin
                full[rslot] <= 1'b0;
                rslot <= ~rslot;
            end
        end
    end
endmodule
