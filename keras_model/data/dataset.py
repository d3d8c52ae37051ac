"""The :class:`Dataset` of the flow and the checks every data set passes.

A data set is four arrays plus class names. Samples are either

* **frames**: ``(N, T, H, W, C)`` uint8 pixels (video clips), or
* **sequences**: ``(N, T, F)`` float32 feature vectors,

with integer labels ``(N,)`` in ``0..C-1``. Everything that reads data from
outside validates it (:func:`check_arrays`) and raises
:class:`~keras_model.common.errors.DataError` with a one-line message naming
the file, the key, the problem and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..common.errors import DataError
from ..common.logs import logger

REQUIRED_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(repr=False)
class Dataset:
    """Train/test arrays and class names.

    ``x_*``: ``(N, T, H, W, C)`` uint8 frames or ``(N, T, F)`` float32 sequences;
    ``y_*``: ``(N,)`` integer labels in ``0..n_classes-1``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    #: group of every training sample (clips cut from one source video share
    #: a group), or None when samples are independent; see validation_split
    train_groups: np.ndarray | None = None

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample: ``(T, H, W, C)`` or ``(T, F)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def is_video(self) -> bool:
        """True for ``(N, T, H, W, C)`` frames, False for ``(N, T, F)`` sequences."""
        return self.x_train.ndim == 5

    def __repr__(self) -> str:  # the default repr would print the arrays
        return (
            f"Dataset(x_train={self.x_train.shape} {self.x_train.dtype}, "
            f"x_test={self.x_test.shape} {self.x_test.dtype}, "
            f"n_classes={self.n_classes}, class_names={self.class_names})"
        )


def _check_x(x: np.ndarray, source: str, key: str) -> np.ndarray:
    if x.ndim not in (3, 5):
        raise DataError(
            f"{source}: {key} has shape {x.shape} (ndim {x.ndim}); expected frames (N, T, H, W, C) "
            f"uint8 or sequences (N, T, F) float32"
        )
    if x.shape[0] == 0:
        raise DataError(f"{source}: {key} is empty (0 samples); the train and test sets both need samples")
    if 0 in x.shape:
        raise DataError(f"{source}: {key} has shape {x.shape} with a zero-size dimension; every axis needs length >= 1")
    if x.ndim == 5:
        if x.dtype != np.uint8:
            raise DataError(
                f"{source}: {key} holds frames (N, T, H, W, C) of dtype {x.dtype}; frames must be uint8 "
                f"0..255 (scale and cast with np.clip(x, 0, 255).astype(np.uint8)), or reshape to (N, T, F) float"
            )
        return x
    if x.dtype.kind != "f":
        raise DataError(
            f"{source}: {key} holds sequences (N, T, F) of dtype {x.dtype}; sequences must be float "
            f"(cast with x.astype(np.float32))"
        )
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise DataError(f"{source}: {key} contains {bad} NaN/Inf values; clean or impute them before saving")
    return x


def _check_y(y: np.ndarray, n: int, source: str, key: str, x_key: str) -> np.ndarray:
    if y.ndim != 1:
        raise DataError(f"{source}: {key} has shape {y.shape}; labels must be 1-D (N,) integers (use y.argmax(-1) for one-hot)")
    if y.dtype.kind not in "iu":
        raise DataError(f"{source}: {key} has dtype {y.dtype}; labels must be integers 0..C-1 (cast with y.astype(np.int64))")
    if len(y) != n:
        raise DataError(f"{source}: {key} has {len(y)} labels but {x_key} has {n} samples; they must match")
    if len(y) and y.min() < 0:
        raise DataError(f"{source}: {key} has negative label {int(y.min())}; labels must be in 0..C-1")
    return y.astype(np.int64, copy=False)


def _check_class_names(names, source: str) -> list[str] | None:
    if names is None:
        return None
    names = np.asarray(names)
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise DataError(
            f"{source}: class_names must be a 1-D string array, got dtype {names.dtype} shape {names.shape} "
            f"(save it as np.array(names, dtype=str))"
        )
    out = [n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist()]
    if len(set(out)) != len(out):
        raise DataError(f"{source}: class_names has duplicate names {out}; each class needs its own name")
    return out


def check_arrays(arrays: dict, source: str) -> Dataset:
    """Check a dict of arrays (keys as in the .npz) and return a normalised Dataset."""
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise DataError(
            f"{source}: missing key(s) {', '.join(missing)}; a data file needs x_train, y_train, x_test, y_test "
            f"(and optionally class_names)"
        )
    x_train = _check_x(np.asarray(arrays["x_train"]), source, "x_train")
    x_test = _check_x(np.asarray(arrays["x_test"]), source, "x_test")
    if x_train.shape[1:] != x_test.shape[1:] or x_train.dtype != x_test.dtype:
        raise DataError(
            f"{source}: x_train samples are {x_train.shape[1:]} {x_train.dtype} but x_test samples are "
            f"{x_test.shape[1:]} {x_test.dtype}; train and test must have the same sample shape and kind"
        )
    y_train = _check_y(np.asarray(arrays["y_train"]), len(x_train), source, "y_train", "x_train")
    y_test = _check_y(np.asarray(arrays["y_test"]), len(x_test), source, "y_test", "x_test")
    max_label = int(max(y_train.max(), y_test.max()))
    names = _check_class_names(arrays.get("class_names"), source)
    if names is None:
        names = [str(i) for i in range(max_label + 1)]
    else:
        for key, y in (("y_train", y_train), ("y_test", y_test)):
            if y.max() >= len(names):
                raise DataError(
                    f"{source}: {key} has label {int(y.max())} out of range for {len(names)} class_names; "
                    f"labels must be in 0..{len(names) - 1}"
                )
        if len(names) != max_label + 1:
            raise DataError(
                f"{source}: class_names has {len(names)} names but the labels use {max_label + 1} classes "
                f"(0..{max_label}); give exactly one name per class"
            )
    if len(names) < 2:
        raise DataError(f"{source}: the labels use only {len(names)} class; classification needs at least 2")
    missing = sorted(set(range(len(names))) - set(np.unique(y_train).tolist()))
    if missing and arrays.get("class_names") is None:
        raise DataError(
            f"{source}: the labels run to {max_label} but class(es) {_ranges(missing)} have no training samples, so "
            f"this would be a {max_label + 1}-class model; relabel to 0..{len(names) - len(missing) - 1} (e.g. "
            f"np.unique(y, return_inverse=True)) or give class_names for all {max_label + 1} classes")
    if missing:
        logger.warning("warning: %s: class(es) %s (%s) have no training samples; the model cannot learn them",
                       source, _ranges(missing), ", ".join(names[i] for i in missing[:10]))
    return Dataset(x_train, y_train, x_test, y_test, names)


def _ranges(values) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0-2, 5, 7-8'."""
    out, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            out.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ", ".join(out)


def validate_dataset(dataset: Dataset, source: str = "dataset") -> Dataset:
    """Check a :class:`Dataset` like :func:`load_npz` would; returns a normalised copy.

    Raises :class:`DataError` naming ``source`` on the first problem found.
    """
    arrays = {k: getattr(dataset, k) for k in REQUIRED_KEYS}
    arrays["class_names"] = np.asarray(list(dataset.class_names), dtype=str)
    return check_arrays(arrays, source)


def frames_to_float(x: np.ndarray) -> np.ndarray:
    """uint8 frames -> float32 in [0, 1]; float sequences -> float32 unchanged."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x.astype(np.float32) * np.float32(1.0 / 255.0)
    if x.dtype.kind == "f":
        return x.astype(np.float32, copy=False)
    raise DataError(f"frames_to_float: expected uint8 frames or float sequences, got dtype {x.dtype}")
