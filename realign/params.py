"""Typed parameters: a function's annotated keyword-only parameters are its whole interface.

    lam: Annotated[float, param("weight of the harm direction removed", symbol="λ", name="lambda")] = 3.0

declares the user's name ``lambda`` (the Python keyword is ``lam``: ``lambda`` is reserved), the command
line's ``--lambda``, its help, the symbol tables and charts use, and the checks every value gets however
it came in (command line, experiment file, Python). This module imports no torch, so that the command
line can build its flags from it cheaply.
"""

from __future__ import annotations

import inspect
import math
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from resta_bench.realign.errors import RealignError
from resta_bench.realign.output import PYTHON, Spelling

SCALARS = (bool, int, float, str)
_BOUND = r"(-?inf|-?\d+(?:\.\d+)?)"
INTERVAL = re.compile(rf"([\[(])\s*{_BOUND}\s*,\s*{_BOUND}\s*([\])])")
# What each type's values must be, for messages: (one value, several values).
NOUNS = {
    bool: ("true or false", "true or false each"),
    int: ("a whole number", "whole numbers"),
    float: ("a finite number", "finite numbers"),
    str: ("a non-empty text", "non-empty texts"),
}


@dataclass(frozen=True)
class ParamSpec:
    """What ``param(...)`` puts into an annotation; see :func:`param`."""

    help: str
    symbol: str | None
    name: str | None
    within: str | None
    choices: tuple[str, ...] | None
    unset: str | None


def param(
    help: str,  # noqa: A002  (argparse's word)
    *,
    symbol: str | None = None,
    name: str | None = None,
    within: str | None = None,
    choices: tuple[str, ...] | None = None,
    unset: str | None = None,
) -> ParamSpec:
    """The marker of a typed parameter: ``Annotated[float, param(...)]``.

    ``help`` says what it does (the command line adds the default); ``symbol`` names it in tables and
    charts (default: its name); ``name`` is the user's name when the Python keyword cannot be it;
    ``within`` is an interval such as ``"[0, 1)"``, ``"(0, 1]"`` or ``"[1, inf)"``; ``choices`` the
    values a text may take; ``unset`` what a default of None means ("1 each").
    """
    if within is not None and not INTERVAL.fullmatch(within):
        raise TypeError(f"param within={within!r}: expected an interval such as '[0, 1)'")
    return ParamSpec(help, symbol, name, within, choices, unset)


@dataclass(frozen=True)
class Param:
    """One typed parameter. ``type`` is the type of a value (of each, when ``many``: a list of them);
    ``optional`` parameters may also be None (their default)."""

    name: str  # the user's: recipe.json, experiment keys, ``realign(**params)``
    arg: str  # the Python keyword the function takes
    type: type
    default: Any
    help: str
    symbol: str
    choices: tuple[str, ...] | None = None
    within: str | None = None
    many: bool = False
    optional: bool = False
    unset: str | None = None  # what the default None means

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any, spelling: Spelling = PYTHON) -> Any:
        """``value`` as the function takes it (an int made a float, a list a tuple); a bad one raises
        ``RealignError`` naming the parameter as ``spelling`` spells it."""
        if value is None and self.optional:
            return None
        where = spelling.name(self.name)
        if not self.many:
            return self._checked(value, where, value)
        if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
            raise RealignError(f"{where} must be one or more {NOUNS[self.type][1]}, got {shown(value)}")
        return tuple(self._checked(item, where, value) for item in value)

    @property
    def default_text(self) -> str:
        """The default as listings show it: ``0.5``, ``global``, ``1 each``, ``off``."""
        if self.type is bool and not self.many:
            return "on" if self.default else "off"
        return self.unset if self.default is None and self.unset else shown(self.default, quote=False)

    def describe(self) -> str:
        """Its help with its choices and default, as help texts show it."""
        text = f"{self.help} ({', '.join(self.choices)})" if self.choices else self.help
        return f"{text} (default: {self.default_text})"

    def _checked(self, value: Any, where: str, given: Any) -> Any:
        nouns = NOUNS[self.type]
        wrong = f"{where} must be {nouns[1] if self.many else nouns[0]}, got {shown(given)}"
        if self.type is bool:
            if not isinstance(value, bool):
                raise RealignError(wrong)
            return value
        if self.type is str:
            if not isinstance(value, str) or not value:
                raise RealignError(wrong)
            if self.choices is not None and value not in self.choices:
                raise RealignError(f"{where} must be one of {', '.join(self.choices)}, got {value!r}")
            return value
        numeric = (int,) if self.type is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, numeric) or not math.isfinite(value):
            raise RealignError(wrong)
        if self.within is not None and not _inside(value, self.within):
            whole = "a whole number " if self.type is int else ""
            raise RealignError(f"{where} must be {whole}{_interval_text(self.within)}, got {shown(given)}")
        return self.type(value)


def shown(value: Any, *, quote: bool = True) -> str:
    """A value as messages (``'global'``) and listings (``global``) write it: ``0.5``, ``1e-05``,
    ``q_proj k_proj``."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return " ".join(shown(item, quote=quote) for item in value) or "none"
    return repr(value) if quote and isinstance(value, str) else str(value)


def _inside(value: float, within: str) -> bool:
    match = INTERVAL.fullmatch(within)
    assert match is not None  # checked by ``param``
    opening, low, high, closing = match.groups()
    above = value >= float(low) if opening == "[" else value > float(low)
    below = value <= float(high) if closing == "]" else value < float(high)
    return above and below


def _interval_text(within: str) -> str:
    """``in (0, 1]``; a half-line reads ``≥ 1`` or ``> 0``."""
    match = INTERVAL.fullmatch(within)
    assert match is not None
    opening, low, high, _ = match.groups()
    if high == "inf":
        return f"{'≥' if opening == '[' else '>'} {low}"
    return f"in {within}"


def params_of(fn: Callable[..., Any], *, leave_out: tuple[str, ...] = ()) -> tuple[Param, ...]:
    """The ``Param`` of each keyword-only parameter of ``fn`` annotated with :func:`param`.

    Every other keyword-only parameter but those in ``leave_out`` is a ``TypeError``: a setting without
    help would be an interface without words.
    """
    hints = typing.get_type_hints(fn, include_extras=True)
    found = []
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY or parameter.name in leave_out:
            continue
        hint = hints.get(parameter.name)
        specs = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, ParamSpec)]
        if not specs:
            raise TypeError(f"{fn.__name__}: parameter {parameter.name!r} needs Annotated[..., param(...)]")
        found.append(_param(fn, parameter, typing.get_args(hint)[0], specs[0]))
    return tuple(found)


def _param(fn: Callable[..., Any], parameter: inspect.Parameter, hint: Any, spec: ParamSpec) -> Param:
    args = typing.get_args(hint)
    optional = type(None) in args
    if optional:
        (hint,) = (a for a in args if a is not type(None))
    many = typing.get_origin(hint) is tuple
    kind = typing.get_args(hint)[0] if many else hint
    if kind not in SCALARS:
        raise TypeError(f"{fn.__name__}: parameter {parameter.name!r}: {hint!r} is not one of {SCALARS}")
    if parameter.default is parameter.empty:
        raise TypeError(f"{fn.__name__}: parameter {parameter.name!r} needs a default")
    name = spec.name or parameter.name
    return Param(
        name=name,
        arg=parameter.name,
        type=kind,
        default=parameter.default,
        help=spec.help,
        symbol=spec.symbol or name,
        choices=spec.choices,
        within=spec.within,
        many=many,
        optional=optional,
        unset=spec.unset,
    )


def check_params(
    params: tuple[Param, ...], given: Mapping[str, Any], spelling: Spelling, *, owner: str
) -> dict[str, Any]:
    """Every parameter by its user name: ``given``'s values checked, the defaults for the others.
    ``owner`` ("method hdr") names what takes them in the refusal of a name it does not know."""
    known = {p.name: p for p in params}
    unknown = sorted(set(given) - set(known))
    if unknown:
        takes = ", ".join(spelling.name(name) for name in known) or "none"
        raise RealignError(
            f"{owner} takes no parameter {spelling.name(unknown[0])} (its parameters: {takes})"
        )
    return {name: p.check(given[name], spelling) if name in given else p.default for name, p in known.items()}


def keywords(params: tuple[Param, ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """{Python keyword: value} for calling the function from values keyed by user names."""
    return {p.arg: values[p.name] for p in params}
