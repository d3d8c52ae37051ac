"""C++ configuration text for the HT kernels (templates/nnet_ht.h, nnet_fdht_lstm.h).

Pure Python: everything about shapes comes from ``keras_model.ht`` (the
layer's ``HTShape`` and its contraction plan); this module only formats it.

Per HT layer with prefix ``P`` (for example ``config5``) the generated code is

* one stage config ``P_s{k}`` per plan step ``t{k}`` (``nnet::ht_stage_config``:
  tensor sizes, ``accum_t``, the step's free and summed loops padded on the outer
  side to ``ht.MAX_FREE_LEVELS`` / ``ht.MAX_SUM_LEVELS``, ``reuse_factor``,
  ``sum_unroll``);
* the product functor ``P_ht``, which holds const references to the layer's
  cores (members named after the tree nodes, constructor arguments in
  ``shape.nodes`` order) and whose ``operator()(v, z)`` runs the stages in
  plan order through intermediate buffers ``t0, t1, ...``;
* the layer config ``P`` (``nnet::ht_dense_config`` or ``nnet::fdht_lstm_config``)
  and, for the LSTM, its two activation configs.

The call sites are then::

    nnet::ht_dense<input_t, layer5_t, config5>(x, y, config5_ht(u1_5, u2_5, ...), b5);
    nnet::fdht_lstm<input_t, layer5_t, config5>(x, y, config5_ht(u1_5, u2_5, ...), b5);

(:func:`product_call` writes the ``config5_ht(...)`` part.)
"""

from __future__ import annotations

import re
from typing import Dict, List, Mapping, Sequence, Union

from keras_model import ht
from keras_model.errors import ConfigError

TypeSpec = Union[str, Sequence[str]]
KnobSpec = Union[int, Sequence[int]]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _check_ident(name: str, what: str) -> str:
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ConfigError(f"{what} must be a C++ identifier, got {name!r}")
    return name


def _check_type(name: str, what: str) -> str:
    if not isinstance(name, str) or not name.strip() or ";" in name or "{" in name:
        raise ConfigError(f"{what} must be a C++ type name such as 'ap_fixed<16,6>', got {name!r}")
    return name.strip()


def _per_step(value, n_steps: int, what: str, check) -> list:
    """One value for every step: a scalar is repeated, a sequence must have one entry per step."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        values = [value] * n_steps
    else:
        values = list(value)
        if len(values) != n_steps:
            raise ConfigError(f"{what} has {len(values)} entries but the plan has {n_steps} steps; give one value or one per step")
    return [check(v) for v in values]


def _knob(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _cbool(value: bool) -> str:
    return "true" if value else "false"


def tensor_sizes(shape: ht.HTShape) -> Dict[str, int]:
    """Flat size (entries) of every tensor the plan touches: ``x`` (padded
    input), each core by node name (the root keeps its trailing 1), and each
    step output ``t{k}``."""
    sizes = {"x": shape.padded_in}
    for name, core_shape in shape.core_shapes.items():
        sizes[name] = int(core_shape[0] * core_shape[1] * core_shape[2])
    for step in shape.plan.steps:
        sizes[step.out] = step.out_size
    return sizes


def padded_loops(step: ht.Step) -> Dict[str, List[ht.Loop]]:
    """The step's free and summed loops padded on the OUTER side with
    ``Loop(1, 0, 0, 0)`` to exactly ``MAX_FREE_LEVELS`` / ``MAX_SUM_LEVELS``."""
    free, summed = list(step.free_loops), list(step.sum_loops)
    if len(free) > ht.MAX_FREE_LEVELS or len(summed) > ht.MAX_SUM_LEVELS:  # the planner already refuses these
        raise ConfigError(f"step {step.out} has {len(free)} free and {len(summed)} summed levels; the kernel has "
                          f"{ht.MAX_FREE_LEVELS} and {ht.MAX_SUM_LEVELS}")
    pad = ht.Loop(1, 0, 0, 0)
    return {
        "free": [pad] * (ht.MAX_FREE_LEVELS - len(free)) + free,
        "sum": [pad] * (ht.MAX_SUM_LEVELS - len(summed)) + summed,
    }


# --------------------------------------------------------------------------
# Stage configs
# --------------------------------------------------------------------------


def stage_name(prefix: str, k: int) -> str:
    return f"{prefix}_s{k}"


def functor_name(prefix: str) -> str:
    return f"{prefix}_ht"


def stage_config(
    shape: ht.HTShape, k: int, prefix: str, accum_t: str, reuse_factor: int = 1, sum_unroll: int = 1
) -> str:
    """C++ ``struct {prefix}_s{k} : nnet::ht_stage_config`` for plan step ``k``."""
    step = shape.plan.steps[k]
    sizes = tensor_sizes(shape)
    loops = padded_loops(step)
    lines = [
        f"struct {stage_name(prefix, k)} : nnet::ht_stage_config {{",
        f"    // {step.out}[{','.join(step.out_idx)}] = sum {step.a}[{','.join(step.a_idx)}] * "
        f"{step.b}[{','.join(step.b_idx)}]  ({step.macs} MACs)",
        f"    static const unsigned a_size = {sizes[step.a]};",
        f"    static const unsigned b_size = {sizes[step.b]};",
        f"    static const unsigned out_size = {step.out_size};",
        f"    typedef {_check_type(accum_t, 'accum_t')} accum_t;",
    ]
    for level, lp in enumerate(loops["free"]):
        lines.append(
            f"    static const unsigned f{level}_n = {lp.size}, f{level}_a = {lp.a_stride}, "
            f"f{level}_b = {lp.b_stride}, f{level}_o = {lp.out_stride};"
        )
    for level, lp in enumerate(loops["sum"]):
        lines.append(
            f"    static const unsigned s{level}_n = {lp.size}, s{level}_a = {lp.a_stride}, s{level}_b = {lp.b_stride};"
        )
    lines += [
        f"    static const unsigned reuse_factor = {_knob(reuse_factor, 'reuse_factor')};",
        f"    static const unsigned sum_unroll = {_knob(sum_unroll, 'sum_unroll')};",
        "};",
    ]
    return "\n".join(lines) + "\n"


def stage_configs(
    shape: ht.HTShape, prefix: str, accum_t: TypeSpec, reuse_factor: KnobSpec = 1, sum_unroll: KnobSpec = 1
) -> str:
    """All stage configs of a layer. ``accum_t``, ``reuse_factor`` and
    ``sum_unroll`` are one value for every stage or a list with one per step."""
    _check_ident(prefix, "prefix")
    n = len(shape.plan.steps)
    accums = _per_step(accum_t, n, "accum_t", lambda v: _check_type(v, "accum_t"))
    reuses = _per_step(reuse_factor, n, "reuse_factor", lambda v: _knob(v, "reuse_factor"))
    unrolls = _per_step(sum_unroll, n, "sum_unroll", lambda v: _knob(v, "sum_unroll"))
    return "\n".join(stage_config(shape, k, prefix, accums[k], reuses[k], unrolls[k]) for k in range(n))


# --------------------------------------------------------------------------
# The product functor
# --------------------------------------------------------------------------


def product_functor(shape: ht.HTShape, prefix: str, core_types: Mapping[str, str], inter_t: TypeSpec) -> str:
    """C++ ``struct {prefix}_ht``: const references to the cores and
    ``template <class in_T, class out_T> void operator()(const in_T v[N'], out_T z[M]) const``
    running ``nnet::ht_stage`` once per plan step, in order, with the step's
    operand order. ``core_types``: C++ element type of each core by node name;
    ``inter_t``: type of the intermediates ``t0..`` (one, or one per step; the
    last step's entry is unused since it writes ``z``)."""
    _check_ident(prefix, "prefix")
    steps = shape.plan.steps
    sizes = tensor_sizes(shape)
    missing = [n for n in shape.core_names if n not in core_types]
    if missing:
        raise ConfigError(f"core_types misses the core(s) {missing}; give a C++ type for each of {shape.core_names}")
    types = {n: _check_type(core_types[n], f"type of core {n}") for n in shape.core_names}
    inters = _per_step(inter_t, len(steps), "inter_t", lambda v: _check_type(v, "inter_t"))
    name = functor_name(prefix)

    lines = [f"struct {name} {{"]
    lines += [f"    const {types[n]} (&{n})[{sizes[n]}];" for n in shape.core_names]
    params = ", ".join(f"const {types[n]} (&{n}_)[{sizes[n]}]" for n in shape.core_names)
    inits = ", ".join(f"{n}({n}_)" for n in shape.core_names)
    lines.append(f"    {name}({params})")
    lines.append(f"        : {inits} {{}}")
    lines.append("")
    lines.append("    // z = W_padded v through the planned contraction stages")
    lines.append("    template <class in_T, class out_T>")
    lines.append(f"    void operator()(const in_T v[{shape.padded_in}], out_T z[{shape.out_features}]) const {{")
    lines.append("        #pragma HLS INLINE")
    for k, step in enumerate(steps[:-1]):
        lines.append(f"        {inters[k]} {step.out}[{step.out_size}];")

    def operand(tensor: str):
        if tensor == "x":
            return "in_T", "v"
        if tensor in types:
            return types[tensor], tensor
        return inters[int(tensor[1:])], tensor  # an earlier step's output t{k}

    for k, step in enumerate(steps):
        a_type, a_var = operand(step.a)
        b_type, b_var = operand(step.b)
        last = k == len(steps) - 1
        out_type, out_var = ("out_T", "z") if last else (inters[k], step.out)
        lines.append(
            f"        nnet::ht_stage<{a_type}, {b_type}, {out_type}, {stage_name(prefix, k)}>({a_var}, {b_var}, {out_var});"
        )
    lines.append("    }")
    lines.append("};")
    return "\n".join(lines) + "\n"


def product_call(shape: ht.HTShape, prefix: str, core_vars: Mapping[str, str]) -> str:
    """The functor construction for the call site, e.g. ``config5_ht(u1_5, u2_5, ...)``;
    ``core_vars``: C++ variable holding each core, by node name."""
    missing = [n for n in shape.core_names if n not in core_vars]
    if missing:
        raise ConfigError(f"core_vars misses the core(s) {missing}; give a C++ variable for each of {shape.core_names}")
    args = ", ".join(_check_ident(core_vars[n], f"variable of core {n}") for n in shape.core_names)
    return f"{functor_name(prefix)}({args})"


# --------------------------------------------------------------------------
# Layer configs
# --------------------------------------------------------------------------


def dense_config(
    shape: ht.HTShape,
    prefix: str,
    in_t: str,
    accum_t: str,
    bias_t: str,
    use_bias: bool = True,
    reuse_factor: int = 1,
) -> str:
    """C++ ``struct {prefix} : nnet::ht_dense_config`` for ``nnet::ht_dense``."""
    return (
        f"struct {_check_ident(prefix, 'prefix')} : nnet::ht_dense_config {{\n"
        f"    static const unsigned n_in = {shape.in_features};\n"
        f"    static const unsigned n_in_padded = {shape.padded_in};\n"
        f"    static const unsigned n_out = {shape.out_features};\n"
        f"    static const bool use_bias = {_cbool(use_bias)};\n"
        f"    static const unsigned reuse_factor = {_knob(reuse_factor, 'reuse_factor')};\n"
        f"    typedef {_check_type(in_t, 'in_t')} in_t;\n"
        f"    typedef {_check_type(accum_t, 'accum_t')} accum_t;\n"
        f"    typedef {_check_type(bias_t, 'bias_t')} bias_t;\n"
        "};\n"
    )


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


def lstm_n_state(shape: ht.HTShape, n_in: int) -> int:
    """Hidden size H of an FDHT-LSTM over ``shape`` (``prod(output_modes) = 4H``),
    checking that ``[x ; h]`` (``n_in + H`` values) is what the shape takes in."""
    if shape.out_features % 4:
        raise ConfigError(f"output_modes multiply to {shape.out_features}, not a multiple of 4 (the four gates)")
    n_state = shape.out_features // 4
    if shape.in_features != n_in + n_state:
        raise ConfigError(
            f"the HT shape takes {shape.in_features} inputs but [x ; h] has {n_in} + {n_state} = {n_in + n_state}"
        )
    return n_state


def lstm_config(
    shape: ht.HTShape,
    prefix: str,
    n_timesteps: int,
    n_in: int,
    return_sequences: bool,
    in_t: str,
    accum_t: str,
    bias_t: str,
    act_t: str,
    state_t: str,
    h_t: str,
    act_config: str,
    recr_act_config: str,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    reuse_factor: int = 1,
) -> str:
    """C++ ``struct {prefix} : nnet::fdht_lstm_config`` for ``nnet::fdht_lstm``.

    ``act_config`` / ``recr_act_config`` name the activation config structs
    (see :func:`activation_config`, ``n_in`` = H); ``activation`` and
    ``recurrent_activation`` name classes of ``nnet::activation``.
    """
    n_state = lstm_n_state(shape, n_in)
    return (
        f"struct {_check_ident(prefix, 'prefix')} : nnet::fdht_lstm_config {{\n"
        f"    static const unsigned n_timesteps = {_knob(n_timesteps, 'n_timesteps')};\n"
        f"    static const unsigned n_in = {n_in};\n"
        f"    static const unsigned n_state = {n_state};\n"
        f"    static const unsigned n_padded = {shape.padded_in};\n"
        f"    static const bool return_sequences = {_cbool(return_sequences)};\n"
        f"    static const unsigned reuse_factor = {_knob(reuse_factor, 'reuse_factor')};\n"
        f"    typedef {_check_type(in_t, 'in_t')} in_t;\n"
        f"    typedef {_check_type(accum_t, 'accum_t')} accum_t;\n"
        f"    typedef {_check_type(bias_t, 'bias_t')} bias_t;\n"
        f"    typedef {_check_type(act_t, 'act_t')} act_t;\n"
        f"    typedef {_check_type(state_t, 'state_t')} state_t;\n"
        f"    typedef {_check_type(h_t, 'h_t')} h_t;\n"
        f"    typedef {_check_ident(recr_act_config, 'recr_act_config')} ACT_CONFIG_RECR_T;\n"
        f"    typedef {_check_ident(act_config, 'act_config')} ACT_CONFIG_T;\n"
        "    template <class x_T, class y_T, class config_T>\n"
        f"    using activation_recr = nnet::activation::{_check_ident(recurrent_activation, 'recurrent_activation')}"
        "<x_T, y_T, config_T>;\n"
        "    template <class x_T, class y_T, class config_T>\n"
        f"    using activation = nnet::activation::{_check_ident(activation, 'activation')}<x_T, y_T, config_T>;\n"
        "};\n"
    )


def layer_code(
    shape: ht.HTShape,
    prefix: str,
    core_types: Mapping[str, str],
    inter_t: TypeSpec,
    accum_t: TypeSpec,
    reuse_factor: KnobSpec = 1,
    sum_unroll: KnobSpec = 1,
) -> str:
    """Stage configs followed by the product functor: everything the layer's
    product needs, ready to paste before the layer config."""
    return stage_configs(shape, prefix, accum_t, reuse_factor, sum_unroll) + "\n" + product_functor(
        shape, prefix, core_types, inter_t
    )


# --------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------


def stage_report(shape: ht.HTShape, reuse_factor: KnobSpec = 1, sum_unroll: KnobSpec = 1) -> List[dict]:
    """Per plan step: operands, MACs, buffer sizes (entries) and an analytic
    cycle estimate of ``ht_stage`` (an ESTIMATE, not a synthesis result):
    ``out_size * (sum_size / s3_n) * ceil(s3_n / sum_unroll) * reuse_factor``,
    i.e. one pipelined iteration of the innermost summed loop (``sum_unroll``
    MACs, so ``sum_unroll`` multipliers) every ``reuse_factor`` cycles,
    ignoring pipeline fill and loop overhead."""
    steps = shape.plan.steps
    sizes = tensor_sizes(shape)
    reuses = _per_step(reuse_factor, len(steps), "reuse_factor", lambda v: _knob(v, "reuse_factor"))
    unrolls = _per_step(sum_unroll, len(steps), "sum_unroll", lambda v: _knob(v, "sum_unroll"))
    rows = []
    for k, step in enumerate(steps):
        inner = padded_loops(step)["sum"][-1].size
        outer = step.sum_size // inner
        cycles = step.out_size * outer * -(-inner // unrolls[k]) * reuses[k]
        rows.append(
            {
                "stage": k,
                "a": step.a,
                "b": step.b,
                "out": step.out,
                "macs": step.macs,
                "a_size": sizes[step.a],
                "b_size": sizes[step.b],
                "out_size": step.out_size,
                "sum_size": step.sum_size,
                "free_levels": len(step.free_loops),
                "sum_levels": len(step.sum_loops),
                "multipliers": min(unrolls[k], inner),
                "cycles_estimate": cycles,
            }
        )
    return rows


def buffer_summary(shape: ht.HTShape) -> dict:
    """Totals for reports: MACs per product, core parameters, intermediate
    buffer entries (all ``t{k}`` but the last, which is the output) and the
    largest one."""
    steps = shape.plan.steps
    inter = [s.out_size for s in steps[:-1]]
    return {
        "stages": len(steps),
        "macs": shape.plan.macs,
        "core_params": shape.core_params,
        "padded_in": shape.padded_in,
        "out_features": shape.out_features,
        "intermediate_entries": int(sum(inter)),
        "largest_intermediate": int(max(inter)) if inter else 0,
    }
