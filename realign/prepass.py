"""A method's pre-pass: what it may read before any output is written, and what it hands on.

Some methods need a figure over the whole model before they can compute one tensor of it: HDR's global
top-k threshold, Safe LoRA's N lowest cosines. Such a method registers ``prepare(params, prepass)``; it
maps a function over its inputs with ``prepass.map_blocks`` (the engine's readers and block workers:
one row block, or one whole tensor, at a time, each checked for NaN and Inf) and returns a JSON-able
dict. Every per-tensor call then finds that dict in ``ctx.derived``, and recipe.json records it under
``report.prepass``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import torch

Result = TypeVar("Result")


class BlockMap(Protocol):
    def __call__(
        self,
        fn: Callable[[str, dict[str, torch.Tensor]], Result],
        roles: Sequence[str],
        *,
        names: Collection[str] | None = None,
        whole: bool = False,
    ) -> Iterator[tuple[str, Result]]:
        """(tensor name, ``fn(name, block)``) for each row block (whole tensor with ``whole``) of the
        rows the method computes of each tensor (of ``names`` only, if given), in model order; ``block``
        maps each role of ``roles`` to its rows in float32. ``fn`` may run on several threads at once."""
        ...


@dataclass(frozen=True)
class Prepass:
    inputs: dict[str, Any]  # role -> Source, the inputs the per-tensor function receives
    shapes: dict[str, tuple[int, ...]]  # each tensor the method computes -> the shape of its computed rows
    map_blocks: BlockMap
