"""Registration of our layers with hls4ml (idempotent): the Keras-2
handlers (``parsers``), the IR layers (``ir``), their templates
(``templates``), the io_stream input pass (``passes``) and our C++ headers,
for the Vivado and Vitis backends."""

from __future__ import annotations

import os

from hls_project.ext.parsers import parse_fdhtlstm, parse_htdense


def _template_dir() -> str:
    """Our C++ headers: ``hls_project/templates`` in an installed package (``pip
    install .`` puts ``templates/`` there), else ``templates/`` of the checkout."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    installed = os.path.join(package, "templates")
    if os.path.isfile(os.path.join(installed, "nnet_ht_stream.h")):
        return installed
    return os.path.join(os.path.dirname(package), "templates")


TEMPLATE_DIR = _template_dir()
HEADERS = ("nnet_ht_fast.h", "nnet_ht_probe.h", "nnet_ht_stream.h")
BACKENDS = ("Vivado", "Vitis", "VivadoAccelerator")  # the last wraps a Vivado design for a board


def register_layers():
    """Register handlers, IR layers, templates, the pass and the headers.

    Safe to call many times: hls4ml's own registries are checked before each
    registration, since hls4ml raises on a second one. Returns the IR
    classes (``FDHTLSTM``, ``HTDense``)."""
    from hls4ml.backends import get_backend
    from hls4ml.converters import get_supported_keras_layers, register_keras_v2_layer_handler
    from hls4ml.model.layers import register_layer
    from hls4ml.model.optimizer import get_available_passes

    from hls_project.ext.ir import FDHTLSTM, HTDense
    from hls_project.ext.passes import HTStreamInput
    from hls_project.ext.templates import TEMPLATES

    register_layer("FDHTLSTM", FDHTLSTM)
    register_layer("HTDense", HTDense)
    supported = get_supported_keras_layers()
    if "FDHTLSTM" not in supported:
        register_keras_v2_layer_handler("FDHTLSTM", parse_fdhtlstm)
    if "HTDense" not in supported:
        register_keras_v2_layer_handler("HTDense", parse_htdense)
    available = set(get_available_passes())
    if "vivado:ht_stream_input" not in available:
        # Vitis runs Vivado's streaming flow, so one registration serves both
        get_backend("Vivado").register_pass("ht_stream_input", HTStreamInput, flow="vivado:streaming")
    for backend_name in BACKENDS:
        backend = get_backend(backend_name)
        for tcls in TEMPLATES:
            if f"{backend.name.lower()}:{tcls().get_name()}" not in available:
                backend.register_template(tcls)
        for header in HEADERS:
            backend.register_source(os.path.join(TEMPLATE_DIR, header))
    return FDHTLSTM, HTDense
