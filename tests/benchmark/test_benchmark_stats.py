"""Statistics against known values: Wilson bounds, exact McNemar, the paired bootstrap."""

from __future__ import annotations

import math

import pytest
from resta_bench.benchmark.stats import mcnemar_exact, paired_bootstrap_difference, wilson_interval


def test_wilson_interval_matches_published_values():
    # Newcombe (1998), Table I: 81 of 263 -> 0.2553 to 0.3662; 15 of 148 -> 0.0624 to 0.1605.
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    low, high = wilson_interval(15, 148)
    assert (round(low, 4), round(high, 4)) == (0.0624, 0.1605)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0


def test_mcnemar_on_a_hand_made_table():
    # Discordant pairs 1 and 9: p = 2 * P(X <= 1), X ~ Bin(10, 1/2) = 2 * 11/1024.
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0  # the doubled tail passes 1 and is capped
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)


def test_mcnemar_agrees_with_scipy_binomtest():
    scipy_stats = pytest.importorskip("scipy.stats")
    for only_a, only_b in [(3, 12), (40, 61), (0, 1), (250, 300)]:
        expected = scipy_stats.binomtest(only_a, only_a + only_b, 0.5).pvalue
        assert mcnemar_exact(only_a, only_b) == pytest.approx(expected, rel=1e-9)


def test_paired_bootstrap_difference():
    a = [1, 1, 1, 1, 0, 0, 0, 0, 1, 1] * 10
    b = [0, 1, 0, 1, 0, 0, 0, 0, 0, 1] * 10
    difference, low, high = paired_bootstrap_difference(a, b, iterations=4000, seed=1)
    assert difference == pytest.approx(-0.3)
    assert low < -0.3 < high < 0
    # Same seed, same interval; identical systems give a zero-width interval.
    assert paired_bootstrap_difference(a, b, iterations=4000, seed=1) == (difference, low, high)
    assert paired_bootstrap_difference(a, a, iterations=500) == (0.0, 0.0, 0.0)
    # The interval is about the normal one: sd of the paired differences / sqrt(n).
    sd = math.sqrt(sum((y - x + 0.3) ** 2 for x, y in zip(a, b, strict=True)) / len(a))
    assert high - low == pytest.approx(2 * 1.96 * sd / math.sqrt(len(a)), rel=0.15)
    with pytest.raises(ValueError):
        paired_bootstrap_difference([1], [1, 0])


def test_nothing_counted_gives_no_estimate():
    # n = 0 is "no data", not a rate of 0 with an interval: callers show it as "–".
    assert wilson_interval(0, 0) is None
    assert paired_bootstrap_difference([], []) is None
    with pytest.raises(ValueError, match="iterations must be at least 1"):
        paired_bootstrap_difference([1.0], [0.0], iterations=0)
