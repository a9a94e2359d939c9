"""Safe LoRA (Hsu et al. 2024, arXiv 2405.16833): project updates that stray from the alignment subspace."""

from __future__ import annotations

import torch
from resta_bench.realign.methods.checks import check_range
from resta_bench.realign.methods.registry import TensorContext, register_method


def _validate(params: dict, inputs: dict) -> None:
    check_range(params, "threshold", -1.0, 1.0, high_open=False)


def _project(alignment: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
    """C·ΔW with C = V·Vᵀ / ‖V‖_F (the paper's projection), multiplied in the cheaper order."""
    rows, cols = alignment.shape
    if rows <= cols:
        projected = (alignment @ alignment.T) @ update
    else:
        projected = alignment @ (alignment.T @ update)
    return projected / torch.linalg.matrix_norm(alignment)


@register_method(
    "safe-lora",
    template="sft",
    reference="https://arxiv.org/abs/2405.16833",
    elementwise=False,
    validate=_validate,
    drops=lambda params: {"sft", "aligned", "vector"},
)
def safe_lora(
    sft: torch.Tensor,
    aligned: torch.Tensor,
    vector: torch.Tensor,
    *,
    ctx: TensorContext,
    threshold: float = 0.5,
) -> torch.Tensor:
    """θ_aligned + C·ΔW for each weight whose update ΔW = θ_sft − θ_aligned has cos(ΔW, C·ΔW) < threshold."""
    update = sft - aligned
    if update.dim() != 2 or not bool(update.any()):
        return sft
    if not bool(vector.any()):
        ctx.note("safe-lora: zero alignment matrix, update kept")
        return sft
    projected = _project(vector, update)
    similarity = torch.nn.functional.cosine_similarity(projected.reshape(1, -1), update.reshape(1, -1)).item()
    if similarity >= threshold:
        ctx.note("safe-lora: update kept")
        return sft
    ctx.note("safe-lora: update projected")
    return aligned + projected
