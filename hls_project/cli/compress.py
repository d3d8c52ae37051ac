"""``fdht compress``: a trained LSTM (Keras, QLSTM or ours) -> HT-SVD -> a fine-tuned FDHT-LSTM."""

from __future__ import annotations

import argparse
import os
from typing import Any, Dict

from keras_model.common.config import build_dir, data_file_override, load_config
from keras_model.common.errors import ConfigError
from keras_model.compress import compress, parse_modes, parse_ranks
from hls_project.cli import console
from hls_project.cli.common import int_at_least


PARSER = dict(description="Compress a trained LSTM model into an FDHT-LSTM by HT-SVD, then fine-tune it.")


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command's arguments on ``p`` (the ``fdht compress`` sub-parser)."""
    p.add_argument("--model", required=True, help="trained Keras model (.h5/.keras) with one LSTM/QLSTM/fdht/ht/tt layer")
    p.add_argument("--data", default=None, help="the .npz data set it was trained on (default: the config's data)")
    p.add_argument("--config", default=None, help="YAML config: data, train (fine-tuning), quantization (--qat)")
    p.add_argument("--ranks", default=None, help="one HT rank for every node (capped per node), or 'full' (exact)")
    p.add_argument("--param-budget", type=int_at_least(1), default=None,
                   help="choose modes and ranks with at most this many recurrent parameters (cores + bias)")
    p.add_argument("--mac-budget", type=int_at_least(1), default=None,
                   help="choose modes and ranks with at most this many MACs per time step")
    p.add_argument("--input-modes", default=None, help="input modes of [x;h] (padded), e.g. 6x6x6x5 (default derived)")
    p.add_argument("--output-modes", default=None, help="output modes of 4H, e.g. 4x4x4x2 (default derived)")
    p.add_argument("--epochs", type=int_at_least(0), default=5, help="fine-tuning epochs (default 5; 0 = none)")
    p.add_argument("--learning-rate", type=float, default=None, help="fine-tuning Adam lr (default train.learning_rate)")
    p.add_argument("--qat", action="store_true", help="fine-tune through the config's QKeras quantizers")
    p.add_argument("--output-dir", default=None, help="output folder (default build/compress/<model file stem>)")
    return p


def run(args) -> int:
    ranks = parse_ranks(args.ranks)
    input_modes = parse_modes(args.input_modes, "--input-modes")
    output_modes = parse_modes(args.output_modes, "--output-modes")
    if args.learning_rate is not None and not args.learning_rate > 0:
        raise ConfigError(f"--learning-rate must be > 0, got {args.learning_rate}")
    overrides: Dict[str, Any] = {}
    if args.data:
        overrides["data"] = data_file_override(args.data)
    cfg = load_config(args.config, overrides)
    stem = os.path.splitext(os.path.basename(os.path.dirname(os.path.abspath(args.model))
                                             if os.path.basename(args.model) == "model.h5"
                                             else args.model))[0]
    out_dir = args.output_dir or os.path.join(build_dir(), "compress", stem)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ConfigError(f"--output-dir {out_dir} exists and is not a folder")
    report = compress(args.model, cfg, out_dir, ranks=ranks, param_budget=args.param_budget,
                      mac_budget=args.mac_budget, input_modes=input_modes, output_modes=output_modes,
                      epochs=args.epochs, learning_rate=args.learning_rate, qat=args.qat)
    console.print_compress(report, out_dir)
    return 0
