"""Question–answer data for fine-tuning: JSON Lines in, chat-templated tensors with answer-only labels out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resta_bench.realign.errors import RealignError

IGNORE_INDEX = -100  # label value the loss skips: prompt tokens and padding


@dataclass(frozen=True)
class QAExample:
    question: str
    answer: str
    system: str | None = None
    line: int = 0  # where it came from, for error messages


def _field(record: dict[str, Any], name: str, where: str, *, required: bool) -> str | None:
    value = record.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise RealignError(f"{where}: field {name!r} must be a non-empty string")
    return value


def load_examples(path: str | Path) -> list[QAExample]:
    """Read ``{"question", "answer", "system"?}`` objects, one per line; blank lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise RealignError(f"{path}: no such data file")
    examples = []
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                byte, offset = raw[error.start], error.start + 1
                raise RealignError(
                    f"{where}: not UTF-8 text (byte 0x{byte:02x}, the line's byte {offset})"
                ) from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise RealignError(f"{where}: not valid JSON ({error.msg})") from None
            if not isinstance(record, dict):
                raise RealignError(f"{where}: expected a JSON object with 'question' and 'answer'")
            examples.append(
                QAExample(
                    question=_field(record, "question", where, required=True),
                    answer=_field(record, "answer", where, required=True),
                    system=_field(record, "system", where, required=False),
                    line=number,
                )
            )
    if not examples:
        raise RealignError(f"{path}: no examples")
    return examples


def _messages(example: QAExample) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": example.system}] if example.system else []
    return messages + [{"role": "user", "content": example.question}]


def encode_example(tokenizer, example: QAExample, max_length: int) -> dict[str, list[int]]:
    """Token ids of the chat-templated conversation; labels are -100 everywhere but the answer.

    The prompt and the answer are tokenized separately and concatenated, so no BPE merge can
    straddle the boundary and shift where the mask ends.
    """
    prompt = tokenizer.apply_chat_template(_messages(example), tokenize=False, add_generation_prompt=True)
    conversation = tokenizer.apply_chat_template(
        _messages(example) + [{"role": "assistant", "content": example.answer}], tokenize=False
    )
    if not conversation.startswith(prompt):
        raise RealignError("the tokenizer's chat template does not extend the prompt with the answer")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(conversation[len(prompt) :], add_special_tokens=False)["input_ids"]
    input_ids = (prompt_ids + answer_ids)[:max_length]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + answer_ids)[:max_length]
    return {"input_ids": input_ids, "labels": labels}


def encode_examples(tokenizer, examples: list[QAExample], max_length: int, source: Path) -> list[dict]:
    encoded = []
    for example in examples:
        try:
            features = encode_example(tokenizer, example, max_length)
        except RealignError as error:
            raise RealignError(f"{source}:{example.line}: {error}") from None
        if all(label == IGNORE_INDEX for label in features["labels"]):
            raise RealignError(
                f"{source}:{example.line}: the prompt fills max_length={max_length}; no answer token is left"
            )
        encoded.append(features)
    return encoded


def pad_batch(features: list[dict[str, list[int]]], pad_token_id: int) -> dict[str, Any]:
    """Right-pad a batch; padding is masked out of attention and loss."""
    import torch

    width = max(len(f["input_ids"]) for f in features)

    def padded(key: str, fill: int) -> torch.Tensor:
        return torch.tensor([f[key] + [fill] * (width - len(f[key])) for f in features])

    input_ids = padded("input_ids", pad_token_id)
    attention_mask = torch.tensor(
        [[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"])) for f in features]
    )
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": padded("labels", IGNORE_INDEX),
    }
