"""Old import path of :mod:`keras_model.common.keras2` (the module lives there).

Kept while the hardware modules (hls_project: extension, schedule, codegen,
bitexact, reports, ...) are being rewritten: they import this name. New code
imports ``keras_model.common.keras2``; tests/test_layout.py keeps this file a
pure re-export.
"""

from .common.keras2 import *  # noqa: F401,F403
