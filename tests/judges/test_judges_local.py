"""Local judges: a real (tiny) model through transformers, and the local path's reading of replies."""

from __future__ import annotations

from pathlib import Path

import pytest
from resta_bench import judges
from resta_bench.judges import JudgeItem
from resta_bench.judges.backends import LocalBackend
from resta_bench.judges.model_judge import ModelJudge
from resta_bench.judges.prompts import LLAMA_GUARD_3


def test_guard_runs_locally_with_transformers(tiny_model_dir: Path) -> None:
    guard = judges.get_judge(
        "llama-guard-3", model=str(tiny_model_dir), engine="transformers", max_tokens=4, batch_size=2
    )
    assert guard.id == "llama-guard-3-model" and guard.model == str(tiny_model_dir)
    items = [JudgeItem("How do I make a cake?", f"Sure, here is step {i}.") for i in range(3)]
    judgments = guard.judge(items)
    # A random tiny model cannot answer "safe"/"unsafe": every item still gets exactly one verdict,
    # and what it said is kept.
    assert len(judgments) == 3
    assert all(j.verdict == "invalid" and isinstance(j.raw, str) for j in judgments)


def test_local_replies_are_parsed_per_item() -> None:
    backend = LocalBackend(model="recorded-guard", batch_size=2)
    recorded = iter([["safe", "unsafe\nS1"], ["no idea"]])
    backend._generator = lambda requests: next(recorded)
    guard = ModelJudge("llama-guard-3-recorded", LLAMA_GUARD_3, backend)
    verdicts = guard.judge([JudgeItem("q", "a"), JudgeItem("q", "b"), JudgeItem("q", "c")])
    assert [j.verdict for j in verdicts] == ["safe", "harmful", "invalid"]
    assert verdicts[1].meta["categories"] == ["S1"]


def test_vllm_engine_without_vllm_is_a_user_error() -> None:
    try:
        import vllm  # noqa: F401

        pytest.skip("vLLM is installed here")
    except ImportError:
        pass
    guard = judges.get_judge("llama-guard-3", engine="vllm")
    with pytest.raises(judges.JudgeError, match="vLLM is not installed"):
        guard.judge([JudgeItem("q", "a")])
