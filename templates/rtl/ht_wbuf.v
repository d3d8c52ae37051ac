// ht_wbuf: a word buffer T buf[BANKS][DEPTH][LANES] (every bank its own
// memory, a word = LANES values), SLOTS copies (2: ping-pong). One word write
// per cycle (to one bank), one read per cycle of the word at an address in
// every bank (registered: one cycle read latency).
module ht_wbuf #(
    parameter BANKS = 1, parameter DEPTH = 4, parameter LANES = 1, parameter W = 16, parameter SLOTS = 2
) (
    input  wire                     clk,
    input  wire                     we,
    input  wire                     wslot,
    input  wire [15:0]              wbank,
    input  wire [15:0]              waddr,
    input  wire [LANES*W-1:0]       wdata,
    input  wire                     re,
    input  wire                     rslot,
    input  wire [15:0]              raddr,
    output wire [BANKS*LANES*W-1:0] rdata
);
    genvar b;
    generate
        for (b = 0; b < BANKS; b = b + 1) begin : bank
            reg [LANES*W-1:0] mem [0:SLOTS*DEPTH-1];
            reg [LANES*W-1:0] q;
            wire [31:0] wa = (SLOTS > 1 && wslot) ? waddr + DEPTH : waddr;
            wire [31:0] ra = (SLOTS > 1 && rslot) ? raddr + DEPTH : raddr;
            always @(posedge clk) begin
                if (we && wbank == b)
                    mem[wa] <= wdata;
                if (re)
                    q <= mem[ra];
            end
            assign rdata[b*LANES*W +: LANES*W] = q;
        end
    endgenerate
endmodule
