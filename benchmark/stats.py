"""Interval estimates and paired tests for rates."""

from __future__ import annotations

import math
from collections.abc import Sequence

Z_95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion; None when nothing was counted (n is 0)."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half_width = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At 0 and n successes the bound is exactly 0 or 1; floating point would miss it by an ulp.
    low = 0.0 if successes == 0 else max(0.0, centre - half_width)
    high = 1.0 if successes == n else min(1.0, centre + half_width)
    return low, high


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs of a paired 2x2 table.

    ``only_a`` counts items positive under A but not B, ``only_b`` the reverse. Under the null each
    discordant pair is a fair coin, so p = P(Binomial(n, 1/2) at least as far from n/2), doubled.
    """
    if only_a < 0 or only_b < 0:
        raise ValueError("discordant counts must be non-negative")
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1))
    # Exact integer arithmetic up to the last division, so large tables lose no precision.
    return min(1.0, 2 * tail / 2**n)


def paired_bootstrap_difference(
    a: Sequence[float],
    b: Sequence[float],
    *,
    iterations: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float] | None:
    """Mean of ``b - a`` over paired items, with a percentile bootstrap interval resampling the pairs;
    None when there are no pairs."""
    import numpy as np

    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length ({len(a)} vs {len(b)})")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    if len(a) == 0:
        return None
    differences = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    rng = np.random.default_rng(seed)
    means = np.empty(iterations)
    # Resample in blocks so memory stays bounded for large benchmarks.
    block = max(1, 2_000_000 // len(differences))
    for start in range(0, iterations, block):
        stop = min(iterations, start + block)
        picks = rng.integers(0, len(differences), size=(stop - start, len(differences)))
        means[start:stop] = differences[picks].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(differences.mean()), float(low), float(high)
