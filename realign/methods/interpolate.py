"""Weight interpolation between the aligned and the fine-tuned model (a RESTA baseline)."""

from __future__ import annotations

from typing import Annotated

import torch
from resta_bench.realign.methods.registry import TensorContext, register_method
from resta_bench.realign.params import param


@register_method(
    "interpolate", title="interpolation", template="sft", reference="https://arxiv.org/abs/2212.04089"
)
def interpolate(
    sft: torch.Tensor,
    aligned: torch.Tensor,
    *,
    ctx: TensorContext,
    alpha: Annotated[float, param("weight α of θ_sft − θ_aligned", symbol="α")] = 0.5,
) -> torch.Tensor:
    """θ_aligned + α·(θ_sft − θ_aligned)."""
    return aligned + (sft - aligned) * alpha
