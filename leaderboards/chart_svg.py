"""A chart as data (panels of series of points, reference lines) and its drawing as inline SVG.

Every label is escaped, and every point is a link to its system page. Axes are in the numbers' own
units (rates in %, utility in its metric's unit) with round ticks. Trade-off charts spread crowded
points and keep a thin line to where a moved point belongs; sweep charts join their points in curves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from markupsafe import Markup, escape
from resta_bench.leaderboards.chart_geometry import (
    LABEL_HEIGHT,
    RADIUS,
    Box,
    nice_ticks,
    place_labels,
    spread_points,
    text_width,
    tick_text,
)
from resta_bench.leaderboards.units import Unit

PALETTE = ("#1b6ca8", "#d1495b", "#2e933c", "#b07d00", "#6a4c93", "#00798c", "#8d6a4f", "#444444")
LEFT, BOTTOM = 52, 40  # px
SIZES = {  # kind -> (width, right margin, panel height)
    "tradeoff": (760, 16, 330),
    "sweep": (560, 108, 150),
}


@dataclass
class Point:
    x: float  # stored units (a fraction for rates)
    y: float
    label: str  # what the point is: method and parameters (drawn beside it in trade-off charts)
    title: str  # the tooltip: the system's label
    href: str


@dataclass
class Series:
    name: str
    points: list[Point] = field(default_factory=list)


@dataclass(frozen=True)
class Reference:
    kind: str  # "sft" | "aligned"
    name: str
    value: float


@dataclass
class Panel:
    key: str  # "harm" | "utility"
    title: str
    unit: Unit
    series: list[Series]
    references: list[Reference] = field(default_factory=list)
    empty: str = ""  # said in place of the curves when there are none
    from_zero: bool = True  # the y axis starts at 0 (a drop to nothing must show), or fits the data


@dataclass
class Chart:
    kind: str  # "tradeoff" | "sweep"
    title: str
    judge: str
    x_title: str
    x_unit: Unit
    panels: list[Panel]
    attributes: dict[str, str] = field(default_factory=dict)  # the figure's data-* attributes

    def svg(self) -> Markup:
        return _draw(self)


class _Scale:
    def __init__(self, ticks: list[float], start: float, length: float, flip: bool):
        self.low, self.high, self.start, self.length, self.flip = ticks[0], ticks[-1], start, length, flip
        self.ticks = ticks

    def __call__(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return self.start + (1 - share if self.flip else share) * self.length


def _scaled(
    values: list[float], start: float, length: float, flip: bool, unit: Unit, from_zero: bool
) -> _Scale:
    """An axis over ``values`` (in ``unit``): from 0, or fitted with a margin, never past 0–100 for %."""
    if not values:
        return _Scale(nice_ticks(0.0, 1.0), start, length, flip)
    low, high = min(values), max(values)
    if from_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    else:
        margin = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
        low, high = low - margin, high + margin
        if unit.percent:  # a margin is no reason to show -10% or 110%
            low, high = max(low, min(values + [0.0])), min(high, max(values + [100.0]))
    return _Scale(nice_ticks(low, high), start, length, flip)


def _legend(names: list[str], colours: dict[str, str], width: float) -> tuple[list[str], float]:
    """Swatches and names in rows across the top; returns the parts and the height they take."""
    if len(names) < 2:
        return [], 0.0
    parts, x, y = [], float(LEFT), 14.0
    for name in names:
        shown = name if len(name) <= 48 else name[:47] + "…"
        item = 14 + text_width(shown)
        if x + item > width - 8 and x > LEFT:
            x, y = float(LEFT), y + 16
        parts.append(
            f'<circle cx="{x + 5}" cy="{y - 4}" r="5" fill="{colours[name]}"/>'
            f'<text class="legend" x="{x + 13}" y="{y}"><title>{escape(name)}</title>{escape(shown)}</text>'
        )
        x += item + 14
    return parts, y + 8


def _draw(chart: Chart) -> Markup:
    width, right, panel_height = SIZES[chart.kind]
    names = list(dict.fromkeys(s.name for panel in chart.panels for s in panel.series))
    colours = {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(names)}
    legend, top = _legend(names, colours, width)
    xs = [chart.x_unit.scaled(p.x) for panel in chart.panels for s in panel.series for p in s.points]
    x_scale = _scaled(xs, LEFT, width - LEFT - right, False, chart.x_unit, from_zero=True)
    parts: list[str] = [*legend]
    y = top
    for index, panel in enumerate(chart.panels):
        y += 20
        last = index == len(chart.panels) - 1
        parts.append(f'<text class="axis" x="{LEFT - 40}" y="{y - 8}">{escape(panel.title)}</text>')
        box = Box(LEFT, y, width - LEFT - right, panel_height)
        parts += _panel(chart, panel, x_scale, box, colours, last)
        y += panel_height + (BOTTOM if last else 8)
    parts.append(
        f'<text class="axis" x="{LEFT + (width - LEFT - right) / 2}" y="{y - 8}" text-anchor="middle">'
        f"{escape(chart.x_title)}</text>"
    )
    head = (
        f'<svg class="chart" viewBox="0 0 {width} {y:.0f}" role="img" aria-label="{escape(chart.title)}">'
        f"<title>{escape(chart.title)}</title>"
    )
    return Markup(head + "".join(parts) + "</svg>")


def _panel(
    chart: Chart, panel: Panel, x_scale: _Scale, box: Box, colours: dict[str, str], bottom: bool
) -> list[str]:
    """One panel: grid and ticks, reference lines, then the series (curves, points, point labels)."""
    values = [p.y for s in panel.series for p in s.points] + [r.value for r in panel.references]
    y_scale = _scaled(
        [panel.unit.scaled(v) for v in values], box.y, box.height, True, panel.unit, panel.from_zero
    )
    parts = [f'<g class="panel" data-panel="{escape(panel.key)}">', *_grid(x_scale, y_scale, box, bottom)]
    parts += _references(panel, y_scale, box)
    if not panel.series:
        parts.append(
            f'<text class="empty" x="{box.x + box.width / 2}" y="{box.y + box.height / 2}" '
            f'text-anchor="middle">{escape(panel.empty)}</text>'
        )
    points = [(s, p) for s in panel.series for p in sorted(s.points, key=lambda p: p.x)]
    exact = [(x_scale(chart.x_unit.scaled(p.x)), y_scale(panel.unit.scaled(p.y))) for _, p in points]
    if chart.kind == "sweep":
        spots = exact
        for series in panel.series:
            line = " ".join(
                f"{x:.1f},{y:.1f}" for (x, y), (s, _) in zip(spots, points, strict=True) if s is series
            )
            parts.append(
                f'<polyline class="series" fill="none" stroke="{colours[series.name]}" points="{line}"/>'
            )
    else:
        spots = spread_points(exact, box)
        parts += [_leader(*spot, *where) for spot, where in zip(spots, exact, strict=True) if spot != where]
    for (x, y), (series, point) in zip(spots, points, strict=True):
        values = f"{chart.x_title}: {chart.x_unit.shown(point.x)}, {panel.title}: {panel.unit.shown(point.y)}"
        parts.append(
            f'<a href="{escape(point.href)}"><circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="{RADIUS}" '
            f'fill="{colours[series.name]}"><title>{escape(point.title)} ({escape(values)})</title>'
            "</circle></a>"
        )
    if chart.kind == "tradeoff":
        parts += _point_labels(spots, [point.label for _, point in points], box)
    parts.append("</g>")
    return parts


def _grid(x_scale: _Scale, y_scale: _Scale, box: Box, bottom: bool) -> list[str]:
    """Grid lines at every tick; y tick labels, and x tick labels under the bottom panel only."""
    parts = []
    for tick in y_scale.ticks:
        at = y_scale(tick)
        parts.append(
            f'<line class="grid" x1="{box.x}" x2="{box.x + box.width}" y1="{at:.1f}" y2="{at:.1f}"/>'
            f'<text class="tick" data-axis="y" x="{box.x - 6}" y="{at + 3.5:.1f}" text-anchor="end">'
            f"{tick_text(tick, y_scale.ticks)}</text>"
        )
    for tick in x_scale.ticks:
        at = x_scale(tick)
        parts.append(
            f'<line class="grid" x1="{at:.1f}" x2="{at:.1f}" y1="{box.y}" y2="{box.y + box.height}"/>'
        )
        if bottom:
            parts.append(
                f'<text class="tick" data-axis="x" x="{at:.1f}" y="{box.y + box.height + 15}" '
                f'text-anchor="middle">{tick_text(tick, x_scale.ticks)}</text>'
            )
    return parts


def _leader(x1: float, y1: float, x2: float, y2: float) -> str:
    """A thin line from a point to where it belongs, or from a far label to its point."""
    return f'<line class="leader" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>'


def _point_labels(spots: list[tuple[float, float]], labels: list[str], box: Box) -> list[str]:
    parts = []
    boxes = place_labels(spots, [text_width(label) for label in labels], box)
    for (x, y), (label_box, far), label in zip(spots, boxes, labels, strict=True):
        if far:  # to the nearest point of the label's box
            parts.append(
                _leader(
                    x,
                    y,
                    min(max(x, label_box.x), label_box.x + label_box.width),
                    min(max(y, label_box.y), label_box.y + label_box.height),
                )
            )
        x, y = label_box.x + 1, label_box.y + 10  # the text's baseline inside its box
        parts.append(f'<text class="point-label" x="{x:.1f}" y="{y:.1f}">{escape(label)}</text>')
    return parts


def _references(panel: Panel, y_scale: _Scale, box: Box) -> list[str]:
    """Dashed lines across the panel, named in the right margin (nudged apart when close)."""
    parts, last_y = [], -math.inf
    for reference in sorted(panel.references, key=lambda r: -r.value):
        at = y_scale(panel.unit.scaled(reference.value))
        label_y = max(at + 3.5, last_y + LABEL_HEIGHT)
        last_y = label_y
        kind = escape(reference.kind)
        parts.append(
            f'<line class="reference {kind}" data-reference="{kind}" x1="{box.x}" x2="{box.x + box.width}" '
            f'y1="{at:.1f}" y2="{at:.1f}"/>'
            f'<text class="reference" data-reference="{kind}" x="{box.x + box.width + 6}" y="{label_y:.1f}">'
            f"{escape(reference.name)} {panel.unit.shown(reference.value)}</text>"
        )
    return parts
