// fx_cast: assignment of a fixed-point value to an ap_fixed / ap_ufixed type,
// bit-exact with Vivado/Vitis HLS's ap_fixed conversion for the quantisation
// and overflow modes below (the same modes hls_project/bitexact.py models).
//   in : IW bits, IF fraction bits, signed if IS
//   out: OW bits, OF fraction bits, signed if OS
//   RND: 0 AP_TRN, 1 AP_RND, 2 AP_RND_CONV, 3 AP_TRN_ZERO, 4 AP_RND_ZERO,
//        5 AP_RND_MIN_INF, 6 AP_RND_INF
//   SAT: 0 AP_WRAP, 1 AP_SAT, 2 AP_SAT_SYM, 3 AP_SAT_ZERO
// Purely combinational. Verilog-2005.
module fx_cast #(
    parameter IW = 16, parameter IF = 8, parameter IS = 1,
    parameter OW = 16, parameter OF = 8, parameter OS = 1,
    parameter RND = 0, parameter SAT = 0
) (
    input  wire [IW-1:0] in,
    output reg  [OW-1:0] out
);
    localparam D  = IF - OF;
    localparam DP = (D > 0) ? D : 0;
    localparam DN = (D < 0) ? -D : 0;
    localparam EW = IW + 1 + DP;          // input, sign-extended by DP + 1 bits
    localparam YW = IW + 2 + DN;          // aligned and rounded (one spare bit)
    localparam ZW = ((YW > OW + 1) ? YW : OW + 1) + 1;

    wire [EW-1:0] xe = IS ? {{(DP + 1){in[IW-1]}}, in} : {{(DP + 1){1'b0}}, in};
    wire neg = xe[EW-1];
    wire [YW-1:0] y;

    generate
        if (D > 0) begin : g_drop
            wire [EW-1:0] fl = $signed(xe) >>> D;
            wire [EW-1:0] rmask = ({{(EW - 1){1'b0}}, 1'b1} << (D - 1)) - 1'b1;
            wire half = xe[D-1];
            wire rest = |(xe & rmask);
            reg inc;
            always @* begin
                case (RND)
                    0: inc = 1'b0;
                    1: inc = half;
                    2: inc = half & (rest | fl[0]);
                    3: inc = neg & (half | rest);
                    4: inc = half & (rest | neg);
                    5: inc = half & rest;
                    default: inc = half & (rest | ~neg);
                endcase
            end
            assign y = {fl[IW], fl[IW:0]} + {{(YW - 1){1'b0}}, inc};
        end else begin : g_keep
            wire [YW-1:0] xs = {{(YW - EW){xe[EW-1]}}, xe};
            assign y = xs << DN;
        end
    endgenerate

    wire signed [ZW-1:0] yz = {{(ZW - YW){y[YW-1]}}, y};
    localparam signed [ZW-1:0] ONE = 1;
    localparam signed [ZW-1:0] HI = OS ? (ONE <<< (OW - 1)) - ONE : (ONE <<< OW) - ONE;
    localparam signed [ZW-1:0] LO = OS ? -(ONE <<< (OW - 1)) : 0;
    localparam signed [ZW-1:0] LOS = OS ? -HI : 0;
    wire over = yz > HI;
    wire under = yz < LO;
    wire under_sym = yz < LOS;

    always @* begin
        case (SAT)
            1: out = over ? HI[OW-1:0] : (under ? LO[OW-1:0] : yz[OW-1:0]);
            2: out = over ? HI[OW-1:0] : (under_sym ? LOS[OW-1:0] : yz[OW-1:0]);
            3: out = (over | under) ? {OW{1'b0}} : yz[OW-1:0];
            default: out = yz[OW-1:0];
        endcase
    end
endmodule
