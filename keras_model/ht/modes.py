"""Choosing modes: near-equal factors of a feature count (input modes may
pad, output modes multiply exactly)."""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

from ..common.errors import ShapeError


def balanced_factors(n: int, d: int) -> Optional[Tuple[int, ...]]:
    """Factor ``n`` exactly into ``d`` factors (largest first) minimising the
    largest factor, then the spread."""
    best = None

    def rec(rem: int, k: int, smallest: int, acc: List[int]) -> None:
        nonlocal best
        if k == 1:
            cand = tuple(sorted(acc + [rem], reverse=True))
            key = (cand[0], cand[0] - cand[-1])
            if best is None or key < best[0]:
                best = (key, cand)
            return
        f = smallest
        while f ** k <= rem:  # the remaining k-1 factors are all >= f
            if rem % f == 0:
                rec(rem // f, k - 1, f, acc + [f])
            f += 1

    rec(n, d, 1, [])
    return best[1] if best else None


def factorize(n: int, d: int, max_pad: float = 0.10) -> Tuple[int, ...]:
    """``d`` modes whose product is the smallest number >= ``n`` (within
    ``max_pad`` relative padding) that splits into near-equal factors.

    Among candidates ``n .. n (1 + max_pad)`` the one with the smallest
    largest factor wins (ties: less padding), so leaf cores stay small.
    """
    if n < 1 or d < 1:
        raise ShapeError(f"cannot factorise {n} into {d} modes")
    best = None
    hi = max(n, int(math.floor(n * (1 + max_pad))))
    for cand in range(n, hi + 1):
        f = balanced_factors(cand, d)
        if f is None:
            continue
        key = (max(f), cand)
        if best is None or key < best[0]:
            best = (key, f)
    return best[1]


def factorize_exact(n: int, d: int) -> Tuple[int, ...]:
    """``d`` near-equal modes whose product is exactly ``n`` (1s allowed),
    for output modes, where no padding is possible."""
    if n < 1 or d < 1:
        raise ShapeError(f"cannot factorise {n} into {d} modes")
    return balanced_factors(n, d)
