"""Agreement statistics on tables whose coefficients are known by hand."""

from __future__ import annotations

import pytest
from resta_bench.judges.agreement import agreement


def table(hh: int, hs: int, sh: int, ss: int, invalid: int = 0) -> list[tuple[str, str]]:
    """Pairs (A, B) from a 2x2 table: hh both harmful, hs A harmful / B safe, and so on."""
    pairs = [("harmful", "harmful")] * hh + [("harmful", "safe")] * hs + [("safe", "harmful")] * sh
    return pairs + [("safe", "safe")] * ss + [("invalid", "safe")] * invalid


def test_balanced_table() -> None:
    # po = 0.7; Cohen pe = 0.5*0.5 + 0.5*0.5 = 0.5 -> κ = 0.4; π = 0.5 each -> AC1 pe = 0.5 -> AC1 = 0.4.
    result = agreement(table(35, 15, 15, 35))
    assert result.n == 100 and result.raw == pytest.approx(0.7)
    assert result.cohen_kappa == pytest.approx(0.4) and result.gwet_ac1 == pytest.approx(0.4)


def test_rare_harm_shows_the_kappa_paradox() -> None:
    # 98% raw agreement with harm rare: κ ≈ 0 (worse than chance: -0.0101), AC1 ≈ 0.98.
    result = agreement(table(0, 1, 1, 98, invalid=3))
    assert result.raw == pytest.approx(0.98)
    assert result.cohen_kappa == pytest.approx((0.98 - 0.9802) / (1 - 0.9802))
    assert result.gwet_ac1 == pytest.approx((0.98 - 2 * 0.01 * 0.99) / (1 - 2 * 0.01 * 0.99))
    assert result.excluded_invalid == 3
    assert result.confusion[("harmful", "safe")] == 1


def test_degenerate_tables() -> None:
    assert agreement([]).raw is None
    same = agreement(table(0, 0, 0, 10))
    assert same.raw == 1.0 and same.cohen_kappa is None  # chance agreement is certain: undefined
    assert same.gwet_ac1 == pytest.approx(1.0)
