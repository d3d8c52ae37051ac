"""Data set files: ``.npz`` archives read and validated (:func:`load_npz`)
and written atomically (:func:`save_npz`)."""

from __future__ import annotations

import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..common.errors import DataError
from .dataset import REQUIRED_KEYS, Dataset, check_arrays, validate_dataset
from .split import clip_group


def load_npz(path) -> Dataset:
    """Load and validate a data set saved as ``.npz``.

    Keys: ``x_train``, ``y_train``, ``x_test``, ``y_test`` and optionally
    ``class_names`` (1-D strings; defaults to ``"0".."C-1"``); other keys are
    ignored (``prepare`` stores the clip paths of each split there). ``x`` is either
    frames ``(N, T, H, W, C)`` uint8 or sequences ``(N, T, F)`` float (cast to
    float32); labels are 1-D integers in ``0..C-1``. Raises :class:`DataError`
    with a one-line message for anything else.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        hint = "it is a folder" if path.is_dir() else "file not found"
        raise DataError(
            f"{source}: {hint}; give a .npz made by `fdht prepare` or use data.source: digits"
        )

    def not_npz(why: str) -> DataError:
        return DataError(
            f"{source}: not a valid .npz archive ({why}); re-create it with keras_model.data.save_npz "
            f"or fdht prepare"
        )

    try:
        npz = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise not_npz(f"{type(exc).__name__}: {exc}") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise not_npz("it holds a single .npy array")
    arrays = {}
    with npz:
        for key in npz.files:
            try:
                arrays[key] = npz[key]
            except ValueError as exc:  # object arrays need pickle, which we refuse
                raise DataError(
                    f"{source}: key {key} cannot be read ({exc}); store plain numeric/string arrays, not objects"
                ) from None
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
                raise not_npz(f"key {key}: {type(exc).__name__}: {exc}") from None
    dataset = check_arrays(arrays, source)
    clips = arrays.get("train_clips")
    if clips is not None and np.ndim(clips) == 1 and len(clips) == len(dataset.x_train):
        dataset.train_groups = np.asarray([clip_group(str(c)) for c in clips.tolist()], dtype=str)
    return dataset


def save_npz(path, dataset: Dataset, compress: bool = False, extra: dict | None = None) -> Path:
    """Validate ``dataset`` and write it to ``path`` atomically; returns the path.

    Writes to a temporary file in the target folder and then ``os.replace``s it,
    so a crash never leaves a half-written file under the final name. Parent
    folders are created. ``compress`` uses zip deflate (smaller, slower).
    ``extra`` maps further keys to numeric or string arrays stored alongside
    (e.g. the clip paths of each split, for reproducibility); :func:`load_npz`
    ignores keys it does not know.
    """
    path = Path(path)
    dataset = validate_dataset(dataset, source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: getattr(dataset, k) for k in REQUIRED_KEYS}
    arrays["class_names"] = np.asarray(dataset.class_names, dtype=str)
    for key, value in (extra or {}).items():
        value = np.asarray(value)
        if key in arrays or not key.isidentifier():
            raise DataError(f"{path}: extra key {key!r} clashes with a data key or is not a plain name; rename it")
        if value.dtype.kind not in "biufcUS":
            raise DataError(f"{path}: extra key {key} has dtype {value.dtype}; store numeric or string arrays only")
        arrays[key] = value
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:  # a file object: numpy does not append ".npz"
            (np.savez_compressed if compress else np.savez)(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
