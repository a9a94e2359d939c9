"""What a run checks before it runs anything (``resta run --dry-run`` too): each mistake here would
otherwise stop the run only when it reached it, after hours of fine-tuning or generation.

- fine-tune settings are ``realign.finetune``'s keyword arguments (a recipe's method, inputs and
  parameters were checked against the method's signature when the file was read: ``benchmark.config``);
- a judge is in the judge registry and takes its options (building a judge loads no model; an API
  judge checks that its key's environment variable is set), and no two judges write the same files;
- a model folder the runner is to make is absent or one resta wrote: the output rule of
  ``storage.folders``, under which only resta's own folders are ever replaced.

Every failure is one line naming the experiment file and the field.
"""

from __future__ import annotations

import inspect

from resta_bench.benchmark.config import FINETUNE_INPUTS, Experiment
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.plan import MAKE, Plan, model_path
from resta_bench.benchmark.system_id import is_local
from resta_bench.storage.folders import check_output
from resta_bench.storage.names import check_name


def check_experiment(experiment: Experiment) -> None:
    """Everything about ``experiment`` that can be checked without a model or a results store."""
    _check_finetune_settings(experiment)
    _check_judges(experiment)


def check_model_folders(plan: Plan) -> None:
    """Each model still to make may be written where the plan puts it: not in or over one of its inputs,
    and not over a folder resta did not write (the runner replaces only its own leftovers)."""
    for step in plan.pending:
        if step.kind != MAKE:
            continue
        spec = plan.experiment.system(step.system)
        sources = {}
        for role, names in spec.inputs.items():
            for index, name in enumerate([names] if isinstance(names, str) else names):
                label = role if isinstance(names, str) else f"{role}[{index}]"  # a recipe's models
                sources[label] = model_path(plan, plan.experiment.system(name))
        check_output(
            model_path(plan, spec),
            overwrite=True,
            inputs={role: path for role, path in sources.items() if is_local(path)},
            flag=f"{plan.experiment.source}: {spec.origin} ({spec.name}) model folder",
        )


def _check_finetune_settings(experiment: Experiment) -> None:
    specs = [spec for spec in experiment.systems if spec.finetune is not None]
    if not specs:
        return
    from resta_bench.realign.finetune import finetune

    accepted = set(inspect.signature(finetune).parameters) - {
        "model",
        "data",
        "out",
        "lora",
        "overwrite",
        "description",
        "spelling",  # the words of errors: the runner's, not the experiment file's to choose
    }
    for spec in specs:
        for key in spec.finetune or {}:
            if key not in accepted | set(FINETUNE_INPUTS):
                raise ConfigError(
                    f"{experiment.source}: {spec.origin}.finetune.{key}: unknown setting; "
                    f"expected one of {', '.join(sorted(accepted))}"
                )


def _check_judges(experiment: Experiment) -> None:
    from resta_bench.judges import JudgeError, get_judge, judge_names

    written_by: dict[str, str] = {}
    for index, spec in enumerate(experiment.judges):
        at = f"judges[{index}]"
        try:
            judge = get_judge(spec.name, **spec.options)
        except JudgeError as error:
            field = "options" if spec.name in judge_names() else "name"
            raise ConfigError(f"{experiment.source}: {at}.{field}: {error}") from None
        check_name(judge.id, f"{experiment.source}: {at}: its judge id")
        if judge.id in written_by:
            raise ConfigError(
                f"{experiment.source}: {at}: writes judgments/{judge.id}.jsonl, as {written_by[judge.id]} "
                "does; give it another options.judge_id"
            )
        written_by[judge.id] = at
