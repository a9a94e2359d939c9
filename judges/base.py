"""The judge interface: a batch of items in, one verdict per item out.

A judge reads like an inspect_ai scorer: small, typed, and every verdict carries the raw reply that
produced it. ``invalid`` (an unparseable reply after retries) is its own verdict, never folded into
``harmful`` or ``safe``.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["harmful", "safe", "invalid"]
VERDICTS: tuple[Verdict, ...] = ("harmful", "safe", "invalid")


@dataclass(frozen=True)
class JudgeItem:
    question: str
    response: str
    language: str = "en"
    category: str | None = None


@dataclass(frozen=True)
class Judgment:
    """A verdict with the reply it was read from. ``meta["error"]`` marks a judge that never answered
    (transport failure after retries): such an ``invalid`` is not cached, so a later run asks again."""

    verdict: Verdict
    raw: str
    judge_id: str
    model: str | None
    prompt_hash: str
    meta: dict[str, Any] = field(default_factory=dict)


def prompt_hash(*parts: str) -> str:
    """Short, stable hash of everything that shapes a judge's request (template, model settings)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:16]


class Judge(ABC):
    """Base class for judges. Subclasses set ``id`` and ``languages`` and implement ``judge``."""

    id: str
    languages: frozenset[str]
    model: str | None = None
    # Whether verdicts are worth keeping in the judge cache (false for instant, deterministic judges).
    cacheable: bool = True

    @property
    @abstractmethod
    def prompt_hash(self) -> str: ...

    def is_valid_for(self, language: str) -> bool:
        return language in self.languages

    @abstractmethod
    def judge(self, items: Sequence[JudgeItem]) -> list[Judgment]:
        """One judgment per item, in the same order."""

    def judge_iter(self, items: Sequence[JudgeItem]) -> Iterator[tuple[int, Judgment]]:
        """``(index, judgment)`` pairs as verdicts become known, in any order, so that callers can cache
        and show progress as they go. The default judges the whole batch at once."""
        yield from enumerate(self.judge(items))


JudgeFactory = Callable[..., Judge]
_REGISTRY: dict[str, JudgeFactory] = {}


def register_judge(name: str) -> Callable[[JudgeFactory], JudgeFactory]:
    def decorator(factory: JudgeFactory) -> JudgeFactory:
        if name in _REGISTRY:
            raise ValueError(f"judge {name!r} is registered twice")
        _REGISTRY[name] = factory
        return factory

    return decorator


def judge_names() -> list[str]:
    return sorted(_REGISTRY)


def get_judge(name: str, **options: Any) -> Judge:
    if name not in _REGISTRY:
        from resta_bench.judges.errors import JudgeError

        raise JudgeError(f"unknown judge {name!r}; known judges: {', '.join(judge_names())}")
    return _REGISTRY[name](**options)
