"""Shared command-line pieces.

* :class:`ArgumentParser`: bad arguments are one-line errors (``error: ...``, exit 2).
* :func:`add_common`: the flags every command has (``-v``/``-q``).
* :func:`run_command`: the ONE place that turns errors into exit codes, used by
  every entry point (``fdht <command>``, ``python build.py``):
  a :class:`~keras_model.common.errors.FlowError` prints ``error: <message>`` and
  exits with its ``exit_code`` (2 for bad input, 3 for a missing or failing
  tool), Ctrl-C exits 130, and a reader that closes stdout early
  (``fdht ... | head``) ends the command quietly with 141 (128 + SIGPIPE,
  the status of a program the signal stops).
* argument types the commands share.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Optional, Sequence

from keras_model.common import logs
from keras_model.common.config import parse_frame_size
from keras_model.common.errors import ConfigError, FlowError


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad argument raises a one-line ConfigError."""

    def error(self, message: str):
        raise ConfigError(f"{message} (see --help)")


def add_common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    g = p.add_argument_group("output")
    g.add_argument("-v", "--verbose", action="count", default=0,
                   help="debug lines, and TensorFlow's and hls4ml's own messages")
    g.add_argument("-q", "--quiet", action="count", default=0, help="warnings and errors only")
    return p


def add_output_dir(p: argparse.ArgumentParser, help: str, **kwargs) -> None:
    """``--output-dir`` (every command spells it so); ``--out`` is kept as a
    hidden alias of older versions."""
    p.add_argument("--output-dir", dest="output_dir", help=help, **kwargs)
    p.add_argument("--out", dest="output_dir", help=argparse.SUPPRESS, **kwargs)


# exit status when the reader of stdout went away (128 + SIGPIPE, as a shell reports a
# program the signal stopped): the output was cut short on purpose, no traceback
EXIT_CLOSED_STDOUT = 141


def flush_stdout() -> bool:
    """Flush stdout; False (and stdout pointed at /dev/null, so the flush at
    interpreter exit cannot fail again) when its reader has closed the pipe."""
    try:
        sys.stdout.flush()
        return True
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):  # no file descriptor (a test's StringIO)
            pass
        return False


def quiet_on_closed_stdout(main: Callable[[], int]) -> int:
    """Run ``main()`` and flush stdout; a closed pipe (``| head``) gives
    ``EXIT_CLOSED_STDOUT`` instead of a BrokenPipeError traceback, also for
    ``--help`` (argparse's ``SystemExit``)."""
    try:
        code = main()
    except SystemExit:
        if not flush_stdout():
            raise SystemExit(EXIT_CLOSED_STDOUT) from None
        raise
    except BrokenPipeError:
        flush_stdout()
        return EXIT_CLOSED_STDOUT
    return code if flush_stdout() else EXIT_CLOSED_STDOUT


def run_command(build_parser: Callable[..., argparse.ArgumentParser], run: Callable[[argparse.Namespace], int],
                argv: Optional[Sequence[str]] = None, prog: Optional[str] = None,
                interrupted: str = "interrupted") -> int:
    """Parse ``argv`` with ``build_parser(prog)``, set up logging, call
    ``run(args)``; errors become exit codes here and nowhere else."""
    def command() -> int:
        try:
            parser = build_parser(prog) if prog else build_parser()
            args = parser.parse_args(argv)
            # -v / -q count before the command (fdht -v build) as after it
            verbose = getattr(args, "verbose", 0) + getattr(args, "top_verbose", 0)
            quiet = getattr(args, "quiet", 0) + getattr(args, "top_quiet", 0)
            logs.setup(min(1, verbose) - min(1, quiet))
            return int(run(args))
        except FlowError as e:
            print(f"error: {e}", file=sys.stderr)
            return e.exit_code
        except KeyboardInterrupt:
            print(f"error: {interrupted}", file=sys.stderr)
            return 130

    return quiet_on_closed_stdout(command)


def int_at_least(minimum: int):
    """argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def frame_size(text: str) -> tuple:
    """argparse type: '160x120' -> (width, height)."""
    try:
        return parse_frame_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
