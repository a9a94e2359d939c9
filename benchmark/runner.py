"""The experiment runner: an experiment file in, a results store out.

Python API (what ``resta run`` and the offline demo call)::

    from resta_bench.benchmark.runner import run_experiment
    plan = run_experiment("examples/single-sft.yaml", "results/")            # run what is pending
    plan = run_experiment(experiment, "results/", dry_run=True)              # only build the plan
    print(plan.render())                                                     # each step, done / pending
    run_experiment(path, "results/", executor="ray", ray_address="auto")     # jobs on a Ray cluster

Before anything runs, ``benchmark.checks`` validates what it can without a model (methods, judges,
fine-tune settings, where models will be written); a run then holds the store's lock.

Steps, in waves: make missing models (fine-tunes through ``realign.finetune``, re-aligned variants
through ``realign.realign``), generate (lm-eval in-process, one job per system × suite), judge and
score (after the generating model is released), utility scores from lm-eval's own metrics. Finished
steps are skipped, so a re-run does nothing and a killed run resumes.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from resta_bench.benchmark.checks import check_experiment, check_model_folders
from resta_bench.benchmark.config import FINETUNE_INPUTS, Experiment, SystemSpec, load_experiment
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.executors import LocalExecutor, RayExecutor, make_executor
from resta_bench.benchmark.plan import (
    GENERATE,
    JUDGE,
    MAKE,
    UTILITY,
    Plan,
    Step,
    build_plan,
    judge_key,
    model_path,
)
from resta_bench.benchmark.provenance import machine, software, utc_now
from resta_bench.benchmark.store import UTILITY_SCORES
from resta_bench.benchmark.system_id import (
    HashCache,
    cache_path_for,
    is_local,
    method_label,
    model_file_hashes,
)
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
    plan = _plan(experiment, results_dir, device)
    if dry_run or not plan.pending:
        return plan  # nothing written, not even the lock file
    missing = list(plan.missing_inputs().values())
    if missing:
        raise ConfigError(f"{experiment.source}: {missing[0]}")
    with plan.store.lock():
        plan = _plan(experiment, results_dir, device)  # another run may have done some while this one waited
        if plan.pending:
            _run(plan, make_executor(executor, ray_address))
    return plan


def _plan(experiment: Experiment, results_dir: str | Path, device: str | None) -> Plan:
    plan = build_plan(experiment, results_dir)
    check_model_folders(plan)
    plan.device = device
    return plan


def _run(plan: Plan, runner: LocalExecutor | RayExecutor) -> None:
    """Every pending step, wave by wave, each step's record merged into its system's system.json."""
    experiment = plan.experiment
    started = utc_now()
    touched = [experiment.system(name) for name in dict.fromkeys(step.system for step in plan.pending)]
    for spec in touched:
        _update_system(plan, spec, {"provenance": {"started": started}}, keep_existing=("started",))
    with tqdm(total=len(plan.pending), desc="experiment", unit="step", file=sys.stderr) as progress:

        def on_done(step: Step, update: dict[str, Any]) -> None:
            _update_system(plan, experiment.system(step.system), update)
            progress.update(1)
            progress.set_postfix_str(step.describe()[:60])

        for wave in plan.waves:
            pending = [step for step in wave if not step.done]
            if pending:
                runner.run_wave(plan, pending, execute_step, on_done)
    finished = utc_now()
    for spec in touched:
        _update_system(plan, spec, {"provenance": {"finished": finished}})


def execute_step(plan: Plan, step: Step) -> dict[str, Any]:
    """Do one step, writing its own files; return the record to merge into the system's ``system.json``."""
    spec = plan.experiment.system(step.system)
    log.info("%s", step.describe())
    if step.kind == MAKE:
        return _make_model(plan, spec)
    if step.kind == GENERATE:
        return _generate(plan, spec, step.suite or "")
    if step.kind == JUDGE:
        return _judge(plan, spec, step.judge or "")
    if step.kind == UTILITY:
        return _utility(plan, spec)
    raise ValueError(f"unknown step kind {step.kind!r}")


def _local_model(reference: str, revision: str | None) -> str:
    """A local folder for a model: the path itself, or the hub snapshot (downloaded once)."""
    if is_local(reference):
        return reference
    from huggingface_hub import snapshot_download

    return snapshot_download(reference, revision=revision)


def _make_model(plan: Plan, spec: SystemSpec) -> dict[str, Any]:
    out = Path(model_path(plan, spec))
    inputs = {}
    for role, name in spec.inputs.items():
        source = plan.experiment.system(name)
        inputs[role] = _local_model(model_path(plan, source), source.revision)
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
    else:
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
    return {}  # the new weights' hashes and recipe reach system.json with the identity fields


def _generate(plan: Plan, spec: SystemSpec, suite_name: str) -> dict[str, Any]:
    from resta_bench.benchmark.generate import run_suite

    suite = plan.experiment.suite(suite_name)
    system_id = plan.system_ids[spec.name]
    staging = plan.store.begin_suite(system_id, suite_name)
    started = utc_now()
    record = run_suite(
        model_path(plan, spec),
        spec.backend,
        suite,
        staging,
        revision=spec.revision,
        data=plan.experiment.data,
        device=plan.device,
    )
    record = {
        "settings": suite.settings(),
        **record,
        "started": started,
        "finished": utc_now(),
        "machine": machine(),
    }
    plan.store.finish_suite(system_id, suite_name, record)
    return {"generation": {suite_name: record}}


def _judge(plan: Plan, spec: SystemSpec, judge_name: str) -> dict[str, Any]:
    from resta_bench.benchmark.judging import judge_and_score

    judge = next(j for j in plan.experiment.judges if j.name == judge_name)
    system_id = plan.system_ids[spec.name]
    suites = [suite.name for suite in plan.experiment.suites_for(spec)]
    summary = judge_and_score(plan.store, system_id, judge.name, dict(judge.options), suites)
    # Paths in the store are relative to it, so that it can be copied and merged.
    kept = {key: value for key, value in summary.items() if key not in ("judgments", "scores")}
    record = {"suites": suites, "finished": utc_now(), **kept}
    return {"runs": {"scores": {judge_key(judge.name, dict(judge.options)): record}}}


def _utility(plan: Plan, spec: SystemSpec) -> dict[str, Any]:
    from resta_bench.benchmark.utility import write_utility_scores

    system_id = plan.system_ids[spec.name]
    suites = [suite.name for suite in plan.experiment.suites_for(spec)]
    write_utility_scores(plan.store, system_id, suites)
    return {"runs": {"scores": {UTILITY_SCORES: {"suites": suites, "finished": utc_now()}}}}


def _merge(old: dict[str, Any], new: dict[str, Any], keep_existing: tuple[str, ...] = ()) -> dict[str, Any]:
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value, keep_existing)
        elif key not in keep_existing or key not in merged:
            merged[key] = value
    return merged


def _update_system(
    plan: Plan, spec: SystemSpec, update: dict[str, Any], keep_existing: tuple[str, ...] = ()
) -> None:
    """Merge ``update`` into the system's ``system.json`` (the identity fields are rewritten each time)."""
    system_id = plan.system_ids[spec.name]
    meta = _merge(plan.store.read_system(system_id) or {}, update, keep_existing)
    identity = _identity(plan, spec)
    # Weights deleted after use (to free disk) keep the hashes recorded while they existed.
    identity["model"] = {**meta.get("model", {}), **identity["model"]}
    meta.update(identity)
    meta["provenance"] = _merge(meta.get("provenance", {}), {**software(), "machine": machine()})
    plan.store.write_system(system_id, meta)


def _identity(plan: Plan, spec: SystemSpec) -> dict[str, Any]:
    """What the system is, as docs/results-store.md describes ``system.json``."""
    ids = plan.system_ids
    recipe = spec.recipe
    inputs = spec.inputs
    identity: dict[str, Any] = {
        "system_id": ids[spec.name],
        "name": spec.name,
        "label": spec.label,
        "base_model": _base_model(plan, spec),
        "role": spec.role,
        "finetune_task": _from_sft(plan, spec, "task"),
        "regime": _from_sft(plan, spec, "regime"),
        "method": method_label(recipe) if recipe else None,
        "params": {**recipe.params, "seed": recipe.seed} if recipe else {},
        "sft_system": ids[inputs["sft"]] if "sft" in inputs else None,
        "aligned_system": _aligned_system(plan, spec),
        "inputs": {role: ids[name] for role, name in inputs.items()},
        "model": _model_record(plan, spec),
    }
    made_by = Path(model_path(plan, spec)) / ("recipe.json" if recipe else "finetune.json")
    if spec.model is None and made_by.is_file():
        from resta_bench.benchmark.store import read_json_object

        identity["recipe"] = read_json_object(made_by)
    return identity


def _aligned_system(plan: Plan, spec: SystemSpec) -> str | None:
    """The aligned model a system is compared with: a variant's ``aligned`` input, or the aligned model
    an SFT model was fine-tuned ``from`` (so its scores get a delta against it too)."""
    inputs = spec.inputs
    if "aligned" in inputs:
        return plan.system_ids[inputs["aligned"]]
    source = inputs.get("from")
    if spec.role == "sft" and source is not None and plan.experiment.system(source).role == "aligned":
        return plan.system_ids[source]
    return None


def _base_model(plan: Plan, spec: SystemSpec) -> str:
    if spec.base_model:
        return spec.base_model
    if spec.model is not None:
        return Path(spec.model).name if is_local(spec.model) else spec.model
    # A variant's base is its aligned model's (or the model it was fine-tuned from).
    inputs = spec.inputs
    source = next(inputs[role] for role in ("aligned", "from", "base", "sft", "unaligned") if role in inputs)
    return _base_model(plan, plan.experiment.system(source))


def _from_sft(plan: Plan, spec: SystemSpec, attribute: str) -> str | None:
    """The spec's own task / regime, else (for a re-aligned variant) that of the SFT model it repairs."""
    own = getattr(spec, attribute)
    if own is not None or "sft" not in spec.inputs:
        return own
    return _from_sft(plan, plan.experiment.system(spec.inputs["sft"]), attribute)


def _model_record(plan: Plan, spec: SystemSpec) -> dict[str, Any]:
    path = model_path(plan, spec)
    if not is_local(path):
        return {"path": path, "revision": spec.revision or "main"}
    folder = Path(path)
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
        return {"path": path}  # not made yet
    cache = HashCache(cache_path_for(plan.store.root))
    hashes = model_file_hashes(folder, cache)
    cache.save()
    return {"path": path, "sha256": hashes}
