"""hls4ml plugin: our layers known to hls4ml's own public API, with no
``register()`` call in the user's code.

``pip install .`` declares the entry point ``fdht = hls_project.plugin:register``
in hls4ml's plugin group ``hls4ml.backends``; hls4ml 1.3.0 calls it while it
imports itself (``hls4ml.backends``), and also for modules named in
``HLS4ML_BACKEND_PLUGINS``. At that moment hls4ml is half imported (its
``converters`` package is still running), so :func:`register` only arranges
that :func:`install` runs as soon as Python attaches the finished
``converters`` package to the ``hls4ml`` module (a watch on that module's
attribute assignment, removed right after); :func:`install` wraps two public
functions:

* ``hls4ml.utils.config_from_keras_model`` and
  ``hls4ml.converters.convert_from_keras_model``: for a model that uses our
  layers they first register them (``extension.register()``, idempotent),
  and for a Keras 2 (``tf_keras``) model they take hls4ml's Keras-2 path
  even when the installed ``keras`` package is Keras 3 (hls4ml 1.3.0 picks
  its parser from that package's version, not from the model; with
  TensorFlow >= 2.16 it is always Keras 3).

Nothing of ours is imported before a model with our layers is converted, so
a user of hls4ml who never touches these layers sees no change, not even
TensorFlow's Keras selection.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import types

_MARK = "_fdht_wrapped"
# layer classes of ours in a model's JSON
OUR_LAYERS = ("FDHTLSTM", "HTDense")


def register(*_args, **_kwargs) -> None:
    """hls4ml's plugin entry point (it passes register_backend/register_writer,
    which we do not need: we add layers to the existing backends)."""
    module = sys.modules.get("hls4ml")
    if module is None or _hls4ml_loaded():
        install()
    elif type(module) is types.ModuleType:
        module.__class__ = _WatchedHls4ml


def _hls4ml_loaded() -> bool:
    module = sys.modules.get("hls4ml")
    converters = sys.modules.get("hls4ml.converters")
    return (module is not None and getattr(module, "converters", None) is converters is not None
            and hasattr(converters, "convert_from_keras_model") and hasattr(module, "utils"))


class _WatchedHls4ml(types.ModuleType):
    """The ``hls4ml`` package while it imports itself: once ``converters`` is
    attached, wrap the entry points and become a plain module again."""

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if _hls4ml_loaded():
            self.__class__ = types.ModuleType
            install()


def _is_keras2_model(model) -> bool:
    return type(model).__module__.split(".")[0] == "tf_keras"


def _uses_our_layers(model) -> bool:
    try:
        return any(type(l).__name__ in OUR_LAYERS for l in getattr(model, "layers", []))
    except Exception:  # not a Keras model: hls4ml will say so
        return False


@contextlib.contextmanager
def keras2_parser(model=None):
    """While it runs, ``import keras`` inside hls4ml gives ``tf_keras`` (for a
    Keras 2 model, or for any model when ``model`` is None), so hls4ml takes
    its Keras-2 parser; nothing else changes."""
    tf_keras = sys.modules.get("tf_keras")
    saved = sys.modules.get("keras")
    swap = (tf_keras is not None and saved is not tf_keras and (model is None or _is_keras2_model(model))
            and str(getattr(saved, "__version__", "3")) >= "3")
    if not swap:
        yield
        return
    sys.modules["keras"] = tf_keras
    try:
        yield
    finally:
        if saved is None:
            sys.modules.pop("keras", None)
        else:
            sys.modules["keras"] = saved


# the hls_config keys an FDHTLSTM / HTDense reads (LayerName or LayerType entries)
OUR_CONFIG_KEYS = ("Precision", "ReuseFactor", "Strategy", "Trace", "InputRange", "TableSize", "Lanes",
                   "StreamWidth", "StageLanes", "CoreWidth", "FracBits")


def _check_convertible(model, hls_config) -> None:
    """Before hls4ml parses a model that uses our layers: every layer has a
    converter, and the config entries of our layers hold only keys they read.
    Raises ConfigError with one line naming the layer and what to change."""
    import difflib

    from keras_model.common.errors import ConfigError

    try:
        from hls4ml.converters.keras_v2_to_hls import get_supported_keras_layers

        supported = set(get_supported_keras_layers()) | {"InputLayer"}
    except Exception:  # another hls4ml layout: let hls4ml speak for itself
        supported = None
    if supported is not None and _is_keras2_model(model):
        for layer in model.layers:
            cls = type(layer).__name__
            if cls not in supported:
                raise ConfigError(
                    f"layer '{layer.name}' ({cls}) cannot be converted: hls4ml has no converter for {cls}; "
                    f"replace it with a supported layer (e.g. Dense, Activation, Flatten, Reshape) or drop it "
                    f"before conversion")
    if not isinstance(hls_config, dict):
        return
    ours = {l.name: type(l).__name__ for l in model.layers if type(l).__name__ in OUR_LAYERS}
    entries = [(f"LayerName '{n}'", ours.get(n), c) for n, c in (hls_config.get("LayerName") or {}).items()]
    entries += [(f"LayerType '{n}'", n if n in OUR_LAYERS else None, c)
                for n, c in (hls_config.get("LayerType") or {}).items()]
    for where, cls, conf in entries:
        if cls is None or not isinstance(conf, dict):
            continue
        for key in conf:
            if key not in OUR_CONFIG_KEYS:
                close = difflib.get_close_matches(str(key), OUR_CONFIG_KEYS, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise ConfigError(f"hls_config {where}: unknown key '{key}' for an {cls} layer; {hint}"
                                  f"its keys are {', '.join(OUR_CONFIG_KEYS)}")


def _wrap(func):
    if getattr(func, _MARK, False):
        return func

    @functools.wraps(func)
    def wrapper(model, *args, **kwargs):
        if _uses_our_layers(model):
            from .extension import register as register_layers

            register_layers()
            _check_convertible(model, kwargs.get("hls_config"))
        with keras2_parser(model):
            return func(model, *args, **kwargs)

    setattr(wrapper, _MARK, True)
    return wrapper


def install() -> None:
    """Wrap hls4ml's two Keras entry points (idempotent)."""
    import hls4ml.converters
    import hls4ml.utils
    import hls4ml.utils.config

    hls4ml.converters.convert_from_keras_model = _wrap(hls4ml.converters.convert_from_keras_model)
    wrapped = _wrap(hls4ml.utils.config.config_from_keras_model)
    hls4ml.utils.config.config_from_keras_model = wrapped
    hls4ml.utils.config_from_keras_model = wrapped
