"""keras_model.data: the moving-digits set, .npz validation and the config entry point."""

import os
import time

import numpy as np
import pytest

from keras_model.common.errors import ConfigError, DataError, FlowError
from keras_model.data import (
    DIGITS_CLASS_NAMES,
    Dataset,
    frames_to_float,
    load_dataset,
    load_npz,
    make_moving_digits,
    save_npz,
)
from keras_model.data.digits import _digit_halves

# -- moving digits --------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return make_moving_digits(n_train=400, n_test=100, seed=3)


def _centroids(clip):
    """(T, 2) row/col centre of the bright pixels of each frame of a (T, H, W, 1) clip."""
    out = []
    for frame in clip[..., 0]:
        rows, cols = np.nonzero(frame > 100)  # the noise stays below 30
        out.append((rows.mean(), cols.mean()))
    return np.array(out)


def test_default_shapes_dtypes_and_speed():
    _digit_halves()  # scikit-learn's import and the CSV read are not what we time
    start = time.perf_counter()
    ds = make_moving_digits()
    elapsed = time.perf_counter() - start
    assert ds.x_train.shape == (2000, 8, 32, 32, 1) and ds.x_test.shape == (500, 8, 32, 32, 1)
    assert ds.x_train.dtype == np.uint8 and ds.x_test.dtype == np.uint8
    assert ds.y_train.shape == (2000,) and ds.y_test.shape == (500,)
    assert ds.y_train.dtype.kind == "i"
    assert ds.class_names == ["right", "left", "down", "up"] == DIGITS_CLASS_NAMES
    assert ds.n_classes == 4 and ds.sample_shape == (8, 32, 32, 1) and ds.is_video
    assert elapsed < 2.0, f"make_moving_digits() took {elapsed:.2f} s"
    assert "(2000, 8, 32, 32, 1)" in repr(ds)


def test_custom_size_and_frames():
    ds = make_moving_digits(n_train=12, n_test=8, frames=5, size=(24, 40), seed=1)
    assert ds.x_train.shape == (12, 5, 24, 40, 1) and ds.x_test.shape == (8, 5, 24, 40, 1)


def test_deterministic_in_seed():
    a = make_moving_digits(n_train=50, n_test=20, seed=7)
    b = make_moving_digits(n_train=50, n_test=20, seed=7)
    c = make_moving_digits(n_train=50, n_test=20, seed=8)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert not np.array_equal(a.x_train, c.x_train)
    assert not np.array_equal(a.x_test, c.x_test)


def test_test_set_does_not_depend_on_n_train():
    a = make_moving_digits(n_train=30, n_test=20, seed=2)
    b = make_moving_digits(n_train=60, n_test=20, seed=2)
    np.testing.assert_array_equal(a.x_test, b.x_test)


def test_train_and_test_digits_are_disjoint_halves():
    train, test = _digit_halves()
    assert train.shape[1:] == test.shape[1:] == (16, 16) and train.dtype == np.uint8
    assert abs(len(train) - len(test)) <= 1 and len(train) + len(test) == 1797
    assert train.max() == 255 and test.max() == 255


def test_labels_balanced(digits):
    counts = np.bincount(digits.y_train, minlength=4)
    assert counts.min() >= 99 and counts.max() <= 101
    assert set(np.unique(digits.y_test)) == {0, 1, 2, 3}


def test_clip_stays_inside_and_moves_in_label_direction(digits):
    """Every clip: a whole 16x16 digit in every frame, moving 1-2 px/frame along its label."""
    # (drow, dcol) sign per class: right, left, down, up
    expected = {0: (0, 1), 1: (0, -1), 2: (1, 0), 3: (-1, 0)}
    frames = digits.x_train.shape[1]
    for clip, label in zip(digits.x_train[:60], digits.y_train[:60]):
        centre = _centroids(clip)
        shift = centre[-1] - centre[0]  # last minus first frame
        drow, dcol = expected[int(label)]
        along, across = (shift[1], shift[0]) if drow == 0 else (shift[0], shift[1])
        sign = dcol if drow == 0 else drow
        assert sign * along >= 0.9 * (frames - 1), (label, shift)  # >= ~1 px per frame
        assert sign * along <= 2.1 * (frames - 1), (label, shift)
        assert abs(across) < 1.5, (label, shift)  # straight line
        steps = np.diff(centre, axis=0)
        assert np.all(sign * steps[:, 1 if drow == 0 else 0] > 0)  # monotone at every step


def test_one_frame_does_not_tell_the_direction():
    """A linear classifier on one random frame is near chance; on last-first it is near perfect."""
    from sklearn.linear_model import LogisticRegression

    ds = make_moving_digits(n_train=600, n_test=300, seed=5)
    rng = np.random.default_rng(0)

    def one_frame(x):
        t = rng.integers(0, x.shape[1], size=len(x))
        return x[np.arange(len(x)), t].reshape(len(x), -1) / 255.0

    def motion(x):
        return (x[:, -1].astype(np.float32) - x[:, 0]).reshape(len(x), -1) / 255.0

    single = LogisticRegression(max_iter=200).fit(one_frame(ds.x_train), ds.y_train)
    moving = LogisticRegression(max_iter=200).fit(motion(ds.x_train), ds.y_train)
    assert single.score(one_frame(ds.x_test), ds.y_test) < 0.45  # chance is 0.25
    assert moving.score(motion(ds.x_test), ds.y_test) > 0.9


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"frames": 1}, "frames"),
        ({"n_train": 0}, "n_train"),
        ({"size": (20, 20)}, "too small"),
        ({"size": 32}, "[height, width]"),
        ({"seed": -1}, "seed"),
        ({"frames": 2.5}, "integer"),
    ],
)
def test_bad_digits_arguments(kwargs, fragment):
    args = {"n_train": 4, "n_test": 4, **kwargs}
    with pytest.raises(ConfigError) as info:
        make_moving_digits(**args)
    assert fragment in str(info.value)


def test_frames_to_float(digits):
    x = frames_to_float(digits.x_test[:3])
    assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() <= 1.0
    np.testing.assert_allclose(x * 255.0, digits.x_test[:3], atol=1e-3)
    seq = np.ones((2, 3, 4), dtype=np.float64)
    assert frames_to_float(seq).dtype == np.float32
    with pytest.raises(DataError):
        frames_to_float(np.ones((2, 3, 4), dtype=np.int32))


# -- .npz files -----------------------------------------------------------------


def _arrays(kind="frames"):
    rng = np.random.default_rng(0)
    if kind == "frames":
        x_train = rng.integers(0, 256, size=(6, 3, 4, 5, 3), dtype=np.uint8)
        x_test = rng.integers(0, 256, size=(4, 3, 4, 5, 3), dtype=np.uint8)
    else:
        x_train = rng.standard_normal((6, 3, 7)).astype(np.float32)
        x_test = rng.standard_normal((4, 3, 7)).astype(np.float32)
    return {
        "x_train": x_train,
        "y_train": np.array([0, 1, 2, 0, 1, 2]),
        "x_test": x_test,
        "y_test": np.array([2, 1, 0, 0]),
        "class_names": np.array(["a", "b", "c"]),
    }


@pytest.mark.parametrize("kind", ["frames", "sequences"])
def test_npz_round_trip(tmp_path, kind):
    arrays = _arrays(kind)
    ds = Dataset(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], ["a", "b", "c"])
    path = save_npz(tmp_path / "deep" / "er" / "set.npz", ds)  # parents are created
    assert path.exists() and os.listdir(path.parent) == ["set.npz"]  # no temp file left behind
    back = load_npz(path)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(back, key), getattr(ds, key))
    assert back.class_names == ["a", "b", "c"]
    assert back.is_video == (kind == "frames")
    assert back.x_train.dtype == (np.uint8 if kind == "frames" else np.float32)


def test_save_overwrites_and_compresses(tmp_path):
    ds = make_moving_digits(n_train=8, n_test=4, seed=0)
    path = tmp_path / "d.npz"
    save_npz(path, make_moving_digits(n_train=4, n_test=4, seed=1))
    save_npz(path, ds, compress=True)
    back = load_npz(path)
    np.testing.assert_array_equal(back.x_train, ds.x_train)
    assert back.class_names == DIGITS_CLASS_NAMES
    assert sorted(os.listdir(tmp_path)) == ["d.npz"]


def test_save_validates_before_writing(tmp_path):
    arrays = _arrays()
    bad = Dataset(arrays["x_train"], arrays["y_train"][:3], arrays["x_test"], arrays["y_test"], ["a", "b", "c"])
    with pytest.raises(DataError, match="y_train"):
        save_npz(tmp_path / "bad.npz", bad)
    assert not any(tmp_path.iterdir())


def test_optional_class_names_and_float_casts(tmp_path):
    arrays = _arrays("sequences")
    del arrays["class_names"]
    arrays["x_train"] = arrays["x_train"].astype(np.float64)
    arrays["x_test"] = arrays["x_test"].astype(np.float64)
    arrays["y_train"] = arrays["y_train"].astype(np.uint8)
    np.savez(tmp_path / "s.npz", **arrays)
    ds = load_npz(tmp_path / "s.npz")
    assert ds.class_names == ["0", "1", "2"] and ds.x_train.dtype == np.float32
    assert ds.y_train.dtype == np.int64 and ds.sample_shape == (3, 7) and not ds.is_video

    arrays["x_train"] = arrays["x_train"].astype(np.float16)
    arrays["x_test"] = arrays["x_test"].astype(np.float16)
    np.savez(tmp_path / "h.npz", **arrays)
    assert load_npz(tmp_path / "h.npz").x_test.dtype == np.float32


def _drop(key):
    return lambda a: a.pop(key)


def _set(key, value):
    def change(a):
        a[key] = value(a) if callable(value) else value

    return change


BAD_NPZ = {
    "missing key": (_drop("y_test"), "missing key(s) y_test"),
    "x ndim 4": (_set("x_train", lambda a: a["x_train"][..., 0]), "ndim 4"),
    "x ndim 2": (_set("x_test", np.zeros((4, 3), np.float32)), "ndim 2"),
    "frames not uint8": (_set("x_train", lambda a: a["x_train"].astype(np.float32)), "must be uint8"),
    "int sequences": (_set("x_train", np.zeros((6, 3, 7), np.int32)), "must be float"),
    "train/test shapes differ": (_set("x_test", np.zeros((4, 3, 4, 6, 3), np.uint8)), "same sample shape"),
    "N mismatch": (_set("y_train", np.array([0, 1, 2, 0, 1])), "5 labels but x_train has 6"),
    "float labels": (_set("y_test", np.array([2.0, 1.0, 0.0, 0.0])), "labels must be integers"),
    "2-D labels": (_set("y_train", np.eye(3, dtype=np.int64)[[0, 1, 2, 0, 1, 2]]), "must be 1-D"),
    "label out of range": (_set("y_test", np.array([2, 1, 3, 0])), "label 3 out of range"),
    "negative label": (_set("y_train", np.array([0, 1, 2, 0, -1, 2])), "negative label -1"),
    "NaN": (
        lambda a: (_set("x_train", np.zeros((6, 3, 7), np.float32))(a), _set("x_test", np.full((4, 3, 7), np.nan))(a)),
        "NaN/Inf",
    ),
    "Inf": (
        lambda a: (_set("x_train", np.full((6, 3, 7), np.inf, np.float32))(a), _set("x_test", np.zeros((4, 3, 7)))(a)),
        "NaN/Inf",
    ),
    "empty train": (
        lambda a: (_set("x_train", np.zeros((0, 3, 4, 5, 3), np.uint8))(a), _set("y_train", np.zeros(0, int))(a)),
        "x_train is empty",
    ),
    "empty test": (
        lambda a: (_set("x_test", np.zeros((0, 3, 4, 5, 3), np.uint8))(a), _set("y_test", np.zeros(0, int))(a)),
        "x_test is empty",
    ),
    "too many class_names": (_set("class_names", np.array(["a", "b", "c", "d"])), "class_names has 4 names"),
    "too few class_names": (_set("class_names", np.array(["a", "b"])), "out of range for 2 class_names"),
    "class_names not strings": (_set("class_names", np.array([1, 2, 3])), "string array"),
    "single class": (
        lambda a: (
            _set("y_train", np.zeros(6, int))(a),
            _set("y_test", np.zeros(4, int))(a),
            a.pop("class_names"),
        ),
        "at least 2",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_NPZ))
def test_bad_npz(tmp_path, case):
    change, fragment = BAD_NPZ[case]
    arrays = _arrays()
    change(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as info:
        load_npz(path)
    message = str(info.value)
    assert fragment in message, message
    assert str(path) in message and "\n" not in message


def test_npz_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_npz(tmp_path / "nope.npz")
    with pytest.raises(DataError, match="folder"):
        load_npz(tmp_path)


def test_npz_not_a_zip(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(os.urandom(2000))
    with pytest.raises(DataError, match="not a valid .npz"):
        load_npz(path)


def test_npz_truncated(tmp_path):
    path = tmp_path / "cut.npz"
    np.savez(path, **_arrays())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="not a valid .npz"):
        load_npz(path)


def test_npy_is_not_npz(tmp_path):
    path = tmp_path / "one.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(DataError, match="single .npy array"):
        load_npz(path)


def test_npz_with_pickled_objects_is_refused(tmp_path):
    arrays = _arrays()
    arrays["class_names"] = np.array(["a", "b", "c"], dtype=object)
    path = tmp_path / "obj.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match="class_names"):
        load_npz(path)


def test_errors_are_flow_errors():
    assert issubclass(DataError, FlowError) and issubclass(ConfigError, FlowError)


# -- the data: section of a config -------------------------------------------------


def test_load_dataset_digits():
    ds = load_dataset({"source": "digits", "frames": 6, "size": "30x28", "seed": 4, "n_train": 10, "n_test": 6})
    assert ds.x_train.shape == (10, 6, 28, 30, 1) and ds.x_test.shape == (6, 6, 28, 30, 1)
    same = make_moving_digits(n_train=10, n_test=6, frames=6, size=(28, 30), seed=4)
    np.testing.assert_array_equal(ds.x_train, same.x_train)
    assert load_dataset({"n_train": 4, "n_test": 4}).sample_shape == (8, 32, 32, 1)  # defaults


def test_load_dataset_npz(tmp_path):
    arrays = _arrays()
    path = tmp_path / "v.npz"
    np.savez(path, **arrays)
    ds = load_dataset({"source": str(path)})
    assert ds.sample_shape == (3, 4, 5, 3) and ds.class_names == ["a", "b", "c"]
    assert load_dataset({"source": path, "frames": 3, "size": "5x4"}).n_classes == 3
    with pytest.raises(ConfigError, match="data.frames is 6"):
        load_dataset({"source": str(path), "frames": 6})
    with pytest.raises(ConfigError, match="data.size is 4x5 .WIDTHxHEIGHT. but .* has frames of 5x4"):
        load_dataset({"source": str(path), "size": "4x5"})
    with pytest.raises(DataError, match="file not found"):
        load_dataset({"source": str(tmp_path / "missing.npz")})


@pytest.mark.parametrize(
    "cfg, fragment",
    [
        ({"source": "digits", "frame": 8}, "unknown key(s) frame"),
        ({"source": 3}, "data.source"),
        ({"source": "digits", "size": "32"}, "WIDTHxHEIGHT"),
        ({"source": "digits", "size": [24, 40]}, "size: 40x24 for [height, width] = [24, 40]"),
        ({"source": "digits", "n_test": "5"}, "n_test"),
        ([1, 2], "mapping"),
    ],
)
def test_load_dataset_bad_config(cfg, fragment):
    with pytest.raises(ConfigError) as info:
        load_dataset(cfg)
    assert fragment in str(info.value)


# --------------------------------------------------------------------------
# Group-aware validation split
# --------------------------------------------------------------------------


def test_validation_split_keeps_groups_apart():
    from keras_model.data import validation_split

    y = np.repeat([0, 1, 2], 12)
    groups = np.array([f"c{c}/g{i // 4}" for c, i in zip(y, np.tile(np.arange(12), 3))])
    fit, val, how = validation_split(y, 0.2, 0, groups)
    assert how == "group" and len(set(fit) | set(val)) == 36 and not set(fit) & set(val)
    assert not set(groups[fit]) & set(groups[val])
    assert sorted(np.unique(y[val])) == [0, 1, 2]  # every class validated, one group each
    assert len(val) == 12
    fit2, val2, how2 = validation_split(y, 0.2, 0)
    assert how2 == "random" and len(val2) == round(36 * 0.2)




def test_groups_come_from_prepares_clip_paths(tmp_path):
    from keras_model.data import Dataset, load_npz, save_npz

    rng = np.random.default_rng(0)
    ds = Dataset(rng.random((4, 2, 3)).astype("float32"), np.array([0, 0, 1, 1]),
                 rng.random((2, 2, 3)).astype("float32"), np.array([0, 1]), ["a", "b"])
    clips = ["a/a_part1/w1.avi", "a/a_part2/w1.avi", "b/b_part1/w1.avi", "b/loose.avi"]
    save_npz(tmp_path / "g.npz", ds, extra={"train_clips": np.array(clips)})
    got = load_npz(tmp_path / "g.npz").train_groups
    assert list(got) == ["a/a_part1", "a/a_part2", "b/b_part1", "b/loose.avi"]
    save_npz(tmp_path / "n.npz", ds)
    assert load_npz(tmp_path / "n.npz").train_groups is None


def test_digit_order_task():
    from keras_model.data import ORDER_CLASS_NAMES, load_dataset, make_digit_order

    ds = load_dataset({"source": "digit_order", "n_train": 60, "n_test": 30, "frames": 6, "size": "24x24"})
    assert ds.x_train.shape == (60, 6, 24, 24, 1) and ds.x_train.dtype == np.uint8
    assert ds.class_names == ORDER_CLASS_NAMES and len(ORDER_CLASS_NAMES) == 6
    assert np.bincount(ds.y_train).tolist() == [10] * 6  # balanced
    again = make_digit_order(n_train=60, n_test=30, frames=6, size=(24, 24))
    np.testing.assert_array_equal(again.x_train, ds.x_train)
    # a digit sits somewhere in every frame: each frame has a bright 16x16 patch above the noise
    bright = (ds.x_train[..., 0] > 200).sum(axis=(2, 3))
    assert bright.min() > 5
    # consecutive frames are at different positions (appearance must be recognised, not a fixed pixel)
    moved = np.mean([not np.array_equal(ds.x_train[i, 0] > 200, ds.x_train[i, 1] > 200) for i in range(60)])
    assert moved > 0.9
