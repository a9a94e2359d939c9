"""Judges: turn (question, response) pairs into harmful / safe / invalid verdicts.

``import judges`` registers every built-in judge, so ``judges.get_judge(name, **options)`` works at once.
The refusal matcher used for the per-document ``refusal`` metric is :func:`judges.is_refusal`.
"""

from resta_bench.judges import guards as _guards  # noqa: F401  (registers qwen3guard-gen, shieldlm, wildguard)
from resta_bench.judges import learned as _learned  # noqa: F401  (registers "offline")
from resta_bench.judges import model_judge as _model_judge  # noqa: F401  (registers the model judges)
from resta_bench.judges import refusal as _refusal  # noqa: F401  (registers "refusal")
from resta_bench.judges.base import (
    DEFAULT_JUDGE,
    Judge,
    JudgeItem,
    Judgment,
    get_judge,
    judge_names,
    register_judge,
)
from resta_bench.judges.errors import JudgeError
from resta_bench.judges.refusal import is_refusal

__all__ = [
    "DEFAULT_JUDGE",
    "Judge",
    "JudgeError",
    "JudgeItem",
    "Judgment",
    "get_judge",
    "is_refusal",
    "judge_names",
    "register_judge",
]
