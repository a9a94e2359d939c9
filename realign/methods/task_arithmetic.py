"""Generic task arithmetic (Ilharco et al. 2023): base + Σ wᵢ·(θᵢ − base)."""

from __future__ import annotations

import torch
from resta_bench.realign.errors import RealignError
from resta_bench.realign.methods.registry import TensorContext, register_method


def _validate(params: dict, inputs: dict) -> None:
    models = inputs.get("models") or []
    if not models:
        raise RealignError("task-arithmetic needs at least one --model")
    weights = params["weights"]
    if weights is not None and len(weights) != len(models):
        raise RealignError(f"--weights has {len(weights)} values for {len(models)} --model inputs")


@register_method(
    "task-arithmetic", template="base", reference="https://arxiv.org/abs/2212.04089", validate=_validate
)
def task_arithmetic(
    base: torch.Tensor,
    models: list[torch.Tensor],
    *,
    ctx: TensorContext,
    weights: tuple[float, ...] | None = None,
) -> torch.Tensor:
    """base + Σ wᵢ·(θᵢ − base) (weights 1 by default)."""
    weights = weights if weights is not None else (1.0,) * len(models)
    total = torch.zeros_like(base)
    for weight, model in zip(weights, models, strict=True):
        total += (model - base) * weight
    return base + total
