"""The plan of an output model: every output tensor, its shape and dtype checked against every input's,
and which of its rows the method computes; and the report of what a run did on purpose beyond the
method's algebra (buffers copied, tensors only in some inputs, added vocabulary rows).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from resta_bench.realign.checkpoint import (
    INPUT_EMBEDDING_SUFFIXES,
    OUTPUT_EMBEDDING_SUFFIXES,
    Source,
    TensorInfo,
)
from resta_bench.realign.errors import RealignError
from resta_bench.realign.writer import PlannedTensor

log = logging.getLogger(__name__)

VOCAB_SUFFIXES = INPUT_EMBEDDING_SUFFIXES + OUTPUT_EMBEDDING_SUFFIXES
# Float tensors that are state, not learned weights: merging them would corrupt them.
BUFFER_SUFFIXES = ("rotary_emb.inv_freq", "masked_bias", "position_ids")

Inputs = dict[str, Any]  # role -> Source, or a list of Sources for "models"


@dataclass
class Report:
    """What the run did on purpose beyond the method's algebra; saved in recipe.json."""

    buffers_copied: list[str] = field(default_factory=list)
    only_in_template: dict[str, list[str]] = field(default_factory=dict)
    dropped: dict[str, list[str]] = field(default_factory=dict)
    added_rows: dict[str, int] = field(default_factory=dict)
    tied_embeddings: dict[str, dict[str, str]] = field(default_factory=dict)  # input -> {output name: stored}
    output_ties_embeddings: bool = False  # the template's config ties lm_head to the input embedding
    notes: dict[str, list[str]] = field(default_factory=dict)
    prepass: dict[str, Any] = field(default_factory=dict)  # what the method's pre-pass derived

    def log(self) -> None:
        if self.buffers_copied:
            log.info("copied %d non-parameter buffers from the template unchanged", len(self.buffers_copied))
        for name, roles in self.only_in_template.items():
            log.warning("tensor %s is missing from %s: copied from the template", name, ", ".join(roles))
        for name, roles in self.dropped.items():
            log.warning("tensor %s is only in %s, not in the output", name, ", ".join(roles))
        for name, rows in self.added_rows.items():
            log.info("tensor %s: %d added vocabulary rows copied from the template", name, rows)
        for role, aliases in self.tied_embeddings.items():
            for output, stored in aliases.items():
                log.info("%s ties %s to %s", role, output, stored)
        if self.output_ties_embeddings:
            log.info("the output keeps its output embedding tied to the input embedding, as its config says")
        for kind, names in self.notes.items():
            log.info("%s: %d tensors", kind, len(names))


@dataclass(frozen=True)
class TensorPlan:
    """One output tensor: its first ``computed_rows`` rows come from the method, the rest are copied
    from the template (all of them when ``computed_rows`` is None)."""

    output: PlannedTensor
    computed_rows: int | None


def labelled(inputs: Inputs) -> list[tuple[str, Source]]:
    pairs = []
    for role, value in inputs.items():
        if isinstance(value, list):
            pairs += [(f"{role}[{i}]", source) for i, source in enumerate(value)]
        else:
            pairs.append((role, value))
    return pairs


def _rows(info: TensorInfo) -> int:
    return info.shape[0] if info.shape else 1


def _check_compatible(name: str, template: TensorInfo, others: list[TensorInfo]) -> int:
    """Rows every input shares: all of them, or fewer where the template added vocabulary rows."""
    for other in others:
        if other.dtype != template.dtype:
            raise RealignError(
                f"tensor {name}: dtype {template.dtype} in {template.file} but {other.dtype} in {other.file}"
            )
        same_trailing = other.shape[1:] == template.shape[1:] and len(other.shape) == len(template.shape)
        added_rows = bool(template.shape) and name.endswith(VOCAB_SUFFIXES) and same_trailing
        added_rows = added_rows and other.shape[0] < template.shape[0]
        if other.shape != template.shape and not added_rows:
            raise RealignError(
                f"tensor {name}: shape {list(template.shape)} in {template.file} "
                f"but {list(other.shape)} in {other.file}"
            )
    return min(_rows(info) for info in [template, *others])


def plan(template: Source, inputs: Inputs, report: Report) -> list[TensorPlan]:
    report.output_ties_embeddings = bool(template.config().get("tie_word_embeddings"))
    plans = []
    others = [(label, source) for label, source in labelled(inputs) if source is not template]
    for name in template.names():
        info = template.info(name)
        output = PlannedTensor(name, info.shape, info.dtype)
        if not info.dtype.is_floating_point or name.endswith(BUFFER_SUFFIXES):
            report.buffers_copied.append(name)
            plans.append(TensorPlan(output, None))
            continue
        found = {label: source.info(name) for label, source in others}
        missing = [label for label, other in found.items() if other is None]
        if missing:
            report.only_in_template[name] = missing
            plans.append(TensorPlan(output, None))
            continue
        shared = _check_compatible(name, info, list(found.values()))
        if shared < _rows(info):
            report.added_rows[name] = _rows(info) - shared
        plans.append(TensorPlan(output, shared))
    names = set(template.names())
    for label, source in others:
        for name in source.names():
            if name not in names:
                report.dropped.setdefault(name, []).append(label)
    return plans
