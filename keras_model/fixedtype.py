"""Old import path of :mod:`keras_model.common.fixedtype` (the module lives there).

Kept while the hardware modules (hls_project: extension, schedule, codegen,
bitexact, reports, ...) are being rewritten: they import this name. New code
imports ``keras_model.common.fixedtype``; tests/test_layout.py keeps this file a
pure re-export.
"""

from .common.fixedtype import *  # noqa: F401,F403
