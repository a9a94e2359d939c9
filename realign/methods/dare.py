"""DARE as in the paper (Yu et al. 2023, arXiv 2311.03099): drop with probability p, rescale by 1/(1−p)."""

from __future__ import annotations

import torch

from realign.methods.registry import TensorContext


def dare(delta: torch.Tensor, p: float, ctx: TensorContext) -> torch.Tensor:
    """Keeps each element with probability 1−p (mask from the tensor's own generator) and rescales it;
    the others become (signed) zero. Works in place on ``delta`` (a fresh difference), saving two
    allocations of a block each.

    The rescaling is a true division, not a multiply by a rounded reciprocal, so a kept element is
    the correctly rounded delta/(1−p) on every device.
    """
    if p == 0:
        return delta
    return delta.div_(1 - p).mul_(ctx.keep_mask(delta.shape, p))
