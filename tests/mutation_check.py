"""Mutation check: do the tests catch small, plausible bugs?

Run on demand (not part of the test suite; ~10-15 minutes on 2 cores):

    python tests/mutation_check.py            # every mutation
    python tests/mutation_check.py bias gates # some of them

Each mutation is one textual change to a temporary copy of the repository
(Python or C++: rounding, saturation, gate order, strides, padding, bias,
softmax table settings, quantizer grid, table index, group split, the
agreement computation). The tests named for it run on that copy; the
mutation is *caught* when they fail. The script prints a table and exits 1
if any mutation survives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import List, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BITEXACT = "tests/test_bitexact.py"
FAST_CASES = "lstm_d2_parallel,lstm_d3_stream,htdense_d3_stream"


@dataclass
class Mutation:
    name: str
    what: str
    path: str
    old: str
    new: str
    tests: List[str]
    env: Tuple[Tuple[str, str], ...] = ()


MUTATIONS = [
    Mutation("rounding", "intermediate types truncate instead of rounding to nearest",
             "hls_project/numerics/precision.py", 'AP_RND_CONV,AP_SAT>"', 'AP_TRN,AP_SAT>"',
             ["tests/test_numerics.py"]),
    Mutation("saturation", "derived types wrap around instead of saturating",
             "hls_project/numerics/precision.py", 'AP_RND_CONV,AP_SAT>"', 'AP_RND_CONV,AP_WRAP>"',
             ["tests/test_numerics.py"]),
    Mutation("gates", "the i and o gates swapped in the cell",
             "templates/nnet_ht_stream.h",
             "const z_t zi = (z_t)zw[0] + ht_cast<z_t>(zh[0][q][0]);",
             "const z_t zi = (z_t)zw[3] + ht_cast<z_t>(zh[3][q][0]);",
             [BITEXACT], (("FDHT_BITEXACT_CASES", FAST_CASES),)),
    Mutation("sigmoid-index", "the sigmoid table index one entry off",
             "templates/nnet_ht_stream.h",
             "int i = ht_table_point<N, 16>(x) + 8 * N / 16;",
             "int i = ht_table_point<N, 16>(x) + 8 * N / 16 + 1;",
             [BITEXACT], (("FDHT_BITEXACT_CASES", FAST_CASES),)),
    Mutation("strides", "a stage's ROM row strides paired with the loop levels in reverse",
             "hls_project/accel/stages.py", 'return {"a": [a.get(i, 0) for i in self.order], "b": [b.get(i, 0) for i in self.order],',
             'return {"a": [a.get(i, 0) for i in self.order], "b": [b.get(i, 0) for i in reversed(self.order)],',
             [BITEXACT], (("FDHT_BITEXACT_CASES", FAST_CASES),)),
    Mutation("padding", "the Keras layer pads [x ; h] at the front instead of the end",
             "keras_model/layers.py", "v = tf.pad(v, [[0, 0], [0, pad]])", "v = tf.pad(v, [[0, 0], [pad, 0]])",
             ["tests/test_layers.py"]),
    Mutation("bias", "the drain subtracts the bias",
             "templates/nnet_ht_stream.h",
             "word[g] = ht_cast<typename C::z_t>(reg[g][0]) + (typename C::z_t)bias[k][g];",
             "word[g] = ht_cast<typename C::z_t>(reg[g][0]) - (typename C::z_t)bias[k][g];",
             [BITEXACT], (("FDHT_BITEXACT_CASES", FAST_CASES),)),
    Mutation("softmax-table", "hls4ml's default 1/x table input type (the inv_inp_t fix reverted)",
             "hls_project/flow/convert.py", 'lc["inv_inp_t"] = ', 'lc["inv_inp_t_unused"] = ',
             ["tests/test_numerics.py"]),
    Mutation("quantizer-grid", "the kernel quantizer gets one more integer bit than configured",
             "keras_model/quantize.py", 'quantized_bits(int(k.get("bits", 8)), int(k.get("integer", 0)), alpha=1)',
             'quantized_bits(int(k.get("bits", 8)), int(k.get("integer", 0)) + 1, alpha=1)',
             ["tests/test_quantization.py"]),
    Mutation("group-split", "half of a validation group stays on the fitting side",
             "keras_model/data/split.py", "            val[sel] = True\n", "            val[sel[: len(sel) // 2]] = True\n",
             ["tests/test_data.py"]),
    Mutation("agreement", "top-1 agreement compares csim with itself",
             "hls_project/flow/compare.py",
             '"top1_agreement": float(np.mean(np.argmax(csim_probs, 1) == np.argmax(keras_probs, 1))),',
             '"top1_agreement": float(np.mean(np.argmax(csim_probs, 1) == np.argmax(csim_probs, 1))),',
             ["tests/test_flow.py::test_flip_list_equals_an_independent_comparison"]),
    Mutation("tanh-index", "the tanh table looked up truncating (hls4ml's way) instead of at the nearest point",
             "templates/nnet_ht_stream.h", "int i = ht_table_point<N, 8>(x) +",
             "int i = int(x * N / 8) +",
             [BITEXACT], (("FDHT_BITEXACT_CASES", FAST_CASES),)),
    Mutation("lane-map", "the A lane map of every stage reversed within the word",
             "hls_project/accel/stages.py",
             "        return self.lane_map([i for i in self.a_idx if self.q[i] > 1])",
             "        return [self.word_lanes(self.a_idx) - 1 - v\n"
             "                for v in self.lane_map([i for i in self.a_idx if self.q[i] > 1])]",
             [BITEXACT], (("FDHT_BITEXACT_CASES", FAST_CASES),)),
    Mutation("gate-table", "the tanh table built from expf instead of tanhf (a wrong constant ROM)",
             "hls_project/accel/writer.py",
             "tnh = gate_tables.to_fixed(gate_tables.tanh_table(n, gt.act_bits, gt.act_symmetric), gt.table_t)",
             "tnh = gate_tables.to_fixed(gate_tables.sigmoid_table(n, gt.act_bits, gt.act_symmetric), gt.table_t)",
             [BITEXACT], (("FDHT_BITEXACT_CASES", FAST_CASES),)),
    Mutation("fast-csim-rounding", "the fast csim rounds ties up instead of to even (AP_RND_CONV)",
             "templates/nnet_ht_fast.h", "up = rem > half || (rem == half && (q & 1));", "up = rem >= half;",
             ["tests/test_fast_csim.py"]),
]


def _copy_repo(dest: str) -> None:
    def ignore(folder, names):
        return [n for n in names if n in ("build", ".git", "__pycache__", ".pytest_cache")]

    shutil.copytree(ROOT, dest, ignore=ignore)


def run(m: Mutation) -> Tuple[bool, str, float]:
    """(caught, which test failed first / why, seconds)."""
    with tempfile.TemporaryDirectory(prefix=f"mut-{m.name}-") as tmp:
        repo = os.path.join(tmp, "repo")
        _copy_repo(repo)
        path = os.path.join(repo, m.path)
        with open(path) as f:
            text = f.read()
        if text.count(m.old) < 1:
            return False, f"mutation text not found in {m.path} (update the script)", 0.0
        with open(path, "w") as f:
            f.write(text.replace(m.old, m.new))
        env = dict(os.environ, **dict(m.env))
        t = time.time()
        res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *m.tests],
                             cwd=repo, env=env, capture_output=True, text=True)
        secs = time.time() - t
        failed = [line.split(" ")[1] for line in res.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
        if res.returncode == 0:
            return False, "all passed", secs
        return True, failed[0] if failed else f"pytest exit {res.returncode}", secs


def main(argv: List[str]) -> int:
    chosen = [m for m in MUTATIONS if not argv or m.name in argv]
    if not chosen:
        print(f"no such mutation; choose from {', '.join(m.name for m in MUTATIONS)}", file=sys.stderr)
        return 2
    rows = []
    for m in chosen:
        print(f"[{m.name}] {m.what} ...", file=sys.stderr, flush=True)
        caught, why, secs = run(m)
        rows.append((m, caught, why, secs))
        print(f"[{m.name}] {'caught' if caught else 'SURVIVED'} in {secs:.0f} s: {why}", file=sys.stderr, flush=True)
    print("| mutation | change | caught by | s |")
    print("|---|---|---|--:|")
    for m, caught, why, secs in rows:
        print(f"| {m.name} | {m.what} ({m.path}) | {why if caught else '**SURVIVED**: ' + why} | {secs:.0f} |")
    survived = [m.name for m, caught, _, _ in rows if not caught]
    print(f"\n{len(rows) - len(survived)} of {len(rows)} mutations caught"
          + (f"; survived: {', '.join(survived)}" if survived else ""))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
