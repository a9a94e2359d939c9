"""Chart geometry: round axis ticks, text widths, and placing points and labels so none covers another.

Pure arithmetic in SVG pixels, no drawing: ``leaderboards.chart_svg`` draws with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from resta_bench.leaderboards.units import MINUS

FONT = 10  # px: the size of ticks, legends and point labels
RADIUS = 4.5  # px: a point's dot
LABEL_HEIGHT = 13  # a FONT-px line, with room for descenders
_WIDE, _NARROW = set("mwMW@%"), set(" .,:;'|!iljtf()[]")


def nice_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """At most ``most`` evenly spaced ticks covering [low, high], a step of 1, 2, 2.5 or 5 × 10^k."""
    if high <= low:
        high = low + 1
    power = math.floor(math.log10((high - low) / (most - 1)))
    while True:
        for mantissa in (1, 2, 2.5, 5):
            step = mantissa * 10.0**power
            first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
            if last - first <= most - 1:
                return [round(index * step, 10) for index in range(first, last + 1)]
        power += 1


def tick_text(value: float, ticks: list[float]) -> str:
    """A tick with as many decimals as its step has (0.25 → two, 2.5 → one, 25 → none)."""
    decimals = len(f"{ticks[1] - ticks[0]:.10f}".rstrip("0").partition(".")[2])
    return f"{value:.{decimals}f}".replace("-", MINUS)


def text_width(text: str, size: float = FONT) -> float:
    """At least the width of ``text``: advance widths of DejaVu Sans (system-ui's usual face on Linux,
    and one of the widest sans fonts) as fractions of the font size, rounded up."""
    em = sum(1.0 if c in _WIDE else 0.34 if c in _NARROW else 0.8 if c.isupper() else 0.66 for c in text)
    return em * size + 2


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float

    def overlaps(self, other: Box) -> bool:
        return (
            self.x < other.x + other.width
            and other.x < self.x + self.width
            and self.y < other.y + other.height
            and other.y < self.y + self.height
        )

    def inside(self, other: Box) -> bool:
        return (
            self.x >= other.x
            and self.y >= other.y
            and self.x + self.width <= other.x + other.width
            and self.y + self.height <= other.y + other.height
        )


def _dot(x: float, y: float, gap: float = 1.0) -> Box:
    return Box(x - RADIUS - gap, y - RADIUS - gap, 2 * (RADIUS + gap), 2 * (RADIUS + gap))


def _rings(x: float, y: float, step: float, rings: int) -> Iterator[tuple[float, float]]:
    """Candidate spots around (x, y), nearest first: 8, 16, 24 … on rings ``step`` apart."""
    for ring in range(1, rings + 1):
        count = 8 * ring
        for index in range(count):
            angle = 2 * math.pi * index / count
            yield x + ring * step * math.cos(angle), y + ring * step * math.sin(angle)


def spread_points(spots: list[tuple[float, float]], plot: Box) -> list[tuple[float, float]]:
    """Each spot, or the nearest free one around it, so that no point covers another."""
    # A point may stand on the plot's edge (a rate of 0): its dot may reach a radius past it.
    area = Box(plot.x - RADIUS, plot.y - RADIUS, plot.width + 2 * RADIUS, plot.height + 2 * RADIUS)
    placed: list[tuple[float, float]] = []
    for x, y in spots:
        candidates = [(x, y), *_rings(x, y, 2 * RADIUS + 2, 12)]
        free = (
            (cx, cy)
            for cx, cy in candidates
            if _dot(cx, cy, 0).inside(area) and not any(_dot(cx, cy).overlaps(_dot(*p)) for p in placed)
        )
        placed.append(next(free, (x, y)))
    return placed


def place_labels(points: list[tuple[float, float]], widths: list[float], area: Box) -> list[tuple[Box, bool]]:
    """A box for each point's label, clear of every point and every other label; the flag says the
    label sits away from its point and needs a leader line."""
    taken = [_dot(x, y) for x, y in points]
    placed: list[tuple[Box, bool]] = []
    for (x, y), width in zip(points, widths, strict=True):
        best: tuple[Box, bool] | None = None
        for distance in range(0, 160, 6):
            reach = RADIUS + 3 + distance
            for dx, dy in ((1, 0), (-1, 0), (0, -1), (0, 1), (1, -1), (-1, -1), (1, 1), (-1, 1)):
                left = x + reach if dx > 0 else x - reach - width if dx < 0 else x - width / 2
                top = y + reach if dy > 0 else y - reach - LABEL_HEIGHT if dy < 0 else y - LABEL_HEIGHT / 2
                box = Box(left, top, width, LABEL_HEIGHT)
                if box.inside(area) and not any(box.overlaps(other) for other in taken):
                    best = (box, distance > 0)
                    break
            if best:
                break
        box, far = best or (Box(x + RADIUS + 3, y - LABEL_HEIGHT / 2, width, LABEL_HEIGHT), False)
        taken.append(box)
        placed.append((box, far))
    return placed
