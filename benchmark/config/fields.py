"""What every experiment-file schema is made of: YAML's kinds, checked strictly, and one-line errors.

The schemas are pydantic dataclasses. Their scalar fields use the kinds below instead of pydantic's own
coercions, so that a file is read as it is written: ``true`` is no number, ``1`` stays an integer (it
goes into system ids and suite records, which must not change under a re-read), and a message reads
``must be a number, got str 'high'``. A pydantic error becomes ``<file>: <field path>: <message>``, the
path in the file's own terms (``systems[4].recipe.sweep.beta[1]``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import ConfigDict, PlainValidator, TypeAdapter, ValidationError, model_validator
from pydantic_core import ArgsKwargs, PydanticCustomError
from resta_bench.benchmark.errors import ConfigError
from resta_bench.storage.errors import StorageError
from resta_bench.storage.names import check_name

SCHEMA = ConfigDict(extra="forbid")
Loc = tuple[str | int, ...]
T = TypeVar("T")

_KIND_NAMES = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
}


def show(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"[:80]


def invalid(message: str, at: Loc = ()) -> PydanticCustomError:
    """An error for pydantic to report at the field being validated, or ``at`` below it."""
    return PydanticCustomError("config", "{message}", {"message": message, "at": at})


def path_of(loc: Loc) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def fail(source: str, loc: Loc | str, message: str) -> ConfigError:
    path = loc if isinstance(loc, str) else path_of(loc)
    return ConfigError(f"{source}: {path + ': ' if path else ''}{message}")


def kind_problem(value: Any, *kinds: type) -> str | None:
    """What is wrong with ``value`` as one of ``kinds`` (None: nothing)."""
    if isinstance(value, bool):
        ok = bool in kinds  # YAML's booleans are ints to Python: a number field must not take `true`
    else:
        ok = isinstance(value, kinds) or (float in kinds and isinstance(value, int))
    if ok:
        return None
    return f"must be {' or '.join(_KIND_NAMES.get(k, k.__name__) for k in kinds)}, got {show(value)}"


def check_kind(value: Any, *kinds: type) -> Any:
    problem = kind_problem(value, *kinds)
    if problem is not None:
        raise invalid(problem)
    return value


def kind(*kinds: type, at_least: int | None = None) -> PlainValidator:
    def check(value: Any) -> Any:
        check_kind(value, *kinds)
        if at_least is not None and value < at_least:
            raise invalid(f"must be at least {at_least}")
        return value

    return PlainValidator(check)


def as_name(value: Any, at: Loc = ()) -> str:
    """A value that becomes a file or folder name (storage's one rule for those)."""
    try:
        return check_name(value, "")
    except StorageError as error:
        raise invalid(str(error).removeprefix(": "), at) from None


def choice(*options: str) -> PlainValidator:
    def check(value: Any) -> str:
        if check_kind(value, str) not in options:
            raise invalid(f"must be one of {', '.join(options)}, got {value!r}")
        return value

    return PlainValidator(check)


Text = Annotated[str, kind(str)]
Integer = Annotated[int, kind(int)]
Flag = Annotated[bool, kind(bool)]
Name = Annotated[str, PlainValidator(lambda value: as_name(check_kind(value, str)))]


class Strict:
    """Base of the schemas: the value must be a mapping of known fields; a field left empty is left out."""

    @classmethod
    def from_file(cls, given: dict[str, Any]) -> dict[str, Any]:
        """The mapping the fields are validated from (subclasses gather or default fields here)."""
        allowed = [name for name in cls.__dataclass_fields__ if not name.startswith("_")]
        for key in given:
            if key not in allowed:
                raise invalid(f"unknown field; expected one of {', '.join(allowed)}", (key,))
        return given

    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        if isinstance(value, ArgsKwargs | cls):  # built in Python, not read from a file
            return value
        if not isinstance(value, Mapping):
            raise invalid(f"must be a mapping, got {show(value)}")
        return cls.from_file({key: item for key, item in value.items() if item is not None})


_PYDANTIC_MESSAGES: dict[str, Callable[[Any], str]] = {
    "missing": lambda value: "is required",
    "too_short": lambda value: "must not be empty",
    "list_type": lambda value: f"must be a list, got {show(value)}",
    "tuple_type": lambda value: f"must be a list, got {show(value)}",
    "dict_type": lambda value: f"must be a mapping, got {show(value)}",
}


def validated(schema: type[T], value: Any, source: str, loc: Loc = ()) -> T:
    """``value`` validated as ``schema``; the first mistake as one ``ConfigError`` line."""
    try:
        return TypeAdapter(schema).validate_python(value)
    except ValidationError as error:
        first = error.errors()[0]
        context = first.get("ctx") or {}
        if first["type"] == "config":
            message = context["message"]
        else:
            describe = _PYDANTIC_MESSAGES.get(first["type"])
            message = describe(first.get("input")) if describe else first["msg"]
        raise fail(source, (*loc, *first["loc"], *context.get("at", ())), message) from None


def check_finite(source: str, value: Any, loc: Loc = ()) -> None:
    """No number anywhere in the file may be ``.inf`` or ``.nan``: lm-eval, the judges and the methods would
    each fail on one only when they reach it, hours into a run."""
    if isinstance(value, float) and not math.isfinite(value):
        raise fail(source, loc, f"must be a finite number, got {value}")
    if isinstance(value, Mapping):
        for key, element in value.items():
            check_finite(source, element, (*loc, str(key)))
    elif isinstance(value, list):
        for index, element in enumerate(value):
            check_finite(source, element, (*loc, index))
