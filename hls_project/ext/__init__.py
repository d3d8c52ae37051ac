"""The hls4ml 1.3 extension for our HT layers (Vivado and Vitis backends).

* ``parsers``: Keras-2 handlers (layer config + weights -> handler dict);
* ``node``: what an IR node of ours knows (HT shape, cores, schedule, types,
  the accelerator's config struct), without hls4ml;
* ``ir``: the IR layers ``FDHTLSTM`` and ``HTDense``;
* ``templates``: config and function-call templates;
* ``passes``: the io_stream input pass;
* ``registry``: registration with hls4ml and our C++ headers;
* ``plugin``: hls4ml's plugin entry point and the wrappers of its public
  Keras functions.

:func:`register` (idempotent) is all a user calls, and only when hls4ml did
not load the plugin itself (``pip install .`` makes it do so).
"""

from __future__ import annotations


def register():
    """Register our layers with hls4ml and wrap its two Keras entry points
    (``plugin.install``), so hls4ml's public functions work on our models
    whether or not hls4ml found the plugin. Returns the IR classes."""
    from hls_project.ext import plugin, registry

    classes = registry.register_layers()
    plugin.install()
    return classes
