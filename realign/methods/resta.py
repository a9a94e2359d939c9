"""RESTA (Bhardwaj, Anh & Poria 2024): add the safety vector back to the fine-tuned model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import torch
from resta_bench.realign.errors import RealignError
from resta_bench.realign.methods.dare import dare_sum
from resta_bench.realign.methods.registry import TensorContext, register_method
from resta_bench.realign.output import Spelling
from resta_bench.realign.params import param
from resta_bench.realign.rng import DROPS_ALL_FROM


def _validate(params: dict[str, Any], inputs: Mapping[str, Any], spelling: Spelling) -> None:
    dare_p = spelling.name("dare_p")
    if params["dare_p"] >= DROPS_ALL_FROM:
        raise RealignError(
            f"{dare_p} must be below 1 − 2⁻¹⁷ ≈ {DROPS_ALL_FROM:.7f}, got {params['dare_p']!r}: DARE's masks "
            "resolve p to a multiple of 2⁻¹⁶, and this p rounds to 1, which drops every element"
        )
    if params["dare_p"] > 0 and not inputs.get("aligned"):
        raise RealignError(
            f"resta with {dare_p} needs {spelling.name('aligned')} (DARE acts on θ_sft − θ_aligned)"
        )


@register_method(
    "resta",
    title="RESTA",
    template="sft",
    reference="https://arxiv.org/abs/2402.11746",
    validate=_validate,
    reads=lambda params: {"aligned"} if params["dare_p"] else set(),
    retitle=lambda params: "RESTA+DARE" if params.get("dare_p") else "RESTA",
)  # no ``drops``: DARE's mask multiplies, so a NaN or Inf it drops still reaches the output check
def resta(
    sft: torch.Tensor,
    vector: torch.Tensor,
    aligned: torch.Tensor | None = None,
    *,
    ctx: TensorContext,
    beta: Annotated[float, param("weight β of the safety vector", symbol="β")] = 0.5,
    dare_p: Annotated[
        float, param("DARE drop probability p (0: no DARE)", symbol="p", within="[0, 1)")
    ] = 0.0,
) -> torch.Tensor:
    """θ_sft + β·v; with DARE's p > 0: θ_aligned + DARE_p(θ_sft − θ_aligned) + β·v."""
    if dare_p == 0:
        return sft + vector * beta
    return dare_sum(sft, aligned, vector, beta, dare_p, ctx)
