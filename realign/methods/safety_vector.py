"""The safety vector v = θ_aligned − θ_unaligned, saved as its own checkpoint to serve many SFT models."""

from __future__ import annotations

import torch
from resta_bench.realign.methods.registry import TensorContext, register_method
from resta_bench.realign.vector import VECTOR_METHOD


@register_method(
    VECTOR_METHOD, title="safety vector", template="aligned", reference="https://arxiv.org/abs/2402.11746"
)
def safety_vector(aligned: torch.Tensor, unaligned: torch.Tensor, *, ctx: TensorContext) -> torch.Tensor:
    """v = θ_aligned − θ_unaligned."""
    return aligned - unaligned
