"""GPTFuzz's hand-labelled responses (English; Yu et al. 2023, arXiv 2309.10253).

Responses of Vicuna-7B, ChatGPT and Llama-2-7B-chat to jailbreak prompts. Splits ``train`` (questions 0-79)
and ``evaluate`` (questions 80-99, the default: held out by question). Label 1 (the response complies) is
``harmful``, 0 is ``safe``; the question text comes from ``question_list.csv``. Upstream stores the files
as they are used here.
"""

from __future__ import annotations

from pathlib import Path

from resta_bench.judges.base import JudgeItem
from resta_bench.judges.errors import JudgeError
from resta_bench.judges.validation_download import BuiltinSet, fetch_files
from resta_bench.judges.validation_files import csv_rows, label_field
from resta_bench.judges.validation_items import LabelledItem

GPTFUZZ_REPO = "sherdencooper/GPTFuzz"
GPTFUZZ_COMMIT = "1eddeb565740ae311b5f4950492b011a6f866fe7"
# Local file -> (upstream path, SHA-256 of its bytes).
_FILES = {
    "train.csv": (
        "datasets/responses_labeled/train.csv",
        "e25fe2a06d2085af260927164364524628c8b5c1dd1bab1b58ddbd917c3f7cb0",
    ),
    "evaluate.csv": (
        "datasets/responses_labeled/evaluate.csv",
        "ca9e460c7fbcf3bc7c028c9e29297dd58cfbd54050f7729fbc635a6880a62a02",
    ),
    "question_list.csv": (
        "datasets/questions/question_list.csv",
        "18531eb6bc1c8fc0b8f66822b366b872202b852bf28826cef590ad0d7a81c749",
    ),
}


def read_gptfuzz(folder: Path, split: str) -> list[LabelledItem]:
    questions = {
        row["index"]: row["text"] for _, row in csv_rows(folder / "question_list.csv", ("index", "text"))
    }
    path = folder / f"{split}.csv"
    items = []
    for number, row in csv_rows(path, ("question", "Response", "label")):
        if row["question"] not in questions:
            raise JudgeError(
                f"{path}: line {number}: question {row['question']!r} is not in question_list.csv"
            )
        label = label_field(path, number, "label", row["label"], {"1": "harmful", "0": "safe"})
        item = JudgeItem(questions[row["question"]], row["Response"], "en")
        items.append(LabelledItem(item, label, source="gptfuzz", id=f"{path.name}:{number}"))
    return items


GPTFUZZ = BuiltinSet(
    name="gptfuzz",
    folder="gptfuzz",
    repo=GPTFUZZ_REPO,
    commit=GPTFUZZ_COMMIT,
    files=_FILES,
    splits=("train", "evaluate"),
    default_split="evaluate",
    read=read_gptfuzz,
    fetch=fetch_files,
)
