"""Readers for the question-bank file layouts the safety tasks accept.

A question bank is read into :class:`QuestionRow` objects in file order, whatever its layout:

- JSON Lines of records (the hub's CatQA: ``{"Category": ..., "Subcategory": ..., "Question": ...}``);
- nested JSON ``{category: {sub-category: [question, ...]}}`` (declare-lab/red-instruct's CatQA and
  HarmfulQA files; some of their keys end in a stray ``:``, which is dropped);
- a JSON list of question strings (DangerousQA, AdversarialQA) or of records.

XSTest-style over-refusal prompts come as the upstream CSV (``prompt``, ``type``, ``label`` columns).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, NamedTuple

from resta_bench.tasks.errors import TaskError


class QuestionRow(NamedTuple):
    category: str
    subcategory: str
    question: str


class ContrastPrompt(NamedTuple):
    prompt: str
    label: str  # "safe" or "unsafe"
    type: str


def read_question_bank(path: Path) -> list[QuestionRow]:
    """Rows of a question-bank file in any of the accepted layouts; a malformed file raises TaskError."""
    text = _read_text(path)
    stripped = text.lstrip()
    if not stripped:
        raise TaskError(f"{path}: the file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        if stripped[0] == "{":  # more than one JSON value: JSON Lines
            return _read_json_lines(path, text)
        raise TaskError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    if isinstance(data, dict):
        return [_record_row(path, data, "line 1")] if _is_record(data) else _nested_rows(path, data)
    if isinstance(data, list):
        return [_list_item_row(path, item, index) for index, item in enumerate(data)]
    raise TaskError(f"{path}: expected a JSON object, a JSON list or JSON Lines, found {type(data).__name__}")


def read_contrast_prompts(path: Path) -> list[ContrastPrompt]:
    """Prompts of an XSTest-style CSV file: columns ``prompt``, ``type`` and ``label`` (safe / unsafe)."""
    text = _read_text(path)
    reader = csv.DictReader(text.splitlines())
    missing = {"prompt", "type", "label"} - set(reader.fieldnames or ())
    if missing:
        raise TaskError(f"{path}: the CSV header lacks the column(s) {', '.join(sorted(missing))}")
    prompts = []
    for line_number, record in enumerate(reader, start=2):
        label = (record["label"] or "").strip()
        if label not in ("safe", "unsafe"):
            raise TaskError(f"{path}: line {line_number}: label must be 'safe' or 'unsafe', found {label!r}")
        prompt = (record["prompt"] or "").strip()
        if not prompt:
            raise TaskError(f"{path}: line {line_number}: the prompt is empty")
        prompts.append(ContrastPrompt(prompt=prompt, label=label, type=(record["type"] or "").strip()))
    if not prompts:
        raise TaskError(f"{path}: the file holds no prompts")
    return prompts


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TaskError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise TaskError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise TaskError(f"{path}: cannot be read ({error.strerror})") from None


def _read_json_lines(path: Path, text: str) -> list[QuestionRow]:
    rows = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise TaskError(f"{path}: line {line_number}: not valid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise TaskError(f"{path}: line {line_number}: expected a JSON object")
        rows.append(_record_row(path, record, f"line {line_number}"))
    return rows


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    # The hub writes "Category"/"Question", mirrors write "category"/"question": match either.
    return {str(key).strip().lower(): value for key, value in record.items()}


def _is_record(data: dict[str, Any]) -> bool:
    return isinstance(_fields(data).get("question"), str)


def _record_row(path: Path, record: dict[str, Any], where: str) -> QuestionRow:
    fields = _fields(record)
    question = fields.get("question")
    if not _is_text(question):
        raise TaskError(f"{path}: {where}: field 'Question' is missing or not a non-empty string")
    for name in ("category", "subcategory"):
        if not isinstance(fields.get(name, ""), str):
            raise TaskError(f"{path}: {where}: field '{name.capitalize()}' must be a string")
    return QuestionRow(
        category=_clean_label(fields.get("category", "")),
        subcategory=_clean_label(fields.get("subcategory", "")),
        question=question.strip(),
    )


def _list_item_row(path: Path, item: Any, index: int) -> QuestionRow:
    if _is_text(item):
        return QuestionRow(category="", subcategory="", question=item.strip())
    if isinstance(item, dict):
        return _record_row(path, item, f"item {index}")
    raise TaskError(f"{path}: item {index}: expected a non-empty question string or a record")


def _nested_rows(path: Path, data: dict[str, Any]) -> list[QuestionRow]:
    rows = []
    for category, subcategories in data.items():
        if not isinstance(subcategories, dict):
            raise TaskError(f"{path}: {category!r} must map sub-categories to lists of questions")
        for subcategory, questions in subcategories.items():
            if not isinstance(questions, list) or not all(map(_is_text, questions)):
                raise TaskError(f"{path}: {category!r} -> {subcategory!r} must be a list of question strings")
            label, sublabel = _clean_label(category), _clean_label(subcategory)
            rows.extend(QuestionRow(label, sublabel, question.strip()) for question in questions)
    return rows


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _clean_label(label: str) -> str:
    # red-instruct's nested English and Chinese CatQA files write "Drug:" where the hub writes "Drug".
    return label.strip().rstrip(":").strip()
