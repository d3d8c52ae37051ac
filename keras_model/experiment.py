"""Compare the LSTM kinds on one data set: ``python -m keras_model.experiment``.

    python -m keras_model.experiment --config configs/sample_videos.yml \\
        [--data build/x.npz] [--kinds fdht,ht,tt,dense] [--epochs N] \\
        [--output-dir build/experiments/<config name>] [--no-models]

The data set is loaded once and every kind is trained on exactly the same
arrays with :func:`keras_model.train.train` (same seeds, same validation split,
same ``train:`` section). Each kind's model config is the config's ``model:``
section with ``kind`` replaced; for ``ht`` and ``tt``, which decompose only
``W_x`` (N inputs, not N + H), ``input_modes``/``output_modes`` are set to
null so they are derived from the data (a config's FDHT modes are chosen
for ``[x; h]`` and do not fit ``W_x``); ``tt`` takes ``ranks`` as its TT
rank (the largest value when ``ranks`` is a per-node list or mapping).

Output folder (written into a temporary folder beside it, then renamed; an
existing one is replaced):

* ``results.json``: the experiment (config, data, strategy, versions) and one
  row per kind: parameters of the whole model and of the recurrent layer,
  compression = dense-LSTM recurrent parameters at the same shape / this
  kind's recurrent parameters, MACs per time step (gate pre-activations; the
  planned contraction path for HT), test accuracy, training time, epochs,
  modes and ranks;
* ``results.md``: the same table in Markdown;
* ``accuracy_vs_params.png``: test accuracy against model parameters (log x);
* ``models/<kind>/``: each trained model as saved by ``train`` (unless ``--no-models``).

Devices: with more than one GPU visible the models are built, compiled and
trained under ``tf.distribute.MirroredStrategy`` (``train.batch_size`` is then
the global batch), otherwise under the default strategy.

A kind whose training fails (e.g. diverges) is reported in its row and the
others still run; the exit code is then 1. Bad arguments, a bad config or
missing data print ``error: <one line>`` on stderr and exit with code 2
before anything is trained.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import math
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

from .atomic import replace_dir
from .cli import ArgumentParser, add_common, add_output_dir, run_command
from .config import build_dir, data_file_override, load_config
from .errors import ConfigError, FlowError
from .logs import info

KINDS = ("fdht", "ht", "tt", "dense")  # = keras_model.models.KINDS, without importing TensorFlow
PLOT_NAME = "accuracy_vs_params.png"


def parse_kinds(text: str) -> List[str]:
    """'fdht,tt' -> ['fdht', 'tt'] (order kept, duplicates dropped); ConfigError on anything else."""
    kinds: List[str] = []
    for item in str(text).split(","):
        k = item.strip().lower()
        if not k:
            continue
        if k not in KINDS:
            raise ConfigError(f"--kinds: '{item.strip()}' is not a model kind; use a comma-separated subset of "
                              f"{','.join(KINDS)}")
        if k not in kinds:
            kinds.append(k)
    if not kinds:
        raise ConfigError(f"--kinds is empty; use a comma-separated subset of {','.join(KINDS)}")
    return kinds


def kind_config(cfg: Dict[str, Any], kind: str) -> Dict[str, Any]:
    """The config for one kind: ``model.kind`` replaced; modes derived for the W_x-only kinds."""
    out = copy.deepcopy(cfg)
    model = out["model"]
    model["kind"] = kind
    if kind != "fdht":
        model["input_modes"] = None
        model["output_modes"] = None
    if kind == "tt" and not isinstance(model.get("ranks"), int):
        ranks = model["ranks"]
        values = list(ranks.values()) if isinstance(ranks, dict) else list(ranks)
        model["ranks"] = int(max(values))
    return out


def select_strategy():
    """MirroredStrategy over all GPUs when more than one is visible, else the default strategy."""
    from keras_model.keras2 import tf

    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(devices=[d.name for d in gpus])
    return tf.distribute.get_strategy()


def _strategy_info(strategy) -> Dict[str, Any]:
    from keras_model.keras2 import tf

    try:
        devices = list(strategy.extended.worker_devices)
    except (RuntimeError, AttributeError, NotImplementedError):  # the default strategy has none
        devices = []
    if not devices:
        devices = [d.name for d in tf.config.list_logical_devices("GPU")[:1] or tf.config.list_logical_devices("CPU")]
    name = type(strategy).__name__
    if name.startswith("_Default"):
        name = "default strategy"
    return {"name": name, "replicas": int(strategy.num_replicas_in_sync), "devices": devices}


def _shape_of(metrics: Dict[str, Any]) -> Dict[str, Any]:
    if "ht" in metrics:
        h = metrics["ht"]
        return {"input_modes": h["input_modes"], "output_modes": h["output_modes"], "ranks": h["ranks"]}
    if "tt" in metrics:
        t = metrics["tt"]
        return {"input_modes": t["input_modes"], "output_modes": t["output_modes"], "ranks": t["ranks"]}
    return {}


def _row(kind: str, metrics: Dict[str, Any], model_path: Optional[str]) -> Dict[str, Any]:
    return {
        "kind": kind,
        "model_params": metrics["model_params"],
        "rnn_params": metrics["rnn_params"],
        "dense_lstm_params": metrics["dense_lstm_params"],
        "compression": metrics["dense_lstm_params"] / metrics["rnn_params"],
        "macs_per_step": metrics["macs_per_step"],
        "dense_lstm_macs_per_step": metrics["dense_lstm_macs_per_step"],
        "test_accuracy": metrics["test_accuracy"],
        "chance": metrics["chance"],
        "train_seconds": metrics["train_seconds"],
        "epochs_run": metrics["epochs_run"],
        "best_val_loss": metrics["best_val_loss"],
        "shape": _shape_of(metrics),
        "weights_sha256": metrics["weights_sha256"],
        "model": model_path,
        "error": None,
    }


def run_experiment(cfg: Dict[str, Any], kinds: Sequence[str], work_dir: str, dataset=None, strategy=None,
                   keep_models: bool = True, log=info, final_dir: Optional[str] = None) -> Dict[str, Any]:
    """Train every kind on ``dataset`` (loaded from ``cfg['data']`` if None); models go to
    ``work_dir/models/<kind>``. Returns the results dict written to ``results.json``.
    ``final_dir``: where ``work_dir`` will be renamed to (paths in log lines name it)."""
    from keras_model.keras2 import keras, tf

    from .data import load_dataset
    from .train import train, versions

    if dataset is None:
        dataset = load_dataset(cfg["data"])
    if strategy is None:
        strategy = select_strategy()
    info = _strategy_info(strategy)
    n = len(kinds)

    def shown(msg: str) -> str:
        return msg.replace(work_dir, final_dir) if final_dir else msg

    log(f"experiment {cfg['_name']}: {', '.join(kinds)} on {cfg['data']['source']} "
        f"(samples {tuple(dataset.sample_shape)}, {dataset.n_classes} classes, train {len(dataset.x_train)}, "
        f"test {len(dataset.x_test)}); {info['name']} with {info['replicas']} replica(s)")
    rows = []
    for i, kind in enumerate(kinds, start=1):
        kcfg = kind_config(cfg, kind)
        model_dir = os.path.join(work_dir, "models", kind)
        log(f"[{i}/{n}] {kind}: training (up to {kcfg['train']['epochs']} epochs, batch {kcfg['train']['batch_size']})")
        t0 = time.time()
        try:
            with strategy.scope():
                _, metrics, _ = train(kcfg, dataset=dataset, out_dir=model_dir,
                                          log=lambda msg, k=kind: log(f"[{i}/{n}] {k}: {shown(msg)}"))
        except FlowError as e:
            log(f"[{i}/{n}] {kind}: FAILED: {e}")
            shutil.rmtree(model_dir, ignore_errors=True)
            rows.append({"kind": kind, "error": str(e)})
            continue
        finally:
            keras.backend.clear_session()
            gc.collect()
        if not keep_models:
            shutil.rmtree(model_dir, ignore_errors=True)
        row = _row(kind, metrics, f"models/{kind}/model.h5" if keep_models else None)
        rows.append(row)
        log(f"[{i}/{n}] {kind}: done in {time.time() - t0:.0f} s: test accuracy {row['test_accuracy']:.4f}, "
            f"{row['rnn_params']:,} recurrent parameters (compression {row['compression']:,.1f}x vs dense), "
            f"{row['epochs_run']} epochs")
    if os.path.isdir(os.path.join(work_dir, "models")) and not os.listdir(os.path.join(work_dir, "models")):
        os.rmdir(os.path.join(work_dir, "models"))
    first = next((r for r in rows if not r.get("error")), None)
    return {
        "config": cfg["_name"],
        "data": {
            "source": str(cfg["data"]["source"]),
            "sample_shape": list(dataset.sample_shape),
            "n_classes": int(dataset.n_classes),
            "class_names": list(dataset.class_names),
            "n_train": int(len(dataset.x_train)),
            "n_test": int(len(dataset.x_test)),
        },
        "model": {k: v for k, v in cfg["model"].items() if k != "kind"},
        "train": dict(cfg["train"]),
        "units": cfg["model"]["units"],
        "features_per_step": (int(math.prod(dataset.sample_shape[1:]))),
        "dense_lstm_params": first["dense_lstm_params"] if first else None,
        "strategy": info,
        "versions": versions(),
        "rows": rows,
    }


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def _fmt_shape(shape: Dict[str, Any]) -> str:
    if not shape:
        return "dense W"
    ranks = shape["ranks"]
    if isinstance(ranks, dict):
        vals = sorted(set(ranks.values()))
        r = str(vals[0]) if len(vals) == 1 else ",".join(f"{k}={v}" for k, v in ranks.items())
    else:
        r = ",".join(str(v) for v in ranks)
    mi = "x".join(str(v) for v in shape["input_modes"])
    mo = "x".join(str(v) for v in shape["output_modes"])
    return f"{mi} -> {mo}, rank {r}"


_W_NOTE = {"fdht": "[x;h]", "ht": "W_x", "tt": "W_x", "dense": ""}


def format_table(rows: List[Dict[str, Any]]) -> str:
    """The results as a Markdown table (one row per kind)."""
    head = ("| kind | model params | recurrent params | compression vs dense | MACs / step | test accuracy "
            "| train time (s) | epochs | decomposed (modes, ranks) |")
    lines = [head, "|---|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['kind']} | - | - | - | - | failed: {r['error']} | - | - | - |")
            continue
        what = _W_NOTE.get(r["kind"], "")
        shape = f"{what}: {_fmt_shape(r['shape'])}" if what else _fmt_shape(r["shape"])
        lines.append(
            f"| {r['kind']} | {r['model_params']:,} | {r['rnn_params']:,} | {r['compression']:,.1f}x "
            f"| {r['macs_per_step']:,} | {r['test_accuracy']:.4f} | {r['train_seconds']:.1f} | {r['epochs_run']} "
            f"| {shape} |"
        )
    return "\n".join(lines)


def format_markdown(results: Dict[str, Any]) -> str:
    d = results["data"]
    s = results["strategy"]
    t = results["train"]
    ok = [r for r in results["rows"] if not r.get("error")]
    chance = f"{ok[0]['chance']:.3f}" if ok else "-"
    lines = [
        f"# Experiment `{results['config']}`: LSTM kinds compared",
        "",
        f"* data: `{d['source']}`, samples {tuple(d['sample_shape'])}, {d['n_classes']} classes "
        f"({', '.join(d['class_names'])}), train {d['n_train']} (a {t['validation_split']} validation split "
        f"taken from it), test {d['n_test']}; chance {chance}",
        f"* model: H = {results['units']}, {results['features_per_step']:,} features per step; a dense LSTM "
        f"at this shape has {results['dense_lstm_params']:,} recurrent parameters"
        if results.get("dense_lstm_params") else f"* model: H = {results['units']}",
        f"* training: Adam lr {t['learning_rate']}, batch {t['batch_size']}, up to {t['epochs']} epochs, "
        f"early stopping patience {t['patience']}, clipnorm {t['clipnorm']}, seed {t['seed']}",
        f"* devices: {s['name']}, {s['replicas']} replica(s) ({', '.join(s['devices'])})",
        "",
        format_table(results["rows"]),
        "",
        "Parameters: whole model (recurrent layer + classifier) and recurrent layer alone (with its bias). "
        "Compression: dense-LSTM recurrent parameters at the same shape / this kind's. "
        "MACs / step: the gate pre-activations of one time step (HT: the planned contraction path; "
        "ht/tt add the dense W_h product), element-wise gate work not counted. "
        f"Plot: `{PLOT_NAME}`.",
        "",
    ]
    return "\n".join(lines)


def plot_results(results: Dict[str, Any], path: str) -> None:
    """Test accuracy vs model parameters (log x), one labelled point per kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results["rows"] if not r.get("error")]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    colours = {"fdht": "tab:red", "ht": "tab:orange", "tt": "tab:blue", "dense": "tab:gray"}
    placed = []  # (log10 x, y) of the points labelled so far
    for r in sorted(rows, key=lambda r: r["model_params"]):
        x, y = r["model_params"], r["test_accuracy"]
        ax.scatter([x], [y], s=60, color=colours.get(r["kind"], "k"), zorder=3)
        # near-identical points (ht and tt often are) get their labels stacked, not overprinted;
        # labels of points near the top go below them
        near = sum(abs(px - math.log10(x)) < 0.6 and abs(py - y) < 0.12 for px, py in placed)
        dy = (6 if y < 0.9 else -26) - 26 * near
        ax.annotate(f"{r['kind']}\n({r['rnn_params']:,} recurrent)", (x, y), textcoords="offset points",
                    xytext=(7, dy), fontsize=8)
        placed.append((math.log10(x), y))
    if rows:
        ax.axhline(rows[0]["chance"], color="k", lw=0.8, ls="--", label="chance")
        xs = [r["model_params"] for r in rows]
        lo, hi = min(xs), max(xs)
        ax.set_xlim(lo / 3, hi * 6)
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.08)
    ax.set_xlabel("model parameters (log scale)")
    ax.set_ylabel("test accuracy")
    d = results["data"]
    ax.set_title(f"{results['config']}: {d['n_classes']} classes, samples {tuple(d['sample_shape'])}", fontsize=9)
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_outputs(results: Dict[str, Any], work_dir: str) -> None:
    with open(os.path.join(work_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    with open(os.path.join(work_dir, "results.md"), "w") as f:
        f.write(format_markdown(results))
    plot_results(results, os.path.join(work_dir, PLOT_NAME))


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def build_parser(prog: str = "python -m keras_model.experiment") -> argparse.ArgumentParser:
    p = ArgumentParser(prog=prog,
                description="Train fdht/ht/tt/dense LSTMs on one data set and tabulate size, cost and accuracy.")
    p.add_argument("--config", default=None, help="YAML config (default: the built-in defaults)")
    p.add_argument("--data", default=None, help="an .npz data set (overrides data.source)")
    p.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated kinds (default {','.join(KINDS)})")
    p.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    add_output_dir(p, "output folder (default build/experiments/<config name>)")
    p.add_argument("--no-models", action="store_true", help="do not keep the trained models in <output-dir>/models")
    return add_common(p)


def run(args) -> int:
    kinds = parse_kinds(args.kinds)
    overrides: Dict[str, Any] = {}
    if args.data:
        overrides["data"] = data_file_override(args.data)
    if args.epochs is not None:
        overrides["train"] = {"epochs": args.epochs}
    cfg = load_config(args.config, overrides)
    out_dir = args.output_dir or os.path.join(build_dir(), "experiments", cfg["_name"])
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ConfigError(f"--output-dir {out_dir} exists and is not a folder")
    from .data import load_dataset

    dataset = load_dataset(cfg["data"])  # once, before anything is trained
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.", dir=parent)
    try:
        results = run_experiment(cfg, kinds, tmp, dataset=dataset, strategy=select_strategy(),
                                 keep_models=not args.no_models, final_dir=out_dir)
        write_outputs(results, tmp)
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print()
    print(format_table(results["rows"]))
    print(f"\nwrote {os.path.join(out_dir, 'results.md')}, results.json and {PLOT_NAME}")
    failed = [r["kind"] for r in results["rows"] if r.get("error")]
    if failed:
        print(f"error: training failed for {', '.join(failed)} (see the table)", file=sys.stderr)
        return 1
    return 0


def main(argv=None, prog: str = "python -m keras_model.experiment") -> int:
    return run_command(build_parser, run, argv, prog)


if __name__ == "__main__":
    sys.exit(main())
