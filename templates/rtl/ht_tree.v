// ht_tree: a balanced adder tree over N values of W bits (sums wrap in W bits,
// as ap_fixed's AP_WRAP: the order of the additions does not change the
// result), one register per level: ceil(log2 N) cycles of latency.
module ht_tree #(parameter N = 4, parameter W = 16) (
    input  wire         clk,
    input  wire [N*W-1:0] in,
    output wire [W-1:0] out
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
    // entries of level l and where level l starts in the flat vector
    function integer n_at;
        input integer l;
        begin
            n_at = (N + (1 << l) - 1) >> l;
        end
    endfunction
    function integer off_at;
        input integer l;
        integer k;
        begin
            off_at = 0;
            for (k = 0; k < l; k = k + 1)
                off_at = off_at + n_at(k);
        end
    endfunction
    localparam L = clog2(N);
    localparam S = off_at(L + 1);
    wire [S*W-1:0] t;
    assign t[0 +: N*W] = in;
    genvar l, i;
    generate
        for (l = 1; l <= L; l = l + 1) begin : lv
            for (i = 0; i < n_at(l); i = i + 1) begin : node
                reg [W-1:0] r;
                if (2 * i + 1 < n_at(l - 1)) begin : add
                    always @(posedge clk)
                        r <= t[(off_at(l - 1) + 2 * i) * W +: W] + t[(off_at(l - 1) + 2 * i + 1) * W +: W];
                end else begin : pass
                    always @(posedge clk)
                        r <= t[(off_at(l - 1) + 2 * i) * W +: W];
                end
                assign t[(off_at(l) + i) * W +: W] = r;
            end
        end
    endgenerate
    assign out = t[off_at(L) * W +: W];
endmodule
