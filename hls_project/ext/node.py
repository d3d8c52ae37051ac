"""What an IR node of ours knows, without importing hls4ml: the HT shape,
one weight variable per core + the bias (precision: the config's, else the
QKeras quantizer's, else derived), the accelerator schedule
(``accel.schedule``), the constant tables and the derived stage types
(:func:`accel_types`), and the config struct the C++ gets
(:func:`accel_code`, written by ``accel.writer``)."""

from __future__ import annotations

import numpy as np

from keras_model import ht
from keras_model.common.fixedtype import canonical, fixed_type, int_bits_for, parse_fixed, precision_str
from hls_project.accel import schedule, writer
from hls_project.numerics import precision
from hls_project.numerics.precision import derive_stage_types


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


def stream_width(node) -> int:
    """The configured values per input word; 0 (the default) picks the
    largest divisor of the values per step up to 16."""
    k = int(node.get_attr("stream_width", 0) or 0)
    if k:
        return k
    n = int(node.get_attr("n_in"))
    return max(d for d in range(1, 17) if n % d == 0)
