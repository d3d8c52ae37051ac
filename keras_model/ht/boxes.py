"""Boxes of the input index space: the part of ``[x ; h ; 0-pad]`` a chain
runs over (see :mod:`.chain`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np

from ..common.errors import ShapeError


@dataclass(frozen=True)
class Box:
    """``lo[k] <= a_k < lo[k] + size[k]`` for every input mode k."""

    lo: Tuple[int, ...]
    size: Tuple[int, ...]

    @property
    def entries(self) -> int:
        return int(np.prod(self.size))

    def flat_positions(self, modes: Sequence[int]) -> np.ndarray:
        """Global flat (C-order) position of every box entry, in the box's own C order."""
        grids = np.meshgrid(*[np.arange(l, l + n) for l, n in zip(self.lo, self.size)], indexing="ij")
        return np.ravel_multi_index([g.ravel() for g in grids], tuple(modes))


def bounding_box(modes: Sequence[int], start: int, stop: int) -> Box:
    """Smallest box of the C-order index space of ``modes`` that holds the
    flat positions ``start .. stop-1``."""
    if not 0 <= start < stop <= int(np.prod(modes)):
        raise ShapeError(f"positions {start}..{stop - 1} do not lie in a tensor of modes {list(modes)}")
    first = np.unravel_index(start, tuple(modes))
    last = np.unravel_index(stop - 1, tuple(modes))
    lo, size = [], []
    differ = False
    for k, n in enumerate(modes):
        if differ:
            lo.append(0)
            size.append(int(n))
            continue
        lo.append(int(first[k]))
        size.append(int(last[k]) - int(first[k]) + 1)
        differ = first[k] != last[k]
    return Box(tuple(lo), tuple(size))
