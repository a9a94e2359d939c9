"""Reading and writing the store's records through their models, with one-line errors.

Every governed record carries ``schema_version``. A file (or line) without one was written before the
schema existed and is read as version 1, today's layout; a version newer than this resta knows is
refused with one line saying to upgrade. Whatever is wrong with a file comes out as ONE
:class:`StorageError` line, ``<file>[: line N]: <field.path>: <message>``, so the CLI can print it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_serializer, model_validator
from pydantic_core import PydanticCustomError
from resta_bench.storage.atomic import write_json_atomic, write_text_atomic
from resta_bench.storage.errors import StorageError

SCHEMA_VERSION = 2  # 1: files written before this module (no schema_version key); 2: written through it
VERSION_KEY = "schema_version"


class Block(BaseModel):
    """A part of a record. Strict (a ``true`` is not a count, ``"3"`` not a number), finite floats.

    Unknown keys are kept rather than dropped, so reading and rewriting a file loses nothing; whether
    they are allowed is the governing record's decision (:class:`Record`).
    """

    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="allow", populate_by_name=True)

    def __getitem__(self, key: str) -> Any:
        """A field by its key in the file (``row["n"]``), as code written against the JSON reads it."""
        fields = type(self).model_fields
        if key not in fields:  # a key the file spells otherwise than Python can ("set", "schema")
            key = next((name for name, info in fields.items() if info.alias == key), key)
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        """Like ``dict.get``, a null field counting as absent (``meta.get("params", {})``)."""
        try:
            value = self[key]
        except KeyError:
            return default
        return default if value is None else value


class Record(Block):
    """A whole file or JSONL line that resta writes: versioned, and closed from version 2 on.

    Extra-key policy: a version-1 file was written before one schema existed (by the runner, by tools,
    by hand-made test stores that disagreed), so its unknown keys are kept and allowed: an old store
    must keep reading. A version-2 file was written only through these models, so an unknown key
    there is a typo or damage and is an error, in the record and in every block inside it. Parts that
    hold other tools' data (a method's recipe, lm-eval's model arguments, a judge's meta) are typed
    ``dict[str, Any]``: those are not ours to close.
    """

    schema_version: int = SCHEMA_VERSION

    @field_serializer("schema_version")
    def _written_version(self, version: int) -> int:
        return SCHEMA_VERSION  # what is written is this version's layout, nested records included

    @model_validator(mode="before")
    @classmethod
    def _version(cls, data: Any, info: ValidationInfo) -> Any:
        # Only a record read from a file (not one built in code) without a version is version 1.
        if isinstance(data, Mapping) and VERSION_KEY not in data and (info.context or {}).get("reading"):
            return {**data, VERSION_KEY: 1}
        return data

    @model_validator(mode="after")
    def _known_keys(self) -> Record:
        if self.schema_version > SCHEMA_VERSION:
            raise PydanticCustomError(
                "schema_version",
                f"written by a newer resta (schema version {self.schema_version}; this one reads up to "
                f"{SCHEMA_VERSION}): upgrade resta-bench",
            )
        if self.schema_version >= 2:
            unknown = next(_unknown_keys(self, ()), None)
            if unknown is not None:
                raise PydanticCustomError("extra_forbidden", f"{unknown}: unknown field (not in the schema)")
        return self


def _unknown_keys(block: BaseModel, path: tuple[str | int, ...]) -> Iterator[str]:
    """The dotted path of every unknown key in ``block`` and the blocks inside it."""
    for key in block.model_extra or {}:
        yield field_path((*path, key))
    for name in _nesting(type(block)):
        yield from _unknown_in(getattr(block, name), (*path, name))


@cache
def _nesting(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` that can hold blocks: the only ones to search (a store has many lines)."""
    return tuple(name for name, info in model.model_fields.items() if _holds_block(info.annotation))


def _holds_block(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_block(argument) for argument in get_args(annotation))


def _unknown_in(value: Any, path: tuple[str | int, ...]) -> Iterator[str]:
    if isinstance(value, BaseModel):
        yield from _unknown_keys(value, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unknown_in(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, BaseModel):
                yield from _unknown_keys(item, (*path, key))


def field_path(loc: Iterable[str | int]) -> str:
    """``('rows', 3, 'value')`` -> ``rows[3].value``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def one_line(error: ValidationError, where: str) -> StorageError:
    """The first problem of a pydantic error as one line: ``<where>: <field.path>: <message>``."""
    first = error.errors(include_url=False)[0]
    # pydantic puts a validator's name in some locations ("function-after[...]"); it is not a field.
    loc = [part for part in first["loc"] if not (isinstance(part, str) and part.startswith("function-"))]
    message = first["msg"].removeprefix("Value error, ")
    path = field_path(loc)
    shown = first.get("input")
    if path and first["type"] not in ("missing", "extra_forbidden") and not isinstance(shown, (dict, list)):
        message += f", got {shown!r:.60}"  # a field's own value (a whole block would not fit one line)
    return StorageError(f"{where}: {path}: {message}" if path else f"{where}: {message}")


M = TypeVar("M", bound=Record)


def validate(model: type[M], data: Any, where: str, *, read: bool = True) -> M:
    """``data`` (parsed JSON) as ``model``, errors as one line starting with ``where``. Data ``read`` from
    a file without ``schema_version`` is version 1; data made in code (``read=False``) is this version."""
    if not isinstance(data, Mapping):
        raise StorageError(f"{where}: expected a JSON object at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data, context={"reading": read})
    except ValidationError as error:
        raise one_line(error, where) from None


def _parse(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise StorageError(f"{where}: not valid JSON ({error})") from None


def read_json(path: Path | str) -> Any:
    """A JSON file's value; a file that is not UTF-8 or not JSON is one :class:`StorageError` line."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise StorageError(f"{path}: not UTF-8 text") from None
    return _parse(text, str(path))


def read_record(model: type[M], path: Path | str) -> M:
    """One JSON file as ``model``; a damaged or malformed file is one :class:`StorageError` line."""
    return validate(model, read_json(path), str(path))


def read_lines(model: type[M], path: Path | str) -> Iterator[tuple[int, M]]:
    """(line number, record) of each line of a JSONL file; blank lines are skipped, and so is a torn
    last line (no newline: a writer killed mid-line), which the next write replaces."""
    path = Path(path)
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            if not raw.endswith(b"\n"):
                return
            where = f"{path}: line {number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise StorageError(f"{where}: not UTF-8 text") from None
            if line.strip():
                yield number, validate(model, _parse(line, where), where)


def dump(record: Record) -> dict[str, Any]:
    """What a record's file holds: JSON values, stamped with the current schema version."""
    return record.model_dump(mode="json", by_alias=True)


def _closed(record: Record, where: str) -> Record:
    """``record`` if it holds only the schema's fields: what is written is read back as this version,
    where an unknown key is an error (one kept from a version-1 file must be removed to rewrite it)."""
    unknown = next(_unknown_keys(record, ()), None)
    if unknown is not None:
        raise StorageError(f"{where}: {unknown}: unknown field (not in the schema), so it cannot be written")
    return record


def write_record(path: Path | str, record: Record) -> None:
    """Write one record as a JSON file, atomically (a reader sees the old file or the new one)."""
    write_json_atomic(Path(path), dump(_closed(record, str(path))))


def as_record(model: type[M], value: M | Mapping[str, Any], where: Path | str) -> M:
    """``value`` itself when it is a ``model``; a mapping made in code checked against it (one line)."""
    return value if isinstance(value, model) else validate(model, value, str(where), read=False)


def write_lines(path: Path | str, records: Iterable[Record]) -> None:
    """Write a whole JSONL file of records, atomically."""
    lines = [json.dumps(dump(_closed(record, str(path))), ensure_ascii=False) + "\n" for record in records]
    write_text_atomic(Path(path), "".join(lines))
