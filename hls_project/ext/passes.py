"""The io_stream input pass of our layers. Importing this module imports hls4ml."""

from __future__ import annotations

import numpy as np
from hls4ml.model.optimizer import OptimizerPass

from keras_model.common.errors import ConfigError
from hls_project.ext.node import stream_width


class HTStreamInput(OptimizerPass):
    """io_stream: when an HT layer reads the model input (directly or
    through a Reshape/Flatten), the input becomes a stream of words of
    ``stream_width`` values in C order and the reshape disappears: the
    first contraction stage consumes the words as they arrive, so no
    frame is ever repacked into one wide word."""

    def _source(self, node):
        prev = node.get_input_node()
        if prev is not None and prev.class_name in ("Reshape", "Repack", "Flatten"):
            return prev, prev.get_input_node()
        return None, prev

    def match(self, node):
        if node.class_name not in ("FDHTLSTM", "HTDense"):
            return False
        if node.model.config.get_config_value("IOType") != "io_stream":
            return False
        between, src = self._source(node)
        if src is None or src.class_name not in ("Input", "InputLayer"):
            return False
        k = stream_width(node)
        var = src.get_output_variable()
        total = int(np.prod(var.shape))
        return between is not None or list(var.shape) != [total // k, k]

    def transform(self, model, node):
        between, src = self._source(node)
        var = src.get_output_variable()
        total = int(np.prod(var.shape))
        k = stream_width(node)
        per_step = node.get_attr("n_in")
        if per_step % k:
            raise ConfigError(f"layer {node.name}: hls.stream_width {k} does not divide the {per_step} input "
                              f"values per step; choose a divisor of {per_step}")
        src.add_output_variable([total // k, k], var_name=src.name, type_name=var.type.name,
                                precision=var.type.precision)
        if between is not None:
            model.remove_node(between)
        return True
