"""Safe LoRA (Hsu et al. 2024, arXiv 2405.16833), as IBM's code computes it.

Reference: IBM/SafeLoRA at commit d81fda12719844d74b1fad98a5f00d692f6ab607, ``model.py`` (``SafeLoRA``,
``get_aligned_matrix``, ``projected_weighted``) and ``config.py`` (``SafeLoRAConfig``).

- Weights: those of the modules a LoRA adapter adapts, as IBM projects the LoRA modules of the
  adapter's target modules. For a full fine-tune, the 2-D ``<module>.weight`` of the module types in
  ``target_modules`` (default: the attention projections, as this project's LoRA recipe adapts them),
  matched as PEFT matches target modules: the module's name, or its last dotted parts.
- Projection: C = V·Vᵀ / ‖V‖_F of each weight's V; the update ΔW = θ_sft − θ_aligned becomes C·ΔW.
  (IBM replaces lora_B by C·lora_B: the same ΔW, up to float32 rounding.)
- Test: the cosine of C·ΔW and ΔW, flattened, rounded to 5 decimals (``numpy.round``); a weight is
  projected when that is ≤ the cutoff. ``select_layers="number"`` (IBM's default, ``num_proj_layers``
  10): the cutoff is the N-th lowest rounded cosine, so the N weights of lowest cosine are projected
  (more on a tie at the cutoff). ``select_layers="threshold"``: the cutoff is ``threshold`` (0.5).
- V: IBM's V is θ_chat − θ_base, the aligned model minus the base model it was aligned from. Here V is
  the vector input, θ_aligned − θ_unaligned: the pre-trained base as ``unaligned`` gives IBM's V;
  RESTA's harmful fine-tune as ``unaligned`` gives the safety vector instead (a variant).
A weight whose V is zero (where C would be 0/0) is kept and left out of the ranking.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy
import torch
from resta_bench.realign.errors import RealignError
from resta_bench.realign.finetune import DEFAULT_LORA_TARGETS
from resta_bench.realign.lora import LoraSft
from resta_bench.realign.methods.registry import TensorContext, register_method
from resta_bench.realign.params import param
from resta_bench.realign.prepass import Prepass

SELECTIONS = ("number", "threshold")


def _project(alignment: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
    """C·ΔW with C = V·Vᵀ / ‖V‖_F (the paper's projection), multiplied in the cheaper order."""
    rows, cols = alignment.shape
    if rows <= cols:
        projected = (alignment @ alignment.T) @ update
    else:
        projected = alignment @ (alignment.T @ update)
    return projected / torch.linalg.matrix_norm(alignment)


def _cosine(projected: torch.Tensor, update: torch.Tensor) -> float:
    """IBM's figure: cos(C·ΔW, ΔW) over the flattened matrices, rounded to 5 decimals as numpy rounds."""
    value = torch.nn.functional.cosine_similarity(projected.reshape(1, -1), update.reshape(1, -1)).item()
    return float(numpy.round(value, 5))


def _block_cosine(name: str, block: dict[str, torch.Tensor]) -> float | None:
    """The rounded cosine of one weight; None where V is zero (C would be 0/0)."""
    update, vector = block["sft"] - block["aligned"], block["vector"]
    return _cosine(_project(vector, update), update) if bool(vector.any()) else None


def _targeted(name: str, targets: tuple[str, ...]) -> bool:
    module = name.removesuffix(".weight")
    return name.endswith(".weight") and any(module == t or module.endswith(f".{t}") for t in targets)


def _modules(params: dict[str, Any], prepass: Prepass) -> list[str]:
    """The weights to consider: the adapter's, or those of the target modules in a full fine-tune."""
    sft = prepass.inputs["sft"]
    if isinstance(sft, LoraSft):
        if params["target_modules"] is not None:  # known only once the input is open: no flag to name
            raise RealignError(
                f"safe-lora: target modules are for full fine-tunes; the SFT model {sft.path} is a LoRA "
                "adapter, whose own modules are projected"
            )
        return [name for name in prepass.shapes if name in sft.updates]
    targets = tuple(params["target_modules"] or DEFAULT_LORA_TARGETS)
    names = [n for n, shape in prepass.shapes.items() if len(shape) == 2 and _targeted(n, targets)]
    if not names:
        raise RealignError(
            f"safe-lora: target modules {' '.join(targets)} match no 2-D weight of the SFT model {sft.path}"
        )
    return names


def _prepare(params: dict[str, Any], prepass: Prepass) -> dict[str, Any]:
    """The weights to consider; with ``number``, also each one's cosine and the N-th lowest (one read)."""
    modules = _modules(params, prepass)
    if params["select_layers"] == "threshold":
        return {"modules": modules}
    roles = ("sft", "aligned", "vector")
    cosines = dict(prepass.map_blocks(_block_cosine, roles, names=set(modules), whole=True))
    ranked = sorted(c for c in cosines.values() if c is not None)
    cutoff = ranked[: params["num_proj_layers"]][-1] if ranked else None
    projected = [n for n, c in cosines.items() if c is not None and cutoff is not None and c <= cutoff]
    return {"modules": modules, "cosines": cosines, "cutoff": cutoff, "projected": projected}


@register_method(
    "safe-lora",
    title="Safe LoRA",
    template="sft",
    reference="https://github.com/IBM/SafeLoRA/blob/d81fda1/model.py",
    elementwise=False,
    drops=lambda params: {"sft", "aligned", "vector"},
    prepare=_prepare,
)
def safe_lora(
    sft: torch.Tensor,
    aligned: torch.Tensor,
    vector: torch.Tensor,
    *,
    ctx: TensorContext,
    select_layers: Annotated[
        str, param("project the N lowest cosines, or those ≤ τ", symbol="selection", choices=SELECTIONS)
    ] = "number",
    threshold: Annotated[
        float, param("with threshold selection: the highest cosine projected", symbol="τ", within="[-1, 1]")
    ] = 0.5,
    num_proj_layers: Annotated[
        int, param("with number selection: how many weights", symbol="N", within="[1, inf)")
    ] = 10,
    target_modules: Annotated[
        tuple[str, ...] | None,
        param(
            "full fine-tunes: the modules projected", symbol="modules", unset=" ".join(DEFAULT_LORA_TARGETS)
        ),
    ] = None,
) -> torch.Tensor:
    """θ_aligned + C·ΔW for the adapted weights whose round(cos(ΔW, C·ΔW), 5) is among N lowest (or ≤ τ)."""
    if ctx.name not in ctx.derived["modules"]:
        return sft
    if not bool(vector.any()):
        ctx.note("safe-lora: zero alignment matrix, update kept")
        return sft
    if select_layers == "number" and ctx.name not in ctx.derived["projected"]:
        ctx.note("safe-lora: update kept")
        return sft
    update = sft - aligned
    projected = _project(vector, update)
    if select_layers == "threshold" and _cosine(projected, update) > threshold:
        ctx.note("safe-lora: update kept")
        return sft
    ctx.note("safe-lora: update projected")
    return aligned + projected
