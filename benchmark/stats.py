"""Interval estimates and paired tests for rates."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

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

    _check_resampling("paired samples", a, b, iterations)
    if len(a) == 0:
        return None
    differences = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    low, high = _percentile_bootstrap(
        len(differences), lambda picks: differences[picks].mean(axis=1), iterations, seed, confidence
    )
    return float(differences.mean()), low, high


def _check_resampling(what: str, first: Sequence, second: Sequence, iterations: int) -> None:
    if len(first) != len(second):
        raise ValueError(f"{what} differ in length ({len(first)} vs {len(second)})")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")


def _percentile_bootstrap(
    size: int, statistic: Callable[[Any], Any], iterations: int, seed: int, confidence: float
) -> tuple[float, float]:
    """Percentile interval of ``statistic`` over resamples: each row of the index array it receives
    picks ``size`` items with replacement."""
    import numpy as np

    rng = np.random.default_rng(seed)
    values = np.empty(iterations)
    # Resample in blocks so memory stays bounded for large benchmarks.
    block = max(1, 2_000_000 // size)
    for start in range(0, iterations, block):
        stop = min(iterations, start + block)
        values[start:stop] = statistic(rng.integers(0, size, size=(stop - start, size)))
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def cluster_bootstrap_interval(
    hits: Sequence[int],
    trials: Sequence[int],
    *,
    iterations: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile interval for the pooled rate ``sum(hits) / sum(trials)`` of clusters (a question's several
    sampled responses), resampling whole clusters: responses to one question are correlated, so the
    question is the unit of resampling. None when nothing was counted.

    When every response agrees (no hits, or all hits) no resample differs and the percentile interval
    would be a point; the bound is then Wilson's over the clusters, as if each question's responses were
    one (the most correlated case).
    """
    import numpy as np

    _check_resampling("hits and trials", hits, trials, iterations)
    k, n = np.asarray(hits, dtype=float), np.asarray(trials, dtype=float)
    k, n = k[n > 0], n[n > 0]  # a question with only invalid verdicts counts for nothing
    if len(n) == 0:
        return None
    if k.sum() in (0, n.sum()):
        return wilson_interval(len(n) if k.sum() else 0, len(n))
    return _percentile_bootstrap(
        len(n), lambda picks: k[picks].sum(axis=1) / n[picks].sum(axis=1), iterations, seed, confidence
    )
