"""Turn a folder of videos into a data set file: ``fdht prepare``.

    fdht prepare --video-dir data/UCF11 --output build/ucf11.npz \\
        [--frames 6] [--size 160x120] [--test-fraction 0.25] [--seed 0] [--split group|clip] [--compress] [--no-progress]

``--size`` is WIDTHxHEIGHT (the paper's 160x120). The folder layout, the frame
sampling and the train/test split rule are described in :mod:`keras_model.data.video`.
The .npz is written atomically and loads with :func:`keras_model.data.load_npz`
(``data: {source: build/ucf11.npz}`` in a config); besides the data it holds
``train_clips`` / ``test_clips``, the source path (relative to ``--video-dir``)
of every sample, so the split can be audited and reproduced. Errors print
``error: <one line>`` on stderr and exit with code 2; nothing is written then.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from keras_model.common.errors import ConfigError
from keras_model.data.npz import save_npz
from keras_model.data.video import videos_to_dataset
from hls_project.cli import console
from hls_project.cli.common import frame_size, int_at_least

_positive_int = int_at_least(1)
_nonnegative_int = int_at_least(0)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


PARSER = dict(description="Decode a folder of videos (<root>/<class>/[<group>/]<clip>) into a train/test .npz.")


def configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command's arguments on ``parser`` (the ``fdht prepare`` sub-parser)."""
    parser.add_argument("--video-dir", required=True, type=Path, help="root folder with one sub-folder per class")
    parser.add_argument("--output", "--out", dest="out", required=True, type=Path,
                        help="the .npz data set to write, e.g. build/ucf11.npz (later given as --data)")
    parser.add_argument("--frames", type=_positive_int, default=6, help="frames per clip, uniform in time (default 6)")
    parser.add_argument("--size", type=frame_size, default=(160, 120), help="WIDTHxHEIGHT of the frames (default 160x120)")
    parser.add_argument(
        "--test-fraction", type=_fraction, default=0.25, help="share of each class's clips (by group) for test (default 0.25)"
    )
    parser.add_argument("--seed", type=_nonnegative_int, default=0, help="seed of the split (default 0)")
    parser.add_argument("--compress", action="store_true", help="zip-deflate the .npz (smaller, slower)")
    parser.add_argument("--split", choices=("group", "clip"), default="group",
                        help="keep group folders whole in the train/test split (default), or split clip by clip")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return parser


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.suffix.lower() != ".npz":
        raise ConfigError(f"--output {out}: the output must be an .npz file, e.g. build/ucf11.npz")
    if out.is_dir():
        raise ConfigError(f"--output {out} is a folder; give a file name ending in .npz")
    if not args.video_dir.is_dir():
        raise ConfigError(f"--video-dir {args.video_dir}: folder not found")
    width, height = args.size
    dataset, summary = videos_to_dataset(
        args.video_dir,
        frames=args.frames,
        height=height,
        width=width,
        test_fraction=args.test_fraction,
        seed=args.seed,
        progress=not args.no_progress,
        log=sys.stderr,
        split=args.split,
    )
    # The clip of every sample, so the split can be reproduced and audited.
    extra = {"train_clips": np.asarray(summary.train_clips, dtype=str), "test_clips": np.asarray(summary.test_clips, dtype=str)}
    save_npz(out, dataset, compress=args.compress, extra=extra)
    print(console.prepare_summary(summary, out, out.stat().st_size, dataset.x_train.shape))
    return 0
