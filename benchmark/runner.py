"""The experiment runner: an experiment file in, a results store out.

Python API (what ``resta run`` and the offline demo call)::

    from resta_bench.benchmark.runner import run_experiment
    plan = run_experiment("examples/single-sft.yaml", "results/")            # run what is pending
    plan = run_experiment(experiment, "results/", dry_run=True)              # only build the plan
    print(plan.render())                                                     # each step, done / pending
    run_experiment(path, "results/", executor="ray", ray_address="auto")     # jobs on a Ray cluster

One way through: the experiment (``benchmark.config``) and the store's state give the plan
(``benchmark.plan``), the executor runs its pending steps wave by wave, and each finished step's record
is written once into its system's ``system.json`` (through the store schema). Before anything runs,
``benchmark.checks`` validates what it can without a model; a run then holds the store's lock.

Steps, in waves: make missing models (fine-tunes through ``realign.finetune``, re-aligned variants
through ``realign.realign``), generate (lm-eval in-process, one job per system × suite), judge and
score (after the generating model is released), utility scores from lm-eval's own metrics. Finished
steps are skipped, so a re-run does nothing and a killed run resumes.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from resta_bench.benchmark.checks import check_experiment, check_model_folders
from resta_bench.benchmark.config import FINETUNE_INPUTS, Experiment, SystemSpec, load_experiment
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.executors import LocalExecutor, RayExecutor, StepResult, job_key, make_executor
from resta_bench.benchmark.plan import GENERATE, JUDGE, MAKE, UTILITY, Plan, Step, build_plan, replan
from resta_bench.benchmark.provenance import environment, machine, utc_now
from resta_bench.benchmark.system_id import identity, is_local
from resta_bench.storage.schema import Provenance, Runs, ScoresRun, SuiteRecord, SystemRecord
from tqdm import tqdm

log = logging.getLogger(__name__)


def run_experiment(
    experiment: str | Path | Experiment,
    results_dir: str | Path,
    *,
    dry_run: bool = False,
    executor: str = "local",
    ray_address: str | None = None,
    device: str | None = None,
) -> Plan:
    """Run every pending step of ``experiment`` into ``results_dir``; return the plan as it was found.

    ``device`` overrides the backends' device for generation (e.g. ``cpu``). A run holds the store's
    lock: a second run on the same store waits for it, then finds the finished work and skips it.
    """
    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment)
    check_experiment(experiment)
    plan = build_plan(experiment, results_dir, device=device)
    check_model_folders(plan)
    if dry_run or not plan.pending:
        return plan  # nothing written, not even the lock file
    missing = list(plan.missing_inputs().values())
    if missing:
        raise ConfigError(f"{experiment.source}: {missing[0]}")
    with plan.store.lock():
        plan = replan(plan)  # another run may have done some while this one waited
        check_model_folders(plan)
        if plan.pending:
            _run(plan, make_executor(executor, ray_address))
    return plan


def _run(plan: Plan, runner: LocalExecutor | RayExecutor) -> None:
    """Every pending step, wave by wave; each finished step's record written once into system.json."""
    records = SystemRecords(plan)
    with tqdm(total=len(plan.pending), desc="experiment", unit="step", file=sys.stderr) as progress:

        def on_done(step: Step, result: StepResult) -> None:
            records.record(step, result)
            progress.update(1)
            progress.set_postfix_str(step.describe()[:60])

        for wave in plan.waves:
            pending = [step for step in wave if not step.done]
            if pending:
                runner.run_wave(plan, pending, execute_step, on_done)


class SystemRecords:
    """The ``system.json`` of each system this run works on, held by the driver (its one writer).

    A system's record starts from what the plan read and its identity, built once, at its first finished
    step (for a made model that is MAKE, so its weights exist to be hashed); each finished step then adds
    its part and the record is written, once per step. A system's last step of the run sets ``finished``.
    Systems never evaluated (safety vectors) have a model folder, not a system folder.
    """

    def __init__(self, plan: Plan):
        self.plan = plan
        self.started = utc_now()
        self.where = environment()  # the same for every record of this run
        self.records: dict[str, SystemRecord] = {}
        self.left = Counter(step.system for step in plan.pending)
        self.evaluated = {step.system for step in plan.steps if step.kind == GENERATE}

    def record(self, step: Step, result: StepResult) -> None:
        self.left[step.system] -= 1
        if step.system not in self.evaluated:
            return
        record = self.records[step.system] if step.system in self.records else self._identified(step)
        provenance: dict[str, Any] = {}
        if result.job is not None:
            provenance["ray_jobs"] = {**(record.provenance.ray_jobs or {}), job_key(step): result.job}
        if not self.left[step.system]:
            provenance["finished"] = utc_now()
        update: dict[str, Any] = {"provenance": record.provenance.model_copy(update=provenance)}
        if result.suite is not None:
            update["generation"] = {**record.generation, step.suite or "": result.suite}
        if result.scores is not None:
            update["runs"] = Runs(scores={**record.runs.scores, step.scores or "": result.scores})
        record = record.model_copy(update=update)
        self.records[step.system] = record
        self.plan.store.write_system(step.system_id, record)

    def _identified(self, step: Step) -> SystemRecord:
        """The system's identity, with what the store recorded of its runs before."""
        plan = self.plan
        before = plan.state.records.get(step.system_id)
        assert plan.named is not None
        spec = plan.experiment.system(step.system)
        record = identity(plan.experiment, plan.named, spec, plan.state.models[step.system], before)
        provenance = before.provenance.model_dump(exclude_none=True) if before else {}
        started = provenance.get("started") or self.started
        return record.model_copy(
            update={
                "generation": dict(before.generation) if before else {},
                "runs": before.runs if before else Runs(),
                "provenance": Provenance(**{**provenance, **self.where, "started": started}),
            }
        )


def execute_step(plan: Plan, step: Step) -> StepResult:
    """Do one step, writing its own files; return what it adds to the system's ``system.json``."""
    spec = plan.experiment.system(step.system)
    log.info("%s", step.describe())
    if step.kind == MAKE:
        _make_model(plan, spec)
        return StepResult()  # the new weights' hashes and recipe reach system.json with the identity
    if step.kind == GENERATE:
        return StepResult(suite=_generate(plan, spec, step.suite or ""))
    if step.kind == JUDGE:
        return StepResult(scores=_judge(plan, spec, step.judge or ""))
    if step.kind == UTILITY:
        return StepResult(scores=_utility(plan, spec))
    raise ValueError(f"unknown step kind {step.kind!r}")


def _local_model(reference: str, revision: str | None) -> str:
    """A local folder for a model: the path itself, or the hub snapshot (downloaded once)."""
    if is_local(reference):
        return reference
    from huggingface_hub import snapshot_download

    return snapshot_download(reference, revision=revision)


def _make_model(plan: Plan, spec: SystemSpec) -> None:
    out = Path(plan.state.models[spec.name])

    def local(name: str) -> str:
        return _local_model(plan.state.models[name], plan.experiment.system(name).revision)

    # Each role names one system, except task arithmetic's ``models``: a list of them.
    inputs: dict[str, Any] = {
        role: [local(name) for name in value] if isinstance(value, (list, tuple)) else local(value)
        for role, value in spec.inputs.items()
    }
    if spec.finetune is not None:
        from resta_bench.realign.finetune import finetune

        settings = {key: value for key, value in spec.finetune.items() if key not in FINETUNE_INPUTS}
        # overwrite=True replaces only a folder resta wrote (a leftover of an unfinished model); any other
        # folder there was refused before the run began (checks.check_model_folders).
        finetune(
            inputs["from"],
            spec.finetune["data"],
            out,
            lora=spec.regime == "lora",
            overwrite=True,
            description=spec.name,
            **settings,
        )
        return
    from resta_bench import realign

    recipe = spec.recipe
    assert recipe is not None
    realign.realign(  # overwrite: as for finetune above
        recipe.method,
        out=out,
        seed=recipe.seed,
        overwrite=True,
        **inputs,
        **recipe.params,
    )


def _generate(plan: Plan, spec: SystemSpec, suite_name: str) -> SuiteRecord:
    from resta_bench.benchmark.generate import run_suite

    suite = plan.experiment.suite(suite_name)
    system_id = plan.system_ids[spec.name]
    staging = plan.store.begin_suite(system_id, suite_name)
    started = utc_now()
    generated = run_suite(
        plan.state.models[spec.name],
        spec.backend,
        suite,
        staging,
        revision=spec.revision,
        data=plan.experiment.data,
        device=plan.device,
    )
    record = SuiteRecord(
        settings=suite.settings(), **generated, started=started, finished=utc_now(), machine=machine()
    )
    plan.store.finish_suite(system_id, suite_name, record)
    return record


def _judge(plan: Plan, spec: SystemSpec, judge_name: str) -> ScoresRun:
    from resta_bench.benchmark.judging import judge_and_score

    judge = next(j for j in plan.experiment.judges if j.name == judge_name)
    system_id = plan.system_ids[spec.name]
    suites = [suite.name for suite in plan.experiment.suites_for(spec)]
    summary = judge_and_score(plan.store, system_id, judge.name, dict(judge.options), suites)
    return ScoresRun(suites=suites, finished=utc_now(), **summary)


def _utility(plan: Plan, spec: SystemSpec) -> ScoresRun:
    from resta_bench.benchmark.utility import write_utility_scores

    system_id = plan.system_ids[spec.name]
    suites = [suite.name for suite in plan.experiment.suites_for(spec)]
    write_utility_scores(plan.store, system_id, suites)
    return ScoresRun(suites=suites, finished=utc_now())
