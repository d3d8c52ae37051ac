"""The validation split of a training set: random, or by group when samples
come in groups of near-duplicates (clips cut from one source video)."""

from __future__ import annotations

import numpy as np

from ..common.errors import DataError


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
