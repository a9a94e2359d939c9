"""DARE as in the paper (Yu et al. 2023, arXiv 2311.03099): drop with probability p, rescale by 1/(1−p)."""

from __future__ import annotations

import torch
from resta_bench.realign.methods.registry import TensorContext
from resta_bench.realign.rng import dare_factors


def dare_sum(
    sft: torch.Tensor, aligned: torch.Tensor, vector: torch.Tensor, beta: float, p: float, ctx: TensorContext
) -> torch.Tensor:
    """θ_aligned + DARE_p(θ_sft − θ_aligned) + β·v: each element of the difference is kept with
    probability 1−p, from the tensor's own random stream, and multiplied by 1/(1−p); the others become
    (signed) zero.

    A multiply, not a fill: a NaN or Inf in a dropped element stays one (0·NaN is NaN), so the engine's
    check of the output still sees it. On the CPU one compiled pass computes it; elsewhere tensor
    operations do, with the same bits.
    """
    if sft.device.type == "cpu":
        from resta_bench.realign import (
            dare_kernel,  # here, not at the top: importing Numba takes a quarter second
        )

        return dare_kernel.dare_sum(sft, aligned, vector, beta, p, ctx.seed, ctx.name, ctx.start)
    return dare_sum_by_tensor_operations(sft, aligned, vector, beta, p, ctx.seed, ctx.name, ctx.start)


def dare_sum_by_tensor_operations(
    sft: torch.Tensor,
    aligned: torch.Tensor,
    vector: torch.Tensor,
    beta: float,
    p: float,
    seed: int,
    name: str,
    start: int,
) -> torch.Tensor:
    """``dare_sum`` on any device, from factors drawn on the CPU."""
    factors = torch.from_numpy(dare_factors(seed, name, start, sft.numel(), p)).reshape(sft.shape)
    shift = vector * beta
    return (sft - aligned).mul_(factors.to(sft.device)).add_(aligned).add_(shift)
