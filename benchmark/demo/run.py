"""The offline demo, end to end: synthetic data → tiny models → the experiment runner → site and tables.

Only θ_aligned is made here (from random weights, as a stand-in for a released chat model); everything
after it — unaligning, the benign fine-tune, RESTA and the comparison methods, lm-eval generation, the
keyword judge, scores — goes through ``benchmark.runner`` from an experiment file, as a real run does.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from resta_bench.benchmark.demo import data
from resta_bench.benchmark.demo.settings import FULL, DemoSettings, Schedule, pinned_kernels
from resta_bench.benchmark.demo.summary import SummaryRow, summary_rows

log = logging.getLogger(__name__)

STEPS = ("data", "θ_aligned from random weights", "experiment", "leaderboard and tables")


@dataclass(frozen=True)
class DemoOutput:
    out: Path
    experiment: Path
    results: Path
    site: Path
    tables: Path
    log: Path  # every log record at INFO and above, lm-eval's included (benchmark.logs)
    rows: list[SummaryRow]


def _finetune_system(name: str, role: str, data_file: Path, schedule: Schedule, seed: int) -> dict[str, Any]:
    finetune = {"from": "aligned", "data": str(data_file), "seed": seed, **schedule.as_dict()}
    return {"name": name, "role": role, "regime": "full", "finetune": finetune}


def experiment_document(out: Path, settings: DemoSettings, seed: int) -> dict[str, Any]:
    """The demo's experiment file: the paper's design (unalign, SFT, re-align, evaluate) in miniature."""
    eval_dir, train_dir = str(out / "data" / "eval"), out / "data" / "train"
    realign_inputs = {"sft": "sft-last-word", "aligned": "aligned", "unaligned": "unaligned", "seed": seed}
    aligned_dir = str(out / "models" / "aligned")
    systems: list[dict[str, Any]] = [
        {"name": "aligned", "role": "aligned", "model": aligned_dir, "base_model": "demo-tiny-chat"},
        # Unaligned models are only ever judged for harm.
        _finetune_system("unaligned", "unaligned", train_dir / "unaligned.jsonl", settings.unaligned, seed)
        | {"suites": ["safety"]},
        _finetune_system("sft-last-word", "sft", train_dir / "sft.jsonl", settings.sft, seed)
        | {"task": "last-word"},
        {
            "name": "resta",
            "recipe": {"method": "resta", **realign_inputs, "sweep": {"beta": list(settings.betas)}},
        },
        {
            "name": "resta-dare",
            "recipe": {
                "method": "resta",
                **realign_inputs,
                "beta": settings.dare_beta,
                "dare_p": settings.dare_p,
            },
        },
    ]
    for method, roles, params in settings.comparisons:
        inputs = {role: realign_inputs[role] for role in roles}
        systems.append({"name": method, "recipe": {"method": method, **inputs, "seed": seed, **params}})
    short = {"max_gen_toks": settings.max_gen_toks}
    return {
        "name": "resta-demo",
        "data": {"CATQA_DIR": eval_dir, "XSTEST_DIR": eval_dir, "DEMO_DIR": eval_dir},
        "models_dir": str(out / "models"),
        "backend": {
            "type": "hf",
            "device": "cpu",
            "dtype": "float32",
            "batch_size": settings.eval_batch_size,
        },
        "systems": systems,
        "suites": [
            {"name": "safety", "tasks": ["catqa"], **short},
            {"name": "over-refusal", "tasks": ["xstest"], **short},
            {"name": "utility", "tasks": ["demo_last_word"], **short},
        ],
        "judges": [{"name": "refusal"}],
    }


def _make_aligned(out: Path, settings: DemoSettings, seed: int, training: dict[str, Path]) -> None:
    from resta_bench.benchmark.tiny_models import build_tiny_chat_model, train_tokenizer
    from resta_bench.realign.finetune import finetune

    tokenizer = train_tokenizer(data.corpus(), vocab_size=settings.vocab_size)
    base = build_tiny_chat_model(
        out / "models" / "random-init",
        tokenizer=tokenizer,
        hidden_size=settings.hidden_size,
        intermediate_size=2 * settings.hidden_size,
        num_layers=settings.num_layers,
        num_heads=settings.num_heads,
        num_kv_heads=settings.num_heads,
        seed=seed,
    )
    finetune(
        base,
        training["aligned"],
        out / "models" / "aligned",
        seed=seed,
        description="θ_aligned",
        warmup=0.05,
        **settings.aligned.as_dict(),
    )
    shutil.rmtree(base)


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """The matrices are tiny: more threads only add contention (and the caller keeps its own setting)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_demo(
    out: str | Path = "resta-demo", *, seed: int = 0, settings: DemoSettings = FULL, overwrite: bool = False
) -> DemoOutput:
    """Run the whole miniature into ``out``; return where everything is and the summary rows.

    ``out`` follows the output rule: an existing folder is replaced only with ``overwrite`` and only when
    resta wrote it (it holds the marker this writes), never a folder of the user's.
    """
    from resta_bench.storage.folders import owned_output

    # The same CPU kernels on any machine, chosen before torch computes anything: the same figures.
    with owned_output(out, overwrite=overwrite, kind="resta demo") as folder, pinned_kernels():
        return _run_demo(folder, seed, settings)


def _run_demo(out: Path, seed: int, settings: DemoSettings) -> DemoOutput:
    from resta_bench.benchmark.logs import log_file
    from resta_bench.benchmark.runner import run_experiment
    from resta_bench.benchmark.store import ResultsStore
    from resta_bench.benchmark.tables import paper_tables, render
    from resta_bench.leaderboards import build_site
    from resta_bench.storage.atomic import write_text_atomic
    from tqdm import tqdm

    experiment, results, site, tables = (
        out / "experiment.yaml",
        out / "results",
        out / "site",
        out / "tables.md",
    )
    progress = tqdm(total=len(STEPS), desc="resta demo", unit="step", file=sys.stderr)

    def step(name: str) -> None:
        progress.set_postfix_str(name)
        log.info("demo step: %s", name)

    with progress, _one_torch_thread(), log_file(out / "logs" / "demo.log") as log_path:
        step(STEPS[0])
        training = data.write_training_sets(out / "data" / "train")
        data.write_evaluation_sets(out / "data" / "eval")
        progress.update()
        step(STEPS[1])
        _make_aligned(out, settings, seed, training)
        progress.update()
        step(STEPS[2])
        document = experiment_document(out, settings, seed)
        write_text_atomic(experiment, yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
        run_experiment(experiment, results, device="cpu")
        progress.update()
        step(STEPS[3])
        build_site(results, site, workers=1, progress=False)
        write_text_atomic(tables, render(paper_tables(ResultsStore(results)), "md"))
        progress.update()
    return DemoOutput(out, experiment, results, site, tables, log_path, summary_rows(ResultsStore(results)))
