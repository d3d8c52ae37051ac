"""The hls4ml IR layers of ours, ``FDHTLSTM`` and ``HTDense``: their
attributes and output variables (the methods they share: ``node.HTLayerMixin``).
Importing this module imports hls4ml."""

from __future__ import annotations

import numpy as np
from hls4ml.model.attributes import Attribute, TypeAttribute, WeightAttribute
from hls4ml.model.layers import Layer

from keras_model.common.fixedtype import fixed_type, int_bits_for, parse_fixed
from hls_project.ext.node import HTLayerMixin


class _HTLayer(HTLayerMixin, Layer):
    """Shared by both IR layers (the methods: ``HTLayerMixin``)."""


class FDHTLSTM(_HTLayer):
    _expected_attributes = [
        Attribute("n_timesteps"),
        Attribute("n_in"),
        Attribute("n_out"),
        Attribute("return_sequences", value_type=bool, default=False),
        Attribute("cell_activation", value_type=str, default="tanh"),
        Attribute("cell_recurrent_activation", value_type=str, default="sigmoid"),
        Attribute("sum_unroll", value_type=int, default=1),
        Attribute("lanes", value_type=int, default=16),
        Attribute("stream_width", value_type=int, default=0),
        Attribute("table_size", value_type=int, default=1024),
        # QKeras quantized_tanh / quantized_sigmoid: their grid (0: float tables)
        Attribute("act_bits", value_type=int, default=0),
        Attribute("act_symmetric", value_type=bool, default=False),
        Attribute("recr_act_bits", value_type=int, default=0),
        Attribute("recr_act_symmetric", value_type=bool, default=False),
        WeightAttribute("bias"),
        TypeAttribute("bias"),
        TypeAttribute("state"),
        TypeAttribute("act"),
        TypeAttribute("concat"),
        TypeAttribute("table"),
        TypeAttribute("accum"),
    ]

    def initialize(self):
        if self.get_attr("return_sequences"):
            self.add_output_variable([self.get_attr("n_timesteps"), self.get_attr("n_out")])
        else:
            self.add_output_variable([self.get_attr("n_out")])
        self._add_cores_and_bias()
        # derived defaults (used when the config leaves these 'auto'):
        # v = [x ; h] within max(input_range, 1); gates within [-1, 1];
        # |c_t| <= |c_{t-1}| + 1, so |c| <= n_timesteps.
        w = parse_fixed(self._default_precision())[0]
        v_int = int_bits_for(max(float(self.get_attr("input_range", 1.0)), 1.0))
        c_int = int_bits_for(float(self.get_attr("n_timesteps")))
        # quantized activations: the tables and the gate values hold the
        # quantizer's grid exactly (sigmoid: 2^-bits, tanh: 2^-(bits-1))
        grid = max(self.get_attr("act_bits", 0) - 1, self.get_attr("recr_act_bits", 0))
        self._set_types({
            "concat": fixed_type(v_int, w - v_int),
            "act": fixed_type(2, max(w - 2, grid)),
            "state": fixed_type(c_int, max(w - c_int, 1)),
            "table": f"ap_fixed<{max(grid, 10) + 2},2>" if grid else "ap_fixed<18,8>",
        })

    def input_bound(self):
        # v = [x ; h]: x within the declared input range, |h| < 1
        n_in, h = self.get_attr("n_in"), self.get_attr("n_out")
        return np.concatenate([np.full(n_in, float(self.get_attr("input_range", 1.0))), np.ones(h)])


class HTDense(_HTLayer):
    _expected_attributes = [
        Attribute("n_in"),
        Attribute("n_out"),
        Attribute("use_bias", value_type=bool, default=True),
        Attribute("sum_unroll", value_type=int, default=1),
        Attribute("lanes", value_type=int, default=16),
        Attribute("stream_width", value_type=int, default=0),
        WeightAttribute("bias"),
        TypeAttribute("bias"),
        TypeAttribute("accum"),
    ]

    def initialize(self):
        self.add_output_variable([self.get_attr("n_out")])
        self._add_cores_and_bias()
