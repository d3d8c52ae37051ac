"""Every summary the commands print, in one place (the report alone goes to
stdout; progress and errors go to stderr)."""

from __future__ import annotations

import json
import os


def print_build_report(r: dict) -> None:
    """``fdht build``'s report: model size, csim agreement, stage times, the hardware summary."""
    from hls_project.numerics import fidelity
    from hls_project.flow.compare import flips_line
    c = r.get("csim") or {}
    p = r["parameters"]
    lines = [
        "",
        f"=== FDHT-LSTM build report: {r['config']} ===",
        f"project             {r['output_dir']}",
        f"parameters          {p['model']:,}" + (f" (recurrent {p['recurrent']:,}; a dense LSTM needs "
                                                f"{p['dense_lstm_recurrent']:,})" if p["dense_lstm_recurrent"] else ""),
        f"MACs per time step  {r['macs_per_step']:,}" + (f" (dense LSTM {r['dense_lstm_macs_per_step']:,})"
                                                        if r["dense_lstm_macs_per_step"] else ""),
        f"weight storage      {r['weight_bits']:,} bits ({r['weight_bits'] / 8192:.1f} KiB)",
    ]
    if r.get("precision_auto"):
        from hls_project.numerics import autoprec
        lines.append(autoprec.summary(r["precision_auto"]))
    if c:
        logit_line = fidelity.line(c.get("logits") or {}, c.get("output"))
        lines += [
            f"csim samples        {c['samples']}",
            f"top-1 agreement     {c['top1_agreement'] * 100:.2f} % csim vs Keras (threshold {r['min_agreement'] * 100:g} %)"
            + (f"; {flips_line(c['flips'])}" if c.get("flips") is not None else ""),
            *([f"|diff| of {'logits' if c.get('output') == 'logits' else 'probs '}    max {c['max_abs_diff']:.4g}, "
               f"mean {c['mean_abs_diff']:.4g}"] if c.get("max_abs_diff") is not None else
              ["output              the class (one-hot); no |diff| figures"]),
            *([logit_line] if logit_line else []),
            f"csim vs predict     {'identical' if c['csim_equals_predict'] else 'DIFFERENT'} "
            f"(max |diff| {c['csim_vs_predict_max_abs_diff']:.3g})",
            f"accuracy            Keras {c['keras_accuracy'] * 100:.2f} %, csim {c['csim_accuracy'] * 100:.2f} %",
        ]
    lines.append("stage times         " + ", ".join(f"{k} {v:.1f}s" for k, v in r["stage_seconds"].items()))
    lines.append(f"report              {os.path.join(r['output_dir'], 'csim_report.json')}")
    hw_path = r.get("hardware_report")
    if hw_path and os.path.isfile(hw_path):
        from hls_project.report.markdown import summary_lines

        with open(hw_path) as f:
            hw = json.load(f)
        lines += summary_lines(hw)
        head = (hw.get("accelerator") or {}).get("headline") or {}
        if r.get("precision_auto") and head:
            lines.append(f"  with the auto types: weights {r['weight_bits']:,} bits, buffers {head.get('buffer_bits', 0):,} "
                         f"bits, constant tables {head.get('constant_bits', 0):,} bits (MODEL)")
        lines.append(f"hardware report     {os.path.splitext(hw_path)[0]}.md")
    print("\n".join(lines))


def print_vendor(result: dict) -> None:
    """The vendor tool's figures (C synthesis, exported IP)."""
    lines = [f"vendor              {result['tool']} ({result['backend']}, {result['part']}, "
             f"{result['clock_period_ns']} ns) done in {result.get('seconds', 0):.0f} s"]
    s = result.get("synthesis")
    if s and not s.get("error"):
        r = s["resources"]
        lines.append(f"csynth              latency {s['latency_cycles']['min']}-{s['latency_cycles']['max']} cycles "
                     f"({s['latency_ns']['min']}-{s['latency_ns']['max']} ns), II {s['interval_cycles']['min']}-"
                     f"{s['interval_cycles']['max']}; DSP {r['DSP']}, LUT {r['LUT']}, FF {r['FF']}, "
                     f"BRAM_18K {r['BRAM_18K']}, URAM {r['URAM']}")
    ip = result.get("ip")
    if ip:
        lines.append(f"exported IP         {ip['ip_dir']}" + (f" ({ip['zip'][0]})" if ip.get("zip") else ""))
    print("\n".join(lines))


def prepare_summary(summary, out, size_bytes: int, x_shape: tuple) -> str:
    """``fdht prepare``'s summary: clips per class and split, the clip shape, the file."""
    width = max(len(name) for name in summary.class_names)
    lines = [f"{len(summary.class_names)} classes from {summary.root} (split by {summary.split}):"]
    for name in summary.class_names:
        lines.append(
            f"  {name:<{width}}  {summary.clips_per_class[name]:5d} clips  "
            f"(train {summary.train_per_class[name]}, test {summary.test_per_class[name]})"
        )
    lines.append(f"train {summary.n_train} clips, test {summary.n_test} clips, skipped {summary.n_skipped}")
    lines.append(f"clip shape {tuple(x_shape[1:])} uint8")
    lines.append(f"wrote {out} ({size_bytes / 1e6:.1f} MB)")
    return "\n".join(lines)


def print_compress(report: dict, out_dir: str) -> None:
    """``fdht compress``'s summary: source, FDHT shape, reconstruction error, accuracy."""
    f = report["fdht"]
    print()
    print(f"source      {report['source']['kind']}, {report['source']['rnn_params']:,} recurrent parameters, "
          f"test accuracy {report['source']['test_accuracy']:.4f}")
    print(f"FDHT-LSTM   {'x'.join(map(str, f['input_modes']))} -> {'x'.join(map(str, f['output_modes']))}, "
          f"{f['rnn_params']:,} recurrent parameters ({f['compression_vs_source']:,.1f}x fewer), "
          f"{f['macs_per_step']:,} MACs per step")
    print(f"W_mega      relative reconstruction error {report['reconstruction_error']:.4g}")
    print(f"accuracy    {report['accuracy_after_decomposition']:.4f} straight after, "
          f"{report['accuracy_after_fine_tune']:.4f} after {report['fine_tune']['epochs']} fine-tune epoch(s)")
    print(f"wrote {os.path.join(out_dir, 'model.h5')} and compress_report.json")


def print_sample_videos(summary: dict) -> None:
    """``fdht sample-videos``'s summary: clips per class and how they were cut."""
    width = max(len(c) for c in summary["classes"])
    print(f"wrote {summary['n_clips']} clips ({summary['clip_frames']} frames of "
          f"{summary['size'][0]}x{summary['size'][1]}, MJPG .avi) to {summary['out']}:")
    for name, c in summary["classes"].items():
        print(f"  {name:<{width}}  {c['clips']:4d} clips = {c['groups']} parts x {summary['windows']} windows x "
              f"{len(summary['variants'])} variants, from {c['source']} ({c['frames']} frames)")
    print(f"variants: {', '.join(summary['variants'])}; a label is the source video; a sanity set, not UCF11")


def print_lint(res: dict, as_json: bool = False) -> None:
    """``fdht lint``'s result: one line per rule, its failures, the summary line."""
    from hls_project.accel.lint import summary

    if as_json:
        print(json.dumps(res, indent=2))
    else:
        for r in res["rules"]:
            print(f"  {'ok  ' if r['ok'] else 'FAIL'} {r['rule']:<34} {r['source']}")
            for f in r["failures"]:
                print(f"       {f}")
        print(summary(res))


def print_train(metrics: dict) -> None:
    """``fdht train``'s result: one JSON line (kind, sizes, accuracy, epochs, seconds)."""
    print(json.dumps({k: metrics[k] for k in ("kind", "model_params", "rnn_params", "macs_per_step",
                                               "test_accuracy", "epochs_run", "train_seconds")}))


def print_experiment(results: dict, out_dir: str) -> None:
    """``fdht experiment``'s table and the files it wrote."""
    from keras_model.experiment import PLOT_NAME, format_table

    print()
    print(format_table(results["rows"]))
    print(f"\nwrote {os.path.join(out_dir, 'results.md')}, results.json and {PLOT_NAME}")


def print_sweep(out_dir: str) -> None:
    """``fdht sweep``'s files (the per-width lines are printed as the sweep runs)."""
    print(f"sweep table         {os.path.join(out_dir, 'sweep.md')} (plot sweep.png)")


def print_hardware(hw: dict, md_path: str) -> None:
    """``fdht report``'s summary of a hardware report."""
    from hls_project.report.markdown import summary_lines

    print("\n".join(summary_lines(hw)))
    print(f"report              {md_path}")


def print_rtl(rep: dict) -> None:
    """``fdht rtl``'s summary: the RTL twin's MEASURED figures beside the MODEL."""
    from hls_project.report.markdown import rtl_lines

    print("\n".join(rtl_lines(rep)))
