"""One generation job: a system's model through one suite of lm-eval tasks, in-process.

lm-eval writes its own output tree (``results_*.json``, ``samples_*.jsonl``) into the suite's staging
folder; the store renames that folder into place once everything is written, so a killed job leaves
no half-finished suite behind. Our tasks reach lm-eval through ``tasks.task_manager`` (its include_path).
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from resta_bench.benchmark.config import Backend, Experiment, Suite
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.logs import quiet_lm_eval
from resta_bench.benchmark.protocols import PROTOCOLS

log = logging.getLogger(__name__)


def model_arguments(model: str, backend: Backend, revision: str | None = None) -> dict[str, Any]:
    """lm-eval ``model_args`` for a model path / hub id (or, for chat completions, a served model name)."""
    if backend.type == "local-chat-completions":
        arguments: dict[str, Any] = {
            "model": model,
            "base_url": backend.base_url,
            "tokenized_requests": False,
        }
        return {**arguments, **backend.model_args}
    arguments = {"pretrained": model}
    adapter = Path(model) / "adapter_config.json"
    if adapter.is_file():
        # A LoRA fine-tune is an adapter folder: lm-eval loads its base model and applies the adapter.
        base = json.loads(adapter.read_text(encoding="utf-8")).get("base_model_name_or_path")
        if not base:
            raise ConfigError(f"{adapter}: field 'base_model_name_or_path' is missing")
        adapter_argument = "lora_local_path" if backend.type == "vllm" else "peft"
        arguments = {"pretrained": base, adapter_argument: model}
    if revision:
        arguments["revision"] = revision
    if backend.dtype:
        arguments["dtype"] = backend.dtype
    if backend.type == "vllm":
        arguments["tensor_parallel_size"] = backend.tensor_parallel_size
        if backend.pipeline_parallel_size > 1:  # passed through to vLLM's engine
            arguments["pipeline_parallel_size"] = backend.pipeline_parallel_size
        arguments["data_parallel_size"] = backend.data_parallel_size
    return {**arguments, **backend.model_args}


def generation_kwargs(suite: Suite) -> dict[str, Any]:
    """What lm-eval merges over each task's ``generation_kwargs``: the protocol's decoding settings, the
    suite's length cap (over the tasks' own) and the suite's own ``gen_kwargs`` over both."""
    kwargs: dict[str, Any] = dict(PROTOCOLS[suite.protocol].gen_kwargs)
    if suite.max_gen_toks is not None:
        kwargs["max_gen_toks"] = suite.max_gen_toks
    return {**kwargs, **suite.gen_kwargs}


SEED_ARGUMENTS = ("random_seed", "numpy_random_seed", "torch_random_seed", "fewshot_random_seed")


def lm_eval_seeds(suite: Suite) -> dict[str, int]:
    """``simple_evaluate``'s seeds: the suite's seed for Python, NumPy and torch (what sampling draws from),
    lm-eval's defaults without one; the few-shot sampler's always lm-eval's, so a seed changes the draws,
    never the prompts."""
    from lm_eval.defaults import DEFAULT_OTHER_SEED, DEFAULT_RANDOM_SEED

    draws = (
        (DEFAULT_RANDOM_SEED, DEFAULT_OTHER_SEED, DEFAULT_OTHER_SEED)
        if suite.seed is None
        else (suite.seed,) * 3
    )
    return dict(zip(SEED_ARGUMENTS, (*draws, DEFAULT_OTHER_SEED), strict=True))


@contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the task loaders (``CATQA_DIR`` ...) and restore them afterwards."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _sha256_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()


@cache
def _task_manager(metadata: tuple[tuple[str, str], ...]):
    """lm-eval's task index over its tasks and ours; building it takes seconds, so once per process."""
    from resta_bench.tasks import task_manager

    return task_manager(dict(metadata) or None)


def _tasks_with_repeats(manager, names: tuple[str, ...], repeats: int) -> list[Any]:
    """The suite's tasks for ``simple_evaluate``: their names, or with several samples per question, the
    tasks built here (groups whole, so their aggregates stay) with lm-eval's ``repeats`` set on each leaf,
    which ``simple_evaluate`` has no argument for. lm-eval then logs a document's responses together, in
    its sample's ``resps[0]``."""
    if repeats == 1:
        return list(names)
    built: list[Any] = []
    for name in names:
        loaded = manager.load([name])
        for task in loaded["tasks"].values():
            task.set_config(key="repeats", value=repeats)
        whole = loaded["groups"].get(name) or loaded["tasks"].get(name)
        built.extend([whole] if whole is not None else loaded["tasks"].values())  # a tag: its tasks
    return built


def run_suite(
    model: str,
    backend: Backend,
    suite: Suite,
    out_dir: Path,
    *,
    revision: str | None = None,
    data: Mapping[str, str] | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Run ``suite`` on ``model`` with lm-eval, writing its output tree under ``out_dir``.

    Returns what the store records about the run: task config hashes, the chat template's hash,
    lm-eval's version and the settings used. The model is released before this returns.
    """
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    data = dict(data or {})
    metadata = {key.lower(): value for key, value in data.items()}
    tracker = EvaluationTracker(output_path=str(out_dir))
    arguments = model_arguments(model, replace(backend, dtype=suite.dtype or backend.dtype), revision)
    seeds = lm_eval_seeds(suite)
    if backend.type == "vllm":
        arguments.setdefault("seed", seeds["torch_random_seed"])  # vLLM's engine draws from its own seed
    variables = {key.upper(): value for key, value in data.items()}
    if suite.confirm_run_unsafe_code:
        variables["HF_ALLOW_CODE_EVAL"] = "1"  # the code-eval metric's own opt-in
    manager = _task_manager(tuple(sorted(metadata.items())))
    with environment(variables), quiet_lm_eval():
        results = lm_eval.simple_evaluate(
            model=backend.type,
            model_args=arguments,
            tasks=_tasks_with_repeats(manager, suite.tasks, suite.samples),
            num_fewshot=suite.num_fewshot,
            batch_size=backend.batch_size,
            device=device or backend.device,
            limit=suite.limit,
            log_samples=True,
            evaluation_tracker=tracker,
            system_instruction=suite.system_prompt,
            apply_chat_template=suite.apply_chat_template,
            gen_kwargs=generation_kwargs(suite),
            task_manager=manager,
            metadata=metadata or None,
            confirm_run_unsafe_code=suite.confirm_run_unsafe_code,
            **seeds,
        )
    release_accelerator_memory()
    if results is None:  # what lm-eval returns on the non-zero ranks of a multi-process launch
        raise RuntimeError(f"{out_dir}: lm-eval returned no results (run the runner as one process)")
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task_name in results["configs"]:
        tracker.save_results_samples(task_name=task_name, samples=samples[task_name])
    # The tracker logs and swallows write errors; a suite without its files must not count as done.
    written = {path.name.split("_")[0] for path in out_dir.rglob("*_*.json*")}
    if not {"results", "samples"} <= written:
        raise OSError(f"{out_dir}: lm-eval did not write its results and samples files")
    return {
        "tasks": list(results["configs"]),
        "task_hashes": {name: _sha256_json(config) for name, config in results["configs"].items()},
        "sample_hashes": results.get("task_hashes", {}),
        "chat_template_sha256": results.get("chat_template_sha"),
        "system_prompt_sha256": results.get("system_instruction_sha"),
        "lm_eval": lm_eval.__version__,
        "model_args": {key: str(value) for key, value in arguments.items()},
        "backend": backend.type,
        "protocol": suite.protocol,
        "gen_kwargs": generation_kwargs(suite),
        "samples": suite.samples,
        "seeds": seeds,
    }


def release_accelerator_memory() -> None:
    """Free the generating model before the judges load theirs."""
    gc.collect()
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def check_task_names(experiment: Experiment) -> None:
    """Every suite's tasks are known to lm-eval (ours included), before any model is loaded."""
    known = set(_task_manager(()).all_tasks)
    for index, suite in enumerate(experiment.suites):
        for position, task in enumerate(suite.tasks):
            if task not in known:
                raise ConfigError(
                    f"{experiment.source}: suites[{index}].tasks[{position}]: unknown lm-eval task {task!r}"
                )
