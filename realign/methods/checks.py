"""Parameter checks shared by methods; each failure names the option as the command line spells it."""

from __future__ import annotations

import math

from resta_bench.realign.errors import RealignError


def option(param: str) -> str:
    return "--" + param.replace("_", "-")


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
