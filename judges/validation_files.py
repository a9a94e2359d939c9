"""Reading the text files of labelled sets: every error is one line naming the file and the line."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from resta_bench.judges.errors import JudgeError
from resta_bench.judges.validation_items import Label


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def decoded_text(path: Path) -> str:
    """The file's text, or a JudgeError naming the file and the first line that is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise JudgeError(f"{path}: cannot read ({error.strerror or error})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise JudgeError(f"{path}: line {line} is not UTF-8 text") from None


def csv_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(first line number, row) of a CSV file whose header holds ``columns``."""
    reader = csv.reader(io.StringIO(decoded_text(path), newline=""))
    header = next(reader, None)
    missing = [c for c in columns if header is None or c not in header]
    if missing:
        raise JudgeError(f"{path}: line 1: no column {missing[0]!r} in the header")
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise JudgeError(f"{path}: line {line}: {error}") from None
        if len(row) != len(header):
            raise JudgeError(f"{path}: line {line}: {len(row)} fields, the header has {len(header)}")
        yield line, dict(zip(header, row, strict=True))


def jsonl_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(decoded_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise JudgeError(
                f"{path}: line {number}: not valid JSON ({error.args[0].split(':')[0]})"
            ) from None
        if not isinstance(record, dict):
            raise JudgeError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
        yield number, record


def text_field(path: Path, number: int, record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or (not value and name != "response"):  # an empty response is one
        raise JudgeError(f"{path}: line {number}: {name!r} must be a non-empty string, got {value!r}")
    return value


def optional_text_field(path: Path, number: int, record: Mapping[str, Any], name: str) -> str | None:
    return None if record.get(name) is None else text_field(path, number, record, name)


def label_field(path: Path, number: int, name: str, value: Any, choices: Mapping[Any, Label]) -> Label:
    """The label ``value`` stands for in ``choices`` (a file's own spelling -> harmful/safe)."""
    if value not in choices:
        known = " or ".join(repr(c) for c in choices)
        raise JudgeError(f"{path}: line {number}: {name!r} must be {known}, got {value!r}")
    return choices[value]
