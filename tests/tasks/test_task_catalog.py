"""The task catalogue as lm-eval sees it: discovery, generated files, configs, real data counts."""

from __future__ import annotations

import importlib.util
from collections import Counter

import pytest
import yaml
from resta_bench import tasks
from resta_bench.tasks import TASKS_DIR
from resta_bench.tasks.documents import CATQA_CATEGORIES

SAFETY_TASKS = ("harmfulqa", "dangerousqa", "adversarialqa", "xstest")
UTILITY_GROUPS = ("utility_en", "utility_zh", "utility_vi", "utility_hi", "utility_code", "utility_math")


@pytest.fixture(scope="module")
def manager():
    """lm-eval's TaskManager with its own tasks too, so utility groups can be checked against them."""
    return tasks.task_manager()


def load_generator():
    spec = importlib.util.spec_from_file_location(
        "catqa_generator", TASKS_DIR / "catqa" / "_generate_configs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_catqa_tasks_and_groups_are_discovered(manager):
    catqa_tasks = [name for name in manager.all_subtasks if name.startswith("catqa_")]
    assert len(catqa_tasks) == 33
    assert Counter(name.split("_")[1] for name in catqa_tasks) == {"en": 11, "zh": 11, "vi": 11}
    assert {"catqa", "catqa_en", "catqa_zh", "catqa_vi", *UTILITY_GROUPS} <= set(manager.all_groups)
    assert set(SAFETY_TASKS) <= set(manager.all_subtasks)


def test_generated_yamls_match_their_generator():
    generator = load_generator()
    expected = generator.configs()
    on_disk = {path.name for path in (TASKS_DIR / "catqa").glob("*.yaml")}
    assert on_disk == set(expected)
    for name, config in expected.items():
        assert yaml.safe_load((TASKS_DIR / "catqa" / name).read_text(encoding="utf-8")) == config, name
    assert generator.task_name("en", "Hate/Harass/Violence") == "catqa_en_hate_harass_violence"


def test_every_utility_member_exists_in_the_installed_lm_eval(manager):
    for group in UTILITY_GROUPS:
        members = yaml.safe_load((TASKS_DIR / "utility" / f"_{group}.yaml").read_text())["task"]
        missing = [name for name in members if name not in manager.task_index]
        assert not missing, f"{group}: {missing}"


def test_safety_tasks_load_with_the_generation_protocol(catqa_dir, redeval_dir, xstest_dir):
    manager = tasks.task_manager(
        metadata={
            "catqa_dir": str(catqa_dir),
            "redeval_dir": str(redeval_dir),
            "xstest_dir": str(xstest_dir),
        },
        include_defaults=False,
    )
    loaded = manager.load(["catqa", *SAFETY_TASKS])["tasks"]
    assert len(loaded) == 33 + len(SAFETY_TASKS)
    for name, task in loaded.items():
        config = task.config
        assert config.output_type == "generate_until", name
        assert config.num_fewshot == 0, name
        assert config.generation_kwargs == {"until": [], "do_sample": False, "max_gen_toks": 512}, name
    illegal = loaded["catqa_vi_illegal_activity"].eval_docs
    assert len(illegal) == 3
    assert {doc["category"] for doc in illegal} == {"Illegal Activity"}
    assert {doc["language"] for doc in illegal} == {"vi"}


def test_real_catqa_gives_550_documents_per_language_and_33_subtasks(shared_data):
    manager = tasks.task_manager(metadata={"catqa_dir": str(shared_data / "catqa")}, include_defaults=False)
    loaded = manager.load(["catqa"])["tasks"]
    assert len(loaded) == 33
    per_language = Counter()
    subcategories = set()
    for task in loaded.values():
        for doc in task.eval_docs:
            per_language[doc["language"]] += 1
            subcategories.add((doc["category"], doc["subcategory"]))
    assert per_language == {"en": 550, "zh": 550, "vi": 550}
    assert len(subcategories) == 55
    assert {category for category, _ in subcategories} == set(CATQA_CATEGORIES)


def test_real_catqa_nested_layout_matches_the_hub_layout(shared_data, tmp_path):
    from resta_bench.tasks.formats import read_question_bank

    for language in ("english", "chinese", "vietnamese"):
        hub = read_question_bank(shared_data / "catqa" / f"catqa_{language}.json")
        nested = read_question_bank(
            shared_data / "catqa" / "red-instruct_nested" / f"catqa_{language}_nested.json"
        )
        assert len(hub) == len(nested) == 550
        assert [(row.category, row.subcategory) for row in hub] == [
            (r.category, r.subcategory) for r in nested
        ]


def test_real_redeval_question_banks_have_the_papers_sizes(shared_data):
    manager = tasks.task_manager(
        metadata={"redeval_dir": str(shared_data / "redeval_questions")}, include_defaults=False
    )
    loaded = manager.load(["harmfulqa", "dangerousqa", "adversarialqa"])["tasks"]
    assert {name: len(task.eval_docs) for name, task in loaded.items()} == {
        "harmfulqa": 1960,
        "dangerousqa": 200,
        "adversarialqa": 500,
    }
