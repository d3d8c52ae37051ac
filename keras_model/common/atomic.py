"""Replacing an output folder atomically: everything is written into a
temporary folder beside it and moved into place only when complete.

``with new_dir(out_dir) as tmp:`` is the one way the commands write a folder
(write into ``tmp``); ``replace_dir`` is its last step."""

import contextlib
import os
import shutil
import tempfile
from typing import Iterator, Optional


@contextlib.contextmanager
def new_dir(out_dir: str, prefix: Optional[str] = None) -> Iterator[str]:
    """A temporary folder beside ``out_dir`` (its parents are created) that
    replaces ``out_dir`` when the block completes (:func:`replace_dir`); on
    any exception, Ctrl-C included, it is removed and ``out_dir`` stays as it
    was."""
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=prefix or f".{os.path.basename(os.path.abspath(out_dir))}.", dir=parent)
    try:
        yield tmp
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_dir(tmp: str, out_dir: str) -> None:
    """Move the finished ``tmp`` folder to ``out_dir``; an existing
    ``out_dir`` is set aside first and removed only after the move, and put
    back if the move fails."""
    old = None
    if os.path.exists(out_dir):
        old = tempfile.mkdtemp(prefix=".old-", dir=os.path.dirname(os.path.abspath(out_dir)))
        os.rmdir(old)
        os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        if old:
            os.replace(old, out_dir)
        raise
    if old:
        shutil.rmtree(old, ignore_errors=True)
