"""hls4ml config and function-call templates of our layers: the config is
hls4ml's ``activ_config`` structs of the gate tables plus the layer's
accelerator struct (``node.accel_code``); the call is
``nnet::fdht_lstm_stream`` / ``_array`` (``nnet::ht_dense_...``) from
``nnet_ht_stream.h``. Importing this module imports hls4ml."""

from __future__ import annotations

import re

from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

from keras_model.common.errors import ConfigError
from keras_model.common.fixedtype import precision_str
from hls_project.ext.ir import FDHTLSTM, HTDense
from hls_project.ext.node import accel_code

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_ident(name: str, what: str) -> str:
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ConfigError(f"{what} must be a C++ identifier, got {name!r}")
    return name


def _check_type(name: str, what: str) -> str:
    if not isinstance(name, str) or not name.strip() or ";" in name or "{" in name:
        raise ConfigError(f"{what} must be a C++ type name such as 'ap_fixed<16,6>', got {name!r}")
    return name.strip()


def _knob(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def activation_config(name: str, n_in: int, table_t: str = "ap_fixed<18,8>", table_size: int = 1024,
                      reuse_factor: int = 1) -> str:
    """C++ ``struct {name} : nnet::activ_config`` for hls4ml's table activations."""
    return (
        f"struct {_check_ident(name, 'activation config name')} : nnet::activ_config {{\n"
        f"    static const unsigned n_in = {_knob(n_in, 'n_in')};\n"
        f"    static const unsigned table_size = {_knob(table_size, 'table_size')};\n"
        "    static const unsigned io_type = nnet::io_parallel;\n"
        f"    static const unsigned reuse_factor = {_knob(reuse_factor, 'reuse_factor')};\n"
        f"    typedef {_check_type(table_t, 'table_t')} table_t;\n"
        "};\n"
    )


class FDHTLSTMConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(FDHTLSTM)

    def format(self, node):
        prefix = f"config{node.index}"
        if node.get_attr("cell_activation") != "tanh" or node.get_attr("cell_recurrent_activation") != "sigmoid":
            raise ConfigError(f"layer {node.name}: the FDHT-LSTM kernel implements activation tanh and "
                              "recurrent_activation sigmoid only")
        h = node.get_attr("n_out")
        table_t = node.get_attr("table_t").precision
        act = activation_config(f"{prefix}_act", h, precision_str(table_t),
                                        node.get_attr("table_size", 1024), 1)
        recr = activation_config(f"{prefix}_recr_act", h, precision_str(table_t),
                                         node.get_attr("table_size", 1024), 1)
        return act + "\n" + recr + "\n" + accel_code(node, prefix)


class _HTFunctionTemplate(FunctionCallTemplate):
    """``nnet::<kernel>_stream`` (io_stream) or ``nnet::<kernel>_array`` (io_parallel)."""

    kernel = None

    def __init__(self):
        super().__init__(self.layer, include_header=["nnet_utils/nnet_ht_stream.h"])

    def format(self, node):
        p = self._default_function_params(node)
        kind = "stream" if node.is_stream() else "array"
        return (f"nnet::{self.kernel}_{kind}<{p['input_t']}, {p['output_t']}, {p['config']}>"
                f"({p['input']}, {p['output']});")


class FDHTLSTMFunctionTemplate(_HTFunctionTemplate):
    layer, kernel = FDHTLSTM, "fdht_lstm"


class HTDenseConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(HTDense)

    def format(self, node):
        return accel_code(node, f"config{node.index}")


class HTDenseFunctionTemplate(_HTFunctionTemplate):
    layer, kernel = HTDense, "ht_dense"


TEMPLATES = (FDHTLSTMConfigTemplate, FDHTLSTMFunctionTemplate, HTDenseConfigTemplate, HTDenseFunctionTemplate)
