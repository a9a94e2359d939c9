"""Generic task arithmetic (Ilharco et al. 2023): base + Σ wᵢ·(θᵢ − base)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import torch
from resta_bench.realign.errors import RealignError
from resta_bench.realign.methods.registry import TensorContext, register_method
from resta_bench.realign.output import Spelling
from resta_bench.realign.params import param


def _validate(params: dict[str, Any], inputs: Mapping[str, Any], spelling: Spelling) -> None:
    models = inputs.get("models") or []
    if not models:
        raise RealignError(f"task-arithmetic needs at least one {spelling.name('models')}")
    weights = params["weights"]
    if weights is not None and len(weights) != len(models):
        raise RealignError(
            f"{spelling.name('weights')} has {len(weights)} values for {len(models)} "
            f"{spelling.name('models')} inputs"
        )


@register_method(
    "task-arithmetic",
    title="task arithmetic",
    template="base",
    reference="https://arxiv.org/abs/2212.04089",
    validate=_validate,
)
def task_arithmetic(
    base: torch.Tensor,
    models: list[torch.Tensor],
    *,
    ctx: TensorContext,
    weights: Annotated[
        tuple[float, ...] | None, param("one weight per model, in order", symbol="w", unset="1 each")
    ] = None,
) -> torch.Tensor:
    """base + Σ wᵢ·(θᵢ − base) (weights 1 by default)."""
    weights = weights if weights is not None else (1.0,) * len(models)
    total = torch.zeros_like(base)
    for weight, model in zip(weights, models, strict=True):
        total += (model - base) * weight
    return base + total
