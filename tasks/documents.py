"""The documents of the safety tasks, built from the data files as lm-eval ``custom_dataset`` functions.

lm-eval calls a task's ``custom_dataset`` with the task's metadata (``--metadata`` and model arguments
included) plus its ``dataset_kwargs``; each function here returns a ``DatasetDict`` with one ``test``
split. Every safety document carries ``question``, ``language``, ``category``, ``subcategory``, ``row``
(0-based index in the source file) and ``benchmark``, so scores break down to any level afterwards.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from resta_bench.tasks.errors import TaskError
from resta_bench.tasks.formats import ContrastPrompt, QuestionRow, read_contrast_prompts, read_question_bank
from resta_bench.tasks.sources import CATQA, REDEVAL, XSTEST

CATQA_FILES = {"en": "catqa_english.json", "zh": "catqa_chinese.json", "vi": "catqa_vietnamese.json"}

# The 11 harm categories of CatQA, in the data's order; each is one task per language.
CATQA_CATEGORIES = (
    "Illegal Activity",
    "Child Abuse",
    "Hate/Harass/Violence",
    "Malware Viruses",
    "Physical Harm",
    "Economic Harm",
    "Fraud/Deception",
    "Adult Content",
    "Political Campaigning",
    "Privacy Violation Activity",
    "Tailored Financial Advice",
)

REDEVAL_FILES = {
    "harmfulqa": "harmfulqa.json",
    "dangerousqa": "dangerousqa.json",
    "adversarialqa": "adversarialqa.json",
}
XSTEST_FILE = "xstest_prompts.csv"


def catqa_dataset(language: str, category: str, **metadata: Any):
    """The CatQA questions of one language and harm category."""
    if language not in CATQA_FILES:
        raise TaskError(f"CatQA has no language {language!r}; known: {', '.join(CATQA_FILES)}")
    path = CATQA.locate(CATQA_FILES[language], metadata)
    docs = [
        _safety_doc(row, index, language, "catqa")
        for index, row in enumerate(_question_bank(path))
        if row.category == category
    ]
    if not docs:
        raise TaskError(f"{path}: no question has Category {category!r}")
    return _test_split(docs)


def redeval_dataset(benchmark: str, **metadata: Any):
    """One of the RedEval question banks (HarmfulQA, DangerousQA, AdversarialQA), in English."""
    if benchmark not in REDEVAL_FILES:
        raise TaskError(f"unknown RedEval question bank {benchmark!r}; known: {', '.join(REDEVAL_FILES)}")
    path = REDEVAL.locate(REDEVAL_FILES[benchmark], metadata)
    docs = [_safety_doc(row, index, "en", benchmark) for index, row in enumerate(_question_bank(path))]
    if not docs:
        raise TaskError(f"{path}: the file holds no questions")
    return _test_split(docs)


def xstest_dataset(**metadata: Any):
    """XSTest-style prompts: safe prompts that look unsafe, and their unsafe contrast prompts."""
    path = XSTEST.locate(XSTEST_FILE, metadata)
    prompts = read_contrast_prompts(path)
    return _test_split([_contrast_doc(prompt, index) for index, prompt in enumerate(prompts)])


@lru_cache(maxsize=16)
def _parsed(path: str, mtime_ns: int) -> tuple[QuestionRow, ...]:
    return tuple(read_question_bank(Path(path)))


def _question_bank(path: Path) -> tuple[QuestionRow, ...]:
    # The 11 category tasks of a language share one file: parse it once per run (and again if it changes).
    return _parsed(str(path), path.stat().st_mtime_ns)


def _safety_doc(row: QuestionRow, index: int, language: str, benchmark: str) -> dict[str, Any]:
    return {
        "question": row.question,
        "language": language,
        "category": row.category,
        "subcategory": row.subcategory,
        "row": index,
        "benchmark": benchmark,
    }


def _contrast_doc(prompt: ContrastPrompt, index: int) -> dict[str, Any]:
    return {
        "question": prompt.prompt,
        "language": "en",
        "label": prompt.label,
        "type": prompt.type,
        "row": index,
        "benchmark": "xstest",
    }


def _test_split(docs: list[dict[str, Any]]):
    import datasets

    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})
