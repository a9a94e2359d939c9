"""Experiment files: YAML in, validated dataclasses out, sweeps expanded into one system each.

An experiment names its models (by path or hub id), the fine-tunes and re-aligned variants to make
from them, the suites of lm-eval tasks to run on every system, and the judges. Every mistake is
reported as one line naming the file and the field path, e.g.
``paper.yaml: systems[4].recipe.beta[1]: must be a number, got 'high'``.

Layout (see ``examples/`` for complete files)::

    name: my-experiment
    data: {CATQA_DIR: ../data/catqa}        # environment for the task loaders (paths relative to this file)
    backend: {type: hf, dtype: bfloat16}     # default; a system may override it
    systems:
      - {name: chat, role: aligned, model: meta-llama/Llama-2-7b-chat-hf}
      - {name: sft-code, role: sft, task: code, regime: lora, model: ./sft-code}
      - name: resta
        recipe: {method: resta, sft: [sft-code], aligned: chat, unaligned: bad, beta: [0.5, 1.0]}
    suites:
      - {name: safety, tasks: [catqa_en, harmfulqa], max_gen_toks: 512}
      - {name: safety-paper, tasks: [catqa_en], protocol: paper, samples: 5, seed: 0}  # the paper's sampling
    judges:
      - {name: refusal}
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.protocols import DEFAULT as DEFAULT_PROTOCOL
from resta_bench.benchmark.protocols import PROTOCOLS
from resta_bench.storage.names import check_name

ROLES = ("aligned", "unaligned", "sft", "realigned")
REGIMES = ("lora", "full")
BACKENDS = ("hf", "vllm", "local-chat-completions")
# Inputs a recipe may take, each naming another system of the experiment.
RECIPE_INPUTS = ("sft", "aligned", "unaligned", "base")
# Keys of a ``finetune`` that are not ``realign.finetune`` settings: its input system and its data file.
FINETUNE_INPUTS = ("from", "data")
# Recipe parameters with a known type; any other key is passed on to the method as it is.
NUMBER_PARAMS = ("beta", "dare_p")


@dataclass(frozen=True)
class Backend:
    """How lm-eval loads a system: its model type and the settings it passes through."""

    type: str = "hf"
    dtype: str | None = None
    device: str | None = None
    batch_size: int | str = 1
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    data_parallel_size: int = 1
    base_url: str | None = None
    model_args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    """One re-aligned variant: a method, its named inputs and its parameters (sweeps already expanded).

    Parameters left out take the method's own defaults in ``realign`` (recorded in its recipe.json).
    """

    method: str
    inputs: Mapping[str, str]
    seed: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "inputs": dict(self.inputs),
            "seed": self.seed,
            "params": dict(self.params),
        }


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
    def inputs(self) -> dict[str, str]:
        """Names of the systems this one is made from."""
        if self.recipe is not None:
            return dict(self.recipe.inputs)
        if self.finetune is not None:
            return {"from": self.finetune["from"]}
        return {}


@dataclass(frozen=True)
class Suite:
    """A list of lm-eval tasks run together, with the generation settings they share.

    ``protocol`` names the defaults of the other settings (``benchmark.protocols``); the fields hold the
    values after its defaults were applied. ``samples`` responses are drawn per question (lm-eval's
    ``repeats``; more than one needs sampling); ``seed`` seeds lm-eval's random, numpy and torch
    generators (None: lm-eval's defaults); ``dtype`` overrides the backend's.
    """

    name: str
    tasks: tuple[str, ...]
    apply_chat_template: bool = True
    system_prompt: str | None = None
    max_gen_toks: int | None = None
    limit: int | float | None = None
    num_fewshot: int | None = None
    gen_kwargs: Mapping[str, Any] = field(default_factory=dict)
    # Code tasks (humaneval, mbpp) execute the model's code; lm-eval refuses them without this.
    confirm_run_unsafe_code: bool = False
    protocol: str = DEFAULT_PROTOCOL
    samples: int = 1
    seed: int | None = None
    dtype: str | None = None

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


@dataclass(frozen=True)
class JudgeSpec:
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


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
        raise KeyError(name)

    def suite(self, name: str) -> Suite:
        return next(suite for suite in self.suites if suite.name == name)

    def suites_for(self, spec: SystemSpec) -> tuple[Suite, ...]:
        wanted = spec.suites or tuple(suite.name for suite in self.suites)
        return tuple(suite for suite in self.suites if suite.name in wanted)


class _Fields:
    """Typed reads from one YAML mapping; every error names the file and the field path."""

    def __init__(self, source: str, path: str, value: Any):
        self.source = source
        self.path = path
        if not isinstance(value, Mapping):
            self.fail(f"must be a mapping, got {_show(value)}")
        self.mapping = value

    def fail(self, message: str, key: str | int | None = None) -> None:
        self.fail_at(self.at(key) if key is not None else self.path, message)

    def fail_at(self, path: str, message: str) -> None:
        raise ConfigError(f"{self.source}: {path + ': ' if path else ''}{message}")

    def at(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def child(self, key: str) -> _Fields:
        return _Fields(self.source, self.at(key), self.mapping.get(key))

    def only(self, allowed: tuple[str, ...]) -> None:
        for key in self.mapping:
            if key not in allowed:
                self.fail(f"unknown field; expected one of {', '.join(allowed)}", key)

    def get(
        self, key: str, kind: type | tuple[type, ...], default: Any = None, required: bool = False
    ) -> Any:
        if key not in self.mapping or self.mapping[key] is None:
            if required:
                self.fail("is required", key)
            return default
        return _check_type(self.source, self.at(key), self.mapping[key], kind)

    def name(self, key: str) -> str:
        """A required string that becomes a file or folder name (storage's one rule for those)."""
        return check_name(self.get(key, str, required=True), f"{self.source}: {self.at(key)}")

    def choice(self, key: str, options: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.get(key, str, default)
        if value is not None and value not in options:
            self.fail(f"must be one of {', '.join(options)}, got {value!r}", key)
        return value

    def items(self, key: str, required: bool = False) -> list[tuple[str, Any]]:
        """A list field as (path, element) pairs."""
        value = self.get(key, list, [], required=required)
        if required and not value:
            self.fail("must not be empty", key)
        return [(f"{self.at(key)}[{index}]", element) for index, element in enumerate(value)]


def _show(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"[:80]


_KIND_NAMES = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
}


def _check_type(source: str, path: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool):
        ok = bool in kinds  # YAML's booleans are ints to Python; a number field must not take `true`
    else:
        ok = isinstance(value, kinds) or (float in kinds and isinstance(value, int))
    if not ok:
        names = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
        raise ConfigError(f"{source}: {path}: must be {names}, got {_show(value)}")
    return value


def _check_finite(source: str, path: str, value: Any) -> None:
    """No number anywhere in the file may be ``.inf`` or ``.nan``: lm-eval, the judges and the methods would
    each fail on one only when they reach it, hours into a run."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{source}: {path}: must be a finite number, got {value}")
    if isinstance(value, Mapping):
        for key, element in value.items():
            _check_finite(source, f"{path}.{key}" if path else str(key), element)
    elif isinstance(value, list):
        for index, element in enumerate(value):
            _check_finite(source, f"{path}[{index}]", element)


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; raise ``ConfigError`` naming the field on any mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read experiment file ({error.strerror})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} not valid YAML ({getattr(error, 'problem', error)})") from None
    return parse_experiment(document, source=path)


def parse_experiment(document: Any, source: str | Path = "<experiment>") -> Experiment:
    """Validate an already-parsed experiment mapping (paths are relative to ``source``'s folder)."""
    source_path = Path(source) if not str(source).startswith("<") else None
    here = source_path.parent if source_path is not None else Path.cwd()
    top = _Fields(str(source), "", document)
    _check_finite(top.source, "", document)
    top.only(("name", "data", "models_dir", "backend", "systems", "suites", "judges"))

    default_backend = _backend(top.child("backend"), Backend()) if "backend" in top.mapping else Backend()
    suites = [_suite(_Fields(top.source, at, item)) for at, item in top.items("suites", required=True)]
    _unique(top, "suites", [suite.name for suite in suites])
    suite_names = {suite.name for suite in suites}

    systems: list[SystemSpec] = []
    for at, item in top.items("systems", required=True):
        systems.extend(_systems(_Fields(top.source, at, item), default_backend, here, suite_names))
    _unique(top, "systems", [spec.name for spec in systems])
    _check_inputs(top, systems)

    judges = [_judge(_Fields(top.source, at, item)) for at, item in top.items("judges")]
    data = {
        key: _resolve_path(here, str(_check_type(top.source, f"data.{key}", value, str)))
        for key, value in top.get("data", dict, {}).items()
    }
    models_dir = top.get("models_dir", str)
    return Experiment(
        name=top.get("name", str, source_path.stem if source_path else "experiment"),
        source=source_path,
        systems=tuple(systems),
        suites=tuple(suites),
        judges=tuple(judges),
        data=data,
        models_dir=Path(_resolve_path(here, models_dir)) if models_dir else None,
    )


def _unique(top: _Fields, key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            top.fail(f"two entries are named {name!r} (after sweeps are expanded)", key)
        seen.add(name)


def _resolve_path(here: Path, value: str) -> str:
    """Local paths are relative to the experiment file; hub ids (``org/name``) are left as they are."""
    if value.startswith("~"):
        return str(Path(value).expanduser())
    candidate = here / value
    if value.startswith((".", "/")) or candidate.exists():
        return str(candidate.resolve())
    return value


def _backend(fields: _Fields, default: Backend) -> Backend:
    fields.only(
        (
            "type",
            "dtype",
            "device",
            "batch_size",
            "tensor_parallel_size",
            "pipeline_parallel_size",
            "data_parallel_size",
            "base_url",
            "model_args",
        )
    )
    backend = replace(
        default,
        type=fields.choice("type", BACKENDS, default.type),
        dtype=fields.get("dtype", str, default.dtype),
        device=fields.get("device", str, default.device),
        batch_size=fields.get("batch_size", (int, str), default.batch_size),
        tensor_parallel_size=fields.get("tensor_parallel_size", int, default.tensor_parallel_size),
        pipeline_parallel_size=fields.get("pipeline_parallel_size", int, default.pipeline_parallel_size),
        data_parallel_size=fields.get("data_parallel_size", int, default.data_parallel_size),
        base_url=fields.get("base_url", str, default.base_url),
        model_args={**default.model_args, **fields.get("model_args", dict, {})},
    )
    for key in ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size"):
        if getattr(backend, key) < 1:
            fields.fail("must be at least 1", key)
    if backend.type == "local-chat-completions" and not backend.base_url:
        fields.fail("is required for the local-chat-completions backend (the served model's URL)", "base_url")
    return backend


def _suite(fields: _Fields) -> Suite:
    fields.only(
        (
            "name",
            "tasks",
            "protocol",
            "apply_chat_template",
            "system_prompt",
            "max_gen_toks",
            "limit",
            "num_fewshot",
            "gen_kwargs",
            "samples",
            "seed",
            "dtype",
            "confirm_run_unsafe_code",
        )
    )
    # Task names become file names in lm-eval's output (samples_<task>_<time>.jsonl).
    tasks = tuple(
        check_name(_check_type(fields.source, at, task, str), f"{fields.source}: {at}")
        for at, task in fields.items("tasks", required=True)
    )
    protocol = PROTOCOLS[fields.choice("protocol", tuple(PROTOCOLS), DEFAULT_PROTOCOL) or DEFAULT_PROTOCOL]
    suite = Suite(
        name=fields.name("name"),  # the suite's folder in every system's lm_eval/
        tasks=tasks,
        protocol=protocol.name,
        apply_chat_template=fields.get("apply_chat_template", bool, protocol.apply_chat_template),
        system_prompt=fields.get("system_prompt", str),
        max_gen_toks=fields.get("max_gen_toks", int, protocol.max_gen_toks),
        limit=fields.get("limit", (int, float)),
        num_fewshot=fields.get("num_fewshot", int),
        gen_kwargs=fields.get("gen_kwargs", dict, {}),
        samples=fields.get("samples", int, 1),
        seed=fields.get("seed", int),
        dtype=fields.get("dtype", str, protocol.dtype),
        confirm_run_unsafe_code=fields.get("confirm_run_unsafe_code", bool, False),
    )
    if suite.max_gen_toks is not None and suite.max_gen_toks < 1:
        fields.fail("must be at least 1", "max_gen_toks")
    if suite.samples < 1:
        fields.fail("must be at least 1", "samples")
    if suite.samples > 1 and not suite.gen_kwargs.get("do_sample", protocol.gen_kwargs.get("do_sample")):
        # Greedy decoding gives one response n times over.
        fields.fail(
            "more than one sample per question needs sampling (protocol: paper, or gen_kwargs do_sample)",
            "samples",
        )
    if suite.seed is not None and suite.seed < 0:
        fields.fail("must be at least 0", "seed")
    if suite.limit is not None and suite.limit <= 0:
        fields.fail("must be positive (a count, or a fraction below 1)", "limit")
    if suite.limit is not None and suite.limit >= 1 and suite.limit != int(suite.limit):
        # lm-eval reads a limit of 1 or more as a document count and would cut 2.5 to 2 without a word.
        fields.fail(f"must be a whole number of documents, or a fraction below 1, got {suite.limit}", "limit")
    if suite.num_fewshot is not None and suite.num_fewshot < 0:
        fields.fail("must be at least 0", "num_fewshot")
    return suite


def _judge(fields: _Fields) -> JudgeSpec:
    fields.only(("name", "options"))
    options = fields.get("options", dict, {})
    if "judge_id" in options:  # names the judgments and scores files
        check_name(options["judge_id"], f"{fields.source}: {fields.at('options')}.judge_id")
    return JudgeSpec(name=fields.get("name", str, required=True), options=options)


def _systems(
    fields: _Fields, default_backend: Backend, here: Path, suite_names: set[str]
) -> list[SystemSpec]:
    """One system entry; a recipe with sweeps becomes one system per combination."""
    fields.only(
        (
            "name",
            "label",
            "role",
            "model",
            "revision",
            "recipe",
            "finetune",
            "task",
            "regime",
            "base_model",
            "suites",
            "backend",
        )
    )
    name = fields.get("name", str, required=True)
    sources = [key for key in ("model", "recipe", "finetune") if fields.mapping.get(key) is not None]
    if len(sources) != 1:
        fields.fail("needs exactly one of model (path or hub id), finetune or recipe")
    suites = tuple(_check_type(fields.source, at, s, str) for at, s in fields.items("suites"))
    for index, suite in enumerate(suites):
        if suite not in suite_names:
            fields.fail_at(f"{fields.at('suites')}[{index}]", f"no suite is named {suite!r}")
    backend = (
        _backend(fields.child("backend"), default_backend) if "backend" in fields.mapping else default_backend
    )
    common = dict(
        task=fields.get("task", str),
        regime=fields.choice("regime", REGIMES),
        base_model=fields.get("base_model", str),
        suites=suites,
        backend=backend,
    )
    role = fields.choice("role", ROLES, "realigned" if sources == ["recipe"] else None)
    if role is None:
        fields.fail("is required for a model or a fine-tune (aligned, unaligned or sft)", "role")
    label = fields.get("label", str)
    if sources == ["model"]:
        model = _resolve_path(here, fields.get("model", str))
        return [
            SystemSpec(
                name=name,
                role=role,
                label=label or name,
                model=model,
                revision=fields.get("revision", str),
                origin=fields.path,
                **common,
            )
        ]
    if sources == ["finetune"]:
        finetune = fields.child("finetune")
        finetune.get("from", str, required=True)
        data = _resolve_path(here, finetune.get("data", str, required=True))
        return [
            SystemSpec(
                name=name,
                role=role,
                label=label or name,
                finetune={**finetune.mapping, "data": data},
                origin=fields.path,
                **common,
            )
        ]
    return [
        SystemSpec(
            name=variant_name, role=role, label=variant_label, recipe=recipe, origin=fields.path, **common
        )
        for variant_name, variant_label, recipe in _expand_recipe(fields.child("recipe"), name, label)
    ]


def _recipe_value_kind(key: str) -> type | tuple[type, ...]:
    if key in RECIPE_INPUTS:
        return str
    if key == "seed":
        return int
    return float if key in NUMBER_PARAMS else (int, float, str, bool)


def _expand_recipe(fields: _Fields, name: str, label: str | None) -> list[tuple[str, str, Recipe]]:
    """Lists in a recipe are sweeps: their cartesian product gives one recipe (and one system) each."""
    method = fields.get("method", str, required=True)
    swept: dict[str, list[Any]] = {}
    for key, value in fields.mapping.items():
        if key == "method":
            continue
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not value:
            fields.fail("an empty sweep gives no systems", key)
        kind = _recipe_value_kind(key)
        for index, element in enumerate(values):
            at = fields.at(key) + (f"[{index}]" if isinstance(value, list) else "")
            _check_type(fields.source, at, element, kind)
            if key == "dare_p" and not 0.0 <= element < 1.0:
                raise ConfigError(f"{fields.source}: {at}: must be in [0, 1), got {element!r}")
        swept[key] = values
    if "sft" not in swept and "base" not in swept:
        fields.fail("names no model to re-align (sft or base)")

    keys = list(swept)
    variants = []
    for combination in itertools.product(*(swept[key] for key in keys)):
        chosen = dict(zip(keys, combination, strict=True))
        recipe = Recipe(
            method=method,
            inputs={key: chosen[key] for key in RECIPE_INPUTS if key in chosen},
            seed=chosen.get("seed", 0),
            params={key: chosen[key] for key in keys if key not in (*RECIPE_INPUTS, "seed")},
        )
        varying = [key for key in keys if len(swept[key]) > 1]
        suffix = "".join(f"/{key}={chosen[key]}" for key in varying)
        variants.append((name + suffix, (label or name) + suffix.replace("/", " "), recipe))
    return variants


def _check_inputs(top: _Fields, systems: list[SystemSpec]) -> None:
    """Every recipe / fine-tune input names another system, and nothing is made from itself."""
    names = {spec.name for spec in systems}
    for spec in systems:
        for role, input_name in spec.inputs.items():
            if input_name not in names:
                field_name = "finetune.from" if role == "from" else f"recipe.{role}"
                top.fail_at(f"{spec.origin}.{field_name}", f"no system is named {input_name!r}")
            if input_name == spec.name:
                top.fail_at(spec.origin, "a system cannot be made from itself")
    if topological_order(systems) is None:
        top.fail("recipes and fine-tunes form a cycle", "systems")


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
        if not all(visit(dependency) for dependency in by_name[name].inputs.values()):
            return False
        state[name] = "done"
        ordered.append(by_name[name])
        return True

    return ordered if all(visit(spec.name) for spec in systems) else None
