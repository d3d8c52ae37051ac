"""hls4ml plugin: our layers known to hls4ml's own public API, with no
``register()`` call in the user's code.

``pip install .`` declares the entry point ``fdht = hls_project.ext.plugin:register``
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
  layers they first register them (``registry.register_layers()``, idempotent),
  and for a Keras 2 (``tf_keras``) model they take hls4ml's Keras-2 path
  even when the installed ``keras`` package is Keras 3 (hls4ml 1.3.0 picks
  its parser from that package's version, not from the model; with
  TensorFlow >= 2.16 it is always Keras 3);
* the config ``config_from_keras_model`` returns for a model with our layers
  carries the two softmax settings the flow applies (:func:`apply_flow_settings`,
  at every granularity): stock hls4ml's ``auto`` Dense result type collapses
  a softmax to 1/classes, and its 1/sum(exp) table input gives probabilities
  in steps of 0.25. A model without our layers gets hls4ml's config unchanged.

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


def _softmax_layers(model):
    """(hls4ml layer name, classes) of every softmax of the model: an
    ``Activation``/``QActivation`` softmax keeps its name, a Dense with
    ``activation='softmax'`` becomes ``<name>`` + ``<name>_softmax`` in hls4ml."""
    from keras_model.models import activation_name, is_softmax_activation

    out = []
    for layer in model.layers:
        if is_softmax_activation(layer):
            out.append((layer.name, int(layer.output_shape[-1])))
        elif type(layer).__name__ in ("Dense", "QDense") and "softmax" in activation_name(layer):
            out.append((f"{layer.name}_softmax", int(layer.output_shape[-1])))
    return out


def apply_flow_settings(model, config: dict) -> dict:
    """Give an hls4ml config of a model with our layers the softmax settings
    the flow's own builds use (``hls_project.flow.convert``), at the granularity
    the config has, and return it (changed in place):

    * a Dense result type hls4ml left ``auto`` (and that of the linear
      activation hls4ml appends to a Dense, ``<name>_linear``) becomes the
      default precision's width with rounding and saturation
      (:func:`~hls_project.numerics.precision.logits_type`; without calibration data
      the default's integer bits), so the softmax's exp table is indexed
      over the logits' range;
    * every softmax gets the 1/sum(exp) table input type for its number of
      classes (:func:`~hls_project.numerics.precision.softmax_inv_input_type`) as the
      layer-level ``inv_inp_t`` key, the one hls4ml 1.3.0 reads (it ignores
      the ``Precision: inv_inp`` entry its own config function writes; that
      entry is set to the same type so the config reads true); with
      ``granularity='type'`` in ``LayerType: Softmax``, with ``'model'`` in a
      ``LayerType: Softmax`` entry added for it.

    Values a user sets afterwards win as usual; nothing else is touched."""
    from hls_project.numerics.precision import logits_type, softmax_inv_input_type

    softmaxes = _softmax_layers(model)
    model_cfg = config.setdefault("Model", {})
    precision = model_cfg.get("Precision")
    default = precision.get("default", "fixed<16,6>") if isinstance(precision, dict) else (precision or "fixed<16,6>")
    logits = logits_type(default)
    dense = {l.name for l in model.layers if type(l).__name__ in ("Dense", "QDense")}

    def fix_result(entry: dict) -> None:
        prec = entry.get("Precision")
        if isinstance(prec, dict) and prec.get("result") == "auto":
            prec["result"] = logits

    names = config.get("LayerName") or {}
    for name, entry in names.items():
        if isinstance(entry, dict) and (name in dense or (name.endswith("_linear") and name[:-7] in dense)):
            fix_result(entry)
    def set_inv_input(entry: dict, classes: int) -> None:
        entry["inv_inp_t"] = softmax_inv_input_type(classes)
        if isinstance(entry.get("Precision"), dict):
            entry["Precision"]["inv_inp"] = entry["inv_inp_t"]

    for name, classes in softmaxes:
        if isinstance(names.get(name), dict):
            set_inv_input(names[name], classes)
    types = config.get("LayerType") or {}
    for cls in ("Dense", "QDense"):
        if isinstance(types.get(cls), dict):
            fix_result(types[cls])
    if softmaxes and not names:  # granularity 'type' or 'model': one type for every softmax
        if not isinstance(types.get("Softmax"), dict):
            types = config.setdefault("LayerType", {})
            types["Softmax"] = {}
        set_inv_input(types["Softmax"], max(classes for _, classes in softmaxes))
    return config


def _wrap(func, settings=None):
    if getattr(func, _MARK, False):
        return func

    @functools.wraps(func)
    def wrapper(model, *args, **kwargs):
        ours = _uses_our_layers(model)
        if ours:
            from hls_project.ext.registry import register_layers

            register_layers()
            _check_convertible(model, kwargs.get("hls_config"))
        with keras2_parser(model):
            result = func(model, *args, **kwargs)
        if ours and settings is not None and isinstance(result, dict):
            settings(model, result)
        return result

    setattr(wrapper, _MARK, True)
    return wrapper


def install() -> None:
    """Wrap hls4ml's two Keras entry points (idempotent)."""
    import hls4ml.converters
    import hls4ml.utils
    import hls4ml.utils.config

    hls4ml.converters.convert_from_keras_model = _wrap(hls4ml.converters.convert_from_keras_model)
    wrapped = _wrap(hls4ml.utils.config.config_from_keras_model, apply_flow_settings)
    hls4ml.utils.config.config_from_keras_model = wrapped
    hls4ml.utils.config_from_keras_model = wrapped
