"""Reading an experiment file: YAML in, one validated ``Experiment`` out, every mistake one line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field
from pydantic.dataclasses import dataclass as schema
from resta_bench.benchmark.config.fields import SCHEMA, Strict, Text, check_finite, fail, validated
from resta_bench.benchmark.config.models import Backend, Experiment, JudgeSpec, Suite, topological_order
from resta_bench.benchmark.config.systems import Built, Context, SystemEntry, build_systems, resolve_path
from resta_bench.benchmark.errors import ConfigError


@schema(frozen=True, config=SCHEMA)
class ExperimentFile(Strict):
    systems: Annotated[list[SystemEntry], Field(min_length=1)]
    suites: Annotated[list[Suite], Field(min_length=1)]
    name: Text | None = None
    data: Mapping[str, Text] = Field(default_factory=dict)  # environment for the task loaders
    models_dir: Text | None = None
    backend: Backend = Field(default_factory=Backend)  # the default; a system may override it
    judges: list[JudgeSpec] = Field(default_factory=list)


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
    where = str(source)
    check_finite(where, document)
    top: ExperimentFile = validated(ExperimentFile, document, where)
    _unique(where, "suites", [suite.name for suite in top.suites])
    context = Context(where, here, top.backend, frozenset(suite.name for suite in top.suites))
    built = [
        made
        for index, entry in enumerate(top.systems)
        for made in build_systems(entry, context, ("systems", index))
    ]
    _unique(where, "systems", [made.spec.name for made in built])
    _check_inputs(where, built)
    return Experiment(
        name=top.name or (source_path.stem if source_path else "experiment"),
        source=source_path,
        systems=tuple(made.spec for made in built),
        suites=tuple(top.suites),
        judges=tuple(top.judges),
        data={key: resolve_path(here, value) for key, value in top.data.items()},
        models_dir=Path(resolve_path(here, top.models_dir)) if top.models_dir else None,
    )


def _unique(source: str, key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise fail(source, key, f"two entries are named {name!r} (after sweeps are expanded)")
        seen.add(name)


def _check_inputs(source: str, built: list[Built]) -> None:
    """Every input names another system, a vector only as ``vector:``, and nothing is made from itself."""
    roles = {made.spec.name: made.spec.role for made in built}
    for made in built:
        for role, name, loc in made.sources:
            if name not in roles:
                raise fail(source, loc, f"no system is named {name!r}")
            if name == made.spec.name:
                raise fail(source, made.spec.origin, "a system cannot be made from itself")
            if (role == "vector") != (roles[name] == "vector"):
                problem = (
                    "is not a safety vector (role: vector)" if role == "vector" else "is a safety vector"
                )
                raise fail(source, loc, f"{name!r} {problem}; only vector: names one")
    if topological_order([made.spec for made in built]) is None:
        raise fail(source, "systems", "recipes and fine-tunes form a cycle")
