"""``fdht sweep``: the precision sweep: for each default fixed-point width,
convert, C-simulate and compare with Keras (two at a time); a table, a plot
and one project per width, on the same trained model."""

from __future__ import annotations

import argparse

from hls_project.cli.build import add_model_flags, load
from hls_project.cli import console


PARSER = dict(description=("Precision sweep: for each default fixed-point width, convert, C-simulate and compare with Keras "
                           "(two at a time); a table, a plot and one project per width."))


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command's arguments on ``p`` (the ``fdht sweep`` sub-parser)."""
    p.add_argument("--widths", default="", metavar="W,W,...",
                   help="default widths, e.g. 6,8,10,12,16 (default: hls.sweep_precision of the config)")
    add_model_flags(p)
    return p


def sweep(args, cfg: dict, widths_text: str) -> int:
    """One independent flow per width on the same trained model, into
    --output-dir (default build/hls/<config name>-sweep)."""
    from hls_project.flow.pipeline import check_output_dir, output_dir_for
    from hls_project.flow.sweep import parse_widths, run_sweep
    from keras_model.train import cached_or_train

    widths = parse_widths(widths_text or cfg["hls"].get("sweep_precision") or "")
    out_dir = args.output_dir or output_dir_for(cfg) + "-sweep"
    check_output_dir(out_dir)
    model_path = args.model
    if model_path is None:
        _, _, model_path, _ = cached_or_train(cfg)
    run_sweep(cfg, widths, model_path, cfg["hls"].get("samples"), out_dir)
    console.print_sweep(out_dir)
    return 0


def run(args) -> int:
    return sweep(args, load(args), args.widths)
