// fdht_cell: the RTL of nnet::fdht_recurrence without the h-chain stages
// (those are ht_stage instances the top connects to chain_start / chain_done,
// reading the h-box and writing z_h). Per clip: Reset (c, h, h-box to 0, one
// entry per cycle), then per step: the h-chain, the gates (one hidden unit per
// cycle, in the drain's order: z = z_x + z_h in z_t, the gate tables at the
// nearest table point, c' = f c + i g in state_t, h' = o tanh(c') in h_t), and
// after the last step (every step with RETSEQ) the output word of H values in
// the result type on the AXI4-Stream master (TLAST on the clip's last word).
module fdht_cell #(
    parameter H = 4, parameter T = 2, parameter LOGN = 10, parameter RETSEQ = 0,
    parameter HBOX = 8, parameter HOFF = 0, parameter RESET_TRIPS = 8,
    parameter ZW = 24, parameter ZF = 14,                      // z_t (exact sums)
    parameter ZHW = 24, parameter ZHF = 14,                    // z_h values
    parameter TW = 18, parameter TF = 10, parameter TS = 1,    // table_t
    parameter AW = 16, parameter AF = 10, parameter AS = 1, parameter ARND = 0, parameter ASAT = 0,  // act_t
    parameter SW = 16, parameter SF = 10, parameter SRND = 0, parameter SSAT = 0,  // state_t = h_t (signed)
    parameter RW = 16, parameter RF = 10, parameter RS = 1, parameter RRND = 0, parameter RSAT = 0,  // result
    parameter SIG_FILE = "sigmoid.hex", parameter TANH_FILE = "tanh.hex", parameter UNIT_FILE = "unit.hex"
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              zx_valid,
    output wire              zx_ready,
    input  wire [4*ZW-1:0]   zx_data,
    output wire              zh_re,
    output wire [15:0]       zh_addr,
    input  wire [4*ZHW-1:0]  zh_data,
    output reg               hb_we,
    output reg  [15:0]       hb_addr,
    output reg  [SW-1:0]     hb_data,
    output wire              chain_start,
    input  wire              chain_done,
    output wire              m_tvalid,
    input  wire              m_tready,
    output wire [H*RW-1:0]   m_tdata,
    output wire              m_tlast
);
    localparam N = 1 << LOGN;
    localparam S_RESET = 0, S_CHAIN = 1, S_GATES = 2, S_OUT = 3, S_SEND = 4;
    localparam NV = 12;  // gate pipeline registers, issue -> write (accel.model.GATE_DEPTH)

    reg [TW-1:0] sig_rom [0:N-1];
    reg [TW-1:0] tanh_rom [0:N-1];
    reg [15:0] unit_rom [0:H-1];
    initial begin
        $readmemh(SIG_FILE, sig_rom);
        $readmemh(TANH_FILE, tanh_rom);
        $readmemh(UNIT_FILE, unit_rom);
    end
    reg [SW-1:0] c_mem [0:H-1];
    reg [SW-1:0] h_mem [0:H-1];

    reg [2:0] state;
    reg [15:0] i, k, t;
    reg started;
    reg [NV:1] v;
    wire idle_pipe = v == 0;

    // ---------------- issue ----------------
    wire iss = state == S_GATES && k != H && zx_valid;
    assign zx_ready = state == S_GATES && k != H;
    wire [15:0] j0 = unit_rom[k];
    assign zh_re = iss;
    assign zh_addr = j0;
    reg [4*ZW-1:0] zx1;
    reg [15:0] j1, j2, j4, j5, j6, j8, j9, j10;
    reg [SW-1:0] c1, c2, c4, c5;
    always @(posedge clk) begin
        if (iss) begin
            zx1 <= zx_data;
            j1 <= j0;
            c1 <= c_mem[j0];
        end
    end

    // ---------------- S1: z = z_x + z_h (z_t) ----------------
    wire [4*ZW-1:0] z;
    genvar g;
    generate
        for (g = 0; g < 4; g = g + 1) begin : zs
            wire [ZW-1:0] zhz;
            fx_cast #(.IW(ZHW), .IF(ZHF), .IS(1), .OW(ZW), .OF(ZF), .OS(1), .RND(0), .SAT(0)) czh (
                .in(zh_data[g*ZHW +: ZHW]), .out(zhz));
            wire [ZW:0] sum = {zx1[g*ZW+ZW-1], zx1[g*ZW +: ZW]} + {zhz[ZW-1], zhz};
            fx_cast #(.IW(ZW + 1), .IF(ZF), .IS(1), .OW(ZW), .OF(ZF), .OS(1), .RND(0), .SAT(0)) cz (
                .in(sum), .out(z[g*ZW +: ZW]));
        end
    endgenerate
    reg [4*ZW-1:0] z2;
    always @(posedge clk) begin
        z2 <= z;
        c2 <= c1;
        j2 <= j1;
    end

    // ---------------- S2: table indices (i, f, g, o) ----------------
    wire [LOGN-1:0] ii, fi, gi_, oi;
    ht_table_index #(.XW(ZW), .XF(ZF), .LOGN(LOGN), .LOGD(4)) xi (.x(z2[0*ZW +: ZW]), .idx(ii));
    ht_table_index #(.XW(ZW), .XF(ZF), .LOGN(LOGN), .LOGD(4)) xf (.x(z2[1*ZW +: ZW]), .idx(fi));
    ht_table_index #(.XW(ZW), .XF(ZF), .LOGN(LOGN), .LOGD(3)) xg (.x(z2[2*ZW +: ZW]), .idx(gi_));
    ht_table_index #(.XW(ZW), .XF(ZF), .LOGN(LOGN), .LOGD(4)) xo (.x(z2[3*ZW +: ZW]), .idx(oi));
    // ... and the table reads (synchronous ROMs) in the same cycle
    reg [TW-1:0] ti4, tf4, tg4, to4;
    always @(posedge clk) begin
        ti4 <= sig_rom[ii];
        tf4 <= sig_rom[fi];
        tg4 <= tanh_rom[gi_];
        to4 <= sig_rom[oi];
        c4 <= c2;
        j4 <= j2;
    end

    // ---------------- S4: gates in act_t ----------------
    // the ROM outputs registered once more (a block RAM's clock-to-out is slow)
    reg [TW-1:0] ti4r, tf4r, tg4r, to4r;
    reg [SW-1:0] c4r;
    reg [15:0] j4r;
    always @(posedge clk) begin
        ti4r <= ti4; tf4r <= tf4; tg4r <= tg4; to4r <= to4;
        c4r <= c4;
        j4r <= j4;
    end
    wire [AW-1:0] gi, gf, gg, go;
    fx_cast #(.IW(TW), .IF(TF), .IS(TS), .OW(AW), .OF(AF), .OS(AS), .RND(ARND), .SAT(ASAT)) ai (.in(ti4r), .out(gi));
    fx_cast #(.IW(TW), .IF(TF), .IS(TS), .OW(AW), .OF(AF), .OS(AS), .RND(ARND), .SAT(ASAT)) af (.in(tf4r), .out(gf));
    fx_cast #(.IW(TW), .IF(TF), .IS(TS), .OW(AW), .OF(AF), .OS(AS), .RND(ARND), .SAT(ASAT)) ag (.in(tg4r), .out(gg));
    fx_cast #(.IW(TW), .IF(TF), .IS(TS), .OW(AW), .OF(AF), .OS(AS), .RND(ARND), .SAT(ASAT)) ao (.in(to4r), .out(go));
    reg [AW-1:0] gi5, gf5, gg5, go5, go6, go8, go9;
    always @(posedge clk) begin
        gi5 <= gi; gf5 <= gf; gg5 <= gg; go5 <= go;
        c5 <= c4r;
        j5 <= j4r;
    end

    // ---------------- S5: f c, i g (exact products); S6: their sum cast to state_t ----------------
    localparam F1 = AF + SF, F2 = 2 * AF;
    localparam FC = (F1 > F2) ? F1 : F2;
    localparam PW = AW + SW + 2 + AW + 4 + FC;
    wire [AW+SW+1:0] p1;
    wire [2*AW+1:0] p2;
    fx_mul #(.AW(AW), .AS(AS), .BW(SW), .BS(1)) m1 (.a(gf5), .b(c5), .p(p1));
    fx_mul #(.AW(AW), .AS(AS), .BW(AW), .BS(AS)) m2 (.a(gi5), .b(gg5), .p(p2));
    reg [AW+SW+1:0] p1r;
    reg [2*AW+1:0] p2r;
    reg [AW-1:0] go5r;
    reg [15:0] j5r;
    always @(posedge clk) begin
        p1r <= p1;
        p2r <= p2;
        go5r <= go5;
        j5r <= j5;
    end
    wire signed [PW-1:0] p1e = $signed(p1r) <<< (FC - F1);
    wire signed [PW-1:0] p2e = $signed(p2r) <<< (FC - F2);
    wire [PW-1:0] csum = p1e + p2e;
    wire [SW-1:0] cn;
    fx_cast #(.IW(PW), .IF(FC), .IS(1), .OW(SW), .OF(SF), .OS(1), .RND(SRND), .SAT(SSAT)) cc (.in(csum), .out(cn));
    reg [SW-1:0] cn6;
    always @(posedge clk) begin
        cn6 <= cn;
        go6 <= go5r;
        j6 <= j5r;
    end

    // ---------------- S6: tanh index of c' ----------------
    wire [LOGN-1:0] ci;
    ht_table_index #(.XW(SW), .XF(SF), .LOGN(LOGN), .LOGD(3)) xc (.x(cn6), .idx(ci));
    // ... and the table read in the same cycle; then act_t
    reg [TW-1:0] tc8;
    always @(posedge clk) begin
        tc8 <= tanh_rom[ci];
        go8 <= go6;
        j8 <= j6;
    end
    reg [TW-1:0] tc8r;
    reg [AW-1:0] go8r;
    reg [15:0] j8r;
    always @(posedge clk) begin
        tc8r <= tc8;
        go8r <= go8;
        j8r <= j8;
    end
    wire [AW-1:0] ca;
    fx_cast #(.IW(TW), .IF(TF), .IS(TS), .OW(AW), .OF(AF), .OS(AS), .RND(ARND), .SAT(ASAT)) ac (.in(tc8r), .out(ca));
    reg [AW-1:0] ca9;
    always @(posedge clk) begin
        ca9 <= ca;
        go9 <= go8r;
        j9 <= j8r;
    end
    // ---------------- S9: h' = o tanh(c') in h_t ----------------
    wire [2*AW+1:0] p3;
    fx_mul #(.AW(AW), .AS(AS), .BW(AW), .BS(AS)) m3 (.a(go9), .b(ca9), .p(p3));
    reg [2*AW+1:0] p3r;
    reg [15:0] j9r;
    always @(posedge clk) begin
        p3r <= p3;
        j9r <= j9;
    end
    wire [SW-1:0] hn;
    fx_cast #(.IW(2 * AW + 2), .IF(2 * AF), .IS(1), .OW(SW), .OF(SF), .OS(1), .RND(SRND), .SAT(SSAT)) ch (
        .in(p3r), .out(hn));
    reg [SW-1:0] hn10;
    always @(posedge clk) begin
        hn10 <= hn;
        j10 <= j9r;
    end

    // ---------------- output word ----------------
    reg [H*RW-1:0] out_word;
    reg [SW-1:0] hq;
    reg hv;
    reg [15:0] hj;
    wire [RW-1:0] hr;
    fx_cast #(.IW(SW), .IF(SF), .IS(1), .OW(RW), .OF(RF), .OS(RS), .RND(RRND), .SAT(RSAT)) cr (.in(hq), .out(hr));
    assign m_tvalid = state == S_SEND && !hv;
    assign m_tdata = out_word;
    assign m_tlast = t == T - 1;
    assign chain_start = state == S_CHAIN && !started;

    // ---------------- control ----------------
    wire last_step = t == T - 1;
    always @(posedge clk) begin
        if (rst) begin
            state <= S_RESET;
            i <= 0;
            t <= 0;
            k <= 0;
            v <= 0;
            started <= 1'b0;
            hb_we <= 1'b0;
            hv <= 1'b0;
        end else begin
            v <= {v[NV-1:1], iss};
            hb_we <= 1'b0;
            hv <= 1'b0;
            // c[j] = c' (cn6, one cycle after the products' register); h[j] = h', h-box[HOFF + j] = h'
            if (v[7])
                c_mem[j6] <= cn6;
            if (v[12]) begin
                h_mem[j10] <= hn10;
                hb_we <= 1'b1;
                hb_addr <= HOFF + j10;
                hb_data <= hn10;
            end
            if (hv)
                out_word <= {hr, out_word[H*RW-1:RW]};
            case (state)
                S_RESET: begin
                    if (i < H) begin
                        c_mem[i] <= 0;
                        h_mem[i] <= 0;
                    end
                    if (i < HBOX) begin
                        hb_we <= 1'b1;
                        hb_addr <= i;
                        hb_data <= 0;
                    end
                    if (i == RESET_TRIPS - 1) begin
                        i <= 0;
                        t <= 0;
                        started <= 1'b0;
                        state <= S_CHAIN;
                    end else
                        i <= i + 16'd1;
                end
                S_CHAIN: begin
                    if (!started)
                        started <= 1'b1;
                    if (chain_done) begin
                        started <= 1'b0;
                        k <= 0;
                        state <= S_GATES;
                    end
                end
                S_GATES: begin
                    if (iss)
                        k <= k + 16'd1;
                    if (k == H && idle_pipe && !hb_we) begin
                        hj <= 0;
                        if (RETSEQ != 0 || last_step)
                            state <= S_OUT;
                        else begin
                            t <= t + 16'd1;
                            state <= S_CHAIN;
                        end
                    end
                end
                S_OUT: begin
                    hq <= h_mem[hj];
                    hv <= 1'b1;
                    if (hj == H - 1)
                        state <= S_SEND;
                    hj <= hj + 16'd1;
                end
                S_SEND: begin
                    if (hv) begin
                        // the last value enters the word this cycle
                    end else if (m_tready) begin
                        if (last_step) begin
                            i <= 0;
                            state <= S_RESET;
                        end else begin
                            t <= t + 16'd1;
                            state <= S_CHAIN;
                        end
                    end
                end
                default: state <= S_RESET;
            endcase
        end
    end
endmodule
