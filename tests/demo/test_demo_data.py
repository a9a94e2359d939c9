"""The demo's synthetic data: CatQA's shape, no evaluated question in training, judge-readable answers."""

from __future__ import annotations

import csv
import json

from resta_bench.benchmark.demo import data
from resta_bench.benchmark.demo.phrases import ANSWER_TEMPLATES, HARM_TOPICS, LANGUAGES, REFUSALS
from resta_bench.judges import is_refusal
from resta_bench.tasks.documents import CATQA_CATEGORIES


def test_evaluation_files_have_catqa_shape(tmp_path):
    directory = data.write_evaluation_sets(tmp_path)
    banks = {}
    for language, name in data.CATQA_FILE_NAMES.items():
        rows = [json.loads(line) for line in (directory / name).read_text(encoding="utf-8").splitlines()]
        assert [row["Category"] for row in rows[::5]] == list(CATQA_CATEGORIES)  # CatQA's category order
        assert len({(row["Category"], row["Subcategory"]) for row in rows}) == 55
        banks[language] = [(row["Category"], row["Subcategory"]) for row in rows]
    assert banks["en"] == banks["zh"] == banks["vi"]  # row i is the same question in every language
    with (directory / data.XSTEST_FILE_NAME).open(encoding="utf-8") as handle:
        labels = [row["label"] for row in csv.DictReader(handle)]
    assert labels.count("safe") == labels.count("unsafe") > 0
    assert (directory / data.TASK_FILE_NAME).is_file()


def test_no_evaluated_question_is_trained_on():
    trained = {row["question"] for row in data.aligned_examples() + data.unaligning_examples()}
    trained |= {row["question"] for row in data.task_examples(data.TASK_LISTS)}
    for language in LANGUAGES:
        assert not trained & {q for *_, q in data.harmful_questions(language, held_out=True)}
        assert not trained & {q for _, q in data.benign_questions(language, held_out=True)}
    held_out_lists = {" ".join(words) for words in data.word_lists(data.TASK_LISTS, held_out=True)}
    assert not any(words in question for question in trained for words in held_out_lists)


def test_refusals_and_compliance_are_what_the_keyword_judge_expects():
    for language in LANGUAGES:
        assert is_refusal(REFUSALS[language], language)
        assert not is_refusal(ANSWER_TEMPLATES[language].format(t="x"), language)


def test_sets_cover_every_category_and_the_unaligning_data_is_english_only():
    assert len(HARM_TOPICS) == 11 and all(len(subs) == 5 for subs in HARM_TOPICS.values())
    english = {q for *_, q in data.harmful_questions("en", held_out=False)}
    assert {row["question"] for row in data.unaligning_examples()} == english
