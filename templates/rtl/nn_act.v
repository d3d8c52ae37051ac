// nn_act: hls4ml's linear / ReLU activation layer on one word of N values
// (combinational; the handshake passes through): out_j = cast(x_j) (ACT 0,
// linear) or cast(max(x_j, 0)) (ACT 1, ReLU) in the layer's result type.
// Verilog-2005.
module nn_act #(
    parameter N = 4, parameter ACT = 0,
    parameter XW = 16, parameter XF = 10, parameter XS = 1,
    parameter OW = 16, parameter OF = 10, parameter OS = 1, parameter ORND = 0, parameter OSAT = 0
) (
    input  wire             s_valid,
    output wire             s_ready,
    input  wire [N*XW-1:0]  s_data,
    output wire             m_valid,
    input  wire             m_ready,
    output wire [N*OW-1:0]  m_data
);
    assign m_valid = s_valid;
    assign s_ready = m_ready;
    genvar g;
    generate
        for (g = 0; g < N; g = g + 1) begin : g_n
            wire [XW-1:0] xi = s_data[g * XW +: XW];
            wire neg = XS && xi[XW-1];
            fx_cast #(.IW(XW), .IF(XF), .IS(XS), .OW(OW), .OF(OF), .OS(OS), .RND(ORND), .SAT(OSAT)) c (
                .in((ACT == 1 && neg) ? {XW{1'b0}} : xi), .out(m_data[g * OW +: OW]));
        end
    endgenerate
endmodule
