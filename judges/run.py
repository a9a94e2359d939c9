"""Judging a batch of items the way a run needs it: cached, de-duplicated, resumable, with progress.

This is the library entry point for code that has items in hand (the runner, the CatQA tasks' filters):

    from resta_bench.judges import get_judge
    from resta_bench.judges.cache import JudgmentCache, default_cache_path
    from resta_bench.judges.run import judge_items

    with JudgmentCache(default_cache_path()) as cache:
        judgments = judge_items(get_judge("redeval", model="gpt-4"), items, cache=cache)

Each verdict is committed to the cache as soon as it arrives, so a run killed midway asks again only
for what it had not been told. Only the judge's own answers are cached (:attr:`Judgment.answered`): an
``invalid`` from a request that failed (``meta["error"]``) is asked again by the next run.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import closing, nullcontext

from resta_bench.judges.base import Judge, JudgeItem, Judgment
from resta_bench.judges.cache import JudgmentCache
from tqdm import tqdm


def judge_items(
    judge: Judge,
    items: Sequence[JudgeItem],
    *,
    cache: JudgmentCache | None = None,
    progress: bool = True,
    description: str | None = None,
) -> list[Judgment]:
    """One judgment per item, in order. Identical (question, response) pairs are judged once."""
    pairs = [(item.question, item.response) for item in items]
    use_cache = cache is not None and judge.cacheable
    scope = judge.cache_scope
    cached = cache.get_many(judge.id, scope, list(set(pairs))) if use_cache else {}
    known = {pair: judgment for pair, judgment in cached.items() if judge.reuses(judgment)}
    # The first item of each unanswered pair stands for all of its copies.
    first_of_pair: dict[tuple[str, str], JudgeItem] = {}
    for pair, item in zip(pairs, items, strict=True):
        if pair not in known:
            first_of_pair.setdefault(pair, item)
    todo = list(first_of_pair.values())
    with tqdm(
        total=len(set(pairs)),
        initial=len(known),
        desc=description or f"judging with {judge.id}",
        unit="verdict",
        file=sys.stderr,
        disable=not progress,
    ) as bar:
        # Closed on any way out (a failed cache write, Ctrl-C), so that requests in flight are cancelled.
        with closing(judge.judge_iter(todo)) if todo else nullcontext(()) as verdicts:
            for index, judgment in verdicts:
                pair = (todo[index].question, todo[index].response)
                known[pair] = judgment
                if use_cache and judgment.answered:
                    cache.put(scope, *pair, judgment)
                bar.update(1)
    return [known[pair] for pair in pairs]
