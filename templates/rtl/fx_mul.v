// fx_mul: the exact product of two fixed-point values (as ap_fixed's operator*):
// AW x BW bits (signed if AS / BS) -> AW + BW + 2 bits, signed; its fraction
// bits are the sum of the operands'.
module fx_mul #(
    parameter AW = 16, parameter AS = 1, parameter BW = 16, parameter BS = 1
) (
    input  wire [AW-1:0] a,
    input  wire [BW-1:0] b,
    output wire [AW+BW+1:0] p
);
    wire signed [AW:0] ae = AS ? {a[AW-1], a} : {1'b0, a};
    wire signed [BW:0] be = BS ? {b[BW-1], b} : {1'b0, b};
    assign p = ae * be;
endmodule
