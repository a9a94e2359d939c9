"""RESTA (Bhardwaj, Anh & Poria 2024): add the safety vector back to the fine-tuned model."""

from __future__ import annotations

import torch
from resta_bench.realign.errors import RealignError
from resta_bench.realign.methods.checks import check_finite, check_range
from resta_bench.realign.methods.dare import dare_sum
from resta_bench.realign.methods.registry import TensorContext, register_method
from resta_bench.realign.rng import DROPS_ALL_FROM


def _validate(params: dict, inputs: dict) -> None:
    check_finite(params, "beta")
    check_range(params, "dare_p", 0.0, 1.0, high_open=True)
    if params["dare_p"] >= DROPS_ALL_FROM:
        raise RealignError(
            f"--dare-p must be below 1 − 2⁻¹⁷ ≈ {DROPS_ALL_FROM:.7f}, got {params['dare_p']!r}: DARE's masks "
            "resolve p to a multiple of 2⁻¹⁶, and this p rounds to 1, which drops every element"
        )
    if params["dare_p"] > 0 and inputs.get("aligned") is None:
        raise RealignError("resta with --dare-p needs --aligned (DARE acts on θ_sft − θ_aligned)")


@register_method(
    "resta",
    template="sft",
    reference="https://arxiv.org/abs/2402.11746",
    validate=_validate,
    reads=lambda params: {"aligned"} if params["dare_p"] else set(),
)  # no ``drops``: DARE's mask multiplies, so a NaN or Inf it drops still reaches the output check
def resta(
    sft: torch.Tensor,
    vector: torch.Tensor,
    aligned: torch.Tensor | None = None,
    *,
    ctx: TensorContext,
    beta: float = 0.5,
    dare_p: float = 0.0,
) -> torch.Tensor:
    """θ_sft + β·v; with --dare-p p: θ_aligned + DARE_p(θ_sft − θ_aligned) + β·v."""
    if dare_p == 0:
        return sft + vector * beta
    return dare_sum(sft, aligned, vector, beta, dare_p, ctx)
