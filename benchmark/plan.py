"""The plan of an experiment: every step it takes, which of them are already done, in what order.

The plan is a pure function of the experiment and the store's state (:func:`plan_waves`); that state is
read once, before planning (:func:`read_state`): each system's ``system.json``, its finished suites'
records, and which of the models the runner makes are complete. Steps come in waves whose members are
independent (an executor may run a wave in parallel): making models (fine-tunes, then re-aligned
variants, by depth), generating (system × suite), then judging and scoring (system × judge, and the
utility scores of each system).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resta_bench.benchmark.config import Experiment, SystemSpec, topological_order
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.store import UTILITY_SCORES, ResultsStore
from resta_bench.benchmark.system_id import SystemIds, identify_systems, is_local, made_by
from resta_bench.storage.schema import SuiteRecord, SystemRecord
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
    scores: str | None = None  # a judge or utility step: its key in system.json's runs.scores

    def describe(self, shown_id: str | None = None) -> str:
        """What the step does to which system; ``shown_id`` in place of an id not known yet."""
        what = {
            MAKE: "make model",
            GENERATE: f"generate {self.suite}",
            JUDGE: f"judge {self.judge}",
            UTILITY: "utility scores",
        }[self.kind]
        return f"{what:<24} {self.system} ({shown_id or self.system_id})"


@dataclass(frozen=True)
class StoreState:
    """What the plan needs from the store, read once: every system's ``system.json`` (by system id), the
    records of its finished suites (by system id and suite), the made models that are complete and where
    each system's model is (by system name)."""

    records: Mapping[str, SystemRecord] = field(default_factory=dict)
    suites: Mapping[tuple[str, str], SuiteRecord] = field(default_factory=dict)
    made: frozenset[str] = frozenset()
    models: Mapping[str, str] = field(default_factory=dict)  # system name -> its model's folder or hub id


@dataclass
class Plan:
    experiment: Experiment
    store: ResultsStore
    system_ids: dict[str, str]
    waves: list[list[Step]] = field(default_factory=list)
    device: str | None = None  # overrides the backends' device for generation
    state: StoreState = field(default_factory=StoreState)
    named: SystemIds | None = None  # the ids with the file hashes behind them

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
            if missing & set(spec.input_names()):
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


def model_folder(store: ResultsStore, experiment: Experiment, system_id: str, spec: SystemSpec) -> str:
    """Where a system's model is: its path / hub id, or the folder the runner makes it in."""
    if spec.model is not None:
        return spec.model
    return str(store.model_dir(system_id, experiment.models_dir))


def model_path(plan: Plan, spec: SystemSpec) -> str:
    return model_folder(plan.store, plan.experiment, plan.system_ids[spec.name], spec)


def build_plan(experiment: Experiment, results_dir: str | Path, *, device: str | None = None) -> Plan:
    """Every step of ``experiment`` against the store at ``results_dir``, each marked done or pending."""
    named = identify_systems(experiment, Path(results_dir))
    return _planned(experiment, ResultsStore(results_dir), named, device)


def replan(plan: Plan) -> Plan:
    """The plan against the store as it is now (another run may have worked in it meanwhile): the same
    systems and ids, the store's state read again."""
    assert plan.named is not None
    return _planned(plan.experiment, plan.store, plan.named, plan.device)


def _planned(experiment: Experiment, store: ResultsStore, named: SystemIds, device: str | None) -> Plan:
    state = read_state(store, experiment, named.ids)
    waves = plan_waves(experiment, store, named.ids, state)
    return Plan(experiment, store, named.ids, waves, device=device, state=state, named=named)


def read_state(store: ResultsStore, experiment: Experiment, system_ids: Mapping[str, str]) -> StoreState:
    """The store's records of the experiment's systems and where their models are, each file read once."""
    records, suites, made, models = {}, {}, set(), {}
    for spec in experiment.systems:
        system_id = system_ids[spec.name]
        models[spec.name] = model_folder(store, experiment, system_id, spec)
        record = store.read_system_record(system_id)
        if record is not None:
            records[system_id] = record
        for suite in experiment.suites_for(spec):
            finished = store.read_suite_record(system_id, suite.name)
            if finished is not None:
                suites[system_id, suite.name] = finished
        if spec.model is None and (Path(models[spec.name]) / made_by(spec)).is_file():
            made.add(spec.name)
    return StoreState(records, suites, frozenset(made), models)


def plan_waves(
    experiment: Experiment, store: ResultsStore, system_ids: Mapping[str, str], state: StoreState
) -> list[list[Step]]:
    """The steps, wave by wave, each done or pending as ``state`` says (``store`` only names folders)."""
    ordered = topological_order(experiment.systems) or []
    generate, score = [], []
    generated: dict[str, bool] = {}
    for spec in ordered:
        system_id = system_ids[spec.name]
        suites = [suite.name for suite in experiment.suites_for(spec)]
        generated[spec.name] = True
        for suite in suites:
            done = _suite_done(experiment, store, state, system_id, suite)
            generated[spec.name] &= done
            generate.append(Step(GENERATE, spec.name, system_id, suite=suite, done=done))
        record = state.records.get(system_id)
        tasks = [task for suite in experiment.suites_for(spec) for task in suite.tasks]
        for judge in experiment.judges if any(is_judged_task(task) for task in tasks) else ():
            key = judge_key(judge.name, dict(judge.options))
            done = generated[spec.name] and _scored_from(record, key, suites)
            score.append(Step(JUDGE, spec.name, system_id, judge=judge.name, done=done, scores=key))
        if any(not is_judged_task(task) for task in tasks):
            done = generated[spec.name] and _scored_from(record, UTILITY_SCORES, suites)
            score.append(Step(UTILITY, spec.name, system_id, done=done, scores=UTILITY_SCORES))
    make = _make_waves(ordered, system_ids, state.made, generated)
    return make + [wave for wave in (generate, score) if wave]


def _suite_done(
    experiment: Experiment, store: ResultsStore, state: StoreState, system_id: str, suite_name: str
) -> bool:
    record = state.suites.get((system_id, suite_name))
    if record is None:
        return False
    wanted = experiment.suite(suite_name).settings()
    if record.settings != json.loads(json.dumps(wanted)):
        raise ConfigError(
            f"{store.suite_dir(system_id, suite_name)}: suite {suite_name!r} was generated with other "
            f"settings than {experiment.source} now gives; rename the suite or remove that folder"
        )
    return True


def _scored_from(record: SystemRecord | None, key: str, suites: list[str]) -> bool:
    """Whether system.json records scores ``key`` as computed from exactly these suites."""
    run = record.runs.scores.get(key) if record is not None else None
    return run is not None and sorted(run.suites) == sorted(suites)


def _make_waves(
    ordered: list[SystemSpec], system_ids: Mapping[str, str], made: frozenset[str], generated: dict[str, bool]
) -> list[list[Step]]:
    """Fine-tunes and re-aligned variants to make, by depth (inputs first).

    A model is needed while its own suites are pending or a pending model is made from it; one that is
    no longer needed counts as done even after its weights were deleted to free disk.
    """
    needed: set[str] = set()
    pending: set[str] = set()
    for spec in reversed(ordered):
        if spec.model is None and spec.name not in made and (not generated[spec.name] or spec.name in needed):
            pending.add(spec.name)
            needed.update(spec.input_names())
    depth: dict[str, int] = {}
    for spec in ordered:
        depth[spec.name] = 1 + max((depth[name] for name in spec.input_names()), default=-1)
    waves = []
    for level in range(max(depth.values(), default=0) + 1):
        to_make = [spec for spec in ordered if spec.model is None and depth[spec.name] == level]
        if to_make:
            waves.append(
                [Step(MAKE, s.name, system_ids[s.name], done=s.name not in pending) for s in to_make]
            )
    return waves
