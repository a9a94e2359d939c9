"""The per-question response browser's data: one item per (task, doc_id), with every judge's verdict."""

from __future__ import annotations

from typing import Any

from leaderboards.store import System, read_judgments

_DOC_FIELDS = ("task", "doc_id", "benchmark", "language", "category", "subcategory", "question", "response")


def response_items(system: System) -> list[dict[str, Any]]:
    """Judgments of all judges merged by (task, doc_id), in the order the first judge wrote them."""
    items: dict[tuple[str, int], dict[str, Any]] = {}
    for judge, path in sorted(system.judgment_files.items()):
        for line in read_judgments(path):
            key = (line["task"], line["doc_id"])
            item = items.get(key)
            if item is None:
                item = {name: line.get(name) or "" for name in _DOC_FIELDS}
                item.update(doc_id=line["doc_id"], refusal=line.get("refusal"), verdicts={}, raw={})
                items[key] = item
            item["verdicts"][judge] = line["verdict"]
            item["raw"][judge] = line.get("raw")
    return list(items.values())
