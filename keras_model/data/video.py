"""A folder of video clips -> frames -> :class:`~keras_model.data.dataset.Dataset` (OpenCV).

Layout (UCF11, HMDB51 and the like)::

    <root>/<class>/<clip>.avi                 clips directly in the class folder
    <root>/<class>/<group>/<clip>.avi         UCF11-style group folders (v_biking_01, ...)
    <root>/<class>/<group>/<any>/<clip>.mp4   deeper folders belong to their top group

Extensions: .avi .mpg .mpeg .mp4 .mov .mkv .webm, any case. Class names are
the class folder names, sorted alphabetically -> labels 0..C-1. Folders and
files whose names start with "." are ignored, and so are files directly in
``<root>``.

Each clip becomes ``T`` RGB frames ``(T, H, W, 3)`` uint8: frame ``i`` is the
source frame ``floor((i + 0.5) * n / T)`` (the centres of ``T`` equal spans
of the clip's ``n`` frames, so the sampling is uniform in time and in order),
resized with ``cv2.INTER_AREA`` and converted from OpenCV's BGR to RGB. ``n``
comes from ``CAP_PROP_FRAME_COUNT`` when the container reports it and the
clip really has that many frames; otherwise (0, too large or too small) the
whole clip is decoded and counted. Clips that cannot be opened, have no
frames, or have fewer than ``T`` frames are skipped with a warning line each.

Split rule (deterministic in ``seed``): every clip belongs to a *group*, the
first folder below its class folder (UCF11's ``v_biking_01``: clips of one
group share actors and background), or, for a clip lying directly in its class
folder, a group of its own. Per class, in alphabetical class order, the
class's groups are sorted by name and shuffled with
``numpy.random.default_rng([seed, class_index])``; taking the groups in that
order, each one moves to the test set if that brings the class's test clip
count closer to ``test_fraction`` of its clips, keeping at least one group in
test and one in train. So no group straddles train and test, and without group folders
this is a plain stratified split per class.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

# FFmpeg's own log lines ("moov atom not found", "overread 8", ...) would interleave
# with our one-line warnings, and we report every unusable clip ourselves. OpenCV
# reads this when its FFmpeg backend first starts, hence at import; a user who
# sets OPENCV_FFMPEG_LOGLEVEL keeps their setting.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from ..common.errors import ConfigError, DataError  # noqa: E402
from .dataset import Dataset  # noqa: E402

__all__ = [
    "VIDEO_EXTENSIONS",
    "Clip",
    "ClipError",
    "VideoSummary",
    "clip_info",
    "decode_clip",
    "find_clips",
    "sample_indices",
    "split_clips",
    "videos_to_dataset",
]

_CV_LOG_ERROR = 2  # cv::utils::logging::LOG_LEVEL_ERROR

VIDEO_EXTENSIONS = (".avi", ".mpg", ".mpeg", ".mp4", ".mov", ".mkv", ".webm")


class ClipError(DataError):
    """One clip cannot be used (unreadable, empty, too short); the folder reader skips it."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


@dataclass(frozen=True)
class Clip:
    """One video file: its path, class folder name and group (None: its own group)."""

    path: Path
    class_name: str
    group: str | None = None

    @property
    def group_key(self) -> str:
        """The unit of the split: the group folder, or the clip itself."""
        return self.group if self.group is not None else f"<clip>{self.path.name}"


@dataclass
class VideoSummary:
    """What :func:`videos_to_dataset` did."""

    root: Path
    class_names: list[str]
    clips_per_class: dict[str, int]  # decoded clips per class
    train_per_class: dict[str, int]
    test_per_class: dict[str, int]
    n_train: int
    n_test: int
    split: str  # "group" or "stratified"
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (path, reason)
    train_clips: list[str] = field(default_factory=list)  # paths relative to root, in x_train order
    test_clips: list[str] = field(default_factory=list)  # paths relative to root, in x_test order

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)


def _visible(p: Path) -> bool:
    return not p.name.startswith(".")


def find_clips(root) -> list[Clip]:
    """All video files under ``root/<class>/``, sorted by class then path.

    Raises :class:`DataError` if ``root`` is not a folder or holds no clips.
    Class folders without clips are returned as nothing here; see
    :func:`videos_to_dataset` for the check that every class has clips.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: video folder not found; give the folder that holds one sub-folder per class")
    clips = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and _visible(p)):
        for dirpath, dirnames, filenames in os.walk(class_dir):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if name.startswith(".") or path.suffix.lower() not in VIDEO_EXTENSIONS:
                    continue
                parts = path.relative_to(class_dir).parts
                group = parts[0] if len(parts) > 1 else None
                clips.append(Clip(path, class_dir.name, group))
    if not clips:
        raise DataError(
            f"{root}: no video clips found ({', '.join(VIDEO_EXTENSIONS)}); expected <root>/<class>/[<group>/]<clip>"
        )
    return clips


def sample_indices(n_frames: int, n_samples: int) -> np.ndarray:
    """``n_samples`` frame indices uniform in time over ``n_frames``: the centres of equal spans.

    Strictly increasing when ``n_frames >= n_samples``.
    """
    if n_samples < 1 or n_frames < n_samples:
        raise ValueError(f"cannot sample {n_samples} frames from {n_frames}")
    return np.floor((np.arange(n_samples) + 0.5) * n_frames / n_samples).astype(np.int64)


def _open(path: Path) -> cv2.VideoCapture:
    level = cv2.getLogLevel()
    cv2.setLogLevel(_CV_LOG_ERROR)  # no "[ WARN ] ... can't open" lines from OpenCV either
    try:
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    finally:
        cv2.setLogLevel(level)
    if not cap.isOpened():
        cap.release()
        raise ClipError(path, "cannot be opened as a video (corrupt file or unsupported codec)")
    return cap


def clip_info(path) -> dict:
    """Container facts: ``frame_count`` (as reported, may be 0 or wrong), ``width``, ``height``, ``fps``."""
    cap = _open(Path(path))
    try:
        return {
            "frame_count": int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
            "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            "fps": float(cap.get(cv2.CAP_PROP_FPS)),
        }
    finally:
        cap.release()


def _to_rgb(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    elif frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.shape[:2] != (height, width):
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def _decode_counted(path: Path, reported: int, n_samples: int, height: int, width: int):
    """Trust the reported frame count; None if the clip turns out to have another length."""
    targets = sample_indices(reported, n_samples)
    out = np.empty((n_samples, height, width, 3), dtype=np.uint8)
    cap = _open(path)
    try:
        k = 0
        for index in range(reported):
            if not cap.grab():
                return None  # fewer frames than reported
            if k < n_samples and index == targets[k]:
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    return None
                out[k] = _to_rgb(frame, height, width)
                k += 1
        if cap.grab():
            return None  # more frames than reported: the sampling would be skewed
        return out
    finally:
        cap.release()


def _decode_all(path: Path, n_samples: int, height: int, width: int) -> np.ndarray:
    frames = []
    cap = _open(path)
    try:
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            frames.append(_to_rgb(frame, height, width))
    finally:
        cap.release()
    if not frames:
        raise ClipError(path, "no frames could be decoded")
    if len(frames) < n_samples:
        raise ClipError(path, f"only {len(frames)} frames, need at least {n_samples}")
    return np.stack([frames[i] for i in sample_indices(len(frames), n_samples)])


def decode_clip(path, n_frames: int = 6, height: int = 120, width: int = 160) -> np.ndarray:
    """``n_frames`` RGB frames of one clip, uniform in time: ``(n_frames, height, width, 3)`` uint8.

    Raises :class:`ClipError` (a :class:`DataError`) if the clip cannot be
    opened, has no frames, or has fewer than ``n_frames`` frames.
    """
    path = Path(path)
    if n_frames < 1 or height < 1 or width < 1:
        raise ConfigError(f"decode_clip: frames, height and width must be >= 1, got {n_frames}, {height}, {width}")
    reported = clip_info(path)["frame_count"]
    if reported >= n_frames:
        frames = _decode_counted(path, reported, n_frames, height, width)
        if frames is not None:
            return frames
    return _decode_all(path, n_frames, height, width)


SPLITS = ("group", "clip")


def split_clips(clips: list[Clip], test_fraction: float = 0.25, seed: int = 0, by: str = "group",
                warnings: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices into ``clips`` (sorted), by group within each class.

    See the module docstring for the rule. ``by="clip"`` makes every clip its
    own group (a stratified split that ignores group folders). A class whose
    clips all lie in ONE group folder cannot be split by group: its clips are
    then split one by one, and a line saying so is appended to ``warnings``.
    Raises :class:`DataError` when a class has a single clip.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    if by not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, got {by!r}")
    class_names = sorted({c.class_name for c in clips})
    train, test = [], []
    for class_index, name in enumerate(class_names):
        members = [i for i, c in enumerate(clips) if c.class_name == name]
        if len(members) < 2:
            raise DataError(
                f"class {name!r} has only one clip ({clips[members[0]].path.name}); a split needs at least 2 clips "
                f"per class so it can be in both train and test (add clips or remove the class folder)"
            )
        groups: dict[str, list[int]] = {}
        for i in members:
            groups.setdefault(clips[i].group_key if by == "group" else f"<clip>{clips[i].path}", []).append(i)
        if len(groups) < 2:
            if warnings is not None:
                warnings.append(
                    f"warning: class {name!r} has one group folder ({clips[members[0]].group}); its {len(members)} "
                    f"clips are split one by one, so train and test share that group (add group folders to avoid it)")
            groups = {f"<clip>{clips[i].path}": [i] for i in members}
        keys = sorted(groups)
        order = np.random.default_rng([seed, class_index]).permutation(len(keys))
        target = test_fraction * len(members)
        n_test = 0
        test_keys = []
        for j in order:
            size = len(groups[keys[j]])
            if abs(n_test + size - target) < abs(n_test - target) or not test_keys:
                test_keys.append(keys[j])
                n_test += size
            if n_test >= target:
                break
        if len(test_keys) == len(keys):  # keep at least one group for training
            test_keys.pop()
        for key in keys:
            (test if key in test_keys else train).extend(groups[key])
    return np.array(sorted(train), dtype=np.int64), np.array(sorted(test), dtype=np.int64)


class _Progress:
    """A one-line progress bar on a stream: redrawn in place on a terminal, else a line per 10 %."""

    def __init__(self, total: int, stream: TextIO | None, enabled: bool | None):
        self.total, self.stream = total, stream
        self.tty = bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
        self.enabled = stream is not None and (self.tty if enabled is None else enabled)
        self.last_decile = -1
        self.drawn = False

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = width * done // max(self.total, 1)
        line = f"decoding {done}/{self.total} clips [{'#' * filled}{'.' * (width - filled)}]"
        if self.tty:
            self.stream.write("\r" + line)
            self.drawn = True
        else:
            decile = 10 * done // max(self.total, 1)
            if decile == self.last_decile:
                return
            self.last_decile = decile
            self.stream.write(line + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        if self.stream is None:
            return
        if self.drawn:
            self.stream.write("\r\033[K")  # clear the bar, print, the next update redraws it
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def videos_to_dataset(
    root,
    frames: int = 6,
    height: int = 120,
    width: int = 160,
    test_fraction: float = 0.25,
    seed: int = 0,
    progress: bool | None = None,
    log: TextIO | None | str = "stderr",
    split: str = "group",
) -> tuple[Dataset, VideoSummary]:
    """Decode every clip under ``root`` and split them; see the module docstring.

    Returns the :class:`Dataset` (``x`` of shape ``(N, frames, height, width, 3)``
    uint8, labels from the sorted class folder names) and a :class:`VideoSummary`
    (clips per class, split sizes, skipped clips with reasons).

    ``log`` (a text stream; by default the current ``sys.stderr``) gets a warning
    line per skipped clip and, if ``progress`` (default: only when ``log`` is a
    terminal), a progress bar; ``log=None`` is silent.
    ``split``: ``"group"`` (keep group folders whole) or ``"clip"``; see :func:`split_clips`.
    The folder layout (classes, clips, whether every class can be split) is
    checked before any clip is decoded.
    Raises :class:`DataError` for a missing/empty folder, fewer than two
    classes, a class left without readable clips, or a class that cannot be split.
    """
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1:
        raise ConfigError(f"frames must be an integer >= 1, got {frames!r}")
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
    if isinstance(test_fraction, bool) or not (isinstance(test_fraction, (int, float)) and 0.0 < test_fraction < 1.0):
        raise ConfigError(f"test fraction must be between 0 and 1 (exclusive), got {test_fraction!r}")
    if log == "stderr":
        log = sys.stderr  # looked up now, so redirected/captured stderr is honoured
    root = Path(root)
    clips = find_clips(root)
    class_names = sorted(p.name for p in root.iterdir() if p.is_dir() and _visible(p))
    if len(class_names) < 2:
        raise DataError(f"{root}: found {len(class_names)} class folder(s) {class_names}; classification needs at least 2")
    no_clips = [name for name in class_names if not any(c.class_name == name for c in clips)]
    if no_clips:
        raise DataError(f"{root}: class folder(s) {', '.join(no_clips)} hold no video clips; add clips or remove them")
    notes: list = []
    split_clips(clips, test_fraction, seed, by=split, warnings=notes)  # the layout, before any decoding
    for line in notes:
        if log is not None:
            print(line, file=log)

    bar = _Progress(len(clips), log, progress)
    x = np.empty((len(clips), frames, height, width, 3), dtype=np.uint8)
    kept: list[Clip] = []
    skipped: list[tuple[Path, str]] = []
    bar.update(0)
    for i, clip in enumerate(clips):
        try:
            x[len(kept)] = decode_clip(clip.path, frames, height, width)
            kept.append(clip)
        except ClipError as exc:
            skipped.append((clip.path, exc.reason))
            bar.message(f"warning: skipped {clip.path}: {exc.reason}")
        bar.update(i + 1)
    bar.close()

    counts = {name: sum(c.class_name == name for c in kept) for name in class_names}
    empty = [name for name, n in counts.items() if n == 0]
    if empty:
        raise DataError(
            f"{root}: class folder(s) {', '.join(empty)} have no readable clips; add clips or remove the folder(s)"
        )
    train_idx, test_idx = split_clips(kept, test_fraction, seed, by=split)
    label_of = {name: i for i, name in enumerate(class_names)}
    y = np.array([label_of[c.class_name] for c in kept], dtype=np.int64)
    x = x[: len(kept)]
    dataset = Dataset(x[train_idx], y[train_idx], x[test_idx], y[test_idx], list(class_names))
    summary = VideoSummary(
        root=root,
        class_names=list(class_names),
        clips_per_class=counts,
        train_per_class={n: int(np.sum(dataset.y_train == label_of[n])) for n in class_names},
        test_per_class={n: int(np.sum(dataset.y_test == label_of[n])) for n in class_names},
        n_train=len(train_idx),
        n_test=len(test_idx),
        split="group" if split == "group" and any(c.group is not None for c in kept) else "stratified",
        skipped=skipped,
        train_clips=[kept[i].path.relative_to(root).as_posix() for i in train_idx],
        test_clips=[kept[i].path.relative_to(root).as_posix() for i in test_idx],
    )
    return dataset, summary
