// ht_stage: one contraction stage out[o] = sum_s A[a] * B[b] of the HT chain,
// the RTL of nnet::ht_stage (STREAM = 0: A from a word buffer) and
// nnet::ht_stage_stream (STREAM = 1: A from a FIFO, each word read once in
// arrival order), on the schedule of hls_project/accel: loop levels (outermost
// first) with per-level trips and strides into the A word, the ROM row, the
// out word and the out bank; one iteration per cycle; FREE x SUML multipliers,
// each product cast to the accumulator type, an adder tree per output lane,
// then one accumulator add; on the sum's last iteration the accumulator is
// cast to the output type and written as one word.
//
// Pipeline (cycles): issue | A word / ROM word read (1) | operand registers,
// multiply + cast (MUL_STAGES >= 2) | adder tree (ceil(log2 SUML)) | accumulate (1) | write (1).
// Per-level tables are packed 16-bit fields, entry k at [16k +: 16].
//
// ARITH = 0: the FREE x SUML products by multipliers (fx_mul: DSP blocks) from
// the ROM word. ARITH = 1 (hls.stage_arith: shift_add): the products come in on
// sa_p from a generated constant-coefficient module (hls_project/rtl/shiftadd.py:
// every constant the stage uses, as shift-add adder graphs of the A word sa_a,
// selected by the ROM row sa_row; registered once inside, as a DSP's product
// register: needs MUL_STAGES >= 3), so cycles and bits are the same.
module ht_stage #(
    parameter STREAM = 0,
    parameter NL = 1, parameter TRIPS = 1,
    parameter [16*NL-1:0] LVT = 0, parameter [16*NL-1:0] LVA = 0, parameter [16*NL-1:0] LVB = 0,
    parameter [16*NL-1:0] LVO = 0, parameter [16*NL-1:0] LVG = 0, parameter [16*NL-1:0] LVS = 0,
    parameter [16*NL-1:0] LVBO = 0,
    // per level: how the A word / ROM row / out word / out bank address moves when that level counts
    // (its stride less the inner levels' wrap), 32-bit two's complement: the addresses are registers
    // stepped by one of these constants, so no address is computed by multiplication
    parameter [32*NL-1:0] LDA = 0, parameter [32*NL-1:0] LDB = 0, parameter [32*NL-1:0] LDO = 0,
    parameter [32*NL-1:0] LDG = 0,
    parameter FREE = 1, parameter SUML = 1, parameter A_LANES = 1, parameter ROM_ROWS = 1,
    parameter ROM_LANES = 1, parameter ACC_ROWS = 1,
    parameter [16*FREE*SUML-1:0] A_LANE = 0, parameter [16*FREE*SUML-1:0] B_LANE = 0,
    // types: A (AW, AF, AS), ROM (BW, BF, BS), accumulator (CW, CF; wraps; products cast with CRND),
    // output (OW, OF, OS, ORND, OSAT)
    parameter AW = 16, parameter AF = 10, parameter AS = 1,
    parameter BW = 16, parameter BF = 10, parameter BS = 1,
    parameter CW = 24, parameter CF = 14, parameter CRND = 0,
    parameter OW = 16, parameter OF = 10, parameter OS = 1, parameter ORND = 2, parameter OSAT = 1,
    parameter MUL_STAGES = 3,
    parameter ARITH = 0,
    parameter ROM_FILE = "rom.hex"
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 start,      // a frame may start (taken when idle)
    output wire                 busy,
    output wire                 done,       // last word written: one-cycle pulse
    // A from a word buffer (STREAM = 0)
    output wire                 a_re,
    output wire [15:0]          a_addr,
    input  wire [A_LANES*AW-1:0] a_data,    // the word at the address issued one cycle before
    // A from a FIFO (STREAM = 1)
    input  wire                 s_valid,
    output wire                 s_ready,
    input  wire [A_LANES*AW-1:0] s_data,
    // output words
    output reg                  o_we,
    output reg  [15:0]          o_bank,
    output reg  [15:0]          o_addr,
    output reg  [FREE*OW-1:0]   o_data,
    // ARITH = 1: the operands out, the exact products in (AW + BW + 2 bits each)
    output wire [A_LANES*AW-1:0] sa_a,
    output wire [15:0]          sa_row,
    input  wire [FREE*SUML*(AW+BW+2)-1:0] sa_p
);
    function integer clog2;
        input integer v;
        integer k;
        begin
            clog2 = 0;
            for (k = 1; k < v; k = k * 2)
                clog2 = clog2 + 1;
        end
    endfunction
    localparam TREE = clog2(SUML);
    localparam DL = 1 + MUL_STAGES + TREE;  // issue -> accumulate
    localparam PW = AW + BW + 2;            // exact product
    localparam PF = AF + BF;

    // ---------------- issue: the loop levels (odometer) ----------------
    reg running;
    reg [16*NL-1:0] cnt;
    reg [31:0] issued;
    reg [15:0] row;
    reg [31:0] pa, pb, po, pg;   // sum over levels of counter x stride, kept in registers
    reg first, last, fresh;
    integer l;
    always @* begin
        first = 1'b1; last = 1'b1; fresh = 1'b1;
        for (l = 0; l < NL; l = l + 1) begin
            if (LVS[16*l +: 16] != 0) begin
                first = first & (cnt[16*l +: 16] == 0);
                last = last & (cnt[16*l +: 16] == LVT[16*l +: 16] - 1);
            end
            if (LVBO[16*l +: 16] != 0)
                fresh = fresh & (cnt[16*l +: 16] == 0);
        end
    end
    wire act = running && issued != TRIPS;
    wire iss = act && (STREAM == 0 || !fresh || s_valid);
    assign s_ready = (STREAM != 0) && act && fresh;
    assign a_re = (STREAM == 0) && iss;
    assign a_addr = pa[15:0];

    reg [16*NL-1:0] cnt_next;
    reg carry;
    reg [31:0] da, db, dob, dg;
    always @* begin
        cnt_next = cnt;
        carry = 1'b1;
        da = 0; db = 0; dob = 0; dg = 0;
        for (l = NL - 1; l >= 0; l = l - 1) begin
            if (carry) begin
                if (cnt[16*l +: 16] == LVT[16*l +: 16] - 1)
                    cnt_next[16*l +: 16] = 16'd0;
                else begin
                    cnt_next[16*l +: 16] = cnt[16*l +: 16] + 16'd1;
                    carry = 1'b0;
                    da = LDA[32*l +: 32];
                    db = LDB[32*l +: 32];
                    dob = LDO[32*l +: 32];
                    dg = LDG[32*l +: 32];
                end
            end
        end
    end

    // ---------------- read: ROM word, A word ----------------
    reg [ROM_LANES*BW-1:0] rom_q;
    generate
        if (ARITH == 0) begin : romg
            reg [ROM_LANES*BW-1:0] rom [0:ROM_ROWS-1];
            initial $readmemh(ROM_FILE, rom);
            always @(posedge clk)
                if (iss)
                    rom_q <= rom[pb];
        end
    endgenerate
    reg [15:0] row_q;         // ARITH = 1: the ROM row instead of its word
    reg [A_LANES*AW-1:0] w;   // the stream stage's held A word
    always @(posedge clk) begin
        if (iss)
            row_q <= pb[15:0];
        if (STREAM != 0 && iss && fresh)
            w <= s_data;
    end
    wire [A_LANES*AW-1:0] aw = (STREAM != 0) ? w : a_data;
    // the multipliers' operand registers (a DSP's input registers): the first of the MUL_STAGES
    reg [A_LANES*AW-1:0] aw_r;
    reg [ROM_LANES*BW-1:0] rom_r;
    reg [15:0] row_r;
    always @(posedge clk) begin
        aw_r <= aw;
        rom_r <= rom_q;
        row_r <= row_q;
    end
    assign sa_a = aw_r;
    assign sa_row = row_r;

    // ---------------- control delay line: issue -> accumulate ----------------
    reg [DL-1:0] v_d;
    reg [DL-1:0] first_d, last_d;
    reg [16*DL-1:0] row_d, o_d, g_d;
    always @(posedge clk) begin
        if (rst)
            v_d <= 0;
        else
            v_d <= {v_d[DL-2:0], iss};
        first_d <= {first_d[DL-2:0], first};
        last_d <= {last_d[DL-2:0], last};
        row_d <= {row_d[16*DL-17:0], row};
        o_d <= {o_d[16*DL-17:0], po[15:0]};
        g_d <= {g_d[16*DL-17:0], pg[15:0]};
    end

    // ---------------- products, cast to the accumulator type ----------------
    wire [FREE*SUML*CW-1:0] prod;
    genvar f, s, k;
    generate
        for (f = 0; f < FREE; f = f + 1) begin : lane
            for (s = 0; s < SUML; s = s + 1) begin : sum
                localparam integer AL = A_LANE[16*(f*SUML+s) +: 16];
                localparam integer BL = B_LANE[16*(f*SUML+s) +: 16];
                wire [PW-1:0] p;
                if (ARITH == 0) begin : dsp
                    fx_mul #(.AW(AW), .AS(AS), .BW(BW), .BS(BS)) mul (
                        .a(aw_r[AL*AW +: AW]), .b(rom_r[BL*BW +: BW]), .p(p));
                end else begin : shift_add
                    assign p = sa_p[(f*SUML+s)*PW +: PW];
                end
                fx_cast #(.IW(PW), .IF(PF), .IS(1), .OW(CW), .OF(CF), .OS(1), .RND(CRND), .SAT(0)) cast (
                    .in(p), .out(prod[(f*SUML+s)*CW +: CW]));
            end
        end
    endgenerate
    // the other MUL_STAGES - 1 registers after the multiply (MUL_STAGES >= 2)
    reg [FREE*SUML*CW-1:0] mreg [0:MUL_STAGES-2];
    integer m;
    always @(posedge clk) begin
        mreg[0] <= prod;
        for (m = 1; m < MUL_STAGES - 1; m = m + 1)
            mreg[m] <= mreg[m-1];
    end
    // ARITH = 1: the shift-add module's register stands for the first of these
    wire [FREE*SUML*CW-1:0] mout = (ARITH == 0) ? mreg[MUL_STAGES-2] : mreg[MUL_STAGES-3];

    // ---------------- adder trees, accumulators, output cast ----------------
    wire [FREE*CW-1:0] tsum;
    reg [FREE*CW-1:0] acc [0:ACC_ROWS-1];
    wire v_a = v_d[DL-1];
    wire first_a = first_d[DL-1];
    wire last_a = last_d[DL-1];
    wire [15:0] row_a = row_d[16*(DL-1) +: 16];
    wire [FREE*CW-1:0] acc_row = acc[row_a];
    wire [FREE*CW-1:0] acc_new;
    wire [FREE*OW-1:0] out_cast;
    generate
        for (f = 0; f < FREE; f = f + 1) begin : red
            ht_tree #(.N(SUML), .W(CW)) tree (.clk(clk), .in(mout[f*SUML*CW +: SUML*CW]), .out(tsum[f*CW +: CW]));
            assign acc_new[f*CW +: CW] = (first_a ? {CW{1'b0}} : acc_row[f*CW +: CW]) + tsum[f*CW +: CW];
            fx_cast #(.IW(CW), .IF(CF), .IS(1), .OW(OW), .OF(OF), .OS(OS), .RND(ORND), .SAT(OSAT)) ocast (
                .in(acc_new[f*CW +: CW]), .out(out_cast[f*OW +: OW]));
        end
    endgenerate
    always @(posedge clk) begin
        if (v_a)
            acc[row_a] <= acc_new;
        o_data <= out_cast;
        o_bank <= g_d[16*(DL-1) +: 16];
        o_addr <= o_d[16*(DL-1) +: 16];
    end

    // ---------------- frame control ----------------
    wire fin = running && issued == TRIPS && v_d == 0 && !o_we;
    assign done = fin;
    assign busy = running;
    always @(posedge clk) begin
        if (rst) begin
            running <= 1'b0;
            o_we <= 1'b0;
            cnt <= 0;
            issued <= 0;
            row <= 0;
        end else begin
            o_we <= v_a && last_a;
            if (!running && start) begin
                running <= 1'b1;
                cnt <= 0;
                issued <= 0;
                row <= 0;
                pa <= 0; pb <= 0; po <= 0; pg <= 0;
            end else if (fin) begin
                running <= 1'b0;
            end else if (iss) begin
                cnt <= cnt_next;
                pa <= pa + da; pb <= pb + db; po <= po + dob; pg <= pg + dg;
                issued <= issued + 1;
                row <= (row == ACC_ROWS - 1) ? 16'd0 : row + 16'd1;
            end
        end
    end
endmodule
