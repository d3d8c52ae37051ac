"""Output of the command line: Python ``logging`` under the ``fdht`` logger.

``setup(verbosity)`` is called once by an entry point: -1 (``-q``) shows
warnings and errors only, 0 (default) progress lines too, 1 (``-v``) also
debug lines and the chatter of TensorFlow and hls4ml, which is otherwise
kept back. Reports a command prints as its result stay on stdout; progress
(these lines, and Keras's epoch lines: :func:`progress_to_stderr`) goes to
stderr, so ``fdht ... | head`` or a JSON result on stdout stays clean.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import logging
import os
import re
import sys
import threading
import warnings

logger = logging.getLogger("fdht")

_LEVELS = {-1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (tests and callers replace it)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


class _Plain(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.levelno >= logging.WARNING and not msg.startswith(("warning", "error")):
            msg = f"{record.levelname.lower()}: {msg}"
        return msg


# TensorFlow's native (C++/absl) log lines: "I0000 00:00:1796191903.890320    8036 port.cc:153] ...",
# and absl's note that precedes them. TF_CPP_MIN_LOG_LEVEL no longer reaches all of them.
_NATIVE = re.compile(rb"^([IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w./-]+:\d+\]|WARNING: All log messages before absl::InitializeLog)")
_FILTER = {}


def _filter_native_stderr() -> None:
    """Drop TensorFlow's native log lines from file descriptor 2 (where C++
    code writes them, below Python's sys.stderr); everything else passes."""
    if _FILTER or not hasattr(os, "pipe"):
        return
    try:
        sys.stderr.flush()
        original = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:
        return

    def pump():
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as src:
            while True:
                chunk = src.read(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                out = b"".join(l + b"\n" for l in lines if not _NATIVE.match(l))
                if out:
                    os.write(original, out)
        if pending and not _NATIVE.match(pending):
            os.write(original, pending)

    thread = threading.Thread(target=pump, name="fdht-stderr-filter", daemon=True)
    thread.start()
    _FILTER.update(original=original, thread=thread)

    def restore():
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(original, 2)  # closes the pipe's last write end: the pump drains and stops
        thread.join(timeout=2)

    atexit.register(restore)


def current_verbosity() -> int:
    """The -v/-q setting in force (the inverse of ``_LEVELS``), for worker processes."""
    level = logger.getEffectiveLevel()
    return 1 if level <= _LEVELS[1] else (-1 if level >= _LEVELS[-1] else 0)


def setup(verbosity: int = 0) -> None:
    """Configure the ``fdht`` logger (stderr, plain lines) and the verbosity
    of TensorFlow and hls4ml. Safe to call again (the last call wins)."""
    verbosity = max(-1, min(1, int(verbosity)))
    if verbosity >= 1:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        _filter_native_stderr()
    logger.setLevel(_LEVELS[verbosity])
    for h in list(logger.handlers):
        if getattr(h, "_fdht", False):
            logger.removeHandler(h)
    handler = _StderrHandler()
    handler.setFormatter(_Plain())
    handler._fdht = True
    logger.addHandler(handler)
    tf_level = logging.INFO if verbosity >= 1 else logging.ERROR
    for name in ("tensorflow", "absl", "h5py", "matplotlib"):
        logging.getLogger(name).setLevel(max(tf_level, logging.WARNING) if name == "matplotlib" else tf_level)
    if verbosity < 1:
        # TensorFlow's deprecation notes and retracing hints are for its developers, not ours
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"(tf_keras|keras|tensorflow|qkeras|hls4ml)")


@contextlib.contextmanager
def chatter(what: str):
    """Capture what a third-party library prints (hls4ml prints its progress)
    and pass it on as debug lines, shown with -v."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            yield
    finally:
        text = buf.getvalue().strip()
        if text:
            for line in text.splitlines():
                logger.debug("[%s] %s", what, line)


@contextlib.contextmanager
def progress_to_stderr():
    """Send what Keras prints (``fit``'s epoch lines and progress bars) to
    stderr while the block runs: stdout carries a command's result only."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def keras_verbosity(setting="auto") -> int:
    """Keras ``verbose`` for ``fit``: ``auto`` is a progress bar on a terminal
    (stderr, where :func:`progress_to_stderr` sends it), else one line per
    epoch; with ``-q`` (warnings only) no epoch lines. An int is kept."""
    if setting != "auto":
        return int(setting)
    if logger.level > logging.INFO:  # set by setup(-1); library use leaves it unset
        return 0
    return 1 if getattr(sys.stderr, "isatty", lambda: False)() else 2


def info(msg: str, *args) -> None:
    """Progress line (the default ``log`` callback of the flow's functions)."""
    logger.info(msg, *args)
