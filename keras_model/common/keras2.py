"""The Keras 2 API, one way for the whole project: ``from keras_model.common.keras2 import keras, tf``.

TensorFlow >= 2.16 installs Keras 3 as ``keras`` and keeps Keras 2 as the
``tf_keras`` package; QKeras 0.9 and hls4ml's Keras-2 converter (the one that
knows QKeras layers and our custom layers) need Keras 2. The package
``__init__`` sets ``TF_USE_LEGACY_KERAS=1`` before TensorFlow loads, so that
``tf.keras`` inside QKeras is the same ``tf_keras`` our layers subclass.
"""

from __future__ import annotations

import tensorflow as tf

try:
    import tf_keras as keras
except ImportError:  # TensorFlow < 2.16: tf.keras is Keras 2 itself
    from tensorflow import keras

__all__ = ["keras", "tf"]
