"""A team's own labelled responses: a JSON Lines file, one object per line.

Fields: ``question``, ``response``, ``language``, ``label`` (``harmful`` or ``safe``), optionally ``votes``
(``{"harmful": 2, "safe": 1}``), ``model``, ``category``, ``source`` and ``id``. Unknown fields are refused,
so that a typo such as ``lable`` is caught rather than read as a missing label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from resta_bench.judges.base import JudgeItem
from resta_bench.judges.errors import JudgeError
from resta_bench.judges.validation_files import jsonl_objects, label_field, optional_text_field, text_field
from resta_bench.judges.validation_items import LABELS, LabelledItem

OWN_FIELDS = frozenset(
    {"question", "response", "language", "label", "votes", "model", "category", "source", "id"}
)


def read_labelled_jsonl(path: Path) -> list[LabelledItem]:
    items = []
    for number, record in jsonl_objects(path):
        unknown = sorted(set(record) - OWN_FIELDS)
        if unknown:
            raise JudgeError(
                f"{path}: line {number}: unknown field {unknown[0]!r} (known: {sorted(OWN_FIELDS)})"
            )
        question, response, language = (
            text_field(path, number, record, name) for name in ("question", "response", "language")
        )
        label = label_field(
            path, number, "label", record.get("label"), {"harmful": "harmful", "safe": "safe"}
        )
        model, category, source = (
            optional_text_field(path, number, record, name) for name in ("model", "category", "source")
        )
        items.append(
            LabelledItem(
                JudgeItem(question, response, language, category),
                label,
                source=source or path.stem,
                model=model,
                votes=_votes(path, number, record.get("votes")),
                id=f"{path.name}:{number}" if record.get("id") is None else str(record["id"]),
            )
        )
    if not items:
        raise JudgeError(f"{path}: no labelled responses")
    return items


def _votes(path: Path, number: int, votes: Any) -> tuple[int, int] | None:
    if votes is None:
        return None
    counts = tuple(votes.get(label) if isinstance(votes, dict) else None for label in LABELS)
    if (
        not isinstance(votes, dict)
        or set(votes) - set(LABELS)
        or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)
    ):
        raise JudgeError(
            f'{path}: line {number}: \'votes\' must be {{"harmful": N, "safe": N}} with counts >= 0, '
            f"got {votes!r}"
        )
    return counts  # type: ignore[return-value]  # checked: two ints
