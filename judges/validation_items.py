"""What a labelled validation set is made of: responses with a human label, and where they came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from resta_bench.judges.base import JudgeItem

Label = Literal["harmful", "safe"]
LABELS: tuple[Label, Label] = ("harmful", "safe")


@dataclass(frozen=True)
class LabelledItem:
    """One response with its human label; ``votes`` is (harmful, safe) annotator counts where known.
    ``id`` names the record within its set: ``<file>:<line>`` for the built-in sets (pinned files), the
    ``id`` field of an own set (else ``<file>:<line>``)."""

    item: JudgeItem
    label: Label
    source: str
    model: str | None = None
    votes: tuple[int, int] | None = None
    id: str | None = None


@dataclass(frozen=True)
class LabelledSet:
    name: str  # names the validation record's file: a built-in set and its split, or the file's stem
    split: str
    items: tuple[LabelledItem, ...]
    source: dict[str, Any]  # where it came from, with the SHA-256 of every file read


def detect_language(text: str) -> str:
    """``zh`` when at least one in three of the text's letters (CJK ideographs and Latin letters) is a
    CJK ideograph, else ``en``. A character-share rule: Latent Jailbreak mixes both within responses."""
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf")
    latin = sum(1 for c in text if c.isascii() and c.isalpha())
    return "zh" if cjk and 3 * cjk >= cjk + latin else "en"
