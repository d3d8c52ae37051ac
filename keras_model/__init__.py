"""FDHT-LSTM in Keras: the HT math, the layers, models, data and training.

A tour, in the order the flow uses it:

* :mod:`keras_model.ht`: the hierarchical Tucker format, numpy only (tree,
  shapes, contraction plan, HT-SVD, TT, budgets, ``W_mega``);
* :mod:`keras_model.layers`: ``HTDense`` and ``FDHTLSTM`` (Keras layers
  whose weights are HT cores); :mod:`keras_model.baselines`: the ht/tt LSTMs;
* :mod:`keras_model.models`: one builder for every model kind from a config;
  :mod:`keras_model.quantize`: QKeras quantizers from a config;
* :mod:`keras_model.data`: the data set type, built-in digits, ``.npz``
  files, video (``fdht prepare``, ``fdht sample-videos``);
* :mod:`keras_model.train`, :mod:`keras_model.experiment`,
  :mod:`keras_model.compress` (with :mod:`keras_model.recurrent`): the
  ``fdht train / experiment / compress`` steps;
* :mod:`keras_model.common`: plumbing (errors, config, logs, Keras 2
  selection, fixed-point type strings, atomic output);
  :mod:`keras_model.cli`: the pieces every command line shares.

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
