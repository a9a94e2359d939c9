"""DARE as in the paper (Yu et al. 2023, arXiv 2311.03099): drop with probability p, rescale by 1/(1−p)."""

from __future__ import annotations

import torch

from realign.methods.registry import TensorContext
from realign.rng import dare_factors


def dare(delta: torch.Tensor, p: float, ctx: TensorContext) -> torch.Tensor:
    """Keeps each element of ``delta`` (a fresh difference, changed in place) with probability 1−p, from
    the tensor's own random stream, multiplied by 1/(1−p); the others become (signed) zero.

    A multiply, not a fill: a NaN or Inf in a dropped element stays one (0·NaN is NaN), so the engine's
    check of the output still sees it.
    """
    if p == 0:
        return delta
    factors = torch.from_numpy(dare_factors(ctx.seed, ctx.name, ctx.draw(delta.numel()), delta.numel(), p))
    return delta.mul_(factors.reshape(delta.shape).to(delta.device))
