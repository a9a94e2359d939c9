"""Executors run one wave of independent steps: here, one after another, or as jobs on a Ray cluster.

Either way a step's function writes its own part of the store and returns a small record; the
``on_done`` callback (the driver) merges that record into ``system.json``, so only one process ever
writes that file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from resta_bench.benchmark.plan import GENERATE, MAKE, Plan, Step

log = logging.getLogger(__name__)

StepFunction = Callable[[Plan, Step], dict[str, Any]]
OnDone = Callable[[Step, dict[str, Any]], None]
REMOTE_KINDS = (MAKE, GENERATE)


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


class RayExecutor:
    """Hands each make / generate step (system × suite) to a Ray cluster as one task, all writing into
    the same results store; judging and scoring run on the driver, one system at a time.

    ``address`` is what ``ray.init`` takes (``auto``, ``ray://head:10001``); None starts a local
    instance unless one is already running in this process. Every worker needs resta-bench installed
    and the results folder on a shared file system.
    """

    def __init__(self, address: str | None = None):
        import ray

        if not ray.is_initialized():
            ray.init(address=address, log_to_driver=True)
        self._ray = ray

    def run_wave(self, plan: Plan, steps: list[Step], work: StepFunction, on_done: OnDone) -> None:
        # Making models and generating are the jobs; judging and scoring read the store on the driver.
        remote_steps = [step for step in steps if step.kind in REMOTE_KINDS]
        LocalExecutor().run_wave(plan, [s for s in steps if s.kind not in REMOTE_KINDS], work, on_done)
        if not remote_steps:
            return
        ray = self._ray
        remote_work = ray.remote(work)
        shared_plan = ray.put(plan)
        pending = {
            remote_work.options(num_cpus=1, num_gpus=gpus_for(plan, step)).remote(shared_plan, step): step
            for step in remote_steps
        }
        while pending:
            finished, _ = ray.wait(list(pending), num_returns=1)
            step = pending.pop(finished[0])
            on_done(step, ray.get(finished[0]))


def make_executor(name: str, address: str | None = None) -> LocalExecutor | RayExecutor:
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address)
    raise ValueError(f"unknown executor {name!r}")
