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
from resta_bench.leaderboards.store import UTILITY_SCORES

TEMPLATES = Path(__file__).parent / "templates"


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def script_json(text: str) -> Markup:
    """JSON text made safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` left."""
    # Outside strings JSON never uses these characters, and inside strings \u003c is the same "<".
    return Markup(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def interval(row: dict[str, Any] | None) -> str:
    """``[low–high]`` in the row's own units, or an empty string where the row stores no interval."""
    if not row or row.get("ci_low") is None or row.get("ci_high") is None:
        return ""
    return f"[{_amount(row, row['ci_low'])}–{_amount(row, row['ci_high'])}]"


def _amount(row: dict[str, Any], value: float) -> str:
    """Judged rates in percent; utility metrics as lm-eval reports them (not all are proportions)."""
    if row.get("judge") == UTILITY_SCORES:
        return f"{value:.3g}"
    return f"{100 * value:.1f}"


def change(value: float | None) -> str:
    """A difference of two rates in percentage points, signed."""
    return "–" if value is None else f"{100 * value:+.1f} pp"


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
    shown = _amount(row, row["value"]) + ("" if row.get("judge") == UTILITY_SCORES else "%")
    flag = ' <span class="flag" title="this judge is not valid for this language">†</span>'
    return Markup(
        f'<a href="{escape(href)}">{shown}</a> <span class="ci">{interval(row)}</span>'
        f"{flag if row.get('language_valid') is False else ''}"
    )


def params(values: dict[str, Any] | None) -> str:
    """A system's parameters as ``name=value, …``; the seed is provenance, not a setting worth a column."""
    return ", ".join(f"{name}={value}" for name, value in (values or {}).items() if name != "seed")


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
        percent=percent, interval=interval, change=change, heat=heat, pretty=pretty, params=params, url=quote
    )
    env.globals.update(fragment=fragment, rate=rate)
    return env
