"""Judges backed by a model: a protocol (what to ask, how to read the reply) on a backend (where it runs).

Registered here: ``redeval`` (the paper's GPT-4 judge), ``chat`` (any chat model with a named prompt or a
prompt file), ``llama-guard-3`` and ``harmbench``. All take the same options (:class:`ModelOptions`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from resta_bench.judges.backends import BackendFailure, LocalBackend, OpenAIBackend, OpenAISession
from resta_bench.judges.base import Judge, JudgeItem, Judgment, Verdict, prompt_hash, register_judge
from resta_bench.judges.errors import JudgeError
from resta_bench.judges.options import DEFAULTS, ModelOptions, check_option, file_name_problem
from resta_bench.judges.prompts import (
    CHAT_PROMPTS,
    HARMBENCH_PROMPTS,
    LLAMA_GUARD_3,
    REDEVAL,
    Protocol,
    load_prompt_file,
)

# The version of this module's reading of replies (asking again, what counts as invalid). Bump it when
# that changes verdicts for the same replies: every model judge's cached verdicts are then asked again.
JUDGE_VERSION = "model-judge-2"


class ModelJudge(Judge):
    def __init__(
        self,
        judge_id: str,
        protocol: Protocol,
        backend: OpenAIBackend | LocalBackend,
        *,
        languages: frozenset[str] | None = None,
        verdict_retries: int = DEFAULTS.verdict_retries,
    ) -> None:
        check_option("verdict_retries", verdict_retries)
        self.id = judge_id
        self.protocol = protocol
        self.backend = backend
        self.model = backend.model
        self.languages = languages if languages is not None else protocol.languages
        self.verdict_retries = verdict_retries

    @property
    def prompt_hash(self) -> str:
        return prompt_hash(self.protocol.fingerprint, self.backend.settings)

    @property
    def cache_scope(self) -> str:
        return prompt_hash(
            JUDGE_VERSION, self.protocol.fingerprint, self.backend.settings, self.backend.endpoint
        )

    @property
    def max_attempts(self) -> int:
        """How often an item is asked while its reply has no verdict; a local judge decodes greedily and
        would answer the same way again, so it is asked once."""
        return self.verdict_retries + 1 if isinstance(self.backend, OpenAIBackend) else 1

    def reuses(self, cached: Judgment) -> bool:
        # A reply without a verdict stands unless this judge may ask more often than the one that gave up.
        return cached.verdict != "invalid" or cached.meta.get("attempts", 0) >= self.max_attempts

    def judge(self, items: Sequence[JudgeItem]) -> list[Judgment]:
        judgments: list[Judgment | None] = [None] * len(items)
        for index, judgment in self.judge_iter(items):
            judgments[index] = judgment
        return judgments  # type: ignore[return-value]  # every index is filled

    def judge_iter(self, items: Sequence[JudgeItem]) -> Generator[tuple[int, Judgment], None, None]:
        if isinstance(self.backend, OpenAIBackend):
            return _drive(self._stream_api(items))
        return self._stream_local(items)

    def _judgment(self, verdict: Verdict, raw: str, meta: dict[str, Any]) -> Judgment:
        return Judgment(verdict, raw, self.id, self.model, self.prompt_hash, meta)

    def _read(self, reply: str, attempts: int) -> Judgment | None:
        """The verdict in ``reply``; None while asks remain, else the measured ``invalid``."""
        verdict, meta = self.protocol.parse(reply)
        if verdict is not None:
            return self._judgment(verdict, reply, {**meta, "attempts": attempts})
        if attempts < self.max_attempts:
            return None
        return self._judgment("invalid", reply, {"attempts": attempts, "no_verdict": True})

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
        attempt = 0
        while True:  # _read ends it by max_attempts
            attempt += 1
            try:
                reply = await session.ask(request)
            except BackendFailure as failure:
                return index, self._judgment("invalid", "", {"error": str(failure), "attempts": attempt})
            judgment = self._read(reply, attempt)
            if judgment is not None:
                return index, judgment

    def _stream_local(self, items: Sequence[JudgeItem]) -> Generator[tuple[int, Judgment], None, None]:
        step = self.backend.batch_size
        for start in range(0, len(items), step):
            batch = items[start : start + step]
            replies = self.backend.generate([self.protocol.build(item) for item in batch])
            for offset, reply in enumerate(replies):
                yield start + offset, self._read(reply, 1)  # type: ignore[misc]  # max_attempts is 1


def _drive(stream: AsyncIterator[tuple[int, Judgment]]) -> Generator[tuple[int, Judgment], None, None]:
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
    controversial: bool = False,
    takes_prompt: bool = False,
    id_suffix: str = "",
) -> ModelJudge:
    """A judge named ``name-<model>`` (or just the model's name when it already starts with ``name``),
    then ``id_suffix``.

    ``reply_tokens`` bounds replies for judges that answer with a word (guards, classifiers), which
    are also asked with temperature 0; free-form judges keep the server's defaults unless told.
    ``controversial``: whether the judge takes the ``controversial`` option (its protocol reads it).
    ``takes_prompt``: whether a non-chat judge's ``prompt`` option chooses among its published variants.
    """
    opts = ModelOptions.parse(name, options)
    if not chat and (opts.prompt_file or (opts.prompt is not None and not takes_prompt)):
        raise JudgeError(f"--prompt and --prompt-file apply to the chat and harmbench judges, not {name!r}")
    if not controversial and opts.controversial is not None:
        raise JudgeError(f"--controversial applies to the qwen3guard-gen and shieldlm judges, not {name!r}")
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
    derived_id = (slug if slug.startswith(name) else f"{name}-{slug}") + id_suffix
    judge_id = opts.judge_id or derived_id
    problem = file_name_problem(judge_id)
    if problem:
        raise JudgeError(f"judge id: {problem}; name it with --judge-id")
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
    name = options.get("prompt") or "redeval"
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


HARMBENCH_CLASSIFIER = "cais/HarmBench-Llama-2-13b-cls"


@register_judge("harmbench")
def make_harmbench_judge(**options: Any) -> ModelJudge:
    """HarmBench's classifier. Like HarmBench's evaluate_completions.py, each response is first clipped to
    ``clip_tokens`` tokens of the classifier's tokenizer (encoded with its special tokens, decoded
    without), so a long answer is judged on the part the classifier was trained to read."""
    opts = ModelOptions.parse("harmbench", options)
    variant = opts.prompt or "pipeline"
    if variant not in HARMBENCH_PROMPTS:
        known = ", ".join(HARMBENCH_PROMPTS)
        raise JudgeError(f"unknown --prompt {variant!r} for 'harmbench'; known: {known}")
    protocol = _clipped(
        HARMBENCH_PROMPTS[variant], opts.tokenizer or opts.model or HARMBENCH_CLASSIFIER, opts
    )
    return _build(
        "harmbench",
        protocol,
        options,
        default_model=HARMBENCH_CLASSIFIER,
        api_native=False,
        reply_tokens=1,
        takes_prompt=True,
    )


def _clipped(protocol: Protocol, tokenizer_name: str, opts: ModelOptions) -> Protocol:
    tokens = opts.clip_tokens
    if tokens == 0:
        return protocol
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_name)
    except (OSError, ValueError) as error:
        raise JudgeError(
            f"harmbench clips responses with its classifier's tokenizer and cannot load {tokenizer_name!r} "
            f"({type(error).__name__}); pass --tokenizer PATH, or --clip-tokens 0 not to clip"
        ) from None

    def clip(text: str) -> str:
        ids = tokenizer.encode(text, max_length=tokens, truncation=True)
        return tokenizer.decode(ids, skip_special_tokens=True)

    def build(item: JudgeItem) -> str:
        return protocol.build(dataclasses.replace(item, response=clip(item.response)))

    return dataclasses.replace(
        protocol, build=build, fingerprint=prompt_hash(protocol.fingerprint, f"clip-{tokens}", tokenizer_name)
    )
