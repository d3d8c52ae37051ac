"""C++ text hls4ml's own activation code needs for our layers: the
``nnet::activ_config`` structs of the FDHT-LSTM's gate tables. (The layers'
own C++, the accelerator, is ``accel.writer``.)"""

from __future__ import annotations

import re

from keras_model.common.errors import ConfigError

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
