"""The built-in data sets: real handwritten digits, no download.

scikit-learn's copy of the UCI 8x8 digits, upscaled to 16x16: ``digits``
(:func:`make_moving_digits`) moves one digit in a straight line across a
frame and the label is the motion direction, so a single frame does not tell
the class and the recurrent part of the model has to do the work;
``digit_order`` (:func:`make_digit_order`) shows two digits one after the
other and the label is their order. Training clips use the first half of the
digits, test clips the second half.
"""

from __future__ import annotations

import functools

import numpy as np

from ..common.errors import ConfigError
from .dataset import Dataset


#: Labels of the moving-digits set: the direction of motion.
DIGITS_CLASS_NAMES = ["right", "left", "down", "up"]

# (drow, dcol) per class, matching DIGITS_CLASS_NAMES.
_DIRECTIONS = np.array([(0, 1), (0, -1), (1, 0), (-1, 0)])
_DIGIT_SIZE = 16  # the 8x8 digits upscaled 2x
_MIN_SPEED, _MAX_SPEED = 1.0, 2.0  # px / frame

#: keyword defaults of the generators (the ``data:`` section's digits keys)
DIGITS_DEFAULTS = {"frames": 8, "size": (32, 32), "seed": 0, "n_train": 2000, "n_test": 500}


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
