"""Weight interpolation between the aligned and the fine-tuned model (a RESTA baseline)."""

from __future__ import annotations

import torch
from resta_bench.realign.methods.checks import check_finite
from resta_bench.realign.methods.registry import TensorContext, register_method


def _validate(params: dict, inputs: dict) -> None:
    check_finite(params, "alpha")


@register_method(
    "interpolate", template="sft", reference="https://arxiv.org/abs/2212.04089", validate=_validate
)
def interpolate(
    sft: torch.Tensor, aligned: torch.Tensor, *, ctx: TensorContext, alpha: float = 0.5
) -> torch.Tensor:
    """θ_aligned + α·(θ_sft − θ_aligned)."""
    return aligned + (sft - aligned) * alpha
