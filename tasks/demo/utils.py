"""The demo's utility task: its documents come from the file the demo writes, its metric is exact match."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from resta_bench.tasks.errors import TaskError

FILE_NAME = "last_word.jsonl"
METADATA_KEY = "demo_dir"
ENV_VAR = "DEMO_DIR"


def last_word_dataset(**metadata: Any):
    import datasets

    directory = metadata.get(METADATA_KEY) or os.environ.get(ENV_VAR)
    if not directory:
        raise TaskError(
            f"demo_last_word needs its data directory: --metadata {METADATA_KEY}=DIR or {ENV_VAR}=DIR"
        )
    path = Path(str(directory)) / FILE_NAME
    if not path.is_file():
        raise TaskError(f"{path}: no such file (run `resta demo` to write it)")
    docs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        record = json.loads(line)
        if not isinstance(record.get("question"), str) or not isinstance(record.get("answer"), str):
            raise TaskError(f"{path}:{number}: expected string fields 'question' and 'answer'")
        docs.append({"question": record["question"], "answer": record["answer"], "row": number - 1})
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def process_last_word(doc: dict[str, Any], results: list[str]) -> dict[str, int]:
    """1 when the response's last word is the expected one ("Sure, the last word is apple." -> apple)."""
    words = re.findall(r"\w+", results[0])
    return {"exact_match": int(bool(words) and words[-1].lower() == doc["answer"].lower())}
