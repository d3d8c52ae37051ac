"""hls4ml's Keras-2 converter, whatever ``keras`` package is installed.

hls4ml 1.3.0 chooses its Keras parser from the version of the installed
``keras`` package (``import keras; keras.__version__ >= '3.0'``), not from
the model it is given. With TensorFlow >= 2.16 that package is Keras 3 even
when the model is a Keras 2 (``tf_keras``) model, which is what QKeras and
our layers are, and the Keras-3 parser fails on it. :func:`keras2_parser`
makes ``import keras`` inside hls4ml give ``tf_keras`` while it runs, so its
public functions take their Keras-2 path; nothing else about hls4ml changes.
"""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def keras2_parser():
    from keras_model.keras2 import keras as keras2

    saved = sys.modules.get("keras")
    if saved is keras2 or str(getattr(saved, "__version__", "3")) < "3":
        yield
        return
    sys.modules["keras"] = keras2
    try:
        yield
    finally:
        if saved is None:
            sys.modules.pop("keras", None)
        else:
            sys.modules["keras"] = saved


def config_from_keras_model(model, **kwargs):
    """``hls4ml.utils.config_from_keras_model`` on the Keras-2 path."""
    import hls4ml

    from keras_model.logs import chatter

    with keras2_parser(), chatter("hls4ml"):
        return hls4ml.utils.config_from_keras_model(model, **kwargs)


def convert_from_keras_model(model, **kwargs):
    """``hls4ml.converters.convert_from_keras_model`` on the Keras-2 path."""
    import hls4ml

    from keras_model.logs import chatter

    with keras2_parser(), chatter("hls4ml"):
        return hls4ml.converters.convert_from_keras_model(model, **kwargs)
