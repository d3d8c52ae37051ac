"""The streaming accelerator: plan split into constant and input steps,
chains over boxes, the schedule (lanes, banks, cycle model), and the
generated C++ checked with real g++ builds:

* io_stream and io_parallel csim give bit-identical outputs, both close to Keras;
* an ``HT_COUNT_TRIPS`` build counts every pipelined loop's iterations: they
  equal the schedule's trip counts (the cycle model's);
* an ``HT_CHECK_BANKS`` build checks every pipelined iteration of every
  stage against its arrays' partition factors: no conflict, and a conflict
  (exit code 3) when one factor is lowered by one;
* the io_stream project's top ports are <= 1,024 bits and every partition
  factor is within the 4,096 limit of build_prj.tcl.

One small FDHT-LSTM (3 frames of 6x6x2, H = 8) with random weights; three
g++ builds (instrumented stream, parallel, mutated), run two at a time.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hls_project import schedule  # noqa: E402
from keras_model import ht  # noqa: E402

GXX = shutil.which("g++")

# (input modes, output modes, ranks, in_features, x part) with padding, d = 2..4
SHAPES = {
    "d2": ((6, 7), (4, 2), 3, 40, 32),
    "d3": ((4, 5, 3), (2, 2, 4), 2, 56, 48),
    "d4_default": ((6, 6, 6, 5), (4, 4, 4, 2), 6, 1056, 1024),
    "d4_ucf": ((16, 15, 16, 16), (16, 4, 4, 4), 5, 57856, 57600),
}


def _shape(key):
    im, om, r, nf, _ = SHAPES[key]
    return ht.make_shape(im, om, r, in_features=nf)


# --------------------------------------------------------------------------
# plan and chains (numpy)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(SHAPES))
def test_chains_over_boxes_sum_to_the_product(key):
    """W v = chain over the x box of [x;0] + chain over the h box of [0;h],
    with the constant tables precomputed: equal to the einsum reference."""
    s = _shape(key)
    n_x = SHAPES[key][4]
    rng = np.random.default_rng(1)
    cores = ht.init_cores(s, rng)
    tables = ht.constant_tables(cores, s)
    assert set(tables) == {st.b for st in s.plan.input_steps}
    v = rng.standard_normal(s.in_features)
    ref = ht.forward(v[None], cores, s)[0]
    full = ht.pad_input(v[None], s)[0]
    total = np.zeros(s.out_features)
    for lo, hi in ((0, n_x), (n_x, s.in_features)):
        box = ht.bounding_box(s.input_modes, lo, hi)
        pos = box.flat_positions(s.input_modes)
        assert np.all(np.diff(pos) > 0) and pos.min() <= lo and pos.max() >= hi - 1
        vb = np.where((pos >= lo) & (pos < hi), full[pos], 0.0)
        total += ht.chain_forward(vb, tables, ht.chain(s, box))
    np.testing.assert_allclose(total, ref, rtol=1e-10, atol=1e-12)
    # and the dense matrix agrees
    np.testing.assert_allclose(ref, ht.reconstruct(cores, s) @ v, rtol=1e-9, atol=1e-12)


def _brute_force_input_macs(s, max_constant):
    """Minimum input-dependent MACs over every pairwise contraction order,
    under the planner's rules (constant tables <= max_constant entries, the
    first contraction of x sums a trailing block of its modes)."""
    tensors, sizes, out_idx = ht.network(s)
    x_idx = tensors["x"]
    start = [(frozenset(t), name == "x") for name, t in tensors.items()]
    best = [None]

    def rec(ops, cost, x_started):
        if len(ops) == 1:
            best[0] = cost if best[0] is None else min(best[0], cost)
            return
        if best[0] is not None and cost >= best[0]:
            return
        for i, j in itertools.combinations(range(len(ops)), 2):
            (a, ax), (b, bx) = ops[i], ops[j]
            rest = [o for k, o in enumerate(ops) if k not in (i, j)]
            keep = set(out_idx).union(*[o for o, _ in rest]) if rest else set(out_idx)
            new = frozenset((a | b) & keep)
            macs = int(np.prod([sizes[q] for q in a | b]))
            has_x = ax or bx
            if not has_x and int(np.prod([sizes[q] for q in new])) > max_constant:
                continue
            if has_x and not x_started:
                other = b if ax else a
                summed = [q for q in x_idx if q in other]
                if not summed or summed != list(x_idx[len(x_idx) - len(summed):]):
                    continue
            rec(rest + [(new, has_x)], cost + (macs if has_x else 0), x_started or has_x)

    rec(start, 0, False)
    return best[0]


@pytest.mark.parametrize("key", ["d2", "d3"])
def test_planner_minimises_input_macs(key):
    s = _shape(key)
    assert s.plan.macs == _brute_force_input_macs(s, ht.MAX_CONSTANT_ENTRIES)
    assert s.plan.macs == sum(st.macs for st in s.plan.steps if not st.constant)
    for st in s.plan.constant_steps:
        assert st.a != "x" and st.b != "x" and st.out_size <= ht.MAX_CONSTANT_ENTRIES


@pytest.mark.parametrize("key", list(SHAPES))
@pytest.mark.parametrize("lanes", [1, 16, 64])
def test_schedule_lanes_divide_the_work(key, lanes):
    s = _shape(key)
    n_x = SHAPES[key][4]
    sc = schedule.build(s, n_x, 3, "lstm", 8 if n_x % 8 == 0 else 1, lanes)
    assert sc.mac_lanes + sc.gate_lanes <= max(lanes, len(sc.stages) + 1)
    for st in sc.stages:
        # every lane busy in every iteration: trips x lanes = MACs exactly
        assert st.trips * st.lanes == st.macs
        assert all(lv.size % lv.lanes == 0 for lv in st.levels)
    per_frame = max(sc.process_cycles().values())
    assert sc.interval == per_frame
    assert sc.cycles_per_clip >= 3 * per_frame


def test_more_lanes_never_slower():
    s = _shape("d4_default")
    cycles = [schedule.build(s, 1024, 8, "lstm", 16, p).cycles_per_clip for p in (1, 4, 16, 64, 256)]
    assert all(b <= a for a, b in zip(cycles, cycles[1:])), cycles
    assert cycles[-1] * 10 < cycles[0]


# --------------------------------------------------------------------------
# generated C++ (real g++ builds)
# --------------------------------------------------------------------------

T_STEPS, FRAME, H_UNITS, N_SAMPLES = 3, (6, 6, 2), 8, 6


def _model():
    from keras_model.config import DEFAULTS
    from keras_model.models import build_model

    mcfg = dict(DEFAULTS["model"], units=H_UNITS, ranks=3, seed=3)
    model = build_model(mcfg, (T_STEPS,) + FRAME, 3)
    rng = np.random.default_rng(5)
    clf = model.get_layer("classifier")
    w, b = clf.get_weights()
    clf.set_weights([rng.standard_normal(w.shape) * 2.0, b])
    return model


def _project(tmp: Path, model, x, io_type: str, name: str):
    from hls_project import flow
    from keras_model.config import DEFAULTS, merge

    cfg = merge(DEFAULTS, {"hls": {"io_type": io_type, "stream_width": 8, "lanes": 12}})
    cfg["_name"] = name
    out = tmp / name
    out.mkdir()
    probs = model.predict(x, verbose=0)
    hm = flow.convert(model, cfg, str(out), x.reshape(len(x), -1), probs, 1.0,
                      flow.dense_output_ranges(model, x))
    hm.write()
    return out, hm, probs


def _build(prj: Path, flags):
    from hls_project import csim

    cmd = csim.build_command(str(prj), "myproject") + list(flags)
    return subprocess.Popen(cmd, cwd=prj, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _run(prj: Path, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([str(prj / "csim")], cwd=prj, capture_output=True, text=True, env=env, timeout=600)


def _counts(path: Path):
    out = {}
    for line in path.read_text().split("\n"):
        if line.strip():
            k, v = line.rsplit(" ", 1)
            out[k] = int(v)
    return out


# hls::stream_of_blocks, read_lock and write_lock as Vitis HLS documents them
# (a lock acquires a block for its lifetime and converts to the block array);
# in a sequential C simulation the channel is a FIFO of blocks
VITIS_SOB_STANDIN = """
#pragma once
#include <deque>
namespace hls {
template <typename B, int DEPTH = 2> class stream_of_blocks {
  public:
    std::deque<B *> q;
    ~stream_of_blocks() { for (B *b : q) delete[] b; }
};
template <typename B> class write_lock {
    stream_of_blocks<B> &s; B *b;
  public:
    write_lock(stream_of_blocks<B> &s) : s(s), b(new B[1]) {}
    ~write_lock() { s.q.push_back(b); }
    operator B &() { return *b; }
};
template <typename B> class read_lock {
    stream_of_blocks<B> &s; B *b;
  public:
    read_lock(stream_of_blocks<B> &s) : s(s), b(s.q.front()) { s.q.pop_front(); }
    ~read_lock() { delete[] b; }
    operator B &() { return *b; }
};
}
"""


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    if GXX is None:
        pytest.skip("needs g++ on PATH")
    tmp = tmp_path_factory.mktemp("accel")
    model = _model()
    x = np.random.default_rng(7).uniform(0, 1, (N_SAMPLES, T_STEPS) + FRAME).astype(np.float32)
    stream, hm_s, probs = _project(tmp, model, x, "io_stream", "stream")
    par, _, _ = _project(tmp, model, x, "io_parallel", "parallel")
    mutated = tmp / "mutated"
    shutil.copytree(stream, mutated)
    # lower one partition factor by one: the ping-pong buffer between stages
    # x0 and x1 (its writer x0 and its reader x1 declare the same factor)
    params = mutated / "firmware" / "parameters.h"
    text = params.read_text()
    m0 = re.compile(r"out_banks = (\d+),").search(text, text.index("static void x0("))
    m1 = re.compile(r"static const unsigned a_banks = (\d+),").search(text, text.index("static void x1("))
    factor = int(m1.group(1))
    assert int(m0.group(1)) == factor > 1, "the test needs a buffer accessed by several lanes"
    text = text[: m1.start(1)] + str(factor - 1) + text[m1.end(1):]
    text = text[: m0.start(1)] + str(factor - 1) + text[m0.end(1):]
    params.write_text(text)

    # the Vivado HLS fallback (no stream_of_blocks): the same project built
    # with a frame loop around a per-frame DATAFLOW region
    pipo = tmp / "pipo"
    shutil.copytree(stream, pipo)
    # Vitis's stream_of_blocks API instead of our csim channel: a stand-in
    # header with the documented interface (Vitis itself cannot run here)
    sob = tmp / "sob"
    shutil.copytree(stream, sob)
    (tmp / "vitis_api").mkdir()
    (tmp / "vitis_api" / "hls_streamofblocks.h").write_text(VITIS_SOB_STANDIN)

    flags = ["-DHT_COUNT_TRIPS", "-DHT_CHECK_BANKS"]
    procs = [(stream, _build(stream, flags)), (par, _build(par, [])), (pipo, _build(pipo, ["-DHT_FRAME_PIPO"])),
             (sob, _build(sob, ["-DHT_HLS_STREAM_OF_BLOCKS", f"-I{tmp / 'vitis_api'}"]))]
    for prj, p in procs:
        log, _ = p.communicate(timeout=1200)
        assert p.returncode == 0, log[-3000:]
    p = _build(mutated, flags)
    log, _ = p.communicate(timeout=1200)
    assert p.returncode == 0, log[-3000:]
    layer = next(l for l in hm_s.get_layers() if l.class_name == "FDHTLSTM")
    return {"stream": stream, "parallel": par, "mutated": mutated, "pipo": pipo, "sob": sob, "probs": probs, "layer": layer,
            "mutated_probes": {f"config{layer.index}.x0.out", f"config{layer.index}.x1.a"}, "factor": factor}


def test_stream_equals_parallel_and_keras(builds):
    from hls_project import csim

    r_s = _run(builds["stream"], {"HT_TRIP_FILE": str(builds["stream"] / "trips.txt"),
                                  "HT_BANK_FILE": str(builds["stream"] / "banks.txt")})
    assert r_s.returncode == 0, r_s.stderr[-2000:]
    r_p = _run(builds["parallel"])
    assert r_p.returncode == 0, r_p.stderr[-2000:]
    out_s = csim.read_results(str(builds["stream"]), N_SAMPLES, 3)
    out_p = csim.read_results(str(builds["parallel"]), N_SAMPLES, 3)
    assert (builds["stream"] / "tb_data" / "csim_results.log").read_text() == \
        (builds["parallel"] / "tb_data" / "csim_results.log").read_text()
    np.testing.assert_array_equal(out_s, out_p)
    # frame channels (ours, and through the stream_of_blocks API) and the
    # Vivado HLS fallback: the same bits
    for other in ("pipo", "sob"):
        assert _run(builds[other]).returncode == 0
        assert (builds[other] / "tb_data" / "csim_results.log").read_text() == \
            (builds["stream"] / "tb_data" / "csim_results.log").read_text()
    # both against Keras (float): fixed-point error only
    assert np.abs(out_s - builds["probs"]).max() < 0.03


def test_trip_counts_equal_the_cycle_model(builds):
    trips_file = builds["stream"] / "trips.txt"
    if not trips_file.exists():
        assert _run(builds["stream"], {"HT_TRIP_FILE": str(trips_file)}).returncode == 0
    counted = _counts(trips_file)
    layer = builds["layer"]
    prefix = f"config{layer.index}"
    expected = {f"{prefix}.{k}": v * N_SAMPLES for k, v in layer.schedule().trip_counts().items()}
    assert counted == expected


def test_frame_channels_in_the_generated_code(builds):
    """Every x stage is a process looping over the frames, fed by the
    previous stage's stream of blocks, partitioned as the stages declare;
    the fallback frame loop is there for Vivado HLS."""
    text = (builds["stream"] / "firmware" / "parameters.h").read_text()
    sched = builds["layer"].schedule()
    xs = sched.x_stages
    for k, st in enumerate(xs):
        assert re.search(rf"static void {st.name}_frames\(", text), st.name
        assert f"for (unsigned t = 0; t < {T_STEPS}; t++)" in text
        assert f"nnet::ht_blocks<blk_{st.name}_t> c_{st.name};" in text
        if st.out_banks > 1:
            assert f"variable=c_{st.name} cyclic factor={st.out_banks}" in text
        # the consumer declares the same factor for the block it reads
        if k + 1 < len(xs):
            assert xs[k + 1].a_banks == st.out_banks
    assert "drain_frames<zword_T>(c_" in text and "x_frame<word_T, zword_T>(x, zs);" in text


def test_call_interval_follows_the_counted_trips(builds):
    """MODEL: with frame channels each process is busy per clip for its
    counted iterations plus one pipeline depth per frame; clips overlap, so
    one enters every max of those. Without (Vivado HLS), a clip waits for
    the whole frame pipeline of the previous one."""
    trips_file = builds["stream"] / "trips.txt"
    if not trips_file.exists():
        assert _run(builds["stream"], {"HT_TRIP_FILE": str(trips_file)}).returncode == 0
    counted = _counts(trips_file)
    layer = builds["layer"]
    sched = layer.schedule()
    pfx = f"config{layer.index}"
    per_clip = {k.split(".", 1)[1]: v // N_SAMPLES for k, v in counted.items()}
    busy = [per_clip[st.name] + T_STEPS * st.depth for st in sched.x_stages]
    busy.append(per_clip["drain"] + T_STEPS * 2)
    rec = (per_clip["reset"] + per_clip["hbox_reset"] + per_clip["last"] + 4
           + sum(per_clip[st.name] + T_STEPS * st.depth for st in sched.h_stages)
           + per_clip["scatter"] + 2 * T_STEPS + per_clip["gates"] + T_STEPS * schedule.GATE_DEPTH)
    busy.append(rec)
    assert sched.call_interval(True) == max(busy)
    assert sched.call_interval(False) == sched.cycles_per_clip > sched.call_interval(True)


def test_bank_check_passes_and_fails_on_a_mutated_factor(builds):
    banks_file = builds["stream"] / "banks.txt"
    if not banks_file.exists():
        assert _run(builds["stream"], {"HT_BANK_FILE": str(banks_file)}).returncode == 0
    conflicts = _counts(banks_file)
    sched = builds["layer"].schedule()
    prefix = f"config{builds['layer'].index}"
    # every stage's probes are present, with no conflict
    for st in sched.stages:
        for arr in (("acc", "tab", "out") if st.kind == "stream" else ("a", "tab", "out")):
            assert f"{prefix}.{st.name}.{arr}" in conflicts
    assert f"{prefix}.drain" in conflicts and f"{prefix}.zh" in conflicts
    assert not any(conflicts.values()), {k: v for k, v in conflicts.items() if v}
    # the mutated project: the same program with one factor lowered by one
    mfile = builds["mutated"] / "banks.txt"
    r = _run(builds["mutated"], {"HT_BANK_FILE": str(mfile)})
    assert r.returncode == 3
    bad = {k: v for k, v in _counts(mfile).items() if v}
    assert bad and set(bad) <= builds["mutated_probes"], bad


def _type_bits(text: str) -> int:
    m = re.match(r"\s*nnet::array<\s*ap_u?fixed<\s*(\d+)\s*,[^>]*>\s*,\s*([\d*\s]+)>", text)
    if m:
        return int(m.group(1)) * int(eval(m.group(2)))  # e.g. 8*1
    m = re.match(r"\s*ap_u?fixed<\s*(\d+)", text)
    return int(m.group(1))


def test_generated_stream_project_ports_and_partitions(builds):
    fw = builds["stream"] / "firmware"
    defines = (fw / "defines.h").read_text()
    types = dict((name, t) for t, name in re.findall(r"typedef (.+?) (\w+);", defines))
    header = (fw / "myproject.h").read_text()
    ports = re.findall(r"hls::stream<(\w+)> &(\w+)", header)
    assert len(ports) == 2
    for tname, _ in ports:
        bits = _type_bits(types[tname])
        assert 0 < bits <= 1024, (tname, types[tname])
    factors = [int(f) for f in re.findall(r"factor=(\d+)", (fw / "parameters.h").read_text())]
    factors += [int(x) for x in re.findall(r"(?:a|b|out|acc)_banks = (\d+)", (fw / "parameters.h").read_text())]
    limit = int(re.search(r"set maximum_size (\d+)", (builds["stream"] / "project.tcl").read_text()).group(1))
    assert limit == 4096 and factors and max(factors) <= limit
    assert "config_array_partition -maximum_size $maximum_size" in (builds["stream"] / "build_prj.tcl").read_text()


def test_bad_knobs_are_one_line_config_errors():
    from keras_model.errors import ConfigError

    s = _shape("d3")
    with pytest.raises(ConfigError, match="stream_width 5 does not divide the 48 input values"):
        schedule.build(s, 48, 3, "lstm", 5, 8)
    with pytest.raises(ConfigError, match="lanes must be a positive integer"):
        schedule.build(s, 48, 3, "lstm", 8, 0)
    # a pinned stage keeps its lanes (the nearest available count not above the pin)
    sc = schedule.build(s, 48, 3, "lstm", 8, 64, overrides={"x0": 1})
    assert sc.x_stages[0].lanes == 1


def test_htdense_stream_equals_parallel_and_keras(tmp_path):
    """HTDense behind a Flatten: io_stream (input words of 8 values, no
    Flatten left) and io_parallel give identical csim outputs, close to Keras."""
    if GXX is None:
        pytest.skip("needs g++ on PATH")
    from keras_model.keras2 import keras

    from hls_project import csim, flow
    from keras_model.config import DEFAULTS, merge
    from keras_model.layers import HTDense

    keras.utils.set_random_seed(3)
    inp = keras.Input((4, 12), name="sequence")
    x = keras.layers.Flatten(name="flatten")(inp)
    x = HTDense(input_modes=[2, 2, 3, 4], output_modes=[2, 2, 2, 2], ranks=3, seed=3, name="htdense")(x)
    x = keras.layers.Activation("relu", name="relu")(x)
    x = keras.layers.Dense(3, name="classifier")(x)
    model = keras.Model(inp, keras.layers.Activation("softmax", name="softmax")(x))
    xs = np.random.default_rng(0).normal(0, 1, (6, 4, 12)).astype(np.float32)
    probs = model.predict(xs, verbose=0)
    outs, procs = {}, []
    for io in ("io_stream", "io_parallel"):
        cfg = merge(DEFAULTS, {"hls": {"io_type": io, "stream_width": 8}})
        cfg["_name"] = io
        d = tmp_path / io
        d.mkdir()
        hm = flow.convert(model, cfg, str(d), xs.reshape(6, -1), probs, 3.0, flow.dense_output_ranges(model, xs))
        hm.write()
        procs.append((d, _build(d, [])))
    for d, p in procs:
        log, _ = p.communicate(timeout=1200)
        assert p.returncode == 0, log[-3000:]
        assert _run(d).returncode == 0
        outs[d.name] = csim.read_results(str(d), 6, 3)
    np.testing.assert_array_equal(outs["io_stream"], outs["io_parallel"])
    assert np.abs(outs["io_stream"] - probs).max() < 0.03
    header = (tmp_path / "io_stream" / "firmware" / "myproject.h").read_text()
    assert "hls::stream<input_t> &sequence" in header
    assert "nnet::array<ap_fixed<16,6>, 8*1> input_t;" in (tmp_path / "io_stream" / "firmware" / "defines.h").read_text()
