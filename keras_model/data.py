"""Data sets for the flow: the built-in moving-digits clips and ``.npz`` files.

A data set is a :class:`Dataset` of four arrays plus class names. Samples are
either

* **frames**: ``(N, T, H, W, C)`` uint8 pixels (video clips), or
* **sequences**: ``(N, T, F)`` float32 feature vectors,

with integer labels ``(N,)`` in ``0..C-1``. Everything that reads data from
outside (``load_npz``) validates it and raises :class:`~keras_model.common.errors.DataError`
with a one-line message naming the file, the key, the problem and the fix.

The built-in set (``source: digits``) needs no download: real handwritten
digits from scikit-learn's copy of the UCI 8x8 digits, moving in a straight
line across a frame; the label is the motion direction, so a single frame does
not tell the class and the recurrent part of the model has to do the work.
"""

from __future__ import annotations

import functools
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keras_model.common.config import frame_size_hw
from keras_model.common.errors import ConfigError, DataError

__all__ = [
    "DIGITS_CLASS_NAMES",
    "Dataset",
    "frames_to_float",
    "load_dataset",
    "load_npz",
    "make_digit_order",
    "make_moving_digits",
    "save_npz",
    "validate_dataset",
    "validation_split",
]

#: Labels of the moving-digits set: the direction of motion.
DIGITS_CLASS_NAMES = ["right", "left", "down", "up"]

# (drow, dcol) per class, matching DIGITS_CLASS_NAMES.
_DIRECTIONS = np.array([(0, 1), (0, -1), (1, 0), (-1, 0)])
_DIGIT_SIZE = 16  # the 8x8 digits upscaled 2x
_MIN_SPEED, _MAX_SPEED = 1.0, 2.0  # px / frame

_REQUIRED_KEYS = ("x_train", "y_train", "x_test", "y_test")
_DATA_CFG_KEYS = ("source", "frames", "size", "seed", "n_train", "n_test")
_DIGITS_DEFAULTS = {"frames": 8, "size": (32, 32), "seed": 0, "n_train": 2000, "n_test": 500}


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


# --------------------------------------------------------------------------
# Built-in data: moving handwritten digits
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _digit_halves() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 UCI digits as 16x16 uint8 images, split into two disjoint halves.

    The first half (in scikit-learn's order) feeds the training clips, the second
    half the test clips, so no handwritten image is seen in both.
    """
    from sklearn.datasets import load_digits  # ships with scikit-learn, no download

    images = load_digits().images  # (1797, 8, 8) float64, 0..16
    images = np.rint(images * (255.0 / 16.0)).astype(np.uint8)
    images = images.repeat(2, axis=1).repeat(2, axis=2)  # nearest-neighbour 2x
    half = len(images) // 2
    train, test = images[:half].copy(), images[half:].copy()
    train.flags.writeable = False
    test.flags.writeable = False
    return train, test


@functools.lru_cache(maxsize=1)
def _digit_label_halves() -> tuple[np.ndarray, np.ndarray]:
    """The digit classes (0..9) of the images of :func:`_digit_halves`, same halves."""
    from sklearn.datasets import load_digits

    target = load_digits().target.astype(np.int64)
    half = len(target) // 2
    return target[:half].copy(), target[half:].copy()


#: The digits whose order the ``digit_order`` task asks for.
ORDER_DIGITS = (0, 1, 2)
ORDER_CLASS_NAMES = [f"{a}then{b}" for a in ORDER_DIGITS for b in ORDER_DIGITS if a != b]


def _render_order_clips(images, labels, n, frames, height, width, rng):
    """``n`` clips: one handwritten digit ``a`` for the first frames, another
    digit ``b`` for the rest (the switch frame drawn per clip), each frame at a
    fresh random position, on noise; label = the ordered pair (a, b)."""
    pairs = [(a, b) for a in ORDER_DIGITS for b in ORDER_DIGITS if a != b]
    y = rng.permutation(np.arange(n) % len(pairs))  # balanced, shuffled
    by_digit = {d: np.flatnonzero(labels == d) for d in ORDER_DIGITS}
    s = _DIGIT_SIZE
    clips = np.zeros((n, frames, height, width), dtype=np.uint8)
    lo, hi = 1, frames - 1  # the switch: at least one frame of each digit
    for i in range(n):
        a, b = pairs[y[i]]
        img_a = images[rng.choice(by_digit[a])]
        img_b = images[rng.choice(by_digit[b])]
        switch = int(rng.integers(lo, hi + 1))
        for t in range(frames):
            r = int(rng.integers(0, height - s + 1))
            c = int(rng.integers(0, width - s + 1))
            clips[i, t, r : r + s, c : c + s] = img_a if t < switch else img_b
    noise = rng.integers(-40, 41, size=clips.shape, dtype=np.int16)  # heavier than the moving digits'
    clips = np.clip(clips.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return clips[..., None], y.astype(np.int64)


def make_digit_order(
    n_train: int = 2000,
    n_test: int = 500,
    frames: int = 8,
    size: tuple[int, int] = (32, 32),
    seed: int = 0,
) -> Dataset:
    """A harder built-in task where order matters and appearance is hard:
    each clip shows one handwritten digit (0, 1 or 2) for its first frames and
    a different one for the rest, every frame at a random position, with
    uniform noise of +-40 (0..255 scale); the switch frame is random. The
    label is the ordered pair ("0then1", ..., 6 classes, chance 1/6), so a
    model must recognise both digits and remember which came first; a
    single frame never tells the class.

    Training clips use the first half of scikit-learn's digits, test clips the
    second half (as :func:`make_moving_digits`)."""
    n_train = _int_arg("n_train", n_train, 1)
    n_test = _int_arg("n_test", n_test, 1)
    frames = _int_arg("frames", frames, 2)
    height, width = _size_arg(size)
    seed = _int_arg("seed", seed, 0)
    if min(height, width) < _DIGIT_SIZE:
        raise ConfigError(f"data.size {[height, width]} is too small for a 16x16 digit; use at least [16, 16]")
    (train_img, test_img), (train_lab, test_lab) = _digit_halves(), _digit_label_halves()
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence([seed, 1]).spawn(2))
    x_train, y_train = _render_order_clips(train_img, train_lab, n_train, frames, height, width, train_rng)
    x_test, y_test = _render_order_clips(test_img, test_lab, n_test, frames, height, width, test_rng)
    return Dataset(x_train, y_train, x_test, y_test, list(ORDER_CLASS_NAMES))


def _int_arg(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"data.{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ConfigError(f"data.{name} must be >= {minimum}, got {value}")
    return int(value)


def _size_arg(size) -> tuple[int, int]:
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise ConfigError(f"data.size must be [height, width], got {size!r}")
    return _int_arg("size[0] (height)", size[0], 1), _int_arg("size[1] (width)", size[1], 1)


def _render_clips(
    digits: np.ndarray, n: int, frames: int, height: int, width: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` clips ``(n, frames, height, width, 1)`` uint8 and their direction labels."""
    labels = rng.permutation(np.arange(n) % len(_DIRECTIONS))  # balanced, shuffled
    digit_index = rng.integers(0, len(digits), size=n)
    # Free room along each axis; a clip travels at most that far so it stays inside.
    free = np.array([height - _DIGIT_SIZE, width - _DIGIT_SIZE])
    axis = np.where(_DIRECTIONS[labels, 0] != 0, 0, 1)  # 0: vertical, 1: horizontal
    max_speed = np.minimum(_MAX_SPEED, free[axis] / (frames - 1))
    speed = _MIN_SPEED + rng.random(n) * (max_speed - _MIN_SPEED)
    # Integer offsets along the motion, 0 .. travel, constant speed up to rounding.
    offsets = np.rint(speed[:, None] * np.arange(frames)[None, :]).astype(np.int64)
    travel = offsets[:, -1]
    # Start anywhere the whole trajectory fits; the cross coordinate anywhere at all.
    low = (rng.random(n) * (free[axis] - travel + 1)).astype(np.int64)
    cross = (rng.random(n) * (free[1 - axis] + 1)).astype(np.int64)
    sign = _DIRECTIONS[labels].sum(axis=1)  # +1 for right/down, -1 for left/up
    along = np.where(sign[:, None] > 0, low[:, None] + offsets, low[:, None] + travel[:, None] - offsets)
    rows = np.where(axis[:, None] == 0, along, cross[:, None])
    cols = np.where(axis[:, None] == 1, along, cross[:, None])

    clips = np.zeros((n, frames, height, width), dtype=np.uint8)
    s = _DIGIT_SIZE
    for i in range(n):
        image = digits[digit_index[i]]
        for t in range(frames):
            r, c = rows[i, t], cols[i, t]
            clips[i, t, r : r + s, c : c + s] = image
    # Light noise, cheap to draw: the two nibbles of a random byte summed give a
    # triangular distribution on -15..15 (std ~6.5 on the 0..255 scale).
    noise_bytes = np.frombuffer(rng.bytes(clips.size), dtype=np.uint8).reshape(clips.shape)
    noisy = clips.astype(np.int16)
    noisy += noise_bytes & 15
    noisy += noise_bytes >> 4
    noisy -= 15
    clips = np.clip(noisy, 0, 255).astype(np.uint8)
    return clips[..., None], labels.astype(np.int64)


def make_moving_digits(
    n_train: int = 2000,
    n_test: int = 500,
    frames: int = 8,
    size: tuple[int, int] = (32, 32),
    seed: int = 0,
) -> Dataset:
    """Clips of real handwritten digits moving in a straight line; label = direction.

    Each clip takes one UCI digit (8x8, upscaled 2x to 16x16, scaled to 0..255),
    puts it at a random start position and moves it at a constant random speed of
    1 to 2 px/frame (less if the frame is too small for that) right, left, down or
    up (``DIGITS_CLASS_NAMES``; "down" is increasing row). The whole trajectory
    stays inside the frame; start positions are spread over the frame so that,
    pooled over time, one frame looks the same for opposite directions. Light
    noise (triangular, -15..15, std ~6.5 on 0..255) is added. Classes are balanced.

    Training clips use the first half of the digits, test clips the second half.
    The result depends only on the arguments (numpy ``Generator``; the training
    and test sets draw from independent streams, so ``n_train`` does not change
    the test set).

    Returns a :class:`Dataset` with ``x`` of shape ``(N, frames, H, W, 1)`` uint8
    where ``(H, W) = size``.
    """
    n_train = _int_arg("n_train", n_train, 1)
    n_test = _int_arg("n_test", n_test, 1)
    frames = _int_arg("frames", frames, 2)
    height, width = _size_arg(size)
    seed = _int_arg("seed", seed, 0)
    smallest = _DIGIT_SIZE + frames - 1
    if min(height, width) < smallest:
        raise ConfigError(
            f"data.size {[height, width]} is too small for {frames} frames of a 16x16 digit "
            f"moving >= 1 px/frame; use a size of at least [{smallest}, {smallest}] or fewer frames"
        )
    train_digits, test_digits = _digit_halves()
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    x_train, y_train = _render_clips(train_digits, n_train, frames, height, width, train_rng)
    x_test, y_test = _render_clips(test_digits, n_test, frames, height, width, test_rng)
    return Dataset(x_train, y_train, x_test, y_test, list(DIGITS_CLASS_NAMES))


# --------------------------------------------------------------------------
# .npz files
# --------------------------------------------------------------------------


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


def _validate(arrays: dict, source: str) -> Dataset:
    """Check a dict of arrays (keys as in the .npz) and return a normalised Dataset."""
    missing = [k for k in _REQUIRED_KEYS if k not in arrays]
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
        from .common.logs import logger

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
    arrays = {k: getattr(dataset, k) for k in _REQUIRED_KEYS}
    arrays["class_names"] = np.asarray(list(dataset.class_names), dtype=str)
    return _validate(arrays, source)


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
            f"{source}: {hint}; give a .npz made by `python -m keras_model.prepare` or use data.source: digits"
        )

    def not_npz(why: str) -> DataError:
        return DataError(
            f"{source}: not a valid .npz archive ({why}); re-create it with keras_model.data.save_npz "
            f"or python -m keras_model.prepare"
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
    dataset = _validate(arrays, source)
    clips = arrays.get("train_clips")
    if clips is not None and np.ndim(clips) == 1 and len(clips) == len(dataset.x_train):
        dataset.train_groups = np.asarray([clip_group(str(c)) for c in clips.tolist()], dtype=str)
    return dataset


def clip_group(path: str) -> str:
    """The group of a clip path ``<class>/<group>/.../<clip>`` as ``prepare``
    stores it (``train_clips``): ``<class>/<group>``; a clip directly in its
    class folder is a group of its own."""
    parts = str(path).replace("\\", "/").split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else str(path)


def validation_split(y: np.ndarray, fraction: float, seed: int, groups: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, str]:
    """(fit indices, validation indices, how) for a validation share of the training set.

    Without groups: a seeded shuffle, the first ``round(fraction N)`` samples
    validate (``how = "random"``). With groups (clips of one source video are
    near-duplicates, so a random split would leak): per class, the class's
    groups in a seeded order go to validation until they hold at least
    ``fraction`` of the class's samples, keeping at least one group for
    fitting (``how = "group"``); a class with a single group is not
    validated. No group is on both sides.
    """
    y = np.asarray(y)
    n = len(y)
    rng = np.random.default_rng(int(seed))
    if groups is None or fraction <= 0:
        order = rng.permutation(n)
        n_val = int(round(n * float(fraction)))
        return order[n_val:], order[:n_val], "random" if n_val else "none"  # train's historical order
    groups = np.asarray(groups)
    if len(groups) != n:
        raise DataError(f"validation_split: {len(groups)} groups for {n} samples; give one group per sample")
    val = np.zeros(n, dtype=bool)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        names = sorted(set(groups[members].tolist()))
        if len(names) < 2:
            continue
        order = [names[i] for i in rng.permutation(len(names))]
        taken = 0
        for g in order[:-1]:
            if taken >= fraction * len(members):
                break
            sel = members[groups[members] == g]
            val[sel] = True
            taken += len(sel)
    return np.flatnonzero(~val), np.flatnonzero(val), "group"


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
    arrays = {k: getattr(dataset, k) for k in _REQUIRED_KEYS}
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


# --------------------------------------------------------------------------
# Config entry point and helpers
# --------------------------------------------------------------------------


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
        kwargs = {k: data_cfg.get(k, v) for k, v in _DIGITS_DEFAULTS.items()}
        kwargs = {k: (v if v is not None else _DIGITS_DEFAULTS[k]) for k, v in kwargs.items()}
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


def frames_to_float(x: np.ndarray) -> np.ndarray:
    """uint8 frames -> float32 in [0, 1]; float sequences -> float32 unchanged."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x.astype(np.float32) * np.float32(1.0 / 255.0)
    if x.dtype.kind == "f":
        return x.astype(np.float32, copy=False)
    raise DataError(f"frames_to_float: expected uint8 frames or float sequences, got dtype {x.dtype}")
