"""The plan of an experiment: every step it takes, which of them are already done, in what order.

Steps come in waves whose members are independent (an executor may run a wave in parallel):
making models (fine-tunes, then re-aligned variants, by depth), generating (system × suite), then
judging and scoring (system × judge, and the utility scores of each system).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resta_bench.benchmark.config import Experiment, SystemSpec, topological_order
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.store import UTILITY_SCORES, ResultsStore
from resta_bench.benchmark.system_id import HashCache, assign_system_ids, cache_path_for, is_local
from resta_bench.tasks.catalogue import is_judged_task

MAKE, GENERATE, JUDGE, UTILITY = "make", "generate", "judge", "utility"
NO_ID = "no id yet"  # shown for a system whose id hashes an input that does not exist yet


@dataclass(frozen=True)
class Step:
    kind: str
    system: str  # the system's name in the experiment file
    system_id: str
    suite: str | None = None
    judge: str | None = None
    done: bool = False

    def describe(self, shown_id: str | None = None) -> str:
        """What the step does to which system; ``shown_id`` in place of an id not known yet."""
        what = {
            MAKE: "make model",
            GENERATE: f"generate {self.suite}",
            JUDGE: f"judge {self.judge}",
            UTILITY: "utility scores",
        }[self.kind]
        return f"{what:<24} {self.system} ({shown_id or self.system_id})"


@dataclass
class Plan:
    experiment: Experiment
    store: ResultsStore
    system_ids: dict[str, str]
    waves: list[list[Step]] = field(default_factory=list)
    device: str | None = None  # overrides the backends' device for generation

    @property
    def steps(self) -> list[Step]:
        return [step for wave in self.waves for step in wave]

    @property
    def pending(self) -> list[Step]:
        return [step for step in self.steps if not step.done]

    def missing_inputs(self) -> dict[str, str]:
        """System name -> ``field: path: what is missing`` for each model folder or fine-tuning data file
        the experiment names that is not on this machine."""
        missing = {}
        for spec in self.experiment.systems:
            if spec.model is not None and is_local(spec.model) and not Path(spec.model).is_dir():
                missing[spec.name] = f"{spec.origin}.model: {spec.model}: no such model folder"
            elif spec.finetune is not None and not Path(spec.finetune["data"]).is_file():
                missing[spec.name] = f"{spec.origin}.finetune.data: {spec.finetune['data']}: no such file"
        return missing

    def without_id(self) -> set[str]:
        """Systems whose id is not known yet: it hashes a missing input (a model folder's files, a data
        file), theirs or one they are made from."""
        missing = set(self.missing_inputs())
        for spec in topological_order(self.experiment.systems) or []:
            if missing & set(spec.inputs.values()):
                missing.add(spec.name)
        return missing

    def render(self) -> str:
        lines = [
            f"experiment {self.experiment.name!r}: {len(self.system_ids)} systems, "
            f"{len(self.steps)} steps, {len(self.pending)} pending; results in {self.store.root}"
        ]
        unknown = self.without_id()
        for step in self.steps:
            shown = NO_ID if step.system in unknown else None
            lines.append(f"  [{'done' if step.done else 'pending':<7}] {step.describe(shown)}")
        missing = self.missing_inputs()
        if missing:
            lines.append(f"missing inputs; the systems marked '{NO_ID}' get their ids once these exist:")
            lines += [f"  {where}" for where in missing.values()]
        return "\n".join(lines)


def judge_key(spec_name: str, options: dict[str, Any]) -> str:
    """How system.json remembers one configured judge (its name and options)."""
    options_hash = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{spec_name}:{options_hash}"


def model_path(plan: Plan, spec: SystemSpec) -> str:
    """Where a system's model is: its path / hub id, or the folder the runner makes it in."""
    if spec.model is not None:
        return spec.model
    return str(plan.store.model_dir(plan.system_ids[spec.name], plan.experiment.models_dir))


def is_made(plan: Plan, spec: SystemSpec) -> bool:
    if spec.model is not None:
        return True
    marker = "finetune.json" if spec.finetune is not None else "recipe.json"
    return (Path(model_path(plan, spec)) / marker).is_file()


def suite_done(plan: Plan, system_id: str, suite_name: str) -> bool:
    record = plan.store.suite_record(system_id, suite_name)
    if record is None:
        return False
    wanted = plan.experiment.suite(suite_name).settings()
    if record.get("settings") != json.loads(json.dumps(wanted)):
        folder = plan.store.suite_dir(system_id, suite_name)
        raise ConfigError(
            f"{folder}: suite {suite_name!r} was generated with other settings than "
            f"{plan.experiment.source} now gives; rename the suite or remove that folder"
        )
    return True


def scored_from(plan: Plan, system_id: str, key: str, suites: list[str]) -> bool:
    """Whether system.json records scores ``key`` as computed from exactly these suites."""
    meta = plan.store.read_system(system_id) or {}
    recorded = (meta.get("runs", {}).get("scores", {}).get(key) or {}).get("suites")
    return recorded is not None and sorted(recorded) == sorted(suites)


def build_plan(experiment: Experiment, results_dir: str | Path) -> Plan:
    """Every step of ``experiment`` against the store at ``results_dir``, each marked done or pending."""
    store = ResultsStore(results_dir)
    system_ids = assign_system_ids(experiment, HashCache(cache_path_for(store.root)))
    plan = Plan(experiment, store, system_ids)
    ordered = topological_order(experiment.systems) or []

    generate, score = [], []
    generated: dict[str, bool] = {}
    for spec in ordered:
        system_id = system_ids[spec.name]
        suites = [suite.name for suite in experiment.suites_for(spec)]
        generated[spec.name] = True
        for suite in suites:
            done = suite_done(plan, system_id, suite)
            generated[spec.name] &= done
            generate.append(Step(GENERATE, spec.name, system_id, suite=suite, done=done))
        tasks = [task for suite in experiment.suites_for(spec) for task in suite.tasks]
        for judge in experiment.judges if any(is_judged_task(task) for task in tasks) else ():
            key = judge_key(judge.name, dict(judge.options))
            done = generated[spec.name] and scored_from(plan, system_id, key, suites)
            score.append(Step(JUDGE, spec.name, system_id, judge=judge.name, done=done))
        if any(not is_judged_task(task) for task in tasks):
            done = generated[spec.name] and scored_from(plan, system_id, UTILITY_SCORES, suites)
            score.append(Step(UTILITY, spec.name, system_id, done=done))
    plan.waves = _make_waves(plan, ordered, generated) + [wave for wave in (generate, score) if wave]
    return plan


def _make_waves(plan: Plan, ordered: list[SystemSpec], generated: dict[str, bool]) -> list[list[Step]]:
    """Fine-tunes and re-aligned variants to make, by depth (inputs first).

    A model is needed while its own suites are pending or a pending model is made from it; one that is
    no longer needed counts as done even after its weights were deleted to free disk.
    """
    needed: set[str] = set()
    pending: set[str] = set()
    for spec in reversed(ordered):
        if (
            spec.model is None
            and not is_made(plan, spec)
            and (not generated[spec.name] or spec.name in needed)
        ):
            pending.add(spec.name)
            needed.update(spec.inputs.values())
    depth: dict[str, int] = {}
    for spec in ordered:
        depth[spec.name] = 1 + max((depth[name] for name in spec.inputs.values()), default=-1)
    waves = []
    for level in range(max(depth.values(), default=0) + 1):
        made = [spec for spec in ordered if spec.model is None and depth[spec.name] == level]
        if made:
            waves.append(
                [Step(MAKE, s.name, plan.system_ids[s.name], done=s.name not in pending) for s in made]
            )
    return waves
