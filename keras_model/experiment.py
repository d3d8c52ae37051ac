"""Compare the LSTM kinds on one data set: ``fdht experiment``.

    fdht experiment --config configs/sample_videos.yml \\
        [--data build/x.npz] [--kinds fdht,ht,tt,dense] [--epochs N] \\
        [--seeds 3] [--lr-grid 0.001,0.003,0.01] \\
        [--output-dir build/experiments/<config name>] [--no-models]

The data set is loaded once and every kind is trained on exactly the same
arrays with :func:`keras_model.train.train`, with the same epoch budget
(``train.epochs`` and ``train.patience``) and the same validation split (by
group when the data has groups, e.g. clips cut from one source video; see
``keras_model.data.validation_split``). Fair comparison:

* **learning rate per kind**: each kind is trained once per value of
  ``--lr-grid`` (first seed) and keeps the rate with the best validation
  accuracy (ties: lower validation loss); the test set plays no part;
* **seeds**: at that rate each kind is trained with ``--seeds`` seeds (model
  initialisation and training order; the data stay the same); the table
  gives the mean ± sample standard deviation of the test accuracy.

Each kind's model config is the config's ``model:``
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
* ``models/<kind>/seed<s>/``: each kind's models at its chosen rate, as saved by
  ``train`` (unless ``--no-models``).

Devices: with more than one GPU visible the models are built, compiled and
trained under ``tf.distribute.MirroredStrategy`` (``train.batch_size`` is then
the global batch), otherwise under the default strategy.

A kind whose training fails (e.g. diverges) is reported in its row and the
others still run; the exit code is then 1. Bad arguments, a bad config or
missing data print ``error: <one line>`` on stderr and exit with code 2
before anything is trained.
"""

from __future__ import annotations

import copy
import gc
import json
import math
import os
import shutil
import time
from typing import Any, Dict, List, Optional, Sequence

from .common.config import KINDS
from .common.errors import ConfigError, FlowError
from .common.logs import info

PLOT_NAME = "accuracy_vs_params.png"
DEFAULT_LR_GRID = (0.001, 0.003, 0.01)
DEFAULT_SEEDS = 3


def parse_lr_grid(text: str) -> List[float]:
    """'0.001,0.01' -> [0.001, 0.01]; ConfigError on anything else."""
    out: List[float] = []
    for item in str(text).split(","):
        if not item.strip():
            continue
        try:
            v = float(item)
        except ValueError:
            raise ConfigError(f"--lr-grid: {item.strip()!r} is not a number; give learning rates like "
                              "0.001,0.003,0.01") from None
        if not (v > 0 and math.isfinite(v)):
            raise ConfigError(f"--lr-grid: learning rates must be > 0, got {item.strip()}")
        if v not in out:
            out.append(v)
    if not out:
        raise ConfigError("--lr-grid is empty; give learning rates like 0.001,0.003,0.01")
    return out


def _mean_std(values: Sequence[float]):
    import numpy as np

    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


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
    from keras_model.common.keras2 import tf

    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(devices=[d.name for d in gpus])
    return tf.distribute.get_strategy()


def _strategy_info(strategy) -> Dict[str, Any]:
    from keras_model.common.keras2 import tf

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


def _row(kind: str, metrics: Dict[str, Any], model_path: Optional[str], runs: Optional[List[Dict]] = None,
         lr_search: Optional[List[Dict]] = None) -> Dict[str, Any]:
    """One table row; with ``runs`` (one metrics dict per seed) accuracy, time
    and epochs are the mean over the runs, with the spread alongside."""
    runs = runs or [metrics]
    acc_mean, acc_std = _mean_std([r["test_accuracy"] for r in runs])
    row = {
        "kind": kind,
        "model_params": metrics["model_params"],
        "rnn_params": metrics["rnn_params"],
        "dense_lstm_params": metrics["dense_lstm_params"],
        "compression": metrics["dense_lstm_params"] / metrics["rnn_params"],
        "macs_per_step": metrics["macs_per_step"],
        "dense_lstm_macs_per_step": metrics["dense_lstm_macs_per_step"],
        "test_accuracy": acc_mean,
        "test_accuracy_std": acc_std,
        "chance": metrics["chance"],
        "train_seconds": _mean_std([r["train_seconds"] for r in runs])[0],
        "epochs_run": _mean_std([r["epochs_run"] for r in runs])[0],
        "best_val_loss": metrics["best_val_loss"],
        "learning_rate": metrics.get("learning_rate"),
        "validation_split": metrics.get("validation_split"),
        "seeds": [r["seeds"]["train"] for r in runs],
        "per_seed": [{"seed": r["seeds"]["train"], "test_accuracy": r["test_accuracy"], "epochs_run": r["epochs_run"],
                      "train_seconds": r["train_seconds"], "val_accuracy": r.get("val_accuracy")} for r in runs],
        "lr_search": lr_search or [],
        "shape": _shape_of(metrics),
        "weights_sha256": metrics["weights_sha256"],
        "model": model_path,
        "error": None,
    }
    return row


def run_experiment(cfg: Dict[str, Any], kinds: Sequence[str], work_dir: str, dataset=None, strategy=None,
                   keep_models: bool = True, log=info, final_dir: Optional[str] = None,
                   lr_grid: Optional[Sequence[float]] = None, seeds: Optional[Sequence[int]] = None
                   ) -> Dict[str, Any]:
    """Train every kind on ``dataset`` (loaded from ``cfg['data']`` if None); models go to
    ``work_dir/models/<kind>``. Returns the results dict written to ``results.json``.
    ``final_dir``: where ``work_dir`` will be renamed to (paths in log lines name it).
    ``lr_grid``: learning rates searched per kind on the validation split (default: the
    config's one rate); ``seeds``: seeds run at the chosen rate (default: the config's seed)."""
    from .data import load_dataset

    if dataset is None:
        dataset = load_dataset(cfg["data"])
    if strategy is None:
        strategy = select_strategy()
    devices = _strategy_info(strategy)

    def shown(msg: str) -> str:
        return msg.replace(work_dir, final_dir) if final_dir else msg

    log(f"experiment {cfg['_name']}: {', '.join(kinds)} on {cfg['data']['source']} "
        f"(samples {tuple(dataset.sample_shape)}, {dataset.n_classes} classes, train {len(dataset.x_train)}, "
        f"test {len(dataset.x_test)}); {devices['name']} with {devices['replicas']} replica(s)")
    lr_grid = list(lr_grid) if lr_grid else [float(cfg["train"]["learning_rate"])]
    seeds = list(seeds) if seeds else [int(cfg["train"]["seed"])]
    if len(lr_grid) > 1 and not float(cfg["train"]["validation_split"]) > 0:
        raise ConfigError("a learning-rate grid needs a validation split to choose on; set train.validation_split "
                          "> 0 or give one rate in --lr-grid")
    rows = []
    for i, kind in enumerate(kinds, start=1):
        kcfg = kind_config(cfg, kind)
        kind_dir = os.path.join(work_dir, "models", kind)
        tag = f"[{i}/{len(kinds)}] {kind}"
        log(f"{tag}: training (up to {kcfg['train']['epochs']} epochs, batch {kcfg['train']['batch_size']}; "
            f"learning rates {', '.join(map(str, lr_grid))}; seeds {', '.join(map(str, seeds))})")
        t0 = time.time()

        def trained(lr: float, seed: int, out_dir: str) -> Dict[str, Any]:
            return _train_one(kcfg, lr, seed, out_dir, dataset, strategy,
                              lambda msg: log(f"{tag} (lr {lr}, seed {seed}): {shown(msg)}"))

        try:
            best_lr, runs, search = _search_and_seeds(trained, kind_dir, lr_grid, seeds, tag, log)
        except FlowError as e:
            log(f"{tag}: FAILED: {e}")
            shutil.rmtree(kind_dir, ignore_errors=True)
            rows.append({"kind": kind, "error": str(e)})
            continue
        model_path = _keep_chosen_models(kind, kind_dir, best_lr, seeds, keep_models)
        row = _row(kind, runs[0], model_path, runs, search)
        rows.append(row)
        log(f"{tag}: done in {time.time() - t0:.0f} s: test accuracy {row['test_accuracy']:.4f} ± "
            f"{row['test_accuracy_std']:.4f} over {len(runs)} seed(s) at lr {best_lr}, "
            f"{row['rnn_params']:,} recurrent parameters (compression {row['compression']:,.1f}x vs dense), "
            f"{row['epochs_run']:.1f} epochs on average")
    if os.path.isdir(os.path.join(work_dir, "models")) and not os.listdir(os.path.join(work_dir, "models")):
        os.rmdir(os.path.join(work_dir, "models"))
    return _results(cfg, dataset, lr_grid, seeds, devices, rows)


def _train_one(kcfg: Dict[str, Any], lr: float, seed: int, out_dir: str, dataset, strategy, log) -> Dict[str, Any]:
    """One training run of a kind at a learning rate and seed; its metrics."""
    from keras_model.common.keras2 import keras

    from .train import train

    c = copy.deepcopy(kcfg)
    c["train"]["learning_rate"] = float(lr)
    c["train"]["seed"] = int(seed)
    c["model"]["seed"] = int(seed)
    try:
        with strategy.scope():
            _, metrics, _ = train(c, dataset=dataset, out_dir=out_dir, log=log)
    finally:
        keras.backend.clear_session()
        gc.collect()
    return metrics


def _search_and_seeds(trained, kind_dir: str, lr_grid: List[float], seeds: List[int], tag: str, log):
    """The learning rate chosen on the validation split (first seed), then the
    other seeds at that rate: (best rate, runs at it, the search's rows)."""
    search: List[Dict[str, Any]] = []
    first: Dict[float, Dict[str, Any]] = {}
    for lr in lr_grid:
        m = trained(lr, seeds[0], os.path.join(kind_dir, f"lr{lr}-seed{seeds[0]}"))
        first[lr] = m
        search.append({"learning_rate": lr, "val_accuracy": m.get("val_accuracy"),
                       "best_val_loss": m.get("best_val_loss"), "epochs_run": m["epochs_run"]})
    if len(lr_grid) > 1:
        best_lr = min(lr_grid, key=lambda v: (-(first[v].get("val_accuracy") or 0.0),
                                              first[v].get("best_val_loss") or math.inf))
        log(f"{tag}: learning rate {best_lr} chosen on the validation split ("
            + ", ".join(f"{e['learning_rate']}: {e['val_accuracy']:.3f}" for e in search) + ")")
    else:
        best_lr = lr_grid[0]
    runs = [first[best_lr]]
    for seed in seeds[1:]:
        runs.append(trained(best_lr, seed, os.path.join(kind_dir, f"lr{best_lr}-seed{seed}")))
    return best_lr, runs, search


def _keep_chosen_models(kind: str, kind_dir: str, best_lr: float, seeds: List[int], keep_models: bool
                        ) -> Optional[str]:
    """Keep the chosen rate's models as models/<kind>/seed<s> (or none); the
    first seed's model path relative to the experiment folder."""
    for entry in sorted(os.listdir(kind_dir)) if os.path.isdir(kind_dir) else []:
        src = os.path.join(kind_dir, entry)
        lr_part, seed_part = entry.rsplit("-", 1)
        if keep_models and lr_part == f"lr{best_lr}":
            os.replace(src, os.path.join(kind_dir, seed_part))
        else:
            shutil.rmtree(src, ignore_errors=True)
    if keep_models:
        return f"models/{kind}/seed{seeds[0]}/model.h5"
    shutil.rmtree(kind_dir, ignore_errors=True)
    return None


def _results(cfg: Dict[str, Any], dataset, lr_grid, seeds, devices: Dict[str, Any], rows) -> Dict[str, Any]:
    """The results dict (``results.json``): data, settings, devices, versions, one row per kind."""
    from .train import versions

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
        "lr_grid": lr_grid,
        "seeds": seeds,
        "validation_split": next((r["validation_split"] for r in rows if not r.get("error")), None),
        "units": cfg["model"]["units"],
        "features_per_step": (int(math.prod(dataset.sample_shape[1:]))),
        "dense_lstm_params": first["dense_lstm_params"] if first else None,
        "strategy": devices,
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


def _acc(r: Dict[str, Any]) -> str:
    n = len(r.get("per_seed") or [None])
    if n > 1:
        return f"{r['test_accuracy']:.4f} ± {r.get('test_accuracy_std', 0.0):.4f} ({n} seeds)"
    return f"{r['test_accuracy']:.4f}"


def format_table(rows: List[Dict[str, Any]]) -> str:
    """The results as a Markdown table (one row per kind)."""
    head = ("| kind | model params | recurrent params | compression vs dense | MACs / step | lr | test accuracy "
            "| train time (s) | epochs | decomposed (modes, ranks) |")
    lines = [head, "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['kind']} | - | - | - | - | - | failed: {r['error']} | - | - | - |")
            continue
        what = _W_NOTE.get(r["kind"], "")
        shape = f"{what}: {_fmt_shape(r['shape'])}" if what else _fmt_shape(r["shape"])
        lr = r.get("learning_rate")
        lines.append(
            f"| {r['kind']} | {r['model_params']:,} | {r['rnn_params']:,} | {r['compression']:,.1f}x "
            f"| {r['macs_per_step']:,} | {'-' if lr is None else f'{lr:g}'} | {_acc(r)} | {r['train_seconds']:.1f} "
            f"| {r['epochs_run']:.3g} | {shape} |"
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
        f"* training: Adam, the learning rate chosen per kind from {results.get('lr_grid')} by validation "
        f"accuracy (split: {results.get('validation_split')}), then seeds {results.get('seeds')} at that rate; "
        f"every kind: batch {t['batch_size']}, up to {t['epochs']} epochs, early stopping patience "
        f"{t['patience']}, clipnorm {t['clipnorm']}",
        f"* devices: {s['name']}, {s['replicas']} replica(s) ({', '.join(s['devices'])})",
        "",
        format_table(results["rows"]),
        "",
        "Parameters: whole model (recurrent layer + classifier) and recurrent layer alone (with its bias). "
        "Compression: dense-LSTM recurrent parameters at the same shape / this kind's. "
        "MACs / step: the gate pre-activations of one time step (HT: the planned contraction path; "
        "ht/tt add the dense W_h product), element-wise gate work not counted. "
        "Test accuracy: mean ± sample standard deviation over the seeds; train time and epochs: means. "
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
        accs = [p["test_accuracy"] for p in r.get("per_seed") or []]
        if len(accs) > 1:  # the spread: ± one standard deviation and every seed's value
            ax.errorbar([x], [y], yerr=[[r.get("test_accuracy_std", 0.0)]], color=colours.get(r["kind"], "k"),
                        capsize=4, lw=1.2, zorder=2)
            ax.scatter([x] * len(accs), accs, s=12, marker="x", color=colours.get(r["kind"], "k"), zorder=4)
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
    ax.set_ylabel("test accuracy (mean ± std over seeds, x = each seed)")
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
