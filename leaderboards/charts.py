"""Charts drawn at build time as inline SVG: the harmfulness–utility trade-off and parameter sweeps.

Drawing here rather than in the browser keeps the site free of any charting library; every label is
escaped, and every point is a link to its system page. Axes are in the numbers' own units (rates in %,
utility in its metric's unit) with round ticks.

- A trade-off chart (per judge, utility column and base model) puts each system at (harmful rate,
  utility), coloured by its fine-tuned model, labelled with its method and parameters. Points and
  labels are placed so that none covers another; a point moved off a crowded spot keeps a thin line to
  where it belongs.
- A sweep chart (per judge, SFT model, method and swept parameter) shows the harmful rate and the
  utility against the parameter in two panels on one x axis, with the SFT and aligned models as
  reference lines, so a setting that babbles reads as lost utility rather than as safety.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from markupsafe import Markup, escape
from resta_bench.leaderboards.labels import param_symbol, param_text, variant_name
from resta_bench.leaderboards.tables import Column, Headline, HeadlineRow
from resta_bench.leaderboards.units import MINUS, RATE, Unit

PALETTE = ("#1b6ca8", "#d1495b", "#2e933c", "#b07d00", "#6a4c93", "#00798c", "#8d6a4f", "#444444")
RAW = Unit(percent=False)  # a parameter's own values
LEFT, BOTTOM, FONT = 52, 40, 10  # px; FONT is the size of ticks, legends and point labels
RADIUS = 4.5
SIZES = {  # kind -> (width, right margin, panel height)
    "tradeoff": (760, 16, 330),
    "sweep": (560, 108, 150),
}
LABEL_HEIGHT = 13  # a FONT-px line, with room for descenders
_WIDE, _NARROW = set("mwMW@%"), set(" .,:;'|!iljtf()[]")


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


# ---- geometry ----


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


# ---- drawing ----


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


# ---- which charts ----


def _rows(head: Headline) -> dict[tuple[str, str], HeadlineRow]:
    return {(row.system.id, row.judge): row for row in head.rows}


def _value(row: HeadlineRow | None, column: Column) -> float | None:
    cell = row.cells.get(column.key) if row else None
    return None if cell is None else cell["value"]


def _axis_title(column: Column) -> str:
    """A column in words, with its unit and which way is better: a chart axis' title."""
    name = column.short if column.utility else f"{column.rate_name} (%)"
    return f"{name}, {'lower' if column.lower_is_better else 'higher'} is better"


def tradeoff_charts(head: Headline, href: dict[str, str]) -> list[Chart]:
    """Per judge, utility column and base model: each system at (harmful rate, utility), coloured by
    its fine-tuned model and labelled with its method and parameters. The unaligned model is left out:
    it is the harmful model the safety vector is taken from, not a candidate."""
    reference = head.reference
    if reference is None:
        return []
    rows = _rows(head)
    charts = []
    for utility in (c for c in head.columns if c.utility):
        families: dict[tuple[str, str], dict[str, Series]] = {}
        for row in head.rows:
            harm, value = _value(row, reference), _value(row, utility)
            if not row.judge or harm is None or value is None or row.system.meta["role"] == "unaligned":
                continue
            meta = row.system.meta
            sft = rows.get((meta.get("sft_system"), row.judge))
            group = sft.system.meta["label"] if sft else meta["label"] if meta["role"] == "sft" else "aligned"
            family = families.setdefault((row.judge, meta["base_model"]), {})
            family.setdefault(group, Series(group)).points.append(
                Point(harm, value, variant_name(meta), meta["label"], href[row.system.id])
            )
        for (judge, base), series in sorted(families.items()):
            panel = Panel(
                "utility", _axis_title(utility), utility.unit, list(series.values()), from_zero=False
            )
            title = f"{base}: {reference.rate_name} against {utility.short}, judge {judge}"
            charts.append(
                Chart("tradeoff", title, judge, _axis_title(reference), RATE, [panel], {"base": base})
            )
    return charts


def _swept(rows: list[HeadlineRow]) -> list[str]:
    """The numeric parameters that take more than one value among these systems (seed aside)."""
    values: dict[str, set[float]] = {}
    for row in rows:
        for name, value in (row.system.meta.get("params") or {}).items():
            if name != "seed" and isinstance(value, (int, float)) and not isinstance(value, bool):
                values.setdefault(name, set()).add(value)
    return [name for name, seen in values.items() if len(seen) > 1]


def sweep_charts(head: Headline, href: dict[str, str]) -> list[Chart]:
    """Per judge, SFT model, method and swept parameter: the harmful rate and each utility score the
    SFT model has, against the parameter, one curve per setting of the method's other parameters."""
    reference = head.reference
    if reference is None:
        return []
    rows = _rows(head)
    families: dict[tuple[str, str, str], list[HeadlineRow]] = {}
    for row in head.rows:
        meta = row.system.meta
        if meta["role"] == "realigned" and row.judge and (meta.get("sft_system"), row.judge) in rows:
            families.setdefault((row.judge, meta["sft_system"], meta.get("method") or ""), []).append(row)
    charts = []
    for (judge, sft_id, _), members in sorted(families.items()):
        sft = rows[(sft_id, judge)]
        # The re-aligned models name the aligned model they were re-aligned towards.
        aligned_id = members[0].system.meta.get("aligned_system") or sft.system.meta.get("aligned_system")
        aligned = rows.get((aligned_id, judge))
        for param in _swept(members):
            charts.append(_sweep(head, href, members, param, sft, aligned))
    return charts


def _sweep(
    head: Headline,
    href: dict[str, str],
    members: list[HeadlineRow],
    param: str,
    sft: HeadlineRow,
    aligned: HeadlineRow | None,
) -> Chart:
    reference = head.reference
    assert reference is not None
    utilities = [c for c in head.columns if c.utility and _value(sft, c) is not None]
    panels = [_sweep_panel("harm", reference, members, param, href)]
    panels += [_sweep_panel("utility", column, members, param, href) for column in utilities]
    if not utilities:
        panels.append(
            Panel("utility", "Utility", RATE, [], empty="no utility score stored for the SFT model")
        )
    for panel, column in zip(panels, [reference, *utilities], strict=False):
        panel.references = [
            Reference(kind, name, value)
            for kind, name, row in (("sft", "SFT", sft), ("aligned", "aligned", aligned))
            if (value := _value(row, column)) is not None
        ]
    meta = members[0].system.meta
    symbol = param_symbol(param)
    return Chart(
        "sweep",
        f"{sft.system.meta['label']}, {variant_name({**meta, 'params': {}})}: harm and utility against "
        f"{symbol}, judge {sft.judge}",
        sft.judge,
        symbol,
        RAW,
        panels,
        {"sft": sft.system.id, "method": meta.get("method") or "", "param": param},
    )


def _sweep_panel(
    key: str, column: Column, members: list[HeadlineRow], param: str, href: dict[str, str]
) -> Panel:
    curves: dict[str, Series] = {}
    for row in members:
        params = row.system.meta.get("params") or {}
        value = _value(row, column)
        if value is None or not isinstance(params.get(param), (int, float)):
            continue
        name = param_text(params, leave_out=(param,)) or variant_name({**row.system.meta, "params": {}})
        curves.setdefault(name, Series(name)).points.append(
            Point(
                params[param],
                value,
                variant_name(row.system.meta),
                row.system.meta["label"],
                href[row.system.id],
            )
        )
    return Panel(key, _axis_title(column), column.unit, list(curves.values()))
