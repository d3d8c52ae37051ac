"""``fdht train``: train a model from a config (cached under build/models)."""

from __future__ import annotations

import argparse
from typing import Any, Dict

from keras_model.common.config import data_file_override, load_config
from keras_model.train import train
from hls_project.cli import console
from hls_project.cli.common import add_output_dir


PARSER = dict(description=__doc__.split("\n")[0])


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command's arguments on ``p`` (the ``fdht train`` sub-parser)."""
    p.add_argument("--config", default=None, help="YAML config (default: built-in defaults = configs/default.yml)")
    p.add_argument("--data", default=None, help="an .npz data set (overrides data.source)")
    p.add_argument("--kind", default=None, choices=["fdht", "ht", "tt", "dense"], help="override model.kind")
    p.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    p.add_argument("--param-budget", type=int, default=None,
                   help="fdht: choose modes and ranks with at most this many recurrent parameters (model.param_budget)")
    p.add_argument("--mac-budget", type=int, default=None,
                   help="fdht: ... and at most this many MACs per time step (model.mac_budget)")
    add_output_dir(p, "output folder (default build/models/<name>-<kind>-<hash>)")
    return p


def run(args) -> int:
    overrides: Dict[str, Any] = {}
    if args.data:
        overrides["data"] = data_file_override(args.data)
    if args.kind:
        overrides.setdefault("model", {})["kind"] = args.kind
    if args.epochs is not None:
        overrides.setdefault("train", {})["epochs"] = args.epochs
    for key in ("param_budget", "mac_budget"):
        if getattr(args, key) is not None:
            overrides.setdefault("model", {})[key] = getattr(args, key)
    cfg = load_config(args.config, overrides)
    _, metrics, path = train(cfg, out_dir=args.output_dir)
    console.print_train(metrics)
    return 0
