// ht_zbias: z + bias in z_t, as both drains of nnet::ht_drain_* compute it:
// the stage output value and the bias each cast to z_t (exact: z_t holds
// both), then their sum in z_t (it cannot overflow: z_t is derived so).
module ht_zbias #(
    parameter VW = 24, parameter VF = 14,                    // the stage output value
    parameter BW = 16, parameter BF = 10, parameter BS = 1,  // bias_t
    parameter ZW = 24, parameter ZF = 14                     // z_t
) (
    input  wire [VW-1:0] v,
    input  wire [BW-1:0] b,
    output wire [ZW-1:0] z
);
    wire [ZW-1:0] vz, bz;
    fx_cast #(.IW(VW), .IF(VF), .IS(1), .OW(ZW), .OF(ZF), .OS(1), .RND(0), .SAT(0)) cv (.in(v), .out(vz));
    fx_cast #(.IW(BW), .IF(BF), .IS(BS), .OW(ZW), .OF(ZF), .OS(1), .RND(0), .SAT(0)) cb (.in(b), .out(bz));
    wire [ZW:0] sum = {vz[ZW-1], vz} + {bz[ZW-1], bz};
    fx_cast #(.IW(ZW + 1), .IF(ZF), .IS(1), .OW(ZW), .OF(ZF), .OS(1), .RND(0), .SAT(0)) cs (.in(sum), .out(z));
endmodule
