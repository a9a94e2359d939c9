"""Where a judge model runs: an OpenAI-compatible server (async, concurrent) or a local model (batched).

A backend turns requests (chat messages, or a raw completion prompt) into reply texts. It knows
nothing about verdicts. Retries, exponential backoff with jitter, ``Retry-After`` on 429 and timeouts
are the ``openai`` client's own; this module bounds concurrency and turns what still fails into an
error the judge records as an ``invalid`` verdict.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from resta_bench.judges.errors import JudgeError
from resta_bench.judges.options import DEFAULTS
from resta_bench.judges.prompts import Request

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = DEFAULTS.concurrency
OPENAI_URL = "https://api.openai.com/v1"  # the openai client's own default endpoint


class BackendFailure(Exception):
    """A request that still failed after the client's retries; the message is safe to store."""


@dataclass
class OpenAIBackend:
    """Chat (or, for raw prompts, text) completions from an OpenAI-compatible endpoint.

    The API key is read from the environment variable ``api_key_env`` when the first request is
    made and is kept only in memory; ``api_key_env=""`` sends no real key (a local ``vllm serve``).
    Without ``base_url`` the endpoint is the client's: ``$OPENAI_BASE_URL``, else the OpenAI API.
    """

    model: str
    base_url: str | None = DEFAULTS.base_url
    api_key_env: str = DEFAULTS.api_key_env
    concurrency: int = DEFAULTS.concurrency
    max_retries: int = DEFAULTS.max_retries
    timeout_s: float = DEFAULTS.timeout_s
    temperature: float | None = DEFAULTS.temperature  # None: the server's default, as the paper's script
    max_tokens: int | None = DEFAULTS.max_tokens
    endpoint: str = field(init=False)

    def __post_init__(self) -> None:
        self._api_key()  # fail before any work when the key is missing
        # Resolved once, here, so that the client and the cache key name the same server.
        self.endpoint = (self.base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL).rstrip("/")

    @property
    def settings(self) -> str:
        """What about this backend changes verdicts besides where it runs, for the prompt hash."""
        return f"model={self.model};temperature={self.temperature};max_tokens={self.max_tokens}"

    def _api_key(self) -> str | None:
        """The key, or None when ``api_key_env`` is empty (no key to send, none to hide)."""
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise JudgeError(
                f"the environment variable {self.api_key_env} (named by --api-key-env) is not set or empty"
            )
        return key

    def session(self) -> OpenAISession:
        """A client bound to the running event loop; close it with ``await session.aclose()``."""
        from openai import AsyncOpenAI

        key = self._api_key()
        client = AsyncOpenAI(
            api_key=key or "EMPTY",
            base_url=self.endpoint,
            max_retries=self.max_retries,
            timeout=self.timeout_s,
            http_client=_aiohttp_transport(),
        )
        return OpenAISession(self, client, asyncio.Semaphore(self.concurrency), key)


def _aiohttp_transport() -> Any:
    """The openai client's aiohttp transport where aiohttp is installed, else None (its httpx default).

    Many requests in flight cost about 40% less CPU per request over aiohttp: the httpx pool scans
    its connections on every request. On a small machine that CPU is what bounds throughput.
    """
    try:
        from openai import DefaultAioHttpClient

        return DefaultAioHttpClient()
    except (ImportError, RuntimeError):
        return None


class OpenAISession:
    def __init__(
        self, backend: OpenAIBackend, client: Any, semaphore: asyncio.Semaphore, key: str | None
    ) -> None:
        self.backend = backend
        self._client = client
        self._semaphore = semaphore
        self._key = key

    async def aclose(self) -> None:
        await self._client.close()

    def _scrub(self, text: str) -> str:
        # A server or proxy may quote the request's Authorization header back. A key of a few characters
        # is no secret, and replacing it would mangle every reply.
        return text.replace(self._key, "***") if self._key and len(self._key) >= 4 else text

    async def ask(self, request: Request) -> str:
        """The reply text, the key scrubbed from it; raises BackendFailure (its message scrubbed too)
        after the client's retries, JudgeError on a setup error."""
        try:
            return self._scrub(await self._ask(request))
        except BackendFailure as failure:
            raise BackendFailure(self._scrub(str(failure))) from None

    async def _ask(self, request: Request) -> str:
        import openai

        backend = self.backend
        options: dict[str, Any] = {"model": backend.model}
        if backend.temperature is not None:
            options["temperature"] = backend.temperature
        if backend.max_tokens is not None:
            options["max_tokens"] = backend.max_tokens
        # The client's generic ``post`` keeps its retries, backoff, Retry-After and timeouts but skips the
        # typed request transform and response models, which cost a third of the CPU time per request.
        is_chat = not isinstance(request, str)
        path, body = (
            ("/chat/completions", {"messages": request}) if is_chat else ("/completions", {"prompt": request})
        )
        async with self._semaphore:
            try:
                reply = await self._client.post(path, cast_to=dict, body={**body, **options})
                choice = reply["choices"][0]
                text = (choice["message"]["content"] if is_chat else choice["text"]) or ""
                if not isinstance(text, str):
                    raise TypeError(f"the reply's text is a {type(text).__name__}")
                return text
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as error:
                # The same for every item: stop the run rather than record thousands of invalid verdicts.
                raise JudgeError(
                    f"{backend.endpoint} refused the request (HTTP {error.status_code}); check --base-url, "
                    f"--model and the key in ${backend.api_key_env}"
                ) from None
            except openai.APIStatusError as error:
                raise BackendFailure(f"HTTP {error.status_code}: {error.message}") from None
            except openai.APITimeoutError:
                raise BackendFailure(
                    f"timed out after {backend.timeout_s:g} s ({backend.max_retries} retries)"
                ) from None
            except openai.APIConnectionError as error:
                raise BackendFailure(f"connection failed: {error}") from None
            except (KeyError, IndexError, TypeError) as error:
                raise BackendFailure(f"malformed reply: {error}") from None


@dataclass
class LocalBackend:
    """A local model through vLLM's offline batch generation when installed, else transformers.

    Chat requests go through the model's own chat template; raw prompts are tokenised as they are.
    Decoding is greedy, so asking again would give the same reply.
    """

    model: str
    engine: str = DEFAULTS.engine  # "auto", "vllm" or "transformers"
    batch_size: int = DEFAULTS.batch_size
    max_new_tokens: int = 32
    device: str | None = DEFAULTS.device
    _generator: Any = field(default=None, init=False, repr=False)  # loaded on first use

    @property
    def settings(self) -> str:
        return f"model={self.model};greedy;max_new_tokens={self.max_new_tokens}"

    @property
    def endpoint(self) -> str:
        """Where it runs: the engine (vLLM and transformers need not decode to the same tokens)."""
        if self.engine != "auto":
            return f"local:{self.engine}"
        return "local:vllm" if importlib.util.find_spec("vllm") else "local:transformers"

    def generate(self, requests: Sequence[Request]) -> list[str]:
        if self._generator is None:
            self._generator = self._load()
        return self._generator(list(requests))

    def _load(self):
        engine = self.endpoint.removeprefix("local:")
        log.info("loading judge model %s with %s", self.model, engine)
        if engine == "vllm":
            try:
                return _vllm_generator(self.model, self.max_new_tokens)
            except ImportError:
                raise JudgeError(
                    "--engine vllm: vLLM is not installed (pip install 'resta-bench[vllm]')"
                ) from None
        if engine == "transformers":
            return _transformers_generator(self.model, self.max_new_tokens, self.batch_size, self.device)
        raise JudgeError(f"unknown engine {engine!r}; use auto, vllm or transformers")


def _vllm_generator(model: str, max_new_tokens: int):
    from vllm import LLM, SamplingParams

    llm = LLM(model=model)
    params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens)

    def generate(requests: list[Request]) -> list[str]:
        replies: list[str] = [""] * len(requests)
        chats = [(i, r) for i, r in enumerate(requests) if not isinstance(r, str)]
        texts = [(i, r) for i, r in enumerate(requests) if isinstance(r, str)]
        if chats:
            for (i, _), out in zip(
                chats, llm.chat([r for _, r in chats], params, use_tqdm=False), strict=True
            ):
                replies[i] = out.outputs[0].text
        if texts:
            for (i, _), out in zip(
                texts, llm.generate([r for _, r in texts], params, use_tqdm=False), strict=True
            ):
                replies[i] = out.outputs[0].text
        return replies

    return generate


def _transformers_generator(model_name: str, max_new_tokens: int, batch_size: int, device: str | None):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_name, padding_side="left")
        model = AutoModelForCausalLM.from_pretrained(model_name, dtype="auto")
    except OSError as error:
        raise JudgeError(f"{model_name}: cannot load the judge model ({error})") from None
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    def as_text(request: Request) -> tuple[str, bool]:
        if isinstance(request, str):
            return request, True
        # The chat template writes the special tokens itself.
        return tokenizer.apply_chat_template(request, tokenize=False, add_generation_prompt=True), False

    def generate(requests: list[Request]) -> list[str]:
        replies: list[str] = []
        for start in range(0, len(requests), batch_size):
            texts = [as_text(r) for r in requests[start : start + batch_size]]
            add_special = texts[0][1]
            encoded = tokenizer(
                [t for t, _ in texts], return_tensors="pt", padding=True, add_special_tokens=add_special
            ).to(device)
            with torch.no_grad():
                output = model.generate(
                    **encoded,
                    do_sample=False,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new_tokens = output[:, encoded["input_ids"].shape[1] :]
            replies.extend(tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
        return replies

    return generate
