"""Old import path of :mod:`keras_model.common.config` (the module lives there).

Kept while the hardware modules (hls_project: extension, schedule, codegen,
bitexact, reports, ...) are being rewritten: they import this name. New code
imports ``keras_model.common.config``; tests/test_layout.py keeps this file a
pure re-export.
"""

from .common.config import *  # noqa: F401,F403
from .common.config import __getattr__  # noqa: F401,E402  (BUILD_DIR follows --workdir)
