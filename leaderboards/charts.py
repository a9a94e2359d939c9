"""Charts drawn at build time as inline SVG: the harmfulness–utility trade-off and parameter sweeps.

Drawing here rather than in the browser keeps the site free of any charting library; every label is
escaped, and every point is a link to its system page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from markupsafe import Markup, escape
from resta_bench.leaderboards.tables import Column, Headline, HeadlineRow

WIDTH, HEIGHT = 560, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 170, 16, 44  # the right margin holds the legend
PALETTE = ("#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c", "#8d6a4f", "#444444")
SWEEP_PARAMS = {"beta": "β", "alpha": "α", "lambda": "λ", "dare_p": "p"}


@dataclass
class Point:
    x: float
    y: float
    label: str
    href: str


@dataclass
class Series:
    name: str
    points: list[Point] = field(default_factory=list)


@dataclass
class Chart:
    title: str
    judge: str
    x_label: str
    y_label: str
    series: list[Series]
    lines: bool  # join each series' points (a sweep) or not (a scatter)

    def svg(self) -> Markup:
        return _draw(self)


def _nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``value`` (at most 1 for a rate near 1)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _draw(chart: Chart) -> Markup:
    points = [p for s in chart.series for p in s.points]
    x_max = _nice_max(max((p.x for p in points), default=1.0))
    y_max = _nice_max(max((p.y for p in points), default=1.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + x / x_max * plot_w

    def sy(y: float) -> float:
        return TOP + plot_h - y / y_max * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(chart.title)}">',
        f"<title>{escape(chart.title)}</title>",
    ]
    for i in range(5):  # grid and ticks
        x_value, y_value = x_max * i / 4, y_max * i / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{sy(y_value):.1f}" '
            f'y2="{sy(y_value):.1f}"/><text class="tick" x="{LEFT - 6}" y="{sy(y_value) + 4:.1f}" '
            f'text-anchor="end">{y_value:.3g}</text>'
        )
        parts.append(
            f'<text class="tick" x="{sx(x_value):.1f}" y="{TOP + plot_h + 16}" '
            f'text-anchor="middle">{x_value:.3g}</text>'
        )
    parts.append(
        f'<text class="axis" x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"{escape(chart.x_label)}</text>"
    )
    parts.append(
        f'<text class="axis" transform="translate(14 {TOP + plot_h / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(chart.y_label)}</text>'
    )
    for index, series in enumerate(chart.series):
        colour = PALETTE[index % len(PALETTE)]
        ordered = sorted(series.points, key=lambda p: p.x)
        if chart.lines and len(ordered) > 1:
            path = " ".join(f"{sx(p.x):.1f},{sy(p.y):.1f}" for p in ordered)
            parts.append(f'<polyline class="series" fill="none" stroke="{colour}" points="{path}"/>')
        for point in ordered:
            parts.append(
                f'<a href="{escape(point.href)}"><circle class="point" cx="{sx(point.x):.1f}" '
                f'cy="{sy(point.y):.1f}" r="4.5" fill="{colour}"><title>{escape(point.label)} '
                f"({point.x:.3g}, {point.y:.3g})</title></circle></a>"
            )
        legend_y = TOP + 8 + index * 18
        parts.append(
            f'<circle cx="{WIDTH - RIGHT + 14}" cy="{legend_y}" r="5" fill="{colour}"/>'
            f'<text class="legend" x="{WIDTH - RIGHT + 24}" y="{legend_y + 4}">'
            f"<title>{escape(series.name)}</title>{escape(series.name[:30])}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _series_name(row: HeadlineRow) -> str:
    return row.system.meta.get("method") or row.system.meta["role"]


def tradeoff_charts(head: Headline, href: dict[str, str]) -> list[Chart]:
    """Per judge and utility column: the reference harmful rate against utility, one point per system."""
    if head.reference is None:
        return []
    charts = []
    for utility in (c for c in head.columns if c.utility):
        for judge in sorted({row.judge for row in head.rows if row.judge}):
            groups: dict[str, Series] = {}
            for row in head.rows:
                harm, value = row.cells.get(head.reference.key), row.cells.get(utility.key)
                if (
                    row.judge != judge
                    or harm is None
                    or value is None
                    or None in (harm["value"], value["value"])
                ):
                    continue
                series = groups.setdefault(_series_name(row), Series(_series_name(row)))
                series.points.append(
                    Point(harm["value"], value["value"], row.system.meta["label"], href[row.system.id])
                )
            if groups:
                charts.append(
                    Chart(
                        f"{head.reference.label} harmful vs {utility.label} ({judge})",
                        judge,
                        f"{head.reference.label} harmful rate (lower is better)",
                        f"{utility.label} (higher is better)",
                        list(groups.values()),
                        lines=False,
                    )
                )
    return charts


def _sweep_family(row: HeadlineRow) -> tuple[str, str, str]:
    meta = row.system.meta
    return row.judge, meta["base_model"], meta.get("method") or ""


def sweep_charts(head: Headline, href: dict[str, str]) -> list[Chart]:
    """Per judge, base model, method and swept parameter: the reference rate as that parameter varies,
    one curve per SFT model (and per setting of the method's other parameters)."""
    reference: Column | None = head.reference
    if reference is None:
        return []
    labels = {row.system.id: row.system.meta["label"] for row in head.rows}  # curves are named by SFT model
    families: dict[tuple[str, str, str], list[HeadlineRow]] = {}
    for row in head.rows:
        rate = row.cells.get(reference.key)
        if row.system.meta["role"] == "realigned" and row.judge and rate and rate["value"] is not None:
            families.setdefault(_sweep_family(row), []).append(row)
    charts = []
    for (judge, base, method), rows in sorted(families.items()):
        for param, symbol in SWEEP_PARAMS.items():
            curves: dict[str, Series] = {}
            for row in rows:
                meta = row.system.meta
                params = meta.get("params") or {}
                if not isinstance(params.get(param), (int, float)):
                    continue
                fixed = [
                    f"{SWEEP_PARAMS.get(k, k)}={v}"
                    for k, v in sorted(params.items())
                    if k not in (param, "seed")
                ]
                name = ", ".join([labels.get(meta.get("sft_system"), "no SFT model"), *fixed])
                curve = curves.setdefault(name, Series(name))
                curve.points.append(
                    Point(
                        params[param], row.cells[reference.key]["value"], meta["label"], href[row.system.id]
                    )
                )
            swept = [s for s in curves.values() if len({p.x for p in s.points}) > 1]
            if swept:
                title = f"{base}, {method}: {reference.label} harmful vs {symbol} ({judge})"
                charts.append(
                    Chart(title, judge, symbol, f"{reference.label} harmful rate", swept, lines=True)
                )
    return charts
