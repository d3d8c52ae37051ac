"""Shared test set-up: the project root is importable (``keras_model``,
``hls_project``) whether pytest is run as ``python -m pytest`` or ``pytest``,
and TensorFlow's start-up chatter is silenced."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
