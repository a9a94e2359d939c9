"""Executors run one wave of independent steps: here, one after another, or as jobs on a Ray cluster.

Either way a step's function writes its own part of the store and returns a :class:`StepResult`; the
``on_done`` callback (the driver) adds it to the system's ``system.json``, so only one process ever
writes that file.
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from resta_bench.benchmark.errors import ConfigError, user_error_types
from resta_bench.benchmark.plan import GENERATE, MAKE, Plan, Step
from resta_bench.benchmark.provenance import utc_now
from resta_bench.storage.schema import ScoresRun, SuiteRecord

log = logging.getLogger(__name__)

REMOTE_KINDS = (MAKE, GENERATE)


@dataclass(frozen=True)
class StepResult:
    """What a finished step adds to its system's ``system.json``."""

    suite: SuiteRecord | None = None  # generate: the suite's record
    scores: ScoresRun | None = None  # judge, utility: its ``runs.scores`` entry (under the step's key)
    job: dict[str, Any] | None = None  # Ray: where and when the job ran (``provenance.ray_jobs``)


StepFunction = Callable[[Plan, Step], StepResult]
OnDone = Callable[[Step, StepResult], None]


class JobsLost(ConfigError):
    """Ray jobs whose worker or node died, or that found no node: reported as one line (exit code 2),
    since the remedy is the user's: run again, and the store's finished steps are skipped."""


class LocalExecutor:
    """Runs each step in this process, in order."""

    def run_wave(self, plan: Plan, steps: list[Step], work: StepFunction, on_done: OnDone) -> None:
        for step in steps:
            on_done(step, work(plan, step))


def gpus_for(plan: Plan, step: Step) -> float:
    """GPUs a Ray job asks for: a vLLM model takes tp × pp × dp of them, an hf model one."""
    backend = plan.experiment.system(step.system).backend
    # Re-alignment streams tensors on the CPU; judges over an API need no accelerator.
    if step.kind != GENERATE or backend.type == "local-chat-completions" or backend.device == "cpu":
        return 0
    if backend.type != "vllm":
        return 1
    return backend.tensor_parallel_size * backend.pipeline_parallel_size * backend.data_parallel_size


def job_key(step: Step) -> str:
    """How ``system.json`` names one job of a system (``make``, ``generate:<suite>``)."""
    return f"{step.kind}:{step.suite}" if step.suite else step.kind


def _run_job(work: StepFunction, plan: Plan, step: Step) -> StepResult:
    """A Ray task: the step's result, with where and when it ran (kept in ``system.json``'s provenance)."""
    import ray

    started = utc_now()
    result = work(plan, step)
    where = {
        "node_id": ray.get_runtime_context().get_node_id(),
        "host": platform.node(),
        "pid": os.getpid(),
        "started": started,
        "finished": utc_now(),
    }
    return replace(result, job=where)


class RayExecutor:
    """Hands each make / generate step (system × suite) to a Ray cluster as one task, all writing into
    the same results store; judging and scoring run on the driver, one system at a time.

    ``address`` is what ``ray.init`` takes (``auto``, ``HOST:6379``, ``ray://head:10001``); None starts
    a local instance unless one is already running in this process. Every node needs resta-bench
    installed and the results folder at the same path (a shared file system).

    A job lost with its worker or node is not retried by Ray: the wave's other jobs finish and are
    recorded, each lost one is logged on one line, and ``JobsLost`` ends the run; a re-run (with either
    executor) does only what is missing. A generation job stages its suite in ``lm_eval/.<suite>.partial``
    and renames it when complete, so a lost job leaves no half-written results.
    """

    def __init__(self, address: str | None = None):
        import ray

        if not ray.is_initialized():
            try:
                ray.init(address=address, log_to_driver=True)
            except (ConnectionError, ray.exceptions.RayError) as error:
                # Most often a cluster that is not there, or one whose token this machine lacks.
                where = f"--ray-address {address}" if address else "--executor ray (a local instance)"
                raise ConfigError(f"{where}: {_first_line(error)}") from None
        self._ray = ray

    def run_wave(self, plan: Plan, steps: list[Step], work: StepFunction, on_done: OnDone) -> None:
        # Making models and generating are the jobs; judging and scoring read the store on the driver.
        remote_steps = [step for step in steps if step.kind in REMOTE_KINDS]
        LocalExecutor().run_wave(plan, [s for s in steps if s.kind not in REMOTE_KINDS], work, on_done)
        if not remote_steps:
            return
        ray = self._ray
        # No retries behind the user's back: a job that took its node down (out of memory) would take
        # the next one down too, and a re-run costs only the lost jobs. SPREAD uses every node at once.
        remote_job = ray.remote(max_retries=0, scheduling_strategy="SPREAD")(_run_job)
        shared_plan = ray.put(plan)
        pending = {
            remote_job.options(num_cpus=1, num_gpus=gpus_for(plan, step)).remote(
                work, shared_plan, step
            ): step
            for step in remote_steps
        }
        lost: list[Step] = []
        failures: list[tuple[BaseException, Exception]] = []  # (the job's exception, Ray's wrapper)
        while pending:
            finished, _ = ray.wait(list(pending), num_returns=1)
            step = pending.pop(finished[0])
            try:
                result = ray.get(finished[0])
            except ray.exceptions.RayTaskError as error:  # the job itself raised
                log.error("failed: %s: %s", step.describe(), _first_line(error.cause))
                failures.append((error.cause, error))
            except ray.exceptions.RayError as error:  # its worker or node died, or no node could take it
                log.error("lost: %s: %s: %s", step.describe(), type(error).__name__, _first_line(error))
                lost.append(step)
            else:
                on_done(step, result)
        if failures:
            cause, wrapper = failures[0]
            # A user's mistake stays one line; anything else keeps the remote traceback.
            raise cause if isinstance(cause, user_error_types()) else wrapper
        if lost:
            raise JobsLost(f"{len(lost)} job{'s' * (len(lost) != 1)} lost; run again to finish them")


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0]


def make_executor(name: str, address: str | None = None) -> LocalExecutor | RayExecutor:
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address)
    raise ValueError(f"unknown executor {name!r}")
