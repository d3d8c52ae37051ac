"""FDHT-LSTM in Keras: HT math (ht.py), layers, models, data and training.

Importing this package selects the Keras 2 API for TensorFlow before
TensorFlow is imported (``TF_USE_LEGACY_KERAS``): QKeras and hls4ml's Keras-2
converter need it, and TensorFlow >= 2.16 otherwise gives Keras 3. Code in
this project takes Keras from :mod:`keras_model.common.keras2`, never from
``tensorflow.keras`` or ``keras`` directly.
"""

import os as _os

_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ start-up chatter (CPU feature notes, oneDNN banners); -v shows it
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
