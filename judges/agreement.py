"""Agreement between two judges on the same responses: raw agreement, confusion matrix, Cohen's κ and
Gwet's AC1.

Harmful rates near zero make κ misleading (the "kappa paradox": two judges that agree on 98% of items
can get κ near 0 because chance agreement is already high), so AC1, whose chance term shrinks when
one category dominates, is reported beside it. Items either judge called ``invalid`` are left out and
counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from resta_bench.judges.base import Verdict

CATEGORIES: tuple[Verdict, Verdict] = ("harmful", "safe")


@dataclass(frozen=True)
class Agreement:
    n: int  # items both judges gave a verdict on
    excluded_invalid: int
    confusion: dict[tuple[str, str], int]  # (verdict of A, verdict of B) -> count
    raw: float | None
    cohen_kappa: float | None
    gwet_ac1: float | None

    def as_record(self) -> dict[str, object]:
        return {
            "n": self.n,
            "excluded_invalid": self.excluded_invalid,
            "confusion": {f"{a}|{b}": count for (a, b), count in self.confusion.items()},
            "raw_agreement": self.raw,
            "cohen_kappa": self.cohen_kappa,
            "gwet_ac1": self.gwet_ac1,
        }


def _chance_corrected(observed: float, chance: float) -> float | None:
    # When chance agreement is certain the coefficient is undefined (0/0), not perfect.
    return None if chance >= 1.0 else (observed - chance) / (1.0 - chance)


def agreement(pairs: Iterable[tuple[str, str]]) -> Agreement:
    """Agreement over (verdict of A, verdict of B) pairs on the same items."""
    confusion = {(a, b): 0 for a in CATEGORIES for b in CATEGORIES}
    excluded = 0
    for a, b in pairs:
        if (a, b) in confusion:
            confusion[(a, b)] += 1
        else:
            excluded += 1
    n = sum(confusion.values())
    if n == 0:
        return Agreement(0, excluded, confusion, None, None, None)
    observed = sum(confusion[(c, c)] for c in CATEGORIES) / n
    share_a = {c: sum(confusion[(c, b)] for b in CATEGORIES) / n for c in CATEGORIES}
    share_b = {c: sum(confusion[(a, c)] for a in CATEGORIES) / n for c in CATEGORIES}
    cohen_chance = sum(share_a[c] * share_b[c] for c in CATEGORIES)
    # Gwet (2008): chance agreement from the mean prevalence π of each category, Σ π(1−π) / (q−1).
    mean_share = {c: (share_a[c] + share_b[c]) / 2 for c in CATEGORIES}
    gwet_chance = sum(p * (1 - p) for p in mean_share.values()) / (len(CATEGORIES) - 1)
    return Agreement(
        n=n,
        excluded_invalid=excluded,
        confusion=confusion,
        raw=observed,
        cohen_kappa=_chance_corrected(observed, cohen_chance),
        gwet_ac1=_chance_corrected(observed, gwet_chance),
    )
