"""Harm direction removal from Safety Arithmetic (Hazra et al. 2024, arXiv 2406.11801), as its code does it.

Reference: declare-lab/safety-arithmetic at commit 404fbd506992ec25f7219f228116527abe636885,
``HDR/Ties_Merge.py`` (``topk_values_mask``, ``Perform_Ties_Merge``) and the notebook
``HDR/HDR_TIES_BASE_AND_SFT.ipynb`` that calls it with ``layers = []``, ``Lamda = 3``, ``Top_k = 10``.

- The harm vector τ_H = θ_harmful − θ_base (here θ_unaligned − θ_aligned, i.e. −v) is flattened over all
  parameters into one vector, and one top-k is taken over it: with K = 10/100 and d entries,
  ``kthvalue(d − int(d·K))`` of |τ_H| is the threshold and every entry with |τ| ≥ threshold is kept.
  That threshold is the (int(d·K) + 1)-th largest magnitude, and ties at it are all kept; we compute
  the same. (TIES' sign election and disjoint mean do nothing to a single vector.)
- The output is θ_target − λ·τ_H,kept with λ = 3, θ_target being the SFT model.

``top_k_scope="per-tensor"`` applies the same rule to each tensor on its own (our variant). At k = 1
every entry is kept (the reference's ``kthvalue(0)`` fails there).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Annotated, Any

import torch
from resta_bench.realign.magnitude import rth_largest_magnitudes
from resta_bench.realign.methods.registry import TensorContext, register_method
from resta_bench.realign.params import param
from resta_bench.realign.prepass import Prepass

log = logging.getLogger(__name__)

SCOPES = ("global", "per-tensor")


def _rank(total: int, top_k: float) -> int:
    """The rank, from the largest, of the magnitude Safety Arithmetic thresholds at (at most ``total``)."""
    return min(int(total * top_k) + 1, total)


def _thresholds(prepass: Prepass, top_k: float, group_of: Callable[[str], str]) -> dict[str, dict[str, Any]]:
    """The threshold of each group of tensors (all in one, or each its own): two reads of the vector."""
    totals: dict[str, int] = {}
    for name, shape in prepass.shapes.items():
        totals[group_of(name)] = totals.get(group_of(name), 0) + math.prod(shape)

    def per_block(count):
        counted = prepass.map_blocks(lambda name, block: count(group_of(name), block["vector"]), ("vector",))
        return ((group_of(name), counts) for name, counts in counted)

    found = rth_largest_magnitudes(per_block, {group: _rank(total, top_k) for group, total in totals.items()})
    return {group: {"threshold": t.value, "kept": t.kept, "total": t.total} for group, t in found.items()}


def _prepare(params: dict[str, Any], prepass: Prepass) -> dict[str, Any]:
    if params["top_k_scope"] == "per-tensor":
        return {"per_tensor": _thresholds(prepass, params["top_k"], lambda name: name)}
    found = _thresholds(prepass, params["top_k"], lambda name: "all")["all"]
    log.info("hdr: keeping %d of %d entries, |τ| ≥ %r", found["kept"], found["total"], found["threshold"])
    return {"global": found}


@register_method(
    "hdr",
    title="HDR",
    template="sft",
    reference="https://github.com/declare-lab/safety-arithmetic/blob/404fbd5/HDR/Ties_Merge.py",
    drops=lambda params: {"vector"},
    prepare=_prepare,
)
def hdr(
    sft: torch.Tensor,
    vector: torch.Tensor,
    *,
    ctx: TensorContext,
    lam: Annotated[float, param("weight λ of the harm direction removed", symbol="λ", name="lambda")] = 3.0,
    top_k: Annotated[
        float, param("fraction k of the largest entries of τ_H kept", symbol="top-k", within="(0, 1]")
    ] = 0.1,
    top_k_scope: Annotated[
        str, param("one top-k over all weights, or each tensor its own", symbol="top-k scope", choices=SCOPES)
    ] = "global",
) -> torch.Tensor:
    """θ_sft − λ·τ_H where |τ_H| ≥ its top-k threshold (over all weights), τ_H = θ_unaligned − θ_aligned."""
    derived = ctx.derived["global"] if top_k_scope == "global" else ctx.derived["per_tensor"][ctx.name]
    # θ_sft − λ·(−v) is θ_sft + λ·v to the bit; in place, to hold no more blocks than RESTA does.
    return torch.where(vector.abs() >= derived["threshold"], vector, 0.0).mul_(lam).add_(sft)
