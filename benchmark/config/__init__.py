"""Experiment files: YAML in, validated objects out, sweeps expanded into one system each.

An experiment names its models (by path or hub id), the fine-tunes and re-aligned variants to make
from them, the suites of lm-eval tasks to run on every system, and the judges. Every mistake is
reported as one line naming the file and the field path, e.g.
``paper.yaml: systems[4].recipe.sweep.beta[1]: must be a number, got str 'high'``.

Layout (see ``examples/`` for complete files)::

    name: my-experiment
    data: {CATQA_DIR: ../data/catqa}        # environment for the task loaders (paths relative to this file)
    backend: {type: hf, dtype: bfloat16}     # default; a system may override it
    systems:
      - {name: chat, role: aligned, model: meta-llama/Llama-2-7b-chat-hf}
      - {name: bad, role: unaligned, model: ./chat-unaligned}
      - {name: sft-code, role: sft, task: code, regime: lora, model: ./sft-code}
      - name: resta
        recipe: {method: resta, sft: sft-code, aligned: chat, unaligned: bad, sweep: {beta: [0.5, 1.0]}}
      - {name: v, role: vector, model: ./safety-vector}        # made by `resta safety-vector`
      - {name: hdr, recipe: {method: hdr, sft: sft-code, vector: v, lambda: 3.0}}
      - {name: merged, recipe: {method: task-arithmetic, base: chat, models: [sft-code, resta/beta=1.0]}}
    suites:
      - {name: safety, tasks: [catqa_en, harmfulqa], max_gen_toks: 512}
      - {name: safety-paper, tasks: [catqa_en], protocol: paper, samples: 5, seed: 0}  # the paper's sampling
    judges:
      - {name: refusal}
"""

from resta_bench.benchmark.config.loader import load_experiment, parse_experiment
from resta_bench.benchmark.config.models import (
    BACKENDS,
    FINETUNE_INPUTS,
    RECIPE_INPUTS,
    REGIMES,
    ROLES,
    Backend,
    Experiment,
    JudgeSpec,
    Recipe,
    Suite,
    SystemSpec,
    topological_order,
)

__all__ = [
    "BACKENDS",
    "FINETUNE_INPUTS",
    "RECIPE_INPUTS",
    "REGIMES",
    "ROLES",
    "Backend",
    "Experiment",
    "JudgeSpec",
    "Recipe",
    "Suite",
    "SystemSpec",
    "load_experiment",
    "parse_experiment",
    "topological_order",
]
