"""The HLS-rules lint (``hls_project.accel.lint``, ``fdht lint DIR``).

* Projects written through hls4ml's public API with our extension, for
  randomized small HT shapes (FDHTLSTM and HTDense, d = 2..3, io_stream and
  io_parallel): every rule holds, and the II the lint reads off the written
  C++ for each stage is the cost model's (``model.stage_ii``), computed from
  the schedule without looking at the code.
* Every rule fails on a broken copy of a written project: a mutation of the
  generated config structs, of the kernels copied into the project, or of
  the top function, as a careless edit or a regression of the writer would
  make them. Each mutation is checked to have changed the file, so a test
  cannot pass because its mutation no longer applies.
* The command: 'HLS rules: 8/8 hold' and exit 0 on a good project, exit 1
  on a broken one, exit 2 on a folder that is not a project.
"""

from __future__ import annotations

import math
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

from hls_project.accel import lint  # noqa: E402
from hls_project.report import figures  # noqa: E402
from hls_project.accel import model as cost  # noqa: E402

RULES = ("static-banks", "ports", "partition-limit", "no-partition-on-stream-of-blocks", "constant-tables",
         "one-carried-adder", "carried-distance", "top-port")

# Output modes whose leading factors make the gate digit (4 gates x H)
LSTM_OUT = {8: [(4, 8), (8, 4), (2, 2, 8), (4, 2, 4), (2, 4, 4)], 4: [(4, 4), (2, 2, 4), (8, 2), (4, 2, 2)]}


def _factor(rng, at_least: int, d: int):
    """d modes (2..6 each) whose product is at least ``at_least``."""
    while True:
        modes = tuple(int(v) for v in rng.integers(2, 7, d))
        if at_least <= math.prod(modes) <= 4 * at_least:
            return modes


def random_shapes(seed: int, n_lstm: int = 3, n_dense: int = 2):
    """Small FDHTLSTM / HTDense shapes drawn from ``seed``: (kind, T, F, layer kwargs).

    T x F <= 64, so an io_parallel input port stays within 1,024 bits."""
    rng = np.random.default_rng(seed)
    out = []
    while len([s for s in out if s[0] == "lstm"]) < n_lstm:
        h = int(rng.choice([4, 8]))
        om = LSTM_OUT[h][int(rng.integers(len(LSTM_OUT[h])))]
        t, f = int(rng.integers(2, 5)), int(rng.integers(3, 13))
        im = _factor(rng, f + h, len(om))
        out.append(("lstm", t, f, dict(units=h, input_modes=im, output_modes=om, ranks=int(rng.integers(2, 5)))))
    while len([s for s in out if s[0] == "dense"]) < n_dense:
        d = int(rng.integers(2, 4))
        t, f = int(rng.integers(2, 5)), int(rng.integers(3, 13))
        im = _factor(rng, t * f, d)
        om = tuple(int(v) for v in rng.integers(2, 5, d))
        out.append(("dense", t, f, dict(input_modes=im, output_modes=om, ranks=int(rng.integers(2, 5)))))
    return out


SHAPES = random_shapes(20261207)


def _keras_model(kind: str, t: int, f: int, kw: dict, seed: int):
    from keras_model.common.keras2 import keras
    from keras_model.layers import FDHTLSTM, HTDense

    keras.utils.set_random_seed(seed)
    inp = keras.Input((t, f))
    if kind == "lstm":
        kw = dict(kw)
        h = FDHTLSTM(kw.pop("units"), seed=seed, name="fdht", **kw)(inp)
    else:
        flat = keras.layers.Flatten(name="flatten")(inp)
        h = HTDense(seed=seed, name="htd", **kw)(flat)
    return keras.Model(inp, keras.layers.Dense(3, name="logits")(h))


def write_project(out: Path, kind: str, t: int, f: int, kw: dict, io_type: str, seed: int = 1):
    """A project written through hls4ml's public API with our extension; returns the HT layers."""
    import hls4ml

    from hls_project import ext
    ext.register()
    model = _keras_model(kind, t, f, kw, seed)
    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name")
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=str(out), io_type=io_type)
    hm.write()
    return [l for l in hm.get_layers() if l.class_name in ("FDHTLSTM", "HTDense")]


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    root = tmp_path_factory.mktemp("lint")
    out = {}
    for k, (kind, t, f, kw) in enumerate(SHAPES):
        for io in ("io_stream", "io_parallel"):
            d = root / f"{kind}{k}_{io}"
            out[(k, io)] = (d, write_project(d, kind, t, f, kw, io, seed=k + 1))
    return out


def _id(k):
    kind, t, f, kw = SHAPES[k]
    return f"{kind}-T{t}-F{f}-in{'x'.join(map(str, kw['input_modes']))}-out{'x'.join(map(str, kw['output_modes']))}"


@pytest.mark.parametrize("io_type", ["io_stream", "io_parallel"])
@pytest.mark.parametrize("k", range(len(SHAPES)), ids=_id)
def test_every_rule_holds_on_written_projects(projects, k, io_type):
    prj, layers = projects[(k, io_type)]
    res = lint.lint(str(prj))
    assert [r["rule"] for r in res["rules"]] == list(RULES)
    assert res["failed"] == [], [r for r in res["rules"] if not r["ok"]]
    assert lint.summary(res) == "HLS rules: 8/8 hold"
    assert res["stages"] == sum(len(l.schedule().stages) for l in layers)


@pytest.mark.parametrize("k", range(len(SHAPES)), ids=_id)
def test_lint_ii_equals_the_cost_model(projects, k):
    """The II per stage that the lint reads off the written C++ (config
    structs + kernels) is the one the cost model computes from the schedule."""
    prj, layers = projects[(k, "io_stream")]
    res = lint.lint(str(prj))
    expected = {f"config{l.index}.{st.name}": cost.stage_ii(st) for l in layers for st in l.schedule().stages}
    assert res["ii"] == expected
    # and the hardware report's stage rows carry the same II
    for l in layers:
        rows = {r["stage"]: r["ii"] for r in figures.ht_layer(l)["stages"]}
        assert rows == {st.name: res["ii"][f"config{l.index}.{st.name}"] for st in l.schedule().stages}


# --------------------------------------------------------------------------
# Broken copies: every rule fails
# --------------------------------------------------------------------------


def _edit(path: Path, fn):
    text = path.read_text()
    new = fn(text)
    assert new != text, f"the mutation did not apply to {path.name}"
    path.write_text(new)


def _cfg_span(text: str, stage: str):
    """(start, end) of stage's config struct in parameters.h."""
    a = text.index(f"struct {stage}_cfg {{")
    return a, text.index("\n    };", a)


def _set_array(text: str, stage: str, name: str, fn) -> str:
    a, b = _cfg_span(text, stage)
    body = text[a:b]
    m = re.search(rf"static constexpr unsigned {name}\[(\d+)\] = \{{([\d, ]*)\}};", body)
    vals = [int(v) for v in m.group(2).split(",")]
    new = fn(vals)
    body = body[:m.start(2)] + ", ".join(map(str, new)) + body[m.end(2):]
    return text[:a] + body + text[b:]


def _set_scalar(text: str, stage: str, name: str, value: int) -> str:
    a, b = _cfg_span(text, stage)
    body = re.sub(rf"\b{name} = \d+", f"{name} = {value}", text[a:b], count=1)
    return text[:a] + body + text[b:]


def _scalar(text: str, stage: str, name: str) -> int:
    a, b = _cfg_span(text, stage)
    return int(re.search(rf"\b{name} = (\d+)", text[a:b]).group(1))


def _stride_past_the_words(text):
    # x1 reads a word buffer: its A stride of the outermost level that moves
    # through A words, raised to a_words, addresses word (trips - 1) x a_words
    a, b = _cfg_span(text, "x1")
    body = text[a:b]
    trips = [int(v) for v in re.search(r"lv_trips\[\d+\] = \{([\d, ]*)\}", body).group(1).split(",")]
    words = _scalar(text, "x1", "a_words")

    def raise_one(lv_a):
        k = next(i for i, (s, t) in enumerate(zip(lv_a, trips)) if s and t > 1)
        return lv_a[:k] + [words] + lv_a[k + 1:]

    return _set_array(text, "x1", "lv_a", raise_one)


def _lane_past_the_word(text):
    lanes = _scalar(text, "x1", "a_lanes")
    return _set_array(text, "x1", "a_lane", lambda v: [lanes] + v[1:])


def _partition_on_stream_of_blocks(text):
    return text.replace("            #pragma HLS DATAFLOW\n",
                        "            #pragma HLS DATAFLOW\n"
                        "            hls::stream_of_blocks<x0_out_t[4]> blk;\n"
                        "            #pragma HLS ARRAY_PARTITION variable=blk complete\n", 1)


def _table_filled_at_run_time(text):
    return text.replace("            #pragma HLS DATAFLOW\n",
                        "            #pragma HLS DATAFLOW\n"
                        "            static ap_fixed<16,6> tab[1024];\n", 1)


def _kernel_span(text: str, fn: str):
    a = text.index(f"void {fn}(")
    return a, text.index("\n}\n", a)


def _adder_chain(text):
    # ht_stage's tree-then-one-add becomes one addition per product on the accumulator
    a, b = _kernel_span(text, "ht_stage")
    body = text[a:b]
    lines = body.split("\n")
    first = next(i for i, l in enumerate(lines) if "ht_lane_sum<" in l)
    last = next(i for i, l in enumerate(lines) if "acc[f] = s;" in l)
    ind = re.match(r"\s*", lines[first]).group(0)
    chain = [f"{ind}if (p.first)", f"{ind}    acc[f] = 0;",
             f"{ind}for (unsigned s = 0; s < C::sum_lanes; s++) {{",
             f"{ind}    #pragma HLS UNROLL",
             f"{ind}    acc[f] += w[C::a_lane[f * C::sum_lanes + s]] * r[C::b_lane[f * C::sum_lanes + s]];",
             f"{ind}}}"]
    lines[first:last + 1] = chain
    return text[:a] + "\n".join(lines) + text[b:]


def _no_dependence_distance(text):
    a, b = _kernel_span(text, "ht_stage_stream")
    body = re.sub(r"\n[ \t]*#pragma HLS DEPENDENCE variable=acc[^\n]*", "", text[a:b])
    return text[:a] + body + text[b:]


def _two_rom_reads_per_port(text):
    # three reads of the ROM per iteration: more than its two ports (II 2)
    a, b = _kernel_span(text, "ht_stage")
    body = text[a:b].replace("r[k] = rom[p.b][k];", "r[k] = rom[p.b][k] + rom[p.b + 1][k] + rom[p.b + 2][k];", 1)
    return text[:a] + body + text[b:]


def _wide_top_port(prj: Path, n: int):
    """The top function's first argument becomes ``wide_t x[n]``, wide_t a 16-bit type."""
    def add_typedef(t):
        k = t.rindex("#endif")
        return t[:k] + "typedef ap_fixed<16,6> wide_t;\n\n" + t[k:]

    _edit(prj / "firmware" / "defines.h", add_typedef)
    _edit(prj / "firmware" / "myproject.h",
          lambda t: re.sub(r"void myproject\(\s*[^,]+,", f"void myproject(\n    wide_t x[{n}],", t, count=1))


def _partition_over_the_limit(text):
    return _set_scalar(text, "x1", "a_lanes", 4097)


PARAMS, KERNELS = ("firmware", "parameters.h"), ("firmware", "nnet_utils", "nnet_ht_stream.h")
MUTATIONS = {  # name: (rule that must fail, file, edit)
    "stride-past-a_words": ("static-banks", PARAMS, _stride_past_the_words),
    "a_lane-past-a_lanes": ("static-banks", PARAMS, _lane_past_the_word),
    "partition-on-stream-of-blocks": ("no-partition-on-stream-of-blocks", PARAMS, _partition_on_stream_of_blocks),
    "non-const-table": ("constant-tables", PARAMS, _table_filled_at_run_time),
    "adder-chain-on-the-accumulator": ("one-carried-adder", KERNELS, _adder_chain),
    "no-dependence-distance": ("carried-distance", KERNELS, _no_dependence_distance),
    "three-rom-reads": ("ports", KERNELS, _two_rom_reads_per_port),
    "wide-top-port": ("top-port", None, lambda prj: _wide_top_port(prj, 4096)),
    "partition-over-4096": ("partition-limit", PARAMS, _partition_over_the_limit),
}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A written FDHT-LSTM project with two x stages (x1 reads a word buffer)
    and a stream stage (x0, accumulator rows in rotation)."""
    d = tmp_path_factory.mktemp("lint_base") / "prj"
    layers = write_project(d, "lstm", 3, 12, dict(units=8, input_modes=(2, 3, 2, 2), output_modes=(4, 2, 2, 2),
                                                  ranks=3), "io_stream")
    (layer,) = layers
    names = [st.name for st in layer.schedule().stages]
    assert "x1" in names, names
    text = (d / Path(*PARAMS)).read_text()
    assert _scalar(text, "x1", "a_lanes") > 1, "the test needs a stage whose A word has several lanes"
    return d, layer


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_each_rule_fails_on_a_broken_copy(base, name, tmp_path):
    good, layer = base
    assert lint.lint(str(good))["failed"] == []
    rule, rel, edit = MUTATIONS[name]
    prj = tmp_path / "broken"
    shutil.copytree(good, prj)
    if rel is None:
        edit(prj)
    else:
        _edit(prj / Path(*rel), edit)
    res = lint.lint(str(prj))
    # that rule, and no other (a 4,097-lane word also no longer matches its producer's words)
    also = {"static-banks"} if name == "partition-over-4096" else set()
    assert set(res["failed"]) == {rule} | also, res["failed"]
    row = next(r for r in res["rules"] if r["rule"] == rule)
    assert row["failures"] and not row["ok"]
    if name == "three-rom-reads":
        # the broken kernel cannot run its stages at the MODEL's II any more
        ii = {st.name: cost.stage_ii(st) for st in layer.schedule().stages}
        assert any(v > ii[k.split(".", 1)[1]] for k, v in res["ii"].items()), res["ii"]


def test_top_port_limit_is_1024_bits(base, tmp_path):
    good, _ = base
    for n, ok in ((64, True), (65, False)):  # 16-bit values: 1,024 bits hold, 1,040 do not
        prj = tmp_path / f"port{n}"
        shutil.copytree(good, prj)
        _wide_top_port(prj, n)
        assert ("top-port" not in lint.lint(str(prj))["failed"]) is ok, n


def _fdht(*args):
    return subprocess.run([sys.executable, "-m", "hls_project.cli", "lint", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_fdht_lint_command(base, tmp_path):
    good, _ = base
    r = _fdht(good)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1] == "HLS rules: 8/8 hold"
    assert sum(line.lstrip().startswith("ok ") for line in r.stdout.splitlines()) == 8
    broken = tmp_path / "broken"
    shutil.copytree(good, broken)
    _edit(broken / Path(*KERNELS), _no_dependence_distance)
    r = _fdht(broken)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "HLS rules: 7/8 hold (failed: carried-distance)" in r.stdout
    assert "FAIL carried-distance" in r.stdout
    # --json: the same result as the library call
    import contextlib
    import io
    import json

    from hls_project import cli
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(["lint", "--json", str(broken)]) == 1
    assert json.loads(buf.getvalue()) == json.loads(json.dumps(lint.lint(str(broken))))
    # not a project: one error line, exit 2
    r = _fdht(tmp_path / "nothing-here")
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "not a written HLS project" in errors[0], r.stderr
