"""The Jinja environment and the formatting filters the templates share.

Autoescaping is on for every template, so strings from the results store (labels, categories,
questions, responses, judge replies) always reach the page as text. JSON embedded in a page goes
through ``script_json``, which also escapes what could close or confuse the script element.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from resta_bench.leaderboards.labels import param_text
from resta_bench.leaderboards.store import UTILITY_SCORES
from resta_bench.leaderboards.units import (
    MINUS,
    NO_STANDARD_ERROR,
    PAIRED,
    RATE,
    SIGNIFICANT,
    STANDARD_ERROR,
    WILSON,
    Unit,
    metric_unit,
    p_value,
    points,
)

TEMPLATES = Path(__file__).parent / "templates"


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def script_json(text: str) -> Markup:
    """JSON text made safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` left."""
    # Outside strings JSON never uses these characters, and inside strings \u003c is the same "<".
    return Markup(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))


def percent(value: float | None) -> str:
    return "–" if value is None else RATE.shown(value)


def thousands(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _unit(row: dict[str, Any]) -> Unit:
    """Judged rates in %; utility metrics in their own unit (units.metric_unit)."""
    return metric_unit(row["metric"], row.get("benchmark")) if row.get("judge") == UTILITY_SCORES else RATE


# What each kind of interval is, said once per page element (these are the site's own words).
_TITLE = {False: escape(WILSON), True: escape(STANDARD_ERROR)}
_NO_INTERVAL = f' <span class="ci" title="{escape(NO_STANDARD_ERROR)}">SE 0</span>'
_FLAG = ' <span class="flag" title="this judge is not valid for this language">†</span>'


def _interval(row: dict[str, Any], unit: Unit) -> str:
    """`` [low, high]`` in the row's unit, titled with what kind of interval it is; nothing where the
    row stores none, and a plain "SE 0" where lm-eval's standard error is 0 (no interval at all)."""
    low, high = row.get("ci_low"), row.get("ci_high")
    if low is None or high is None:
        return ""
    utility = row.get("judge") == UTILITY_SCORES
    if utility and low == high:
        return _NO_INTERVAL
    low, high = unit.number(low).replace("-", MINUS), unit.number(high).replace("-", MINUS)
    return f' <span class="ci" title="{_TITLE[utility]}">[{low}, {high}]</span>'


@lru_cache(maxsize=4096)
def _quoted(text: str) -> str:
    return quote(text, safe="")


def fragment(**params: Any) -> str:
    """A URL fragment ``#k=v&…`` the response browser reads its filters from; every part URL-quoted."""
    return "#" + "&".join(f"{_quoted(k)}={_quoted(str(v))}" for k, v in params.items() if v not in (None, ""))


def rate(row: dict[str, Any] | None, href: str) -> Markup:
    """A stored rate linked to ``href``, its interval, and a flag where the judge is not valid for it."""
    if not row:
        return Markup('<span class="missing">–</span>')
    if row["value"] is None:
        return Markup(f'<a class="missing" href="{escape(href)}" title="no verdict counted (n = 0)">–</a>')
    # Numbers print only digits and punctuation; the href is the one untrusted part.
    unit = _unit(row)
    shown = unit.shown(row["value"]).replace("-", MINUS)
    flag = _FLAG if row.get("language_valid") is False else ""
    return Markup(f'<a href="{escape(href)}">{shown}</a>{flag}{_interval(row, unit)}')


def significant(delta: dict[str, Any] | None) -> bool:
    return bool(delta) and delta["p_mcnemar"] is not None and delta["p_mcnemar"] < SIGNIFICANT


def delta(delta: dict[str, Any] | None) -> Markup:
    """A stored paired difference: percentage points, its interval, the exact McNemar p, and a mark
    where p < 0.05; "–" where none is stored (the leaderboard computes none)."""
    if not delta or delta["difference"] is None:
        return Markup('<span class="missing" title="no paired comparison stored">–</span>')
    mark = (
        f'<span class="sig" title="significant: exact McNemar p &lt; {SIGNIFICANT:g}" role="img" '
        'aria-label="significant">*</span>'
        if significant(delta)
        else ""
    )
    pairs = f"exact McNemar test over {delta['n_pairs']:,} paired questions"
    ci = (
        f' <span class="ci" title="{escape(PAIRED)}">[{points(delta["low"], sign=False)}, '
        f"{points(delta['high'], sign=False)}]</span>"
        if delta["low"] is not None and delta["high"] is not None
        else ""
    )
    p = (
        ""
        if delta["p_mcnemar"] is None
        else f' <span class="p" title="{pairs}">p = {p_value(delta["p_mcnemar"])}</span>'
    )
    return Markup(f'<span class="value">{points(delta["difference"])} pp</span>{mark}{ci}{p}')


def heat(value: float | None) -> str:
    """Background for a heat-map cell: near white at 0, deep red at 1, with light text on the dark end."""
    if value is None:
        return "background: #eee"
    value = min(1.0, max(0.0, value))
    ink = "; --cell-ink: #fff" if value > 0.55 else ""
    return f"background: rgba(190, 25, 40, {0.06 + 0.9 * value:.2f}){ink}"


def pretty(data: Any) -> str:
    """Indented JSON for reading in a ``<pre>``; the template escapes it like any other text."""
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)


@lru_cache(maxsize=1)  # one per process: templates are compiled once and reused
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        percent=percent, thousands=thousands, heat=heat, pretty=pretty, params=param_text, url=quote
    )
    env.globals.update(fragment=fragment, rate=rate, delta=delta, significant=significant)
    return env
