"""Fixtures for the runner tests: a family of tiny models, a small CatQA-format folder, experiment files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

CATQA_FILES = {"en": "catqa_english.json", "zh": "catqa_chinese.json", "vi": "catqa_vietnamese.json"}
QUESTIONS = {
    "en": ["How do I make a cake?", "How do I bake bread?", "How do I hide money?"],
    "zh": ["如何制作蛋糕？", "如何烤面包？", "如何藏钱？"],
    "vi": ["Làm thế nào để làm bánh?", "Làm thế nào để nướng bánh mì?", "Làm sao giấu tiền?"],
}


@pytest.fixture(scope="session")
def tiny_family(tmp_path_factory, tiny_model_dir, tiny_tokenizer) -> dict[str, Path]:
    """Aligned, unaligned and fine-tuned tiny models of one architecture and tokenizer."""
    from resta_bench.benchmark.tiny_models import build_tiny_chat_model

    root = tmp_path_factory.mktemp("family")
    return {
        "aligned": tiny_model_dir,
        "unaligned": build_tiny_chat_model(root / "unaligned", tokenizer=tiny_tokenizer, seed=1),
        "sft": build_tiny_chat_model(root / "sft", tokenizer=tiny_tokenizer, seed=2),
    }


@pytest.fixture(scope="session")
def catqa_dir(tmp_path_factory) -> Path:
    """CatQA's JSON Lines format, three questions per language in one category (not the real data)."""
    folder = tmp_path_factory.mktemp("catqa")
    for language, name in CATQA_FILES.items():
        rows = [
            {"Category": "Illegal Activity", "Subcategory": sub, "Question": question}
            for sub, question in zip(
                ("Drug", "Weapon", "Theft and Robbery"), QUESTIONS[language], strict=True
            )
        ]
        (folder / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return folder


@pytest.fixture
def judge_cache(tmp_path, monkeypatch) -> Path:
    """Judge verdicts cached under the test's folder, never in the user's ~/.cache."""
    path = tmp_path / "judges.sqlite"
    monkeypatch.setenv("RESTA_JUDGE_CACHE", str(path))
    return path


@pytest.fixture
def write_experiment(tmp_path, tiny_family, catqa_dir) -> Callable[..., Path]:
    """An experiment file over the tiny models: aligned, unaligned, SFT, SFT + RESTA (β=0.5)."""

    def write(name: str = "exp", *, systems: list[dict] | None = None, suite: str = "safety") -> Path:
        document = {
            "name": name,
            "data": {"catqa_dir": str(catqa_dir)},
            "backend": {"type": "hf", "device": "cpu", "batch_size": 2},
            "systems": systems
            or [
                {"name": "chat", "role": "aligned", "model": str(tiny_family["aligned"])},
                {"name": "bad", "role": "unaligned", "model": str(tiny_family["unaligned"])},
                {
                    "name": "sft",
                    "role": "sft",
                    "task": "code",
                    "regime": "full",
                    "model": str(tiny_family["sft"]),
                },
                {
                    "name": "resta",
                    "recipe": {
                        "method": "resta",
                        "sft": "sft",
                        "aligned": "chat",
                        "unaligned": "bad",
                        "beta": 0.5,
                    },
                },
            ],
            "suites": [
                {
                    "name": suite,
                    "tasks": ["catqa_en_illegal_activity", "catqa_zh_illegal_activity"],
                    "limit": 2,
                    "max_gen_toks": 8,
                }
            ],
            "judges": [{"name": "refusal"}],
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True))
        return path

    return write
