"""Keras model -> hls4ml model with our extension: the hls4ml config from the
``hls:`` section and the conversion. Used by the flow and by the vendor
step (which converts again to call hls4ml's ``build()``); imports nothing
else of the flow, so the modules depend on it one way.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

import numpy as np

from keras_model.common.errors import ConfigError
from keras_model.common.logs import chatter

from hls_project.numerics.precision import logits_type, softmax_inv_input_type


def hls_config(model, cfg: Dict[str, Any], input_range: float,
               dense_ranges: Optional[Dict[str, float]] = None) -> Dict[str, Any]:
    """hls4ml config (granularity 'name') from the ``hls:`` section."""
    import hls4ml

    from keras_model.models import is_softmax_activation

    from hls_project.ext import register

    register()
    h = cfg["hls"]
    with chatter("hls4ml"):
        hc = hls4ml.utils.config_from_keras_model(model, granularity="name", default_precision=h["precision"],
                                                  default_reuse_factor=int(h["reuse_factor"]), backend=h["backend"])
    if h.get("pipeline_style") and h["pipeline_style"] != "auto":
        # 'pipeline' on the top function would fully unroll every loop below
        # it (the time loop and all HT stages); dataflow keeps the loops.
        hc["Model"]["PipelineStyle"] = h["pipeline_style"]
    for name, lc in hc["LayerName"].items():
        prec = lc.setdefault("Precision", {})
        if isinstance(prec, dict):
            for k, v in list(prec.items()):
                if v == "auto" and k in ("result",):
                    prec[k] = h["precision"]
        layer = model.get_layer(name) if name in [l.name for l in model.layers] else None
        cls = type(layer).__name__ if layer is not None else ""
        if cls in ("FDHTLSTM", "HTDense"):
            lc["InputRange"] = float(input_range)
            lc["TableSize"] = int(h["table_size"])
            lc["Lanes"] = int(h["lanes"])
            if h.get("stream_width"):
                lc["StreamWidth"] = int(h["stream_width"])
            if h.get("stage_lanes"):
                lc["StageLanes"] = {str(k): int(v) for k, v in h["stage_lanes"].items()}
            if h.get("state_precision"):
                prec["state"] = h["state_precision"]
            if h.get("accum_precision"):
                prec["accum"] = h["accum_precision"]
        if cls in ("Dense", "QDense"):
            # the classifier runs once per clip: a reuse factor of n_in leaves
            # one multiplier per output instead of n_in x n_out
            n_in = int(layer.input_shape[-1])
            reuse = n_in if h.get("classifier_reuse", "auto") == "auto" else int(h["classifier_reuse"])
            lc["ReuseFactor"] = reuse
            if reuse > 1:
                lc["Strategy"] = "Resource"
        if cls == "Dense" or name.endswith("_linear"):
            # 'auto' collapses the softmax; a too narrow type wraps the logits
            # (precision.logits_type). The stable softmax computes x_i - max(x)
            # in the input type, so it must also hold differences up to twice
            # the bound. (hls4ml appends '<dense>_linear' after a Dense: same range.)
            base = name[: -len("_linear")] if name.endswith("_linear") else name
            prec["result"] = logits_type(h["precision"], 2.0 * (dense_ranges or {}).get(base, 0.0))
        is_softmax = (layer is not None and is_softmax_activation(layer)) \
            or name == "softmax" or name.endswith("_softmax")  # hls4ml names a Dense's split-off softmax so
        if is_softmax:
            # hls.output class: hls4ml's argmax (a one-hot vector, no tables)
            lc["Implementation"] = "argmax" if h.get("output") == "class" else "stable"
            # the 1/sum(exp) table's input type (precision.softmax_inv_input_type);
            # a layer-level *_t key sets the type
            lc["inv_inp_t"] = softmax_inv_input_type(int(model.output_shape[-1]))
    for name, override in (h.get("layers") or {}).items():
        if name not in hc["LayerName"]:
            raise ConfigError(f"hls.layers.{name}: no such layer; layers are {', '.join(hc['LayerName'])}")
        if not isinstance(override, dict):
            raise ConfigError(f"hls.layers.{name}: expected a mapping like {{Precision: {{core_u1: ap_fixed<8,1>}}}}")
        for k, v in override.items():
            if k == "Precision" and isinstance(v, dict):
                hc["LayerName"][name].setdefault("Precision", {}).update(v)
            else:
                hc["LayerName"][name][k] = v
    return hc


def convert(model, cfg, out_dir, x_tb=None, y_tb=None, input_range=1.0, dense_ranges=None):
    import hls4ml

    from hls_project.ext import register

    register()
    h = cfg["hls"]
    hc = hls_config(model, cfg, input_range, dense_ranges)
    kwargs = {}
    if x_tb is not None:
        np.save(os.path.join(out_dir, "tb_input.npy"), x_tb)
        np.save(os.path.join(out_dir, "tb_output.npy"), y_tb)
        kwargs = dict(input_data_tb=os.path.join(out_dir, "tb_input.npy"),
                      output_data_tb=os.path.join(out_dir, "tb_output.npy"))
    if h["backend"] == "VivadoAccelerator":  # the board fixes the part
        kwargs.update(board=h.get("board") or "pynq-z2", interface=h.get("interface") or "axi_stream")
    else:
        kwargs["part"] = h["part"]
    with chatter("hls4ml"):
        hm = hls4ml.converters.convert_from_keras_model(
            model, hls_config=hc, output_dir=out_dir, project_name=h["project_name"], backend=h["backend"],
            clock_period=h["clock_period"], io_type=h["io_type"], **kwargs)
    if h["backend"] == "VivadoAccelerator":
        h["part"] = board_part(kwargs["board"])  # reports judge the board's device
    return hm


def board_part(board: str) -> str:
    """The FPGA part of a VivadoAccelerator board, from hls4ml's own board table."""
    import json

    import hls4ml.backends.vivado_accelerator as acc

    with open(os.path.join(os.path.dirname(acc.__file__), "supported_boards.json")) as f:
        return json.load(f)[board]["part"]


def hardware_model(model, output: str):
    """The Keras model the hardware implements for ``hls.output``: the model
    itself (probabilities, or class: the same model, hls4ml's argmax softmax),
    or for logits the model up to its final softmax."""
    if output != "logits":
        return model
    from keras_model.common.keras2 import keras
    from keras_model.models import is_softmax_activation

    last = model.layers[-1]
    if is_softmax_activation(last):
        return keras.Model(model.inputs, last.input, name=f"{model.name}_logits")
    raise ConfigError(f"hls.output: logits needs a model ending in a softmax Activation layer; "
                      f"'{last.name}' ({type(last).__name__}) is last; use hls.output: probabilities")
