"""Precision sweep: for each total width, convert, C-simulate and compare.

``python build.py --sweep-precision 6,8,10,12,16`` runs one independent flow
per width (default type ``ap_fixed<W, I>`` with ``I = integer_bits(W)``; the
core, intermediate, accumulator and state widths follow from W as in a
normal run) in separate processes, two at a time (one per core), and
writes ``sweep.md``, ``sweep.json`` and ``sweep.png`` (top-1 agreement and
accuracy vs bits) into ``<output dir>-sweep/``.
"""

from __future__ import annotations

import copy
import json
import multiprocessing as mp
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Dict, List, Optional

from keras_model.common.errors import ConfigError
from keras_model.common.logs import current_verbosity, info


def integer_bits(width: int) -> int:
    """Integer bits of the default type at ``width``: 6 at 16 bits (hls4ml's
    ap_fixed<16,6>), scaled down for narrower types but never below 3 so the
    classifier logits keep some headroom."""
    return max(3, min(6, (3 * width + 4) // 8))


def parse_widths(text) -> List[int]:
    try:
        widths = [int(v) for v in (text.split(",") if isinstance(text, str) else text)]
    except ValueError:
        raise ConfigError(f"--sweep-precision expects comma-separated bit widths like 6,8,10,12,16, got {text!r}") from None
    if not widths or any(w < 4 or w > 64 for w in widths):
        raise ConfigError(f"--sweep-precision widths must be between 4 and 64 bits, got {widths}")
    return sorted(set(widths))


def _one(args):
    cfg, model_path, samples, verbosity = args
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # a spawned worker starts with Python's defaults: the same filters as the parent
    from keras_model.common.logs import setup

    setup(verbosity)
    from hls_project.flow.pipeline import run_flow

    report = run_flow(cfg, model_path=model_path, samples=samples, with_predict=False, log=lambda *a: None)
    return report


def run_sweep(cfg: Dict[str, Any], widths: List[int], model_path: str, samples: Optional[int],
              out_dir: str, log=info, workers: int = 2) -> Dict[str, Any]:
    """One project per width in ``out_dir/w<W>``, and sweep.md/.json/.png in ``out_dir``."""
    jobs = []
    for w in widths:
        c = copy.deepcopy(cfg)
        c["hls"]["precision"] = f"ap_fixed<{w},{integer_bits(w)}>"
        c["hls"]["state_precision"] = None  # derived at this width
        c["hls"]["output_dir"] = os.path.join(out_dir, f"w{w}")
        jobs.append((c, model_path, samples, current_verbosity()))
    log(f"sweep: {len(widths)} widths {widths}, {workers} at a time")
    rows = []
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        for w, rep in zip(widths, pool.map(_one, jobs)):
            c = rep["csim"]
            rows.append({
                "width": w, "precision": f"ap_fixed<{w},{integer_bits(w)}>",
                "top1_agreement": c["top1_agreement"], "csim_accuracy": c["csim_accuracy"],
                "keras_accuracy": c["keras_accuracy"], "max_abs_diff": c["max_abs_diff"],
                "mean_abs_diff": c["mean_abs_diff"], "weight_bits": rep["weight_bits"],
                "out_of_range_values": rep["range_check"]["out_of_range_total"], "samples": c["samples"],
            })
            log(f"sweep: {w:>2} bits  agreement {c['top1_agreement'] * 100:6.2f} %  "
                f"accuracy {c['csim_accuracy'] * 100:6.2f} %  weight bits {rep['weight_bits']:,}")
    result = {"config": cfg["_name"], "model_path": model_path, "rows": rows}
    write_outputs(result, out_dir)
    return result


def write_outputs(result: Dict[str, Any], out_dir: str) -> None:
    """sweep.json, sweep.md, sweep.png (the per-width projects stay beside them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    rows = result["rows"]
    tmp = tempfile.mkdtemp(prefix=".sweep-tmp-", dir=out_dir)
    try:
        with open(os.path.join(tmp, "sweep.json"), "w") as f:
            json.dump(result, f, indent=2)
        lines = ["| bits | default type | top-1 agreement | csim accuracy | Keras accuracy | max abs diff | weight bits | out-of-range values |",
                 "|---:|---|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            lines.append(f"| {r['width']} | `{r['precision']}` | {r['top1_agreement'] * 100:.2f} % | "
                         f"{r['csim_accuracy'] * 100:.2f} % | {r['keras_accuracy'] * 100:.2f} % | "
                         f"{r['max_abs_diff']:.3g} | {r['weight_bits']:,} | {r['out_of_range_values']} |")
        with open(os.path.join(tmp, "sweep.md"), "w") as f:
            f.write(f"# Precision sweep: {result['config']}\n\n" + "\n".join(lines) + "\n")
        fig, ax = plt.subplots(figsize=(6, 3.8))
        ws = [r["width"] for r in rows]
        ax.plot(ws, [100 * r["top1_agreement"] for r in rows], "o-", label="top-1 agreement csim vs Keras")
        ax.plot(ws, [100 * r["csim_accuracy"] for r in rows], "s--", label="csim accuracy")
        ax.plot(ws, [100 * r["keras_accuracy"] for r in rows], ":", color="gray", label="Keras accuracy")
        ax.set_xlabel("default fixed-point width (bits)")
        ax.set_ylabel("%")
        ax.set_xticks(ws)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title(f"precision sweep: {result['config']}")
        fig.tight_layout()
        fig.savefig(os.path.join(tmp, "sweep.png"), dpi=90)
        plt.close(fig)
        for name in ("sweep.json", "sweep.md", "sweep.png"):
            os.replace(os.path.join(tmp, name), os.path.join(out_dir, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
