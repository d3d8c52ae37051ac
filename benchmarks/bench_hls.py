"""FDHT-LSTM vs hls4ml's stock LSTM as HLS C++, side by side in one run.

    python benchmarks/bench_hls.py                  # 8 steps of 1,024 inputs, H = 64, 50 samples
    python benchmarks/bench_hls.py --samples 10 --keep build/bench_hls

Both models are ``(8, 1024)`` sequences -> recurrent layer (H = 64) -> the
same ``Dense(10)`` + ``Activation('softmax')`` head, untrained (seeded),
converted with hls4ml 1.3.0:

* **fdht**: our ``FDHTLSTM`` (modes 4x4x4x17 -> 4x4x4x4, rank 5) through the
  project's extension (``hls_project.flow.pipeline.convert``, the types ``build.py``
  would use) at ``io_stream`` (the streaming accelerator, default lanes);
* **lstm**: ``keras.layers.LSTM(64)`` through hls4ml's own LSTM
  (``nnet_recurrent.h``) with one uniform ``ap_fixed<16,6>`` for every
  result/accum/weight/bias type (its non-static path does not compile when
  they differ) at ``io_parallel``.

Measured per model: the g++ build of hls4ml's C-simulation testbench (the
command ``build.py`` uses, run alone, wall time and peak memory), the csim
run over ``--samples`` samples (the csim process's CPU time per sample, the
least of 3 runs;
agreement with Keras;
ours also built with ``hls.csim_arithmetic: ap_types``, its time and whether
its results are byte-identical to the default fast build; and, with
valgrind, the instructions per sample counted by callgrind, which do not
depend on the machine's load),
weight storage (sum over weight variables of entries x bit width), and MACs
per time step: our kernel's HT plan vs ``numpy.einsum_path(optimize='optimal')``
on the same tensor network vs the dense product, and the MODEL cycles per clip
and DSP estimate (ours: hls_project/accel/model.py; the stock LSTM: the
hardware report's analytic estimate of hls4ml's kernel at reuse factor 1)
on the same tensor network vs the dense product. Then the paper's UCF11 shape
(57,600 + 256 inputs, H = 256) for the stock LSTM: its weight count and the
size its hls4ml weight headers would have, from the bytes per value measured
on the headers written here. Timings are not asserted; they depend on the
machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

T, N_IN, H, N_CLASSES = 8, 1024, 64, 10
FDHT_INPUT_MODES = [4, 4, 4, 17]  # 1,024 + 64 = 1,088 = 4 x 4 x 4 x 17 (no padding)
FDHT_OUTPUT_MODES = [4, 4, 4, 4]  # 4H = 256
FDHT_RANK = 5
STOCK_TYPE = "ap_fixed<16,6>"
PROJECT = "myproject"

# the paper's UCF11 shape
UCF11_N, UCF11_H = 160 * 120 * 3, 256
VU9P_ONCHIP_BITS = (75.9 + 270.0) * 1e6  # Block RAM + UltraRAM, Xilinx DS890


# --------------------------------------------------------------------------
# models and conversion
# --------------------------------------------------------------------------


def build_models():
    from keras_model.common.keras2 import keras, tf

    tf.get_logger().setLevel("ERROR")  # no retracing warnings between the table rows
    from keras_model.models import build_model

    keras.utils.set_random_seed(0)
    fdht = build_model({"kind": "fdht", "units": H, "input_modes": FDHT_INPUT_MODES,
                        "output_modes": FDHT_OUTPUT_MODES, "ranks": FDHT_RANK, "seed": 0}, (T, N_IN), N_CLASSES)
    lstm = build_model({"kind": "dense", "units": H, "seed": 0}, (T, N_IN), N_CLASSES)
    return {"fdht": fdht, "lstm": lstm}


def _tb_files(out_dir, x, probs):
    import numpy as np

    os.makedirs(out_dir, exist_ok=True)
    xi, yo = os.path.join(out_dir, "tb_input.npy"), os.path.join(out_dir, "tb_output.npy")
    np.save(xi, x.reshape(len(x), -1))
    np.save(yo, probs)
    return xi, yo


def convert_fdht(model, out_dir, x, probs, x_train):
    """Our layer, exactly as build.py converts it (default config)."""
    import numpy as np

    from hls_project.flow import pipeline as flow
    from keras_model.common.config import CONFIG_DIR, load_config

    cfg = load_config(os.path.join(CONFIG_DIR, "default.yml"), {"hls": {"output_dir": out_dir, "io_type": "io_stream"}})
    input_range = float(max(np.abs(x_train).max(), np.abs(x).max()))
    kwargs = {}
    if hasattr(flow, "dense_output_ranges"):  # calibrated Dense result types, as run_flow does
        kwargs["dense_ranges"] = flow.dense_output_ranges(model, x_train)
    os.makedirs(out_dir, exist_ok=True)
    hm = flow.convert(model, cfg, out_dir, x.reshape(len(x), -1), probs, input_range, **kwargs)
    hm.write()
    return hm


def convert_stock(model, out_dir, x, probs):
    """hls4ml's own LSTM with every type of every layer = STOCK_TYPE."""
    import hls4ml

    from hls_project.ext import plugin
    plugin.install()  # hls4ml's Keras-2 parser for this tf_keras model

    hc = hls4ml.utils.config_from_keras_model(model, granularity="name", default_precision=STOCK_TYPE,
                                              default_reuse_factor=1, backend="Vivado")
    for name, lc in hc["LayerName"].items():
        prec = lc.get("Precision")
        if isinstance(prec, dict):
            for k in list(prec):
                prec[k] = STOCK_TYPE
            prec.setdefault("accum", STOCK_TYPE)
        if name == "softmax":
            lc["Implementation"] = "stable"  # as the flow does for our model
    xi, yo = _tb_files(out_dir, x, probs)
    hm = hls4ml.converters.convert_from_keras_model(
        model, hls_config=hc, output_dir=out_dir, project_name=PROJECT, backend="Vivado",
        part="xcvu9p-flga2104-2L-e", clock_period=5, io_type="io_parallel",
        input_data_tb=xi, output_data_tb=yo)
    hm.write()
    return hm


# --------------------------------------------------------------------------
# g++ build and csim
# --------------------------------------------------------------------------


def timed_build(project_dir: str, fast: bool = True):
    """The testbench build build.py runs (csim.build_command), alone; returns
    (wall seconds, peak RSS bytes of g++ and its children). ``fast=False``:
    without -DHT_FAST_CSIM (hls.csim_arithmetic: ap_types)."""
    from hls_project.flow import csim
    cmd = csim.build_command(project_dir, PROJECT, fast=fast)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=project_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    output = proc.stdout.read().decode(errors="replace")
    proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"error: g++ failed for {project_dir}:\n{output[-3000:]}")
    return seconds, usage.ru_maxrss * 1024


def timed_csim(project_dir: str, n: int, n_out: int, repeats: int = 3):
    """CPU seconds (user + sys) of the csim process, the least of ``repeats``
    runs: the process's own time, without Python's process start-up around
    it, and the machine's noise only adds."""
    import numpy as np

    from hls_project.flow import csim
    times = []
    for _ in range(repeats):
        proc = subprocess.Popen([os.path.join(project_dir, "csim")], cwd=project_dir,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"error: csim failed in {project_dir}:\n{err[-3000:]}")
        times.append(usage.ru_utime + usage.ru_stime)
    return min(times), np.asarray(csim.read_results(project_dir, n, n_out))


def marginal_instructions(project_dir: str, n_small: int = 2, n_large: int = 6):
    """Instructions per sample of the built csim, counted by valgrind's
    callgrind (repeatable, whatever the machine's load): the count for
    ``n_large`` samples minus that for ``n_small``, over the difference, so
    start-up (loading weights, building tables) drops out. Runs in a scratch
    folder with the first samples of tb_data and a link to firmware/.
    None without valgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    counts = {}
    for n in (n_small, n_large):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "tb_data"))
            for f in ("tb_input_features.dat", "tb_output_predictions.dat"):
                with open(os.path.join(project_dir, "tb_data", f)) as src:
                    lines = src.read().splitlines()[:n]
                with open(os.path.join(d, "tb_data", f), "w") as dst:
                    dst.write("\n".join(lines) + "\n")
            os.symlink(os.path.join(project_dir, "firmware"), os.path.join(d, "firmware"))
            out = os.path.join(d, "callgrind.out")
            subprocess.run([valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
                            os.path.join(project_dir, "csim")], cwd=d, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(out) as f:
                counts[n] = int(re.search(r"^summary:\s*(\d+)", f.read(), re.M).group(1))
    return (counts[n_large] - counts[n_small]) / (n_large - n_small)


def weight_storage(hm):
    """Sum over weight variables of entries x bit width, and the entry count."""
    from hls_project.flow.pipeline import weight_bits

    wb = weight_bits(hm)
    entries = sum(v["entries"] for rows in wb["per_layer"].values() for v in rows.values())
    return wb["total_bits"], entries, wb["per_layer"]


def header_bytes(project_dir: str, layer_vars):
    """Bytes of the weight headers (weights/<var>.h) and values in them."""
    total, values = 0, 0
    for var, entries in layer_vars:
        path = os.path.join(project_dir, "firmware", "weights", f"{var}.h")
        if os.path.isfile(path):
            total += os.path.getsize(path)
            values += entries
    return total, values


# --------------------------------------------------------------------------
# MACs: kernel plan vs numpy's optimal path vs dense
# --------------------------------------------------------------------------


def einsum_optimal_macs(shape, memory_limit=None):
    """MACs (batch 1) of ``numpy.einsum_path`` with ``optimize='optimal'`` on
    the same HT network, counted as our plan counts them: per pairwise step,
    the product of the sizes of every index involved. ``memory_limit=None``
    lifts numpy's default cap on intermediates (the size of the largest
    operand), which otherwise forces a poor order. Returns (MACs, numpy's own
    'Optimized FLOP count', path)."""
    import numpy as np

    from keras_model import ht

    tensors, sizes, out_idx = ht.network(shape)
    letters = {name: chr(ord("a") + k) if k < 26 else chr(ord("A") + k - 26) for k, name in enumerate(sizes)}
    names = list(tensors)
    subs = ["".join(letters[i] for i in tensors[n]) for n in names]
    spec = ",".join(subs) + "->" + "".join(letters[i] for i in out_idx)
    ops = [np.empty([sizes[i] for i in tensors[n]]) for n in names]
    optimize = "optimal" if memory_limit == "default" else ("optimal", float(memory_limit or 1e30))
    path, text = np.einsum_path(spec, *ops, optimize=optimize)
    size_of = {letters[i]: sizes[i] for i in sizes}
    live = [set(s) for s in subs]
    out_set = set(letters[i] for i in out_idx)
    macs = 0
    for step in path[1:]:
        picked = [live[i] for i in step]
        for i in sorted(step, reverse=True):
            live.pop(i)
        union = set().union(*picked)
        macs += int(np.prod([size_of[c] for c in union]))
        live.append(union & (out_set | set().union(*live)))
    flops = re.search(r"Optimized FLOP count:\s*([0-9.e+]+)", text)
    return macs, (float(flops.group(1)) if flops else None), path


def sizeof_fixed(project_dir: str, type_text: str) -> int:
    """sizeof(<type_text>) in g++ with the project's ap_types (a 3-line probe)."""
    import tempfile as _tf

    from hls_project.flow import csim
    with _tf.TemporaryDirectory() as d:
        src = os.path.join(d, "probe.cpp")
        with open(src, "w") as f:
            f.write('#include "ap_fixed.h"\n#include <cstdio>\n'
                    f'int main() {{ std::printf("%zu", sizeof({type_text})); return 0; }}\n')
        exe = os.path.join(d, "probe")
        subprocess.run([csim.find_compiler(), "-std=c++17", "-O0", "-w",
                        f"-I{os.path.join(project_dir, 'firmware', 'ap_types')}", src, "-o", exe], check=True)
        return int(subprocess.run([exe], capture_output=True, text=True, check=True).stdout)


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------


def _bytes_of(folder, suffix):
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.endswith(suffix))


def _minstr(n):
    return "no valgrind" if n is None else f"{n / 1e6:,.1f}"


def _mb(b):
    return f"{b / 2 ** 20:,.1f} MiB"


def _decisive_inputs(model, pool, n, l1=16.0):
    """Untrained models give near-uniform softmax outputs whose arg-max is a
    coin toss under any rounding. As tests/test_flow.py does: scale the
    classifier to a fixed column L1 norm and keep the ``n`` samples of
    ``pool`` with the largest Keras margin between the top two logits, so
    the agreement figure says something about the C++."""
    import numpy as np
    from keras_model.common.keras2 import keras

    clf = model.get_layer("classifier")
    w, b = clf.get_weights()
    clf.set_weights([w * (l1 / np.abs(w).sum(axis=0).max()), b])
    z = keras.Model(model.input, clf.output).predict(pool, verbose=0, batch_size=64)
    top2 = np.sort(z, axis=1)[:, -2:]
    order = np.argsort(top2[:, 0] - top2[:, 1])[:n]
    return pool[order], float((top2[order, 1] - top2[order, 0]).min())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=50, help="samples to C-simulate (default 50)")
    p.add_argument("--keep", default=None, help="write the two projects here and keep them")
    p.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = p.parse_args(argv)

    import resource

    import numpy as np

    from keras_model import ht

    t_start = time.perf_counter()
    work = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="bench_hls-")
    os.makedirs(work, exist_ok=True)
    try:
        models = build_models()
        rng = np.random.default_rng(0)
        pool = rng.normal(size=(8 * args.samples, T, N_IN)).astype(np.float32)
        x_train = rng.normal(size=(64, T, N_IN)).astype(np.float32)
        res = {}
        for kind in ("fdht", "lstm"):
            m = models[kind]
            x, margin = _decisive_inputs(m, pool, args.samples)
            probs = m.predict(x, verbose=0)
            d = os.path.join(work, kind)
            if os.path.exists(d):
                shutil.rmtree(d)
            t0 = time.perf_counter()
            hm = convert_fdht(m, d, x, probs, x_train) if kind == "fdht" else convert_stock(m, d, x, probs)
            t_convert = time.perf_counter() - t0
            extra = {}
            if kind == "fdht":  # first with ap_types' arithmetic, then the flow's default
                timed_build(d, fast=False)
                ap_s, _ = timed_csim(d, args.samples, N_CLASSES)
                with open(os.path.join(d, "tb_data", "csim_results.log"), "rb") as f:
                    ap_log = f.read()
                extra["instructions_per_sample_ap_types"] = marginal_instructions(d)
            build_s, build_rss = timed_build(d)
            csim_s, out = timed_csim(d, args.samples, N_CLASSES)
            extra["instructions_per_sample"] = marginal_instructions(d)
            if kind == "fdht":
                with open(os.path.join(d, "tb_data", "csim_results.log"), "rb") as f:
                    extra.update({"csim_s_per_sample_ap_types": ap_s / args.samples,
                                  "ap_types_identical": f.read() == ap_log})
            bits, entries, per_layer = weight_storage(hm)
            if kind == "fdht":
                from hls_project.report import figures
                from hls_project.accel import model as cycle_model
                head = figures.model_figures(hm, 5.0)["headline"]
                model_cycles, model_dsp = head["latency_cycles_per_clip"], head["dsp"]
            else:
                est = cycle_model.dense_lstm_estimate(N_IN, H, T, 1, 16)
                model_cycles, model_dsp = est["cycles_per_clip"], est["dsp"]
            rnn = m.layers[1]
            wdir = os.path.join(d, "firmware", "weights")
            res[kind] = {
                "convert_write_s": t_convert, "gxx_build_s": build_s, "gxx_peak_rss": build_rss,
                "csim_s": csim_s, "csim_s_per_sample": csim_s / args.samples, "min_logit_margin": margin,
                "top1_agreement": float(np.mean(out.argmax(1) == probs.argmax(1))),
                "model_cycles_per_clip": int(model_cycles), "model_dsp": int(model_dsp),
                "max_abs_diff": float(np.abs(out - probs).max()),
                "weight_bits": bits, "weight_entries": entries, "rnn_params": int(rnn.count_params()),
                "model_params": int(m.count_params()), "per_layer": per_layer,
                "h_bytes": _bytes_of(wdir, ".h"),
                "txt_bytes": _bytes_of(wdir, ".txt"),
                **extra,
            }
        lr, fd = res["lstm"], res["fdht"]
        accum_bytes = sizeof_fixed(os.path.join(work, "lstm"), STOCK_TYPE.replace("<", "< ").replace(">", " >"))

        # MACs per time step (gate pre-activations, batch 1)
        shape = models["fdht"].get_layer("fdhtlstm").cell.ht_shape
        plan_macs = shape.plan.macs
        np_macs, np_flops, np_path = einsum_optimal_macs(shape)
        np_macs_cap, _, _ = einsum_optimal_macs(shape, memory_limit="default")
        dense_macs = (N_IN + H) * 4 * H
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    # UCF11: what the stock LSTM would store and do (hls4ml also stores a zero recurrent bias)
    ucf_kernel = UCF11_N * 4 * UCF11_H
    ucf_rec = UCF11_H * 4 * UCF11_H
    ucf_values = ucf_kernel + ucf_rec + 2 * 4 * UCF11_H  # + bias + recurrent bias
    h_per_value = lr["h_bytes"] / lr["weight_entries"]
    txt_per_value = lr["txt_bytes"] / lr["weight_entries"]
    stack_bytes = ucf_kernel * accum_bytes  # nnet_dense_latency.h: accum_t mult[n_in * n_out] on the stack
    stack_limit = resource.getrlimit(resource.RLIMIT_STACK)[0]
    ucf_macs = (UCF11_N + UCF11_H) * 4 * UCF11_H
    ucf_csim_s = lr["csim_s_per_sample"] * (ucf_macs / dense_macs) * (6 / T)  # 6 frames per clip
    ucf_fdht = ht.make_shape([16, 12, 16, 20], [16, 4, 4, 4], 5, in_features=UCF11_N + UCF11_H)  # configs/ucf11.yml

    rows = [
        ("", "FDHT-LSTM (ours)", "stock hls4ml LSTM"),
        ("recurrent-layer parameters", f"{fd['rnn_params']:,}", f"{lr['rnn_params']:,}"),
        ("weight entries stored (all layers)", f"{fd['weight_entries']:,}", f"{lr['weight_entries']:,}"),
        ("weight storage, bits", f"{fd['weight_bits']:,}", f"{lr['weight_bits']:,}"),
        ("MACs per time step (gates)", f"{plan_macs:,} (HT plan)", f"{dense_macs:,} (dense)"),
        ("MODEL cycles per clip (not synthesis)", f"{fd['model_cycles_per_clip']:,}", f"{lr['model_cycles_per_clip']:,}"),
        ("MODEL DSP estimate", f"{fd['model_dsp']:,}", f"{lr['model_dsp']:,}"),
        ("convert + write, s", f"{fd['convert_write_s']:.1f}", f"{lr['convert_write_s']:.1f}"),
        ("g++ build of the csim testbench, s", f"{fd['gxx_build_s']:.1f}", f"{lr['gxx_build_s']:.1f}"),
        ("g++ peak memory", _mb(fd["gxx_peak_rss"]), _mb(lr["gxx_peak_rss"])),
        (f"csim CPU time per sample ({args.samples} samples, best of 3), ms",
         f"{fd['csim_s_per_sample'] * 1e3:.2f}", f"{lr['csim_s_per_sample'] * 1e3:.2f}"),
        ("  ours with hls.csim_arithmetic: ap_types, ms", f"{fd['csim_s_per_sample_ap_types'] * 1e3:.2f}",
         "(same bits: " + ("yes" if fd["ap_types_identical"] else "NO") + ")"),
        ("csim instructions per sample (callgrind), millions", _minstr(fd.get("instructions_per_sample")),
         _minstr(lr.get("instructions_per_sample"))),
        ("  ours with hls.csim_arithmetic: ap_types, millions", _minstr(fd.get("instructions_per_sample_ap_types")), ""),
        ("top-1 agreement csim vs Keras", f"{fd['top1_agreement'] * 100:.0f} %", f"{lr['top1_agreement'] * 100:.0f} %"),
        ("max |csim - Keras| of the probabilities", f"{fd['max_abs_diff']:.3f}", f"{lr['max_abs_diff']:.3f}"),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = [
        f"shape: {T} time steps of {N_IN:,} inputs, H = {H}, Dense({N_CLASSES}) + softmax head, "
        f"fdht io_stream, lstm io_parallel, "
        f"reuse factor 1, untrained (seeded) weights; inputs: the {args.samples} of {8 * args.samples} random "
        f"N(0, 1) sequences with the largest Keras top-2 logit margin "
        f"(>= {min(fd['min_logit_margin'], lr['min_logit_margin']):.2f})",
        f"fdht: modes {'x'.join(map(str, shape.input_modes))} -> {'x'.join(map(str, shape.output_modes))}, "
        f"rank {FDHT_RANK}, types as build.py derives them; lstm: every type {STOCK_TYPE}",
        "",
    ]
    lines += [f"{a:<{w0}}  {b:>{w1}}  {c}" for a, b, c in rows]
    lines += [
        "",
        "MACs per time step of the FDHT product W_mega [x; h] (batch 1, same tensor network):",
        f"  our kernel's plan ({shape.plan.method}, keras_model/ht/plan.py)             {plan_macs:>12,}",
        f"  numpy.einsum_path(optimize=('optimal', no memory cap))         {np_macs:>12,}"
        f"   (numpy's own FLOP count {np_flops:,.0f})",
        f"  numpy.einsum_path(optimize='optimal'), default memory cap      {np_macs_cap:>12,}"
        "   (intermediates capped at the largest operand)",
        f"  dense product (N + H) x 4H                                     {dense_macs:>12,}"
        f"   ({dense_macs / plan_macs:.1f}x the plan)",
        "",
        f"ratios lstm / fdht: weight bits {lr['weight_bits'] / fd['weight_bits']:.0f}x, "
        f"g++ build {lr['gxx_build_s'] / fd['gxx_build_s']:.1f}x, csim per sample "
        f"{lr['csim_s_per_sample'] / fd['csim_s_per_sample']:.1f}x (ours on ap_types: "
        f"{lr['csim_s_per_sample'] / fd['csim_s_per_sample_ap_types']:.1f}x)"
        + (f", csim instructions per sample {lr['instructions_per_sample'] / fd['instructions_per_sample']:.1f}x "
           f"(ours on ap_types: {lr['instructions_per_sample'] / fd['instructions_per_sample_ap_types']:.1f}x)"
           if fd.get("instructions_per_sample") and lr.get("instructions_per_sample") else "")
        + ", MODEL cycles per clip "
        f"{lr['model_cycles_per_clip'] / fd['model_cycles_per_clip']:.1f}x, MODEL DSP "
        f"{lr['model_dsp'] / max(fd['model_dsp'], 1):.1f}x",
        "",
        f"UCF11 shape ({UCF11_N:,} + {UCF11_H} inputs per step, H = {UCF11_H}, 6 frames), "
        "stock hls4ml LSTM, not built:",
        f"  weight values: kernel {ucf_kernel:,} + recurrent {ucf_rec:,} + bias and recurrent bias "
        f"{2 * 4 * UCF11_H:,} = {ucf_values:,} ({_mb(ucf_values * 2)} at 16 bits)",
        f"  hls4ml weight files, bytes per value measured on the {lr['weight_entries']:,} values written above: "
        f"weights/*.h {h_per_value:.2f} -> {_mb(ucf_values * h_per_value)} of C++ initialisers (what Vivado/Vitis HLS "
        f"parses), weights/*.txt {txt_per_value:.2f} -> {_mb(ucf_values * txt_per_value)} (what the g++ csim "
        "loads at start-up: without __SYNTHESIS__ the arrays are declared without initialisers, so the g++ "
        "build itself does not grow with the weights)",
        f"  csim: nnet_dense_latency.h keeps accum_t mult[n_in * n_out] on the stack: {ucf_kernel:,} x "
        f"{accum_bytes} B (sizeof({STOCK_TYPE}) in g++, measured) = {_mb(stack_bytes)} against a "
        + (f"{_mb(stack_limit)} stack limit (ulimit -s)" if stack_limit != resource.RLIM_INFINITY
           else "unlimited stack")
        + f"; at the measured {lr['csim_s_per_sample'] * 1e3:.0f} ms per sample for {dense_macs:,} MACs x {T} steps, "
        f"a clip would take about {ucf_csim_s:,.0f} s",
        f"  hardware: io_parallel at reuse factor 1 asks for one multiplier per weight ({ucf_kernel + ucf_rec:,}; "
        f"a VU9P has 6,840 DSPs) and the weights alone are {_mb(ucf_values * 2)} against {_mb(VU9P_ONCHIP_BITS / 8)} "
        f"of on-chip RAM on a VU9P (75.9 Mb BRAM + 270 Mb URAM); and there is no Vivado/Vitis here to synthesise "
        "anything",
        f"  the FDHT-LSTM of that shape ({'x'.join(map(str, ucf_fdht.input_modes))} -> "
        f"{'x'.join(map(str, ucf_fdht.output_modes))}, rank 5): {ucf_fdht.core_params:,} core values, "
        f"{ucf_fdht.plan.macs:,} MACs per step (dense: {ucf_macs:,})",
        "",
        f"total benchmark time {time.perf_counter() - t_start:.0f} s",
    ]
    print("\n".join(lines))
    if args.json:
        out = {"shape": {"T": T, "N": N_IN, "H": H, "classes": N_CLASSES}, "results": res,
               "macs": {"plan": plan_macs, "einsum_optimal": np_macs, "einsum_optimal_default_cap": np_macs_cap,
                        "einsum_optimal_numpy_flops": np_flops, "dense": dense_macs,
                        "einsum_path": [list(s) if isinstance(s, tuple) else s for s in np_path]},
               "ucf11": {"values": ucf_values, "h_bytes_per_value": h_per_value, "txt_bytes_per_value": txt_per_value,
                         "h_bytes_estimate": ucf_values * h_per_value, "csim_stack_bytes": stack_bytes,
                         "stack_limit": stack_limit, "csim_seconds_per_clip_estimate": ucf_csim_s}}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
