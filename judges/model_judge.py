"""Judges backed by a model: a protocol (what to ask, how to read the reply) on a backend (where it runs).

Registered here: ``redeval`` (the paper's GPT-4 judge), ``chat`` (any chat model with a named prompt or a
prompt file), ``llama-guard-3`` and ``harmbench``. All take the same options (:class:`ModelOptions`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any

from resta_bench.judges.backends import (
    DEFAULT_CONCURRENCY,
    BackendFailure,
    LocalBackend,
    OpenAIBackend,
    OpenAISession,
)
from resta_bench.judges.base import Judge, JudgeItem, Judgment, Verdict, prompt_hash, register_judge
from resta_bench.judges.errors import JudgeError
from resta_bench.judges.prompts import (
    CHAT_PROMPTS,
    HARMBENCH,
    LLAMA_GUARD_3,
    REDEVAL,
    Protocol,
    load_prompt_file,
)


class ModelJudge(Judge):
    def __init__(
        self,
        judge_id: str,
        protocol: Protocol,
        backend: OpenAIBackend | LocalBackend,
        *,
        languages: frozenset[str] | None = None,
        verdict_retries: int = 4,
    ) -> None:
        self.id = judge_id
        self.protocol = protocol
        self.backend = backend
        self.model = backend.model
        self.languages = languages if languages is not None else protocol.languages
        self.verdict_retries = verdict_retries

    @property
    def prompt_hash(self) -> str:
        return prompt_hash(self.protocol.fingerprint, self.backend.settings)

    def judge(self, items: Sequence[JudgeItem]) -> list[Judgment]:
        judgments: list[Judgment | None] = [None] * len(items)
        for index, judgment in self.judge_iter(items):
            judgments[index] = judgment
        return judgments  # type: ignore[return-value]  # every index is filled

    def judge_iter(self, items: Sequence[JudgeItem]) -> Iterator[tuple[int, Judgment]]:
        if isinstance(self.backend, OpenAIBackend):
            return _drive(self._stream_api(items))
        return self._stream_local(items)

    def _judgment(self, verdict: Verdict, raw: str, meta: dict[str, Any]) -> Judgment:
        return Judgment(verdict, raw, self.id, self.model, self.prompt_hash, meta)

    def _read(self, reply: str, attempts: int) -> Judgment | None:
        verdict, meta = self.protocol.parse(reply)
        if verdict is None:
            return None
        return self._judgment(verdict, reply, {**meta, "attempts": attempts})

    async def _stream_api(self, items: Sequence[JudgeItem]) -> AsyncIterator[tuple[int, Judgment]]:
        session = self.backend.session()
        tasks = [asyncio.ensure_future(self._ask(session, i, item)) for i, item in enumerate(items)]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await session.aclose()

    async def _ask(self, session: OpenAISession, index: int, item: JudgeItem) -> tuple[int, Judgment]:
        request = self.protocol.build(item)
        reply = ""
        for attempt in range(1, self.verdict_retries + 2):
            try:
                reply = await session.ask(request)
            except BackendFailure as failure:
                return index, self._judgment("invalid", "", {"error": str(failure), "attempts": attempt})
            judgment = self._read(reply, attempt)
            if judgment is not None:
                return index, judgment
        return index, self._judgment("invalid", reply, {"attempts": self.verdict_retries + 1})

    def _stream_local(self, items: Sequence[JudgeItem]) -> Iterator[tuple[int, Judgment]]:
        # Greedy decoding answers the same way twice, so a local judge is asked once per item.
        step = self.backend.batch_size
        for start in range(0, len(items), step):
            batch = items[start : start + step]
            replies = self.backend.generate([self.protocol.build(item) for item in batch])
            for offset, reply in enumerate(replies):
                judgment = self._read(reply, 1) or self._judgment("invalid", reply, {"attempts": 1})
                yield start + offset, judgment


def _drive(stream: AsyncIterator[tuple[int, Judgment]]) -> Iterator[tuple[int, Judgment]]:
    """Run an async stream on a private event loop, handing each item to synchronous code as it comes.

    Requests in flight keep going while the caller handles an item (the loop runs again on the next
    pull); closing this generator early cancels them and closes the client. Called from code that is
    itself inside an event loop (a notebook), the stream runs to its end in a worker thread instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        with ThreadPoolExecutor(1) as worker:
            yield from worker.submit(lambda: list(_drive(stream))).result()
        return
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                yield loop.run_until_complete(stream.__anext__())
            except StopAsyncIteration:
                return
    finally:
        loop.run_until_complete(stream.aclose())
        loop.close()


@dataclass
class ModelOptions:
    """Options shared by every model judge (the ``resta judge`` flags of the same names)."""

    model: str | None = None
    engine: str = "auto"  # "api" (OpenAI-compatible), "vllm", "transformers", or "auto"
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = DEFAULT_CONCURRENCY
    max_retries: int = 6
    timeout_s: float = 60.0
    temperature: float | None = None
    max_tokens: int | None = None
    verdict_retries: int = 4
    batch_size: int = 8
    device: str | None = None
    prompt: str = "redeval"
    prompt_file: str | None = None
    languages: Sequence[str] | None = None
    judge_id: str | None = None

    @classmethod
    def parse(cls, judge_name: str, options: dict[str, Any]) -> ModelOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise JudgeError(f"judge {judge_name!r} has no option {unknown[0]!r}")
        parsed = cls(**options)
        if parsed.concurrency < 1:
            raise JudgeError("--concurrency must be at least 1")
        if parsed.engine not in ("auto", "api", "vllm", "transformers"):
            raise JudgeError(f"--engine {parsed.engine!r}: use auto, api, vllm or transformers")
        return parsed


def _slug(model: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", model.rstrip("/").split("/")[-1].lower()).strip("-")


def _build(
    name: str,
    protocol: Protocol,
    options: dict[str, Any],
    *,
    default_model: str | None,
    api_native: bool,
    reply_tokens: int | None = None,
    chat: bool = False,
) -> ModelJudge:
    """A judge named ``name-<model>`` (or just the model's name when it already starts with ``name``).

    ``reply_tokens`` bounds replies for judges that answer with a word (guards, classifiers), which
    are also asked with temperature 0; free-form judges keep the server's defaults unless told.
    """
    opts = ModelOptions.parse(name, options)
    if not chat and (opts.prompt_file or "prompt" in options):
        raise JudgeError(f"--prompt and --prompt-file apply to the chat judge, not {name!r}")
    model = opts.model or default_model
    if not model:
        raise JudgeError(f"judge {name!r} needs --model")
    use_api = opts.engine == "api" or (opts.engine == "auto" and (opts.base_url is not None or api_native))
    if use_api:
        backend: OpenAIBackend | LocalBackend = OpenAIBackend(
            model=model,
            base_url=opts.base_url,
            api_key_env=opts.api_key_env,
            concurrency=opts.concurrency,
            max_retries=opts.max_retries,
            timeout_s=opts.timeout_s,
            temperature=opts.temperature if opts.temperature is not None or reply_tokens is None else 0.0,
            max_tokens=opts.max_tokens or reply_tokens,
        )
    else:
        backend = LocalBackend(
            model=model,
            engine=opts.engine,
            batch_size=opts.batch_size,
            max_new_tokens=opts.max_tokens or reply_tokens or 512,
            device=opts.device,
        )
    slug = _slug(model)
    judge_id = opts.judge_id or (slug if slug.startswith(name) else f"{name}-{slug}")
    languages = frozenset(opts.languages) if opts.languages else None
    return ModelJudge(judge_id, protocol, backend, languages=languages, verdict_retries=opts.verdict_retries)


@register_judge("redeval")
def make_redeval_judge(**options: Any) -> ModelJudge:
    return _build("redeval", REDEVAL, options, default_model="gpt-4", api_native=True)


@register_judge("chat")
def make_chat_judge(**options: Any) -> ModelJudge:
    if not options.get("model"):
        raise JudgeError("judge 'chat' needs --model")
    prompt_file = options.get("prompt_file")
    name = options.get("prompt", "redeval")
    if prompt_file:
        protocol = load_prompt_file(prompt_file)
    elif name in CHAT_PROMPTS:
        protocol = CHAT_PROMPTS[name]
    else:
        raise JudgeError(f"unknown --prompt {name!r}; known prompts: {', '.join(sorted(CHAT_PROMPTS))}")
    return _build(protocol.name, protocol, options, default_model=None, api_native=True, chat=True)


@register_judge("llama-guard-3")
def make_llama_guard_judge(**options: Any) -> ModelJudge:
    return _build(
        "llama-guard-3",
        LLAMA_GUARD_3,
        options,
        default_model="meta-llama/Llama-Guard-3-8B",
        api_native=False,
        reply_tokens=20,
    )


@register_judge("harmbench")
def make_harmbench_judge(**options: Any) -> ModelJudge:
    return _build(
        "harmbench",
        HARMBENCH,
        options,
        default_model="cais/HarmBench-Llama-2-13b-cls",
        api_native=False,
        reply_tokens=1,
    )
