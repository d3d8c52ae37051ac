"""The streaming accelerator: plan split into constant and input steps,
chains over boxes, the schedule (lanes, word layouts) and its cost model
(``hls_project.accel``), and the generated C++ checked with real g++ builds:

* io_stream and io_parallel csim give bit-identical outputs, both close to Keras;
* an ``HT_COUNT_TRIPS`` build counts every pipelined loop's iterations: they
  equal the cost model's trip counts, and the MODEL's busy cycles per clip
  are those counted iterations x II plus one pipeline depth per frame;
* the io_stream project's top ports are <= 1,024 bits and every partitioned
  dimension (read from the declarations the pragmas name) is within the
  4,096 limit of build_prj.tcl.

(Static banks, ports and the other HLS scheduling rules: tests/test_lint.py.)

One small FDHT-LSTM (3 frames of 6x6x2, H = 8) with random weights; two
g++ builds (instrumented stream, parallel), run side by side.
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

from hls_project.report import figures  # noqa: E402
from hls_project.accel import model as cost  # noqa: E402
from hls_project.accel import schedule  # noqa: E402
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
    # within the budget (one lane per stage is the least a stage can have)
    assert sc.mac_lanes <= max(lanes, len(sc.stages))
    for st in sc.stages:
        # every lane busy in every iteration: trips x lanes = the plan's MACs exactly
        assert st.trips * st.lanes == st.macs
        # a lane count divides its index's size, and the lane maps stay inside the words
        assert all(st.sizes[i] % st.q[i] == 0 for i in st.order)
        assert len(st.a_lane_map()) == st.lanes and max(st.a_lane_map()) < st.word_lanes(st.a_idx)
    # 3 frames: the busiest process runs 3 times within the interval, and
    # the latency cannot be shorter than the interval
    per_frame = max(cost.process_cycles(sc).values())
    sim = cost.simulate(sc)
    assert sim["interval"] >= 3 * per_frame
    assert sim["latency"] >= sim["interval"]


def test_more_lanes_never_slower():
    s = _shape("d4_default")
    cycles = [cost.simulate(schedule.build(s, 1024, 8, "lstm", 16, p))["latency"] for p in (1, 4, 16, 64, 256)]
    assert all(b <= a for a, b in zip(cycles, cycles[1:])), cycles
    assert cycles[-1] * 10 < cycles[0]


# --------------------------------------------------------------------------
# generated C++ (real g++ builds)
# --------------------------------------------------------------------------

T_STEPS, FRAME, H_UNITS, N_SAMPLES = 3, (6, 6, 2), 8, 6


def _model():
    from keras_model.common.config import DEFAULTS
    from keras_model.models import build_model

    mcfg = dict(DEFAULTS["model"], units=H_UNITS, ranks=3, seed=3)
    model = build_model(mcfg, (T_STEPS,) + FRAME, 3)
    rng = np.random.default_rng(5)
    clf = model.get_layer("classifier")
    w, b = clf.get_weights()
    clf.set_weights([rng.standard_normal(w.shape) * 2.0, b])
    return model


def _project(tmp: Path, model, x, io_type: str, name: str):
    from hls_project.flow import pipeline as flow
    from keras_model.common.config import DEFAULTS, merge

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
    from hls_project.flow import csim
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


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    if GXX is None:
        pytest.skip("needs g++ on PATH")
    tmp = tmp_path_factory.mktemp("accel")
    model = _model()
    x = np.random.default_rng(7).uniform(0, 1, (N_SAMPLES, T_STEPS) + FRAME).astype(np.float32)
    stream, hm_s, probs = _project(tmp, model, x, "io_stream", "stream")
    # io_parallel here is a 3,456-bit port, which run_flow refuses (hls.io_type); written
    # with flow.convert it is the array-interface csim reference of the same processes
    par, _, _ = _project(tmp, model, x, "io_parallel", "parallel")
    procs = [(stream, _build(stream, ["-DHT_COUNT_TRIPS"])), (par, _build(par, []))]
    for prj, p in procs:
        log, _ = p.communicate(timeout=1200)
        assert p.returncode == 0, log[-3000:]
    layer = next(l for l in hm_s.get_layers() if l.class_name == "FDHTLSTM")
    return {"stream": stream, "parallel": par, "probs": probs, "layer": layer}


def _trips(builds):
    """Iterations per pipelined loop for one clip, counted by the instrumented csim."""
    trips_file = builds["stream"] / "trips.txt"
    if not trips_file.exists():
        r = _run(builds["stream"], {"HT_TRIP_FILE": str(trips_file)})
        assert r.returncode == 0, r.stderr[-2000:]
    counted = _counts(trips_file)
    assert all(v % N_SAMPLES == 0 for v in counted.values()), counted
    return {k: v // N_SAMPLES for k, v in counted.items()}


def test_stream_equals_parallel_and_keras(builds):
    from hls_project.flow import csim
    r_s = _run(builds["stream"], {"HT_TRIP_FILE": str(builds["stream"] / "trips.txt")})
    assert r_s.returncode == 0, r_s.stderr[-2000:]
    r_p = _run(builds["parallel"])
    assert r_p.returncode == 0, r_p.stderr[-2000:]
    out_s = csim.read_results(str(builds["stream"]), N_SAMPLES, 3)
    out_p = csim.read_results(str(builds["parallel"]), N_SAMPLES, 3)
    assert (builds["stream"] / "tb_data" / "csim_results.log").read_text() == \
        (builds["parallel"] / "tb_data" / "csim_results.log").read_text()
    np.testing.assert_array_equal(out_s, out_p)
    # both against Keras (float): fixed-point error only
    assert np.abs(out_s - builds["probs"]).max() < 0.03


def test_trip_counts_equal_the_cycle_model(builds):
    layer = builds["layer"]
    prefix = f"config{layer.index}"
    expected = {f"{prefix}.{k}": v for k, v in cost.trip_counts(layer.schedule()).items()}
    assert _trips(builds) == expected
    # every stage, the regroup, the drain and the recurrence's loops are probed
    assert {k.split(".", 1)[1] for k in expected} == \
        {st.name for st in layer.schedule().stages} | {"regroup", "drain", "gates", "reset", "output"}


def test_generated_frame_pipeline(builds):
    """The x-chain is a frame loop with DATAFLOW in its body; between stages
    word arrays partitioned completely on their bank and lane dimensions
    (no stream of blocks); every ROM a static const array."""
    text = (builds["stream"] / "firmware" / "parameters.h").read_text()
    sched = builds["layer"].schedule()
    frames = text[text.index("static void x_chain("):]
    frames = frames[:frames.index("\n    }\n")]
    assert re.search(rf"for \(unsigned t = 0; t < {T_STEPS}; t\+\+\) \{{\s*#pragma HLS DATAFLOW", frames)
    calls = re.findall(r"^\s+(\w+)(?:<\w+>)?\((\w+), (\w+)\);", frames, re.M)
    assert [c[0] for c in calls] == ["regroup"] + [st.name for st in sched.x_stages] + ["drain"]
    for (_, _, dst), (_, src, _) in zip(calls[1:], calls[2:]):  # each process reads what the previous wrote
        assert dst == src
    for st in sched.x_stages:
        decl = re.search(rf"(\w+) b_{st.name}\[(\d+)\]\[(\d+)\]\[(\d+)\];", frames)
        assert decl, st.name
        for dim in (1, 3):
            assert f"#pragma HLS ARRAY_PARTITION variable=b_{st.name} complete dim={dim}" in frames
    assert "stream_of_blocks" not in text
    roms = re.findall(r"^\s*(static (?:const )?)\w+ rom\[", text, re.M)
    assert len(roms) == len(sched.stages) and set(roms) == {"static const "}


def test_model_cycles_follow_the_counted_trips(builds):
    """MODEL: each process is busy per clip for its counted iterations x
    its II plus one pipeline depth per frame (the recurrence per step: its
    h stages, then the gates; per clip also the reset and the output); calls
    overlap, so a clip enters every max of those cycles."""
    counted = _trips(builds)
    layer = builds["layer"]
    sched = layer.schedule()
    fig = figures.ht_layer(layer)
    busy = fig["processes_cycles_per_clip"]
    rows = {r["stage"]: r for r in fig["stages"]}
    pfx = f"config{layer.index}"
    n = lambda k: counted[f"{pfx}.{k}"]
    stage = lambda st: n(st.name) * rows[st.name]["ii"] + T_STEPS * rows[st.name]["depth"]
    x0 = sched.x_stages[0]
    assert busy["regroup + x0"] == max(n("regroup") + T_STEPS * cost.LOOP_OVERHEAD, stage(x0))
    for st in sched.x_stages[1:]:
        assert busy[st.name] == stage(st)
    assert 0 <= busy["drain"] - n("drain") <= T_STEPS * 8  # a short pipeline depth per frame
    rec = sum(stage(st) for st in sched.h_stages) + n("gates") + T_STEPS * cost.GATE_DEPTH \
        + n("reset") + cost.LOOP_OVERHEAD + n("output") + cost.LOOP_OVERHEAD
    assert busy["recurrence"] == rec
    assert fig["interval_cycles_per_clip"] == max(busy.values())
    assert fig["cycles_per_clip"] >= fig["interval_cycles_per_clip"]


def _type_bits(text: str) -> int:
    m = re.match(r"\s*nnet::array<\s*ap_u?fixed<\s*(\d+)\s*,[^>]*>\s*,\s*([\d*\s]+)>", text)
    if m:
        return int(m.group(1)) * int(eval(m.group(2)))  # e.g. 8*1
    m = re.match(r"\s*ap_u?fixed<\s*(\d+)", text)
    return int(m.group(1))


def _partitioned_dims(text: str):
    """(variable, dim, size) of every ARRAY_PARTITION pragma of the generated
    code, the size read from the array's own declaration."""
    out = []
    for var, dim in re.findall(r"#pragma HLS ARRAY_PARTITION variable=(\w+) complete dim=(\d+)", text):
        decls = re.findall(rf"\b{var}((?:\[\d+\])+)\s*(?:=|;)", text)
        assert decls, var
        for d in decls:
            sizes = [int(v) for v in re.findall(r"\[(\d+)\]", d)]
            out.append((var, int(dim), sizes[int(dim) - 1]))
    return out


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
    dims = _partitioned_dims((fw / "parameters.h").read_text())
    limit = int(re.search(r"set maximum_size (\d+)", (builds["stream"] / "project.tcl").read_text()).group(1))
    assert limit == 4096 and dims and max(size for _, _, size in dims) <= limit, dims
    # the widest: a stage's word (its lanes), never a whole frame
    assert max(size for _, _, size in dims) < int(np.prod(FRAME))
    assert "config_array_partition -maximum_size $maximum_size" in (builds["stream"] / "build_prj.tcl").read_text()


def test_bad_knobs_are_one_line_config_errors():
    from keras_model.common.errors import ConfigError

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
    Flatten left) and io_parallel give identical csim outputs, close to
    Keras; the instrumented stream build counts the cost model's trips."""
    if GXX is None:
        pytest.skip("needs g++ on PATH")
    from keras_model.common.keras2 import keras

    from hls_project.flow import csim

    from hls_project.flow import pipeline as flow
    from keras_model.common.config import DEFAULTS, merge
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
    outs, procs, layers = {}, [], {}
    for io in ("io_stream", "io_parallel"):
        cfg = merge(DEFAULTS, {"hls": {"io_type": io, "stream_width": 8}})
        cfg["_name"] = io
        d = tmp_path / io
        d.mkdir()
        hm = flow.convert(model, cfg, str(d), xs.reshape(6, -1), probs, 3.0, flow.dense_output_ranges(model, xs))
        hm.write()
        layers[io] = next(l for l in hm.get_layers() if l.class_name == "HTDense")
        procs.append((d, _build(d, ["-DHT_COUNT_TRIPS"] if io == "io_stream" else [])))
    for d, p in procs:
        log, _ = p.communicate(timeout=1200)
        assert p.returncode == 0, log[-3000:]
        assert _run(d, {"HT_TRIP_FILE": str(d / "trips.txt")}).returncode == 0
        outs[d.name] = csim.read_results(str(d), 6, 3)
    layer = layers["io_stream"]
    expected = {f"config{layer.index}.{k}": 6 * v for k, v in cost.trip_counts(layer.schedule()).items()}
    assert _counts(tmp_path / "io_stream" / "trips.txt") == expected
    np.testing.assert_array_equal(outs["io_stream"], outs["io_parallel"])
    assert np.abs(outs["io_stream"] - probs).max() < 0.03
    header = (tmp_path / "io_stream" / "firmware" / "myproject.h").read_text()
    assert "hls::stream<input_t> &sequence" in header
    assert "nnet::array<ap_fixed<16,6>, 8*1> input_t;" in (tmp_path / "io_stream" / "firmware" / "defines.h").read_text()
