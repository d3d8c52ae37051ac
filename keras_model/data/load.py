"""The data set a config names: the ``data:`` section -> a :class:`Dataset`."""

from __future__ import annotations

import os

from ..common.config import frame_size_hw
from ..common.errors import ConfigError
from .dataset import Dataset
from .digits import DIGITS_DEFAULTS, make_digit_order, make_moving_digits
from .npz import load_npz

_DATA_CFG_KEYS = ("source", "frames", "size", "seed", "n_train", "n_test")


def load_dataset(data_cfg: dict) -> Dataset:
    """The data set named by the ``data:`` section of a config.

    ``source``: ``"digits"`` (default) for :func:`make_moving_digits`,
    ``"digit_order"`` for :func:`make_digit_order`, or a path
    to an ``.npz`` for :func:`load_npz`. ``frames``, ``size`` (WIDTHxHEIGHT), ``seed``,
    ``n_train`` and ``n_test`` configure the digits; for an ``.npz`` they are not
    used to change the data, but ``frames`` and ``size`` if given must match
    the file (so a config cannot silently describe other data than it loads).
    """
    if data_cfg is None:
        data_cfg = {}
    if not isinstance(data_cfg, dict):
        raise ConfigError(f"data: must be a mapping with keys {', '.join(_DATA_CFG_KEYS)}, got {type(data_cfg).__name__}")
    unknown = sorted(set(data_cfg) - set(_DATA_CFG_KEYS))
    if unknown:
        raise ConfigError(f"data: unknown key(s) {', '.join(map(str, unknown))}; known keys are {', '.join(_DATA_CFG_KEYS)}")
    source = data_cfg.get("source", "digits")
    if not isinstance(source, (str, os.PathLike)) or not str(source):
        raise ConfigError(f"data.source must be 'digits' or a path to an .npz file, got {source!r}")
    if str(source) in BUILT_IN:
        kwargs = {k: data_cfg.get(k, v) for k, v in DIGITS_DEFAULTS.items()}
        kwargs = {k: (v if v is not None else DIGITS_DEFAULTS[k]) for k, v in kwargs.items()}
        if data_cfg.get("size") is not None:
            kwargs["size"] = frame_size_hw(data_cfg["size"])
        return BUILT_IN[str(source)](**kwargs)

    dataset = load_npz(source)
    frames = data_cfg.get("frames")
    if frames is not None and frames != dataset.sample_shape[0]:
        raise ConfigError(
            f"data.frames is {frames} but {source} has {dataset.sample_shape[0]} frames per sample; "
            f"fix data.frames or remove it"
        )
    size = frame_size_hw(data_cfg.get("size"))
    if size is not None:
        if not dataset.is_video:
            raise ConfigError(f"data.size is set but {source} holds (N, T, F) sequences, not frames; remove data.size")
        if tuple(size) != tuple(dataset.sample_shape[1:3]):
            h, w = dataset.sample_shape[1:3]
            raise ConfigError(f"data.size is {data_cfg['size']} (WIDTHxHEIGHT) but {source} has frames of {w}x{h}; "
                              f"fix data.size or remove it")
    return dataset


#: ``data.source`` names of the built-in sets (no file, no download).
BUILT_IN = {"digits": make_moving_digits, "digit_order": make_digit_order}
