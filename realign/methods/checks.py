"""Parameter checks shared by methods; each failure names the option as the command line spells it."""

from __future__ import annotations

import math

from resta_bench.realign.errors import RealignError
from resta_bench.realign.output import COMMAND_LINE

option = COMMAND_LINE.name


def check_finite(params: dict, param: str) -> None:
    value = params[param]
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise RealignError(f"{option(param)} must be a finite number, got {value!r}")


def check_range(params: dict, param: str, low: float, high: float, *, high_open: bool) -> None:
    check_finite(params, param)
    value = params[param]
    if not (low <= value < high if high_open else low <= value <= high):
        interval = f"[{low:g}, {high:g}{')' if high_open else ']'}"
        raise RealignError(f"{option(param)} must be in {interval}, got {value:g}")


def check_choice(params: dict, param: str, choices: tuple[str, ...]) -> None:
    if params[param] not in choices:
        raise RealignError(f"{option(param)} must be one of {', '.join(choices)}, got {params[param]!r}")


def check_count(params: dict, param: str, low: int) -> None:
    value = params[param]
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise RealignError(f"{option(param)} must be a whole number ≥ {low}, got {value!r}")
