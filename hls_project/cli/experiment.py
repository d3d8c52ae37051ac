"""``fdht experiment``: fdht / ht / tt / dense trained side by side on one data set, tabulated."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict

from keras_model.common.atomic import new_dir
from keras_model.common.config import KINDS, build_dir, data_file_override, load_config
from keras_model.common.errors import ConfigError
from keras_model import experiment
from keras_model.experiment import (DEFAULT_LR_GRID, DEFAULT_SEEDS, parse_kinds,
                                    parse_lr_grid, run_experiment, write_outputs)
from hls_project.cli import console
from hls_project.cli.common import add_output_dir, int_at_least


PARSER = dict(description="Train fdht/ht/tt/dense LSTMs on one data set and tabulate size, cost and accuracy.")


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command's arguments on ``p`` (the ``fdht experiment`` sub-parser)."""
    p.add_argument("--config", default=None, help="YAML config (default: the built-in defaults)")
    p.add_argument("--data", default=None, help="an .npz data set (overrides data.source)")
    p.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated kinds (default {','.join(KINDS)})")
    p.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    p.add_argument("--seeds", type=int_at_least(1), default=DEFAULT_SEEDS,
                   help=f"seeds per kind at its chosen learning rate (default {DEFAULT_SEEDS}: 0, 1, 2)")
    p.add_argument("--lr-grid", default=",".join(map(str, DEFAULT_LR_GRID)),
                   help="learning rates tried per kind, chosen on the validation split "
                        f"(default {','.join(map(str, DEFAULT_LR_GRID))}; one value = no search)")
    add_output_dir(p, "output folder (default build/experiments/<config name>)")
    p.add_argument("--no-models", action="store_true", help="do not keep the trained models in <output-dir>/models")
    return p


def run(args) -> int:
    kinds = parse_kinds(args.kinds)
    lr_grid = parse_lr_grid(args.lr_grid)
    overrides: Dict[str, Any] = {}
    if args.data:
        overrides["data"] = data_file_override(args.data)
    if args.epochs is not None:
        overrides["train"] = {"epochs": args.epochs}
    cfg = load_config(args.config, overrides)
    out_dir = args.output_dir or os.path.join(build_dir(), "experiments", cfg["_name"])
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ConfigError(f"--output-dir {out_dir} exists and is not a folder")
    from keras_model.data import load_dataset

    dataset = load_dataset(cfg["data"])  # once, before anything is trained
    with new_dir(out_dir) as tmp:
        base = int(cfg["train"]["seed"])
        results = run_experiment(cfg, kinds, tmp, dataset=dataset, strategy=experiment.select_strategy(),
                                 keep_models=not args.no_models, final_dir=out_dir, lr_grid=lr_grid,
                                 seeds=[base + k for k in range(args.seeds)])
        write_outputs(results, tmp)
    console.print_experiment(results, out_dir)
    failed = [r["kind"] for r in results["rows"] if r.get("error")]
    if failed:
        print(f"error: training failed for {', '.join(failed)} (see the table)", file=sys.stderr)
        return 1
    return 0
