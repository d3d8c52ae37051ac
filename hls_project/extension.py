"""hls4ml 1.3.0 extension for our HT layers: Keras-2 parsers, IR layers,
config/function templates and the C++ headers, for the Vivado and Vitis
backends. ``register()`` is idempotent.

Data flow: Keras layer config + weights -> handler dict (modes, ranks, one
``core_<node>_data`` per HT core, bias, quantizers) -> IR layer (one weight
variable per core, each with its own precision) -> ``codegen`` (stage
configs and product functor from ``keras_model.ht``'s plan) -> call site
``nnet::fdht_lstm<...>(x, y, configN_ht(cores...), bN)``.

Precision of every core and the bias: its QKeras quantizer when the layer has
one (as hls4ml does for QDense), else the hls config's ``core_<node>`` /
``bias`` entry, else the layer default. Intermediate and accumulator widths
are derived so that they cannot overflow (``precision.py``) unless the config
names ``inter``/``accum``.
"""

from __future__ import annotations

import os

import numpy as np

from keras_model import ht
from keras_model.common.fixedtype import canonical
from keras_model.common.errors import ConfigError
from keras_model.layers import CORE_PREFIX

from . import codegen
from .accel import schedule
from .accel import writer
from . import precision
from .precision import derive_stage_types, fixed_type, int_bits_for, parse_fixed, precision_str

def _template_dir() -> str:
    """Our C++ headers: ``hls_project/templates`` in an installed package (``pip
    install .`` puts ``templates/`` there), else ``templates/`` of the checkout."""
    here = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.join(here, "templates")
    return installed if os.path.isfile(os.path.join(installed, "nnet_ht_stream.h")) else os.path.join(os.path.dirname(here), "templates")


TEMPLATE_DIR = _template_dir()
HEADERS = ("nnet_ht_fast.h", "nnet_ht_probe.h", "nnet_ht_stream.h")
BACKENDS = ("Vivado", "Vitis", "VivadoAccelerator")  # the last wraps a Vivado design for a board

_ACTIVATIONS = {"tanh": "tanh", "sigmoid": "sigmoid", "quantized_tanh": "tanh", "quantized_sigmoid": "sigmoid"}


# --------------------------------------------------------------------------
# Keras-2 handlers
# --------------------------------------------------------------------------


def _activation_name(act, what: str) -> str:
    """hls4ml table name of a Keras or QKeras activation config."""
    if isinstance(act, dict):
        name, cfg = act.get("class_name"), act.get("config", {})
        if name == "quantized_tanh" and not cfg.get("use_real_tanh", False):
            raise ConfigError(f"{what}: hard quantized_tanh is not supported by hls4ml; use quantized_tanh(..., use_real_tanh=True)")
        if name == "quantized_sigmoid" and not cfg.get("use_real_sigmoid", False):
            raise ConfigError(f"{what}: hard quantized_sigmoid is not supported by hls4ml; use use_real_sigmoid=True")
    else:
        name = act
    if name not in _ACTIVATIONS:
        raise ConfigError(f"{what}: activation {name!r} is not supported by the FDHT kernel; use tanh or sigmoid")
    return _ACTIVATIONS[name]


def _activation_grid(act):
    """(bits, symmetric) of a QKeras quantized_tanh / quantized_sigmoid config:
    its outputs lie on the grid 2^-(bits-1) (tanh) / 2^-bits (sigmoid); (0,
    False) for a float activation."""
    if isinstance(act, dict) and act.get("class_name") in ("quantized_tanh", "quantized_sigmoid"):
        cfg = act.get("config", {})
        return int(cfg.get("bits", 8)), bool(cfg.get("symmetric", False))
    return 0, False


def _quantizer(cfg, key):
    q = cfg.get(key)
    if not q:
        return None
    from hls4ml.model.quantizers import QKerasQuantizer

    return QKerasQuantizer(q)


def _ht_shape_from_config(cfg, in_features, out_features) -> ht.HTShape:
    from keras_model.layers import resolve_modes

    return resolve_modes(cfg.get("input_modes"), cfg.get("output_modes"), cfg.get("ranks"), in_features,
                         out_features, int(cfg.get("d", 4)))


def _read_cores(layer, shape, data_reader):
    from hls4ml.converters.keras_v2_to_hls import get_weights_data

    for node in shape.nodes:
        # the ':' ends the name, so core_u1 never matches core_u12
        data = get_weights_data(data_reader, layer["name"], CORE_PREFIX + node.name + ":")
        if data is None:
            raise ConfigError(f"layer {layer['name']}: weight {CORE_PREFIX + node.name} not found in the model")
        if tuple(data.shape) != shape.core_shape(node):
            raise ConfigError(f"layer {layer['name']}: core {node.name} has shape {data.shape}, "
                              f"the HT shape expects {shape.core_shape(node)}")
        layer[f"core_{node.name}_data"] = np.asarray(data)


def _common(keras_layer, input_names, shape, data_reader, kind):
    cfg = keras_layer["config"]
    layer = {"name": cfg["name"]}
    if input_names is not None:  # a Sequential model gives none: hls4ml chains the layers itself
        layer["inputs"] = input_names
    layer.update({
        "class_name": kind,
        "input_modes": list(shape.input_modes),
        "output_modes": list(shape.output_modes),
        "ranks": dict(shape.ranks),
        "ht_in_features": shape.in_features,
        "core_names": list(shape.core_names),
        "weight_quantizer": _quantizer(cfg, "kernel_quantizer"),
        "bias_quantizer": _quantizer(cfg, "bias_quantizer"),
    })
    _read_cores(layer, shape, data_reader)
    return layer


def parse_fdhtlstm(keras_layer, input_names, input_shapes, data_reader):
    from hls4ml.converters.keras_v2_to_hls import get_weights_data

    cfg = keras_layer["config"]
    if cfg.get("return_state") or cfg.get("go_backwards") or cfg.get("stateful"):
        raise ConfigError(f"layer {cfg['name']}: return_state, go_backwards and stateful are not supported")
    n_timesteps, n_in = int(input_shapes[0][1]), int(input_shapes[0][2])
    units = int(cfg["units"])
    shape = _ht_shape_from_config(cfg, n_in + units, 4 * units)
    layer = _common(keras_layer, input_names, shape, data_reader, "FDHTLSTM")
    layer.update(
        n_timesteps=n_timesteps, n_in=n_in, n_out=units,
        return_sequences=bool(cfg.get("return_sequences", False)),
        cell_activation=_activation_name(cfg.get("activation", "tanh"), f"layer {cfg['name']} activation"),
        cell_recurrent_activation=_activation_name(cfg.get("recurrent_activation", "sigmoid"),
                                                   f"layer {cfg['name']} recurrent_activation"),
    )
    layer["act_bits"], layer["act_symmetric"] = _activation_grid(cfg.get("activation"))
    layer["recr_act_bits"], layer["recr_act_symmetric"] = _activation_grid(cfg.get("recurrent_activation"))
    bias = get_weights_data(data_reader, layer["name"], "bias:") if cfg.get("use_bias", True) else None
    layer["bias_data"] = np.zeros(4 * units) if bias is None else np.asarray(bias)
    if layer["return_sequences"]:
        out_shape = [input_shapes[0][0], n_timesteps, units]
    else:
        out_shape = [input_shapes[0][0], units]
    return layer, out_shape


def parse_htdense(keras_layer, input_names, input_shapes, data_reader):
    from hls4ml.converters.keras_v2_to_hls import get_weights_data

    cfg = keras_layer["config"]
    if len(input_shapes[0]) != 2:
        raise ConfigError(f"layer {cfg['name']}: HTDense in hls4ml takes a flat input, got shape {input_shapes[0][1:]}")
    if cfg.get("activation") not in (None, "linear"):
        raise ConfigError(f"layer {cfg['name']}: put the activation of HTDense in its own Activation layer")
    n_in = int(input_shapes[0][1])
    units = int(cfg["units"])
    shape = _ht_shape_from_config(cfg, n_in, units)
    layer = _common(keras_layer, input_names, shape, data_reader, "HTDense")
    layer.update(n_in=n_in, n_out=units, use_bias=bool(cfg.get("use_bias", True)))
    bias = get_weights_data(data_reader, layer["name"], "bias:") if layer["use_bias"] else None
    layer["bias_data"] = np.zeros(units) if bias is None else np.asarray(bias)
    return layer, [input_shapes[0][0], units]


# --------------------------------------------------------------------------
# IR layers
# --------------------------------------------------------------------------


class HTLayerMixin:
    """Shared by both IR layers: one weight variable per core + the bias,
    and the derived stage types."""

    def ht_shape(self) -> ht.HTShape:
        if getattr(self, "_ht_shape", None) is None:
            self._ht_shape = ht.make_shape(self.get_attr("input_modes"), self.get_attr("output_modes"),
                                           self.get_attr("ranks"), in_features=self.get_attr("ht_in_features"))
        return self._ht_shape

    def _given(self, var):
        """The hls config's precision for ``var`` of this layer, unless absent
        or 'auto', in the C++ spelling (hls4ml's configs say 'fixed<16,6>')."""
        value = self.model.config.layer_name_precision.get(f"{self.name.lower()}_{var}")
        if value is None or str(value).strip().lower() == "auto":
            return None
        try:
            return canonical(value)
        except ValueError:  # not a fixed-point type (e.g. 'float'): hls4ml judges it
            return value

    def _width(self) -> int:
        """Width of the derived core and table types: ``CoreWidth`` if the
        config gives it, else the layer's default type's."""
        cw = self.get_attr("core_width")
        return int(cw) if cw else parse_fixed(self._default_precision())[0]

    def _weight_precision(self, var, data, fallback_var=None):
        """Explicit config precision, else the default width with just
        enough integer bits for the largest |weight| (more fraction bits
        for small cores than a blanket ap_fixed<16,6>)."""
        given = self._given(var) or (self._given(fallback_var) if fallback_var else None)
        if given is not None:
            return self.model.config.backend.convert_precision_string(given)
        bound = float(np.max(np.abs(data))) if np.size(data) else 0.0
        integer = int_bits_for(bound)
        return self.model.config.backend.convert_precision_string(
            fixed_type(integer, max(self._width() - integer, 1), rounding=False))

    def _add_weight(self, var, var_name, quantizer, fallback_var=None):
        """Precedence: a precision the hls config names for this variable,
        then the QKeras quantizer's type, then the derived default."""
        lname = self.name.lower()
        if quantizer is not None and not (self._given(var) or (fallback_var and self._given(fallback_var))):
            self.add_weights_variable(name=var, var_name=var_name, quantizer=quantizer)
            return
        prec = self._weight_precision(var, self.get_attr(var + "_data"), fallback_var)
        self.add_weights_variable(name=var, var_name=var_name, precision=prec, type_name=f"{lname}_{var}_t")

    def _add_cores_and_bias(self):
        for name in self.get_attr("core_names"):
            self._add_weight(f"core_{name}", f"core_{name}_{{index}}", self.get_attr("weight_quantizer"), "core")
        self._add_weight("bias", "b{index}", self.get_attr("bias_quantizer"))

    def core_values(self):
        """The cores as the C++ sees them (after quantization), by node name."""
        shapes = self.ht_shape().core_shapes
        return {n: np.asarray(self.get_weights(f"core_{n}").data).reshape(shapes[n])
                for n in self.get_attr("core_names")}

    def input_bound(self):
        return float(self.get_attr("input_range", 1.0))

    def _stage_types(self, input_bound, bias):
        """Per-step intermediate/accumulator C++ types: from the config
        (``inter``/``accum`` precision) when given, else derived with
        the default type's fraction bits (or the layer's ``FracBits``)."""
        shape = self.ht_shape()
        frac = self.get_attr("frac_bits")
        if frac is None:
            width, integer, _ = parse_fixed(self._default_precision())
            frac = width - integer
        derived = derive_stage_types(shape, self.core_values(), input_bound, int(frac), bias=bias)
        inter, accum = self._given("inter"), self._given("accum")
        if inter:
            derived["inter"] = [inter] * len(shape.plan.steps)
        if accum:
            derived["accum"] = [accum] * len(shape.plan.steps)
            derived["out"] = accum
        return derived

    def is_stream(self) -> bool:
        return self.model.config.get_config_value("IOType") == "io_stream"

    def word_width(self) -> int:
        """Values per input word: the input stream's word (io_stream), else ``stream_width``."""
        if self.is_stream():
            return int(self.get_input_variable().shape[-1])
        return stream_width(self)

    def out_width(self) -> int:
        return int(self.get_output_variable().shape[-1]) if self.is_stream() else self.get_attr("n_out")

    def schedule(self) -> "schedule.Schedule":
        """The accelerator schedule (lanes, banks) of this layer."""
        if getattr(self, "_schedule", None) is None:
            lstm = self.class_name == "FDHTLSTM"
            self._schedule = schedule.build(
                self.ht_shape(), self.get_attr("n_in"), self.get_attr("n_timesteps") if lstm else 1,
                "lstm" if lstm else "dense", self.word_width(), int(self.get_attr("lanes", 16)),
                self.get_attr("stage_lanes") or None, out_width=self.out_width(), what=f"layer {self.name}",
                return_sequences=bool(self.get_attr("return_sequences", False)) if lstm else False)
        return self._schedule

    def tables(self):
        """(values, C++ type) of every constant operand, quantized as the C++ stores it."""
        shape = self.ht_shape()
        cores = self.core_values()
        raw = ht.constant_tables(cores, shape)
        width = self._width()
        out = {}
        for name, values in raw.items():
            if name in cores:
                t = precision_str(self.get_weights(f"core_{name}").type.precision)
            else:
                t = writer.table_type(values, width)
            out[name] = (writer.quantize(values, t), t)
        return out

    def frac(self) -> int:
        frac = self.get_attr("frac_bits")
        if frac is None:
            width, integer, _ = parse_fixed(self._default_precision())
            frac = width - integer
        return int(frac)

    def chain_types(self, steps, tables, v_bound):
        st = precision.chain_stage_types(steps, {k: v for k, (v, _) in tables.items()}, v_bound, self.frac())
        inter, accum = self._given("inter"), self._given("accum")
        if inter:
            st["inter"] = [inter] * (len(steps) - 1) + [st["inter"][-1]]
        if accum:
            st["accum"] = [accum] * len(steps)
            st["inter"][-1] = accum
        return st

    def _set_types(self, defaults):
        """Type attributes from the hls config; 'auto' (what
        config_from_keras_model writes) falls back to ``defaults``."""
        from hls4ml.model.types import NamedType, UnspecifiedPrecisionType

        for name, fallback in defaults.items():
            self._set_type_t(name)
            t = self.get_attr(name + "_t")
            if t is None or isinstance(t.precision, UnspecifiedPrecisionType):
                prec = self.model.config.backend.convert_precision_string(fallback)
                self.set_attr(name + "_t", NamedType(f"{self.name.lower()}_{name}_t", prec))

    def _default_precision(self) -> str:
        """The layer's result precision, or the model default when 'auto'."""
        from hls4ml.model.types import UnspecifiedPrecisionType

        prec, _ = self.model.config.get_precision(self, "result")
        if isinstance(prec, UnspecifiedPrecisionType):
            # hls4ml's configs spell it 'fixed<16,6>'; ours 'ap_fixed<16,6>': the C++ spelling either way
            return canonical(str(self.model.config.model_precision.get("default", "ap_fixed<16,6>")))
        return precision_str(prec)


def _ir_classes():
    from hls4ml.model.attributes import Attribute, TypeAttribute, WeightAttribute
    from hls4ml.model.layers import Layer

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

    return FDHTLSTM, HTDense


# --------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------


def accel_types(node) -> dict:
    """Derived C++ types of the layer's chains (``x``, ``h``: per stage
    ``inter`` / ``accum`` / ``bounds``), of z (``z``), the quantized bias
    (``bias``, ``bias_t``) and the tables (``tables``: name -> (values, type))."""
    if getattr(node, "_accel_types", None) is not None:
        return node._accel_types
    shape = node.ht_shape()
    sched = node.schedule()
    tables = node.tables()
    lstm = sched.kind == "lstm"
    n_in = sched.n_in
    bound = np.zeros(shape.padded_in)
    bound[: shape.in_features] = np.broadcast_to(np.asarray(node.input_bound(), dtype=np.float64),
                                                 (shape.in_features,))
    x_pos = sched.x_box.flat_positions(shape.input_modes)
    xt = node.chain_types([st.cs for st in sched.x_stages], tables, np.where(x_pos < n_in, bound[x_pos], 0.0))
    bias_var = node.get_weights("bias")
    bias_t = precision_str(bias_var.type.precision)
    use_bias = node.get_attr("use_bias", True)
    bias = writer.quantize(np.asarray(bias_var.data, dtype=np.float64).reshape(-1), bias_t) if use_bias \
        else np.zeros(shape.out_features)
    z_bound = xt["bounds"][-1] + (float(np.max(np.abs(bias))) if np.size(bias) else 0.0)
    ht_ = None
    if lstm:
        h_pos = sched.h_box.flat_positions(shape.input_modes)
        inside = (h_pos >= n_in) & (h_pos < n_in + sched.n_state)
        ht_ = node.chain_types([st.cs for st in sched.h_stages], tables, np.where(inside, 1.0, 0.0))
        z_bound += ht_["bounds"][-1]
    frac = max(parse_fixed(xt["accum"][-1])[0] - parse_fixed(xt["accum"][-1])[1],
               parse_fixed(bias_t)[0] - parse_fixed(bias_t)[1])
    z_int = int_bits_for(z_bound)
    node._accel_types = {"x": xt, "h": ht_, "bias": bias, "bias_t": bias_t, "tables": tables,
                         # every sum of z exact: no rounding, cannot overflow
                         "z": f"ap_fixed<{z_int + frac},{z_int}>"}
    return node._accel_types


def accel_code(node, prefix: str) -> str:
    """The layer's config struct (``writer.layer_struct``) with its
    schedule, constant tables and derived types."""
    sched = node.schedule()
    lstm = sched.kind == "lstm"
    t = accel_types(node)
    xt, tables, bias, bias_t, zsum_t = t["x"], t["tables"], t["bias"], t["bias_t"], t["z"]
    h_types = writer.ChainTypes(t["h"]["accum"], t["h"]["inter"]) if lstm else None
    in_t = precision_str(node.get_input_variable().type.precision)
    # a core read directly keeps hls4ml's type name (defines.h), so a precision
    # set for it in the config is what the stage multiplies with
    cores = set(node.get_attr("core_names"))
    table_types = {name: (node.get_weights(f"core_{name}").type.name if name in cores else t)
                   for name, (_, t) in tables.items()}
    table_vals = {name: v for name, (v, _) in tables.items()}
    if lstm:
        h = sched.n_state
        extra = "\n".join([
            f"    static const unsigned n_timesteps = {node.get_attr('n_timesteps')};",
            f"    static const unsigned n_state = {h};",
            f"    static const bool return_sequences = {'true' if node.get_attr('return_sequences') else 'false'};",
            f"    typedef {node.get_attr('act_t').name} act_t;",
            f"    typedef {node.get_attr('state_t').name} state_t;",
            f"    typedef {node.get_attr('state_t').name} h_t;",
            f"    typedef {prefix}_act ACT_CONFIG_T;",
            f"    typedef {prefix}_recr_act ACT_CONFIG_RECR_T;",
            f"    typedef nnet::array<h_t, {h}> out_word_t;",
            "    // QKeras quantized activations: their grid (0: hls4ml's float tables)",
            f"    static const int act_bits = {int(node.get_attr('act_bits', 0))};",
            f"    static const bool act_symmetric = {'true' if node.get_attr('act_symmetric', False) else 'false'};",
            f"    static const int recr_act_bits = {int(node.get_attr('recr_act_bits', 0))};",
            f"    static const bool recr_act_symmetric = "
            f"{'true' if node.get_attr('recr_act_symmetric', False) else 'false'};",
        ])
        base = "fdht_accel_config"
        gates = writer.GateTables(int(node.get_attr("table_size", 1024)),
                                    precision_str(node.get_attr("table_t").precision),
                                    int(node.get_attr("act_bits", 0)), bool(node.get_attr("act_symmetric", False)),
                                    int(node.get_attr("recr_act_bits", 0)),
                                    bool(node.get_attr("recr_act_symmetric", False)))
    else:
        extra = f"    typedef nnet::array<z_t, {sched.out_width}> out_word_t;"
        base = "ht_accel_config"
        gates = None
    return writer.layer_struct(sched, prefix, base, table_vals, table_types,
                                 writer.ChainTypes(xt["accum"], xt["inter"]), h_types, in_t, bias, bias_t,
                                 zsum_t, extra, gates)


def _templates(FDHTLSTM, HTDense):
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

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
            act = codegen.activation_config(f"{prefix}_act", h, precision_str(table_t),
                                            node.get_attr("table_size", 1024), 1)
            recr = codegen.activation_config(f"{prefix}_recr_act", h, precision_str(table_t),
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

    return (FDHTLSTMConfigTemplate, FDHTLSTMFunctionTemplate, HTDenseConfigTemplate, HTDenseFunctionTemplate)


def stream_width(node) -> int:
    """The configured values per input word; 0 (the default) picks the
    largest divisor of the values per step up to 16."""
    k = int(node.get_attr("stream_width", 0) or 0)
    if k:
        return k
    n = int(node.get_attr("n_in"))
    return max(d for d in range(1, 17) if n % d == 0)


def _stream_input_pass():
    from hls4ml.model.optimizer import OptimizerPass

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

    return HTStreamInput


# --------------------------------------------------------------------------
# Registration (idempotent)
# --------------------------------------------------------------------------

_STATE = {}


def register():
    """Register handlers, IR layers, templates and headers with hls4ml.

    Safe to call many times: hls4ml's own registries (which survive module
    reloads) are checked before each registration, since hls4ml raises on a
    second registration. Also installs the plugin's wrappers of hls4ml's
    Keras entry points (``plugin.install``), so hls4ml's public functions work
    on our models whether or not hls4ml found the plugin."""
    from . import plugin

    plugin.install()
    from hls4ml.backends import get_backend
    from hls4ml.converters import get_supported_keras_layers, register_keras_v2_layer_handler
    from hls4ml.model.layers import layer_map, register_layer

    if "classes" not in _STATE:
        existing = layer_map.get("FDHTLSTM"), layer_map.get("HTDense")
        if existing[0] is not None and getattr(existing[0], "_fdht_extension", False):
            _STATE["classes"] = existing
        else:
            fd, hd = _ir_classes()
            fd._fdht_extension = hd._fdht_extension = True
            _STATE["classes"] = (fd, hd)
    FDHTLSTM, HTDense = _STATE["classes"]
    register_layer("FDHTLSTM", FDHTLSTM)
    register_layer("HTDense", HTDense)

    supported = get_supported_keras_layers()
    if "FDHTLSTM" not in supported:
        register_keras_v2_layer_handler("FDHTLSTM", parse_fdhtlstm)
    if "HTDense" not in supported:
        register_keras_v2_layer_handler("HTDense", parse_htdense)

    if "templates" not in _STATE:
        _STATE["templates"] = _templates(FDHTLSTM, HTDense)
    from hls4ml.model.optimizer import get_available_passes

    available = set(get_available_passes())
    if "stream_pass" not in _STATE:
        _STATE["stream_pass"] = _stream_input_pass()
    if "vivado:ht_stream_input" not in available:
        # Vitis runs Vivado's streaming flow, so one registration serves both
        get_backend("Vivado").register_pass("ht_stream_input", _STATE["stream_pass"], flow="vivado:streaming")
    for backend_name in BACKENDS:
        backend = get_backend(backend_name)
        for tcls in _STATE["templates"]:
            if f"{backend.name.lower()}:{tcls().get_name()}" not in available:
                backend.register_template(tcls)
        for header in HEADERS:
            backend.register_source(os.path.join(TEMPLATE_DIR, header))
    return FDHTLSTM, HTDense
