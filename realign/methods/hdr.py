"""Harm direction removal from Safety Arithmetic (Hazra et al. 2024, arXiv 2406.11801)."""

from __future__ import annotations

import math

import torch
from resta_bench.realign.methods.checks import check_finite, check_range
from resta_bench.realign.methods.registry import TensorContext, register_method


def _validate(params: dict, inputs: dict) -> None:
    check_finite(params, "lam")
    check_range(params, "top_k", 0.0, 1.0, high_open=False)


@register_method(
    "hdr",
    template="sft",
    reference="https://arxiv.org/abs/2406.11801",
    elementwise=False,
    validate=_validate,
    drops=lambda params: {"vector"},
)
def hdr(
    sft: torch.Tensor, vector: torch.Tensor, *, ctx: TensorContext, lam: float = 1.0, top_k: float = 0.1
) -> torch.Tensor:
    """θ_sft − λ·(top-k% by magnitude of θ_unaligned − θ_aligned), top-k taken per tensor."""
    harm = (-vector).reshape(-1)
    count = math.ceil(top_k * harm.numel())
    kept = torch.zeros_like(harm)
    if count:
        index = harm.abs().topk(count, sorted=False).indices
        kept[index] = harm[index]
    return sft - kept.view_as(sft) * lam
