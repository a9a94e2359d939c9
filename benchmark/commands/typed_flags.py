"""Command-line flags made from typed parameters (``realign.params.Param``): declared once, in the library."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any

from resta_bench.realign.params import Param


def flag_options(param: Param) -> dict[str, Any]:
    """argparse's keywords for ``param``'s flag: its type and metavar, ``nargs`` for a list, a switch for a
    bool. Values are checked by the parameter itself, so that every interface says the same words."""
    if param.type is bool:
        return {"action": argparse.BooleanOptionalAction if param.default else "store_true"}
    metavar = "{" + ",".join(param.choices) + "}" if param.choices else param.name.upper()
    options: dict[str, Any] = {"type": param.type, "metavar": metavar}
    if param.many:
        options["nargs"] = "+"
    return options


def given(args: argparse.Namespace, names: Iterable[str]) -> dict[str, Any]:
    """{name: value} of the flags set on the command line (unset ones stay None)."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def add_before_first_use(
    parser: argparse.ArgumentParser, add: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Calls ``add(parser)`` once, just before ``parser`` first parses arguments or shows its help or usage.

    For flags whose declarations import torch (the re-alignment methods): building them when the command
    line is built would make ``resta --help`` and every other command wait a second or two for it.
    """
    pending = [add]

    def first(method: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            while pending:
                pending.pop()(parser)
            return method(*args, **kwargs)

        return run

    for name in ("parse_known_args", "format_help", "format_usage"):
        setattr(parser, name, first(getattr(parser, name)))
