"""The per-question response browser's data: one item per (task, doc_id), with every judge's verdict."""

from __future__ import annotations

from typing import Any

from resta_bench.leaderboards.store import System, read_judgments


def response_items(system: System) -> list[dict[str, Any]]:
    """Judgments of all judges merged by (task, doc_id), in the order the first judge wrote them."""
    items: dict[tuple[str, int], dict[str, Any]] = {}
    for judge, path in sorted(system.judgment_files.items()):
        for line in read_judgments(path):
            key = (line["task"], line["doc_id"])
            item = items.get(key)
            if item is None:
                item = items[key] = {
                    "task": line["task"],
                    "doc_id": line["doc_id"],
                    "benchmark": line["benchmark"],
                    "language": line["language"],
                    "category": line.get("category") or "",
                    "subcategory": line.get("subcategory") or "",
                    "question": line["question"],
                    "response": line["response"],
                    "refusal": line.get("refusal"),
                    "verdicts": {},
                    "raw": {},
                }
            item["verdicts"][judge] = line["verdict"]
            item["raw"][judge] = line.get("raw")
    return list(items.values())
