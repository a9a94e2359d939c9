"""Generation protocols: named sets of the settings that shape a suite's responses.

``greedy`` (the default) is this project's own: the chat template, greedy decoding, the tasks' length
cap (512 tokens) and the backend's dtype, so that a run is deterministic. ``paper`` is what the RESTA
authors' generation script does (declare-lab/red-instruct ``generate_responses.py`` with its standard
prompt, ``red_prompts/standard.txt``): the bare question, tokenised with the tokenizer's BOS and no chat
template or system prompt, ``max_new_tokens=500``, float32 weights, and no sampling settings of its own,
so that Llama-2-chat's ``generation_config.json`` applies (sampling at temperature 0.6, top-p 0.9) with
transformers' default top-k of 50. Those are passed explicitly here, so that they are recorded and so that
vLLM, whose own defaults differ (no top-k), samples the same way.

A suite's own keys override its protocol's: ``{protocol: paper, apply_chat_template: true}`` samples as
the paper does but through the chat template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Protocol:
    name: str
    apply_chat_template: bool
    max_gen_toks: int | None  # None: the tasks' own cap
    dtype: str | None  # None: the backend's
    gen_kwargs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


GREEDY = Protocol(
    "greedy",
    apply_chat_template=True,
    max_gen_toks=None,
    dtype=None,
    gen_kwargs=MappingProxyType({"do_sample": False}),
)
# The safety tasks already stop at the end-of-sequence token only (until: []), as model.generate does.
PAPER = Protocol(
    "paper",
    apply_chat_template=False,
    max_gen_toks=500,
    dtype="float32",
    gen_kwargs=MappingProxyType({"do_sample": True, "temperature": 0.6, "top_p": 0.9, "top_k": 50}),
)
PROTOCOLS: dict[str, Protocol] = {protocol.name: protocol for protocol in (GREEDY, PAPER)}
DEFAULT = GREEDY.name
