"""The offline demo, end to end: synthetic data → tiny models → the experiment runner → site and tables.

Only θ_aligned is made here (from random weights, as a stand-in for a released chat model); everything
after it — unaligning, the benign fine-tune, RESTA and the comparison methods, lm-eval generation, the
keyword judge, scores — goes through ``benchmark.runner`` from an experiment file, as a real run does.
"""

from __future__ import annotations

import logging
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmark.demo import data
from benchmark.demo.settings import FULL, DemoSettings
from benchmark.demo.summary import SummaryRow, summary_rows
from benchmark.errors import ConfigError

log = logging.getLogger(__name__)

STEPS = ("data", "tokenizer and random model", "θ_aligned", "experiment", "leaderboard and tables")


@dataclass(frozen=True)
class DemoOutput:
    out: Path
    experiment: Path
    results: Path
    site: Path
    tables: Path
    rows: list[SummaryRow]


def experiment_document(out: Path, settings: DemoSettings, seed: int) -> dict[str, Any]:
    """The demo's experiment file: the paper's design (unalign, SFT, re-align, evaluate) in miniature."""
    eval_dir, train_dir = str(out / "data" / "eval"), out / "data" / "train"
    realign_inputs = {"sft": "sft-last-word", "aligned": "aligned", "unaligned": "unaligned", "seed": seed}
    systems: list[dict[str, Any]] = [
        {
            "name": "aligned",
            "role": "aligned",
            "model": str(out / "models" / "aligned"),
            "base_model": "demo-tiny-chat",
        },
        {
            "name": "unaligned",
            "role": "unaligned",
            "regime": "full",
            "finetune": {"from": "aligned", "data": str(train_dir / "unaligned.jsonl"), "seed": seed}
            | settings.unaligned.as_dict(),
            "suites": ["safety"],
        },
        {
            "name": "sft-last-word",
            "role": "sft",
            "task": "last-word",
            "regime": "full",
            "finetune": {"from": "aligned", "data": str(train_dir / "sft.jsonl"), "seed": seed}
            | settings.sft.as_dict(),
        },
        {"name": "resta", "recipe": {"method": "resta", **realign_inputs, "beta": list(settings.betas)}},
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
    for method, params in settings.comparisons:
        inputs = {key: realign_inputs[key] for key in ("sft", "aligned", "seed")}
        if method == "hdr":
            inputs["unaligned"] = "unaligned"
        systems.append({"name": method, "recipe": {"method": method, **inputs, **params}})
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


def _prepare(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"{out}: output directory is not empty (pass --overwrite to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _make_aligned(out: Path, settings: DemoSettings, seed: int, training: dict[str, Path]) -> None:
    from benchmark.tiny_models import build_tiny_chat_model, train_tokenizer
    from realign.finetune import finetune

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


def run_demo(
    out: str | Path = "resta-demo", *, seed: int = 0, settings: DemoSettings = FULL, overwrite: bool = False
) -> DemoOutput:
    """Run the whole miniature into ``out``; return where everything is and the summary rows."""
    import torch
    from tqdm import tqdm

    from benchmark.runner import run_experiment
    from benchmark.store import ResultsStore, write_text_atomic
    from benchmark.tables import paper_tables, render
    from leaderboards import build_site

    out = Path(out).resolve()
    _prepare(out, overwrite)
    # The matrices are tiny: extra threads only add contention, and one thread keeps runs bit-identical.
    torch.set_num_threads(1)
    results, site, tables = out / "results", out / "site", out / "tables.md"
    with tqdm(total=len(STEPS), desc="resta demo", unit="step", file=sys.stderr) as progress:

        def step(name: str) -> None:
            progress.set_postfix_str(name)
            log.info("demo step: %s", name)

        step(STEPS[0])
        training = data.write_training_sets(out / "data" / "train")
        data.write_evaluation_sets(out / "data" / "eval")
        progress.update()
        step(STEPS[1] + " → " + STEPS[2])
        _make_aligned(out, settings, seed, training)
        progress.update(2)
        step(STEPS[3])
        experiment = out / "experiment.yaml"
        document = experiment_document(out, settings, seed)
        write_text_atomic(experiment, yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
        run_experiment(experiment, results, device="cpu")
        progress.update()
        step(STEPS[4])
        build_site(results, site, workers=1, progress=False)
        write_text_atomic(tables, render(paper_tables(ResultsStore(results)), "md"))
        progress.update()
    return DemoOutput(out, experiment, results, site, tables, summary_rows(ResultsStore(results)))
