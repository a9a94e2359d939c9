"""What an experiment is once read: its backends, suites, judges and systems (sweeps expanded).

``Backend``, ``Suite`` and ``JudgeSpec`` are written in the file as they are here, so each is its own
schema (a pydantic dataclass); a system's entry in the file differs from the system it gives (a recipe
with sweeps gives many), so ``SystemSpec`` and ``Recipe`` are plain dataclasses built by ``systems``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from pydantic.dataclasses import dataclass as schema
from resta_bench.benchmark.config.fields import (
    SCHEMA,
    Flag,
    Name,
    Strict,
    Text,
    as_name,
    choice,
    invalid,
    kind,
)
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.protocols import DEFAULT as DEFAULT_PROTOCOL
from resta_bench.benchmark.protocols import PROTOCOLS

# A vector (a folder made by `resta safety-vector`, or a safety-vector recipe) is an input only.
ROLES = ("aligned", "unaligned", "sft", "realigned", "vector")
REGIMES = ("lora", "full")
BACKENDS = ("hf", "vllm", "local-chat-completions")
# Inputs a recipe may take, each naming another system of the experiment (``models``: a list of them).
RECIPE_INPUTS = ("sft", "aligned", "unaligned", "base", "vector", "models")
# Keys of a ``finetune`` that are not ``realign.finetune`` settings: its input system and its data file.
FINETUNE_INPUTS = ("from", "data")


def _at_least(low: int) -> Any:
    return Annotated[int, kind(int, at_least=low)]


@schema(frozen=True, config=SCHEMA)
class Backend(Strict):
    """How lm-eval loads a system: its model type and the settings it passes through."""

    type: Annotated[Literal["hf", "vllm", "local-chat-completions"], choice(*BACKENDS)] = "hf"
    dtype: Text | None = None
    device: Text | None = None
    batch_size: Annotated[int | str, kind(int, str)] = 1
    tensor_parallel_size: _at_least(1) = 1
    pipeline_parallel_size: _at_least(1) = 1
    data_parallel_size: _at_least(1) = 1
    base_url: Text | None = None
    model_args: Mapping[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _served_needs_its_url(self) -> Backend:
        if self.type == "local-chat-completions" and not self.base_url:
            raise invalid(
                "is required for the local-chat-completions backend (the served model's URL)", ("base_url",)
            )
        return self

    def over(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """A system's ``backend:`` fields over this one (its model_args added to these)."""
        mine = {name: getattr(self, name) for name in self.__dataclass_fields__}
        model_args = given.get("model_args")
        merged = {**self.model_args, **model_args} if isinstance(model_args, Mapping) else model_args
        return {**mine, **given, "model_args": merged}


@schema(frozen=True, config=SCHEMA)
class Suite(Strict):
    """A list of lm-eval tasks run together, with the generation settings they share.

    ``protocol`` names the defaults of the other settings (``benchmark.protocols``); the fields hold the
    values after its defaults were applied. ``samples`` responses are drawn per question (lm-eval's
    ``repeats``; more than one needs sampling); ``seed`` seeds lm-eval's random, numpy and torch
    generators (None: lm-eval's defaults); ``dtype`` overrides the backend's.
    """

    name: Name  # the suite's folder in every system's lm_eval/
    # Task names become file names in lm-eval's output (samples_<task>_<time>.jsonl).
    tasks: Annotated[tuple[Name, ...], Field(min_length=1)]
    apply_chat_template: Flag = True
    system_prompt: Text | None = None
    max_gen_toks: _at_least(1) | None = None
    limit: Annotated[int | float, kind(int, float)] | None = None
    num_fewshot: _at_least(0) | None = None
    gen_kwargs: Mapping[str, Any] = Field(default_factory=dict)
    # Code tasks (humaneval, mbpp) execute the model's code; lm-eval refuses them without this.
    confirm_run_unsafe_code: Flag = False
    protocol: Annotated[str, choice(*PROTOCOLS)] = DEFAULT_PROTOCOL
    samples: _at_least(1) = 1
    seed: _at_least(0) | None = None
    dtype: Text | None = None

    @classmethod
    def from_file(cls, given: dict[str, Any]) -> dict[str, Any]:
        named = given.get("protocol", DEFAULT_PROTOCOL)
        protocol = PROTOCOLS.get(named) if isinstance(named, str) else None  # a bad one fails its field
        defaults = (
            {}
            if protocol is None
            else {
                "apply_chat_template": protocol.apply_chat_template,
                "max_gen_toks": protocol.max_gen_toks,
                "dtype": protocol.dtype,
            }
        )
        return {**defaults, **super().from_file(given)}

    @model_validator(mode="after")
    def _consistent(self) -> Suite:
        protocol = PROTOCOLS[self.protocol]
        if self.samples > 1 and not self.gen_kwargs.get("do_sample", protocol.gen_kwargs.get("do_sample")):
            # Greedy decoding gives one response n times over.
            raise invalid(
                "more than one sample per question needs sampling (protocol: paper, or gen_kwargs do_sample)",
                ("samples",),
            )
        if self.limit is not None and self.limit <= 0:
            raise invalid("must be positive (a count, or a fraction below 1)", ("limit",))
        if self.limit is not None and self.limit >= 1 and self.limit != int(self.limit):
            # lm-eval reads a limit of 1 or more as a document count and would cut 2.5 to 2 without a word.
            raise invalid(
                f"must be a whole number of documents, or a fraction below 1, got {self.limit}", ("limit",)
            )
        return self

    def settings(self) -> dict[str, Any]:
        """What shapes this suite's generations (recorded in system.json; a change invalidates old runs)."""
        settings: dict[str, Any] = {
            "tasks": list(self.tasks),
            "apply_chat_template": self.apply_chat_template,
            "system_prompt": self.system_prompt,
            "max_gen_toks": self.max_gen_toks,
            "limit": self.limit,
            "num_fewshot": self.num_fewshot,
            "gen_kwargs": dict(self.gen_kwargs),
            "confirm_run_unsafe_code": self.confirm_run_unsafe_code,
        }
        # Recorded where they differ from the defaults only, so that suites generated before protocols
        # existed still match their record.
        later = {"protocol": self.protocol, "samples": self.samples, "seed": self.seed, "dtype": self.dtype}
        settings.update({key: value for key, value in later.items() if value != _SUITE_DEFAULTS[key]})
        return settings


_SUITE_DEFAULTS = {"protocol": DEFAULT_PROTOCOL, "samples": 1, "seed": None, "dtype": None}


@schema(frozen=True, config=SCHEMA)
class JudgeSpec(Strict):
    name: Text
    options: Mapping[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _judge_id_names_files(self) -> JudgeSpec:
        if "judge_id" in self.options:  # names the judgments and scores files
            as_name(self.options["judge_id"], ("options", "judge_id"))
        return self


@dataclass(frozen=True)
class Recipe:
    """One re-aligned variant: a method, its named inputs and its parameters (sweeps already expanded).

    ``inputs`` maps a role to a system name (``models``: a tuple of names); ``params`` are keyed by the
    method's user names (``lambda``, ``beta``). Parameters left out take the method's own defaults in
    ``realign`` (recorded in its recipe.json).
    """

    method: str
    inputs: Mapping[str, str | tuple[str, ...]]
    seed: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "inputs": _listed(self.inputs),
            "seed": self.seed,
            "params": _listed(self.params),
        }


def _listed(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Tuples as the lists JSON and the methods' checks take."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in mapping.items()}


@dataclass(frozen=True)
class SystemSpec:
    """One system to evaluate: a model (path or hub id), a fine-tune to make, or a re-aligned variant."""

    name: str
    role: str
    label: str
    model: str | None = None
    revision: str | None = None
    recipe: Recipe | None = None
    finetune: Mapping[str, Any] | None = None
    task: str | None = None
    regime: str | None = None
    base_model: str | None = None
    suites: tuple[str, ...] = ()
    backend: Backend = field(default_factory=Backend)
    origin: str = field(default="", compare=False)  # where in the file it was declared, for error messages

    @property
    def inputs(self) -> dict[str, str | tuple[str, ...]]:
        """The systems this one is made from, by role (a recipe's ``models``: a tuple of names)."""
        if self.recipe is not None:
            return dict(self.recipe.inputs)
        if self.finetune is not None:
            return {"from": self.finetune["from"]}
        return {}

    def input_names(self) -> tuple[str, ...]:
        """Every system this one is made from, each once, in the order the file names them."""
        names: list[str] = []
        for value in self.inputs.values():
            names += [value] if isinstance(value, str) else list(value)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Experiment:
    name: str
    source: Path | None
    systems: tuple[SystemSpec, ...]
    suites: tuple[Suite, ...]
    judges: tuple[JudgeSpec, ...]
    data: Mapping[str, str] = field(default_factory=dict)
    models_dir: Path | None = None

    def system(self, name: str) -> SystemSpec:
        for spec in self.systems:
            if spec.name == name:
                return spec
        raise self._no_such("system", name, [spec.name for spec in self.systems])

    def suite(self, name: str) -> Suite:
        for suite in self.suites:
            if suite.name == name:
                return suite
        raise self._no_such("suite", name, [suite.name for suite in self.suites])

    def suites_for(self, spec: SystemSpec) -> tuple[Suite, ...]:
        if spec.role == "vector":  # no model: nothing to generate with
            return ()
        wanted = spec.suites or tuple(suite.name for suite in self.suites)
        return tuple(suite for suite in self.suites if suite.name in wanted)

    def _no_such(self, kind_name: str, name: str, known: list[str]) -> ConfigError:
        where = self.source or "experiment"
        return ConfigError(
            f"{where}: no {kind_name} is named {name!r} (its {kind_name}s: {', '.join(known)})"
        )


def topological_order(systems: list[SystemSpec] | tuple[SystemSpec, ...]) -> list[SystemSpec] | None:
    """Systems ordered so that each comes after its inputs; None when they form a cycle."""
    by_name = {spec.name: spec for spec in systems}
    ordered: list[SystemSpec] = []
    state: dict[str, str] = {}

    def visit(name: str) -> bool:
        if state.get(name) == "done":
            return True
        if state.get(name) == "visiting":
            return False
        state[name] = "visiting"
        if not all(visit(dependency) for dependency in by_name[name].input_names()):
            return False
        state[name] = "done"
        ordered.append(by_name[name])
        return True

    return ordered if all(visit(spec.name) for spec in systems) else None
