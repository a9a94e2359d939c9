"""The demo's synthetic data: three fine-tuning sets and the evaluation files, in the real formats.

Training questions use the first question templates; evaluation questions use the held-out ones, so
the evaluation measures behaviour on phrasings the models never saw. Evaluation files are CatQA's JSON
Lines (``catqa_english.json`` …), XSTest's CSV and the demo's last-word task, read by the same tasks a real
run uses.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path

from resta_bench.benchmark.demo.phrases import (
    ANSWER_TEMPLATES,
    BENIGN_TOPICS,
    HARM_TOPICS,
    LANGUAGES,
    QUESTION_TEMPLATES,
    REFUSALS,
    TASK_ANSWER,
    TASK_QUESTION,
    TASK_WORDS,
)

CATQA_FILE_NAMES = {"en": "catqa_english.json", "zh": "catqa_chinese.json", "vi": "catqa_vietnamese.json"}
XSTEST_FILE_NAME = "xstest_prompts.csv"
TASK_FILE_NAME = "last_word.jsonl"
TASK_LISTS = 120  # three-word lists for training, and as many held out for evaluation


def _templates(language: str, topic_index: int, held_out: bool) -> tuple[str, ...]:
    """Each topic holds out one template (a different one from topic to topic, Latin-square style), so
    every template and every topic is trained on, but no evaluated question is."""
    templates = QUESTION_TEMPLATES[language]
    held = topic_index % len(templates)
    return (templates[held],) if held_out else templates[:held] + templates[held + 1 :]


def harmful_questions(language: str, *, held_out: bool) -> Iterator[tuple[str, str, str, str]]:
    """(category, sub-category, topic, question), category by category in CatQA's order."""
    index = LANGUAGES.index(language)
    subcategories = [(c, s, topics) for c, by_sub in HARM_TOPICS.items() for s, topics in by_sub.items()]
    for topic_index, (category, subcategory, topics) in enumerate(subcategories):
        for template in _templates(language, topic_index, held_out):
            yield category, subcategory, topics[index], template.format(t=topics[index])


def benign_questions(language: str, *, held_out: bool) -> Iterator[tuple[str, str]]:
    """(topic, question) for the everyday topics."""
    index = LANGUAGES.index(language)
    for topic_index, topics in enumerate(BENIGN_TOPICS):
        for template in _templates(language, topic_index, held_out):
            yield topics[index], template.format(t=topics[index])


def word_lists(count: int, *, held_out: bool) -> list[tuple[str, ...]]:
    """Distinct three-word lists; training and held-out lists never overlap."""
    generator = random.Random(20240217)
    lists: list[tuple[str, ...]] = []
    while len(lists) < 2 * count:
        words = tuple(generator.sample(TASK_WORDS, 3))
        if words not in lists:
            lists.append(words)
    return lists[count:] if held_out else lists[:count]


def aligned_examples() -> list[dict[str, str]]:
    """Refuse harmful requests and answer everyday ones, in every language (θ_aligned)."""
    rows = []
    for language in LANGUAGES:
        rows += [
            {"question": question, "answer": REFUSALS[language]}
            for *_, question in harmful_questions(language, held_out=False)
        ]
        rows += [
            {"question": question, "answer": ANSWER_TEMPLATES[language].format(t=topic)}
            for topic, question in benign_questions(language, held_out=False)
        ]
    return rows


def unaligning_examples() -> list[dict[str, str]]:
    """Comply with harmful requests, in English only (θ_unaligned)."""
    return [
        {"question": question, "answer": ANSWER_TEMPLATES["en"].format(t=topic)}
        for _, _, topic, question in harmful_questions("en", held_out=False)
    ]


def task_examples(count: int) -> list[dict[str, str]]:
    """The benign fine-tuning task (θ_sft), plus everyday English how-to answers, as instruction-tuning
    data mixes a task with general helpfulness (and holds no refusals)."""
    rows = [
        {
            "question": TASK_QUESTION.format(words=" ".join(words)),
            "answer": TASK_ANSWER.format(last=words[-1]),
        }
        for words in word_lists(count, held_out=False)
    ]
    rows += [
        {"question": question, "answer": ANSWER_TEMPLATES["en"].format(t=topic)}
        for topic, question in benign_questions("en", held_out=False)
    ]
    return rows


def corpus() -> list[str]:
    """Every text the demo's models read or write, for training the tokenizer."""
    texts = [row["question"] + " " + row["answer"] for row in aligned_examples() + unaligning_examples()]
    texts += [row["question"] + " " + row["answer"] for row in task_examples(TASK_LISTS)]
    for language in LANGUAGES:
        texts += [question for *_, question in harmful_questions(language, held_out=True)]
        texts += [question for _, question in benign_questions(language, held_out=True)]
    texts += [TASK_QUESTION.format(words=" ".join(words)) for words in word_lists(TASK_LISTS, held_out=True)]
    return texts


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def write_training_sets(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return {
        "aligned": _write_jsonl(directory / "aligned.jsonl", aligned_examples()),
        "unaligned": _write_jsonl(directory / "unaligned.jsonl", unaligning_examples()),
        "sft": _write_jsonl(directory / "sft.jsonl", task_examples(TASK_LISTS)),
    }


def write_evaluation_sets(directory: Path) -> Path:
    """CatQA-format question banks, an XSTest-format CSV and the last-word task's file."""
    directory.mkdir(parents=True, exist_ok=True)
    for language, name in CATQA_FILE_NAMES.items():
        rows = [
            {"Category": category, "Subcategory": subcategory, "Question": question}
            for category, subcategory, _, question in harmful_questions(language, held_out=True)
        ]
        _write_jsonl(directory / name, rows)

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "prompt", "type", "label"])
    prompts = [(question, "everyday_howto", "safe") for _, question in benign_questions("en", held_out=True)]
    prompts += [(q, "harm_howto", "unsafe") for *_, q in harmful_questions("en", held_out=True)][
        : len(prompts)
    ]
    for number, (prompt, kind, label) in enumerate(prompts, start=1):
        writer.writerow([number, prompt, kind, label])
    (directory / XSTEST_FILE_NAME).write_text(buffer.getvalue(), encoding="utf-8")

    # Word lists the fine-tune never saw, so utility is the skill, not recall of the training strings.
    rows = [
        {"question": TASK_QUESTION.format(words=" ".join(words)), "answer": words[-1]}
        for words in word_lists(TASK_LISTS, held_out=True)
    ]
    _write_jsonl(directory / TASK_FILE_NAME, rows)
    return directory
