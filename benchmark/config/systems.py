"""A system's entry in the file, and the systems it gives: one, or one per combination of a recipe's sweeps.

A system is exactly one of: a ``model`` (a local folder or a hub id), a ``finetune`` of another system,
or a ``recipe`` over others. ``role: vector`` marks a safety vector (a folder made by ``resta
safety-vector``, or ``recipe: {method: safety-vector, aligned: .., unaligned: ..}``): no model to
evaluate, an input only, which a recipe names as ``vector:``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, model_validator
from pydantic.dataclasses import dataclass as schema
from resta_bench.benchmark.config.fields import (
    SCHEMA,
    Loc,
    Strict,
    Text,
    choice,
    fail,
    invalid,
    path_of,
    validated,
)
from resta_bench.benchmark.config.models import FINETUNE_INPUTS, REGIMES, ROLES, Backend, SystemSpec
from resta_bench.benchmark.config.recipes import RecipeEntry, Sources, expand_recipe


@schema(frozen=True, config=SCHEMA)
class FinetuneEntry(Strict):
    """``realign.finetune`` of the system ``from`` on the question/answer file ``data``; every other key is
    one of its settings (checked against its signature by ``benchmark.checks``)."""

    data: Text
    source: Text = Field(alias="from")  # required: no default
    settings: Mapping[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_file(cls, given: dict[str, Any]) -> dict[str, Any]:
        named = {key: given[key] for key in FINETUNE_INPUTS if key in given}
        return named | {"settings": {key: v for key, v in given.items() if key not in FINETUNE_INPUTS}}


@schema(frozen=True, config=SCHEMA)
class SystemEntry(Strict):
    name: Text
    label: Text | None = None
    role: Annotated[str, choice(*ROLES)] | None = None
    model: Text | None = None
    revision: Text | None = None
    recipe: RecipeEntry | None = None
    finetune: FinetuneEntry | None = None
    task: Text | None = None
    regime: Annotated[str, choice(*REGIMES)] | None = None
    base_model: Text | None = None
    suites: tuple[Text, ...] = ()
    backend: Mapping[str, Any] | None = None  # fields over the experiment's backend, validated with it

    @model_validator(mode="after")
    def _one_source(self) -> SystemEntry:
        if [self.model, self.recipe, self.finetune].count(None) != 2:
            raise invalid("needs exactly one of model (path or hub id), finetune or recipe")
        if self.recipe is None and self.role is None:
            raise invalid("is required for a model or a fine-tune (aligned, unaligned or sft)", ("role",))
        if self.finetune is not None and self.role == "vector":
            raise invalid("a fine-tune makes a model, not a safety vector", ("role",))
        return self


@dataclass(frozen=True)
class Context:
    """What the systems of one file share: the file, its folder, its backend and its suites' names."""

    source: str
    here: Path
    backend: Backend
    suite_names: frozenset[str]


@dataclass(frozen=True)
class Built:
    spec: SystemSpec
    sources: Sources


def build_systems(entry: SystemEntry, context: Context, loc: Loc) -> list[Built]:
    """The systems one entry gives, with where each of their inputs is named."""
    for index, suite in enumerate(entry.suites):
        if suite not in context.suite_names:
            raise fail(context.source, (*loc, "suites", index), f"no suite is named {suite!r}")
    backend = context.backend
    if entry.backend is not None:
        backend = validated(Backend, backend.over(entry.backend), context.source, (*loc, "backend"))
    common: dict[str, Any] = dict(
        task=entry.task,
        regime=entry.regime,
        base_model=entry.base_model,
        suites=entry.suites,
        backend=backend,
        origin=path_of(loc),
    )
    label = entry.label or entry.name
    role = _recipe_role(entry, context.source, loc) if entry.recipe is not None else entry.role
    assert role is not None  # required by SystemEntry for a model or a fine-tune
    if role == "vector" and entry.suites:
        raise fail(
            context.source, (*loc, "suites"), "a safety vector is no model to evaluate: it takes no suites"
        )
    if entry.model is not None:
        model = resolve_path(context.here, entry.model)
        spec = SystemSpec(entry.name, role, label, model=model, revision=entry.revision, **common)
        return [Built(spec, ())]
    if entry.finetune is not None:
        finetune = {
            "from": entry.finetune.source,
            "data": resolve_path(context.here, entry.finetune.data),
            **entry.finetune.settings,
        }
        spec = SystemSpec(entry.name, role, label, finetune=finetune, **common)
        return [Built(spec, (("from", entry.finetune.source, (*loc, "finetune", "from")),))]
    assert entry.recipe is not None
    return [
        Built(
            SystemSpec(
                entry.name + variant.suffix,
                role,
                label + variant.suffix.replace("/", " "),
                recipe=variant.recipe,
                **common,
            ),
            variant.sources,
        )
        for variant in expand_recipe(entry.recipe, context.source, (*loc, "recipe"))
    ]


def _recipe_role(entry: SystemEntry, source: str, loc: Loc) -> str:
    from resta_bench.realign.vector import VECTOR_METHOD

    assert entry.recipe is not None
    makes_vector = entry.recipe.method == VECTOR_METHOD
    role = entry.role or ("vector" if makes_vector else "realigned")
    if makes_vector != (role == "vector"):
        raise fail(
            source, (*loc, "role"), f"a {VECTOR_METHOD} recipe, and only one, makes a vector (role: vector)"
        )
    return role


def resolve_path(here: Path, value: str) -> str:
    """Local paths are relative to the experiment file; hub ids (``org/name``) are left as they are."""
    if value.startswith("~"):
        return str(Path(value).expanduser())
    candidate = here / value
    if value.startswith((".", "/")) or candidate.exists():
        return str(candidate.resolve())
    return value
