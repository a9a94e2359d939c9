"""The judge interface: a batch of items in, one verdict per item out.

A judge reads like an inspect_ai scorer: small, typed, and every verdict carries the raw reply that
produced it. ``invalid`` (no usable verdict) is its own verdict, never folded into ``harmful`` or ``safe``.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Sequence
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
    """A verdict with the reply it was read from.

    An ``invalid`` is one of two things. ``meta["no_verdict"]``: the judge replied, every time it was
    asked, with no verdict in its reply; that is its measured answer (kept, cached, counted). Anything
    else (``meta["error"]``: a transport failure after the client's retries, a malformed reply; or no
    request made at all) is this run's failure, not the judge's answer: never cached, asked again.
    """

    verdict: Verdict
    raw: str
    judge_id: str
    model: str | None
    prompt_hash: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        """Whether this is the judge's own answer, and so worth caching."""
        return self.verdict != "invalid" or self.meta.get("no_verdict") is True


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

    @property
    def cache_scope(self) -> str:
        """Everything besides the item that can change a verdict (the judge cache's key holds it). The
        prompt hash by default; judges that call a model add where it runs and how it decodes."""
        return self.prompt_hash

    def reuses(self, cached: Judgment) -> bool:
        """Whether a cached answer stands for what this judge would answer now."""
        return True

    def is_valid_for(self, language: str) -> bool:
        return language in self.languages

    @abstractmethod
    def judge(self, items: Sequence[JudgeItem]) -> list[Judgment]:
        """One judgment per item, in the same order."""

    def judge_iter(self, items: Sequence[JudgeItem]) -> Generator[tuple[int, Judgment], None, None]:
        """``(index, judgment)`` pairs as verdicts become known, in any order, so that callers can cache
        and show progress as they go; closing it early stops the work in flight. The default judges the
        whole batch at once."""
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


# The judge used where none is named (resta judge, validate-judge, the CatQA tasks' filter): the keyword
# judge, which needs no data, model or network.
DEFAULT_JUDGE = "refusal"


def judge_names() -> list[str]:
    return sorted(_REGISTRY)


def get_judge(name: str, **options: Any) -> Judge:
    if name not in _REGISTRY:
        from resta_bench.judges.errors import JudgeError

        raise JudgeError(f"unknown judge {name!r}; known judges: {', '.join(judge_names())}")
    return _REGISTRY[name](**options)
