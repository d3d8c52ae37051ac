"""Replacing an output folder atomically: everything is written into a
temporary folder beside it and moved into place only when complete."""

import os
import shutil
import tempfile


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
