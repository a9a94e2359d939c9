"""Recipes: a method, the systems it is made from, its parameters, and the sweeps over any of them.

A recipe's parameters are the method's own (``realign.methods``: their user names, types and ranges);
a list is a value (task arithmetic's ``models`` and ``weights``), and a sweep is explicit::

    recipe: {method: resta, sft: sft-code, aligned: chat, unaligned: bad,
             sweep: {beta: [0.5, 1.0], dare_p: [0.0, 0.3]}}

gives one recipe per combination, named ``<system>/beta=0.5/dare_p=0.3`` by the swept keys that vary.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import yaml
from pydantic import Field, PlainValidator
from pydantic.dataclasses import dataclass as schema
from resta_bench.benchmark.config.fields import (
    SCHEMA,
    Integer,
    Loc,
    Strict,
    Text,
    fail,
    invalid,
    kind_problem,
)
from resta_bench.benchmark.config.models import RECIPE_INPUTS, Recipe

if TYPE_CHECKING:
    from resta_bench.realign.methods import Method


def _sweep_values(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise invalid(f"must be a list of the values to sweep, got {value!r}"[:120])
    if not value:
        raise invalid("an empty sweep gives no systems")
    return value


def sweep_hint(key: str, value: list[Any]) -> str:
    flow = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip()
    return f"takes one value, not a list; to sweep it, write sweep: {{{key}: {flow}}}"


@schema(frozen=True, config=SCHEMA)
class RecipeEntry(Strict):
    """A recipe as the file writes it; every key besides these is one of the method's parameters."""

    method: Text
    sft: Text | None = None
    aligned: Text | None = None
    unaligned: Text | None = None
    base: Text | None = None
    vector: Text | None = None  # a system with role vector
    models: tuple[Text, ...] | None = None
    seed: Integer | None = None
    sweep: Mapping[str, Annotated[list[Any], PlainValidator(_sweep_values)]] = Field(default_factory=dict)
    params: Mapping[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_file(cls, given: dict[str, Any]) -> dict[str, Any]:
        own = set(cls.__dataclass_fields__) - {"params"}
        for key, value in given.items():
            if key in own - {"models", "sweep"} and isinstance(value, list):
                raise invalid(sweep_hint(key, value), (key,))
        return {key: given[key] for key in given if key in own} | {
            "params": {key: value for key, value in given.items() if key not in own}
        }

    def given(self) -> dict[str, Any]:
        """Inputs, seed and parameters outside ``sweep:``, as one mapping."""
        fixed = {key: getattr(self, key) for key in (*RECIPE_INPUTS, "seed")}
        return {key: value for key, value in fixed.items() if value is not None} | dict(self.params)


Sources = tuple[tuple[str, str, Loc], ...]  # (role, system name, where the file names it)


@dataclass(frozen=True)
class Variant:
    suffix: str  # "/beta=0.5/dare_p=0.3": the swept keys that vary, appended to the system's name
    recipe: Recipe
    sources: Sources


def expand_recipe(entry: RecipeEntry, source: str, loc: Loc) -> list[Variant]:
    """One recipe per combination of the swept values, each checked against the method's signature."""
    from resta_bench.realign import RealignError
    from resta_bench.realign.methods import get_method

    try:
        method = get_method(entry.method)
    except RealignError as error:
        raise fail(source, (*loc, "method"), str(error)) from None
    fixed = entry.given()
    for key, value in fixed.items():
        _check_value(method, key, value, source, loc, (*loc, key), swept=False)
    for key in entry.sweep:
        if key in fixed:
            raise fail(source, (*loc, "sweep", key), f"is also given as recipe.{key}; give one or the other")
    for key, values in entry.sweep.items():
        for index, value in enumerate(values):
            _check_value(method, key, value, source, loc, (*loc, "sweep", key, index), swept=True)

    keys = list(entry.sweep)
    variants = []
    for indices in itertools.product(*(range(len(values)) for values in entry.sweep.values())):
        picked = dict(zip(keys, indices, strict=True))
        chosen = fixed | {key: entry.sweep[key][index] for key, index in picked.items()}
        recipe = Recipe(
            method=entry.method,
            inputs={role: _frozen(chosen[role]) for role in RECIPE_INPUTS if role in chosen},
            seed=chosen.get("seed", 0),
            params={
                key: _frozen(value) for key, value in chosen.items() if key not in (*RECIPE_INPUTS, "seed")
            },
        )
        _check_recipe(method, recipe, source, loc)
        where = {
            role: (*loc, "sweep", role, picked[role]) if role in picked else (*loc, role)
            for role in recipe.inputs
        }
        suffix = "".join(f"/{key}={_shown(chosen[key])}" for key in keys if len(entry.sweep[key]) > 1)
        variants.append(Variant(suffix, recipe, _sources(recipe, where)))
    return variants


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _shown(value: Any) -> str:
    return "+".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def _sources(recipe: Recipe, where: dict[str, Loc]) -> Sources:
    sources = []
    for role, value in recipe.inputs.items():
        if isinstance(value, tuple):
            sources += [(role, name, (*where[role], index)) for index, name in enumerate(value)]
        else:
            sources.append((role, value, where[role]))
    return tuple(sources)


def _check_value(
    method: Method, key: str, value: Any, source: str, recipe_loc: Loc, loc: Loc, *, swept: bool
) -> None:
    """One input, seed or parameter value alone: an input's kind, or the method's checks of a parameter."""
    from resta_bench.realign import RealignError
    from resta_bench.realign.output import EXPERIMENT

    if key in (*RECIPE_INPUTS, "seed"):
        kinds: tuple[type, ...] = (int,) if key == "seed" else (str,)
        _check_kinds(value, kinds, key == "models", source, loc)
        return
    param = next((param for param in method.params if param.name == key), None)
    if param is not None and isinstance(value, list) and not param.many and not swept:
        raise fail(source, loc, sweep_hint(key, value))
    try:
        method.check_params({key: value}, EXPERIMENT)
    except RealignError as error:  # about this value, or (an unknown name) about the recipe
        message = str(error).removeprefix(f"{EXPERIMENT.name(key)} ")
        raise fail(source, loc if param is not None else recipe_loc, message) from None


def _check_kinds(value: Any, kinds: tuple[type, ...], many: bool, source: str, loc: Loc) -> None:
    elements = [(loc, value)]
    if many:
        problem = None if isinstance(value, tuple) else kind_problem(value, list)  # tuple: read already
        if problem is not None:
            raise fail(source, loc, problem)
        elements = [((*loc, index), element) for index, element in enumerate(value)]
    for at, element in elements:
        problem = kind_problem(element, *kinds)
        if problem is not None:
            raise fail(source, at, problem)


def _check_recipe(method: Method, recipe: Recipe, source: str, loc: Loc) -> None:
    """The inputs the method needs and uses, and its checks that involve several parameters or inputs."""
    from resta_bench.realign import RealignError
    from resta_bench.realign.api import check_roles
    from resta_bench.realign.output import EXPERIMENT

    try:
        # Whether an SFT input is a LoRA adapter is known only once it exists (None: aligned allowed).
        check_roles(method, recipe.inputs, EXPERIMENT, sft_adapter=None)
        method.check_params(dict(recipe.params), EXPERIMENT, inputs=recipe.as_dict()["inputs"])
    except RealignError as error:
        raise fail(source, loc, str(error)) from None
