"""`resta run --dry-run` on the examples, CLI errors, and utility rows from lm-eval's results."""

from __future__ import annotations

from pathlib import Path

import pytest
from resta_bench.benchmark.cli import main
from resta_bench.benchmark.utility import utility_rows

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_dry_run_prints_the_plan_and_checks_task_names(tmp_path, capsys):
    assert main(["run", str(EXAMPLES / "paper.yaml"), "--dry-run", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("experiment 'resta-paper': 92 systems")
    assert "[pending] make model               llama2-unaligned (unaligned-" in out
    assert "[pending] generate utility-code" in out and "[pending] judge redeval" in out
    assert not list(tmp_path.iterdir()) or [p.name for p in tmp_path.iterdir()] == [".cache"]


def test_run_reports_user_errors_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (EXAMPLES / "single-sft.yaml").read_text().replace("tasks: [catqa_en,", "tasks: [catqa_xx,")
    )
    assert main(["run", str(bad), "--dry-run"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"resta run: error: {bad}: suites[0].tasks[0]: unknown lm-eval task 'catqa_xx'"
    )
    paper = tmp_path / "paper.yaml"
    paper.write_text((EXAMPLES / "paper.yaml").read_text().replace("batch_size: 8}", "batchsize: 8}"))
    assert main(["run", str(paper), "--dry-run", "--skip-task-check"]) == 2
    assert (
        "systems[1].finetune.batchsize: unknown setting; expected one of batch_size,"
        in capsys.readouterr().err
    )
    # Model folders named in the file must exist before anything runs.
    assert main(["run", str(EXAMPLES / "single-sft.yaml"), "-o", str(tmp_path), "--skip-task-check"]) == 2
    assert "systems[1].model: " in capsys.readouterr().err


def test_utility_rows_carry_lm_evals_metrics_and_intervals():
    results = {
        "results": {
            "gsm8k": {
                "alias": "gsm8k",
                "exact_match,strict-match": 0.5,
                "exact_match_stderr,strict-match": 0.05,
            },
            "mmlu": {"acc,none": 0.4, "acc_stderr,none": "N/A", "sample_len": 14042},
            "catqa_en": {"harmful,judge": 0.2},
        },
        "n-samples": {"gsm8k": {"original": 1319, "effective": 100}},
    }
    rows = {(row["benchmark"], row["metric"]): row for row in utility_rows(results)}
    assert set(rows) == {
        ("gsm8k", "exact_match/strict-match"),
        ("mmlu", "acc"),
    }  # judged tasks and sample_len are left out
    gsm8k = rows[("gsm8k", "exact_match/strict-match")]
    assert gsm8k["n"] == 100 and gsm8k["k"] is None
    assert gsm8k["ci_low"] == pytest.approx(0.5 - 1.959964 * 0.05) and gsm8k["language"] == "all"
    assert rows[("mmlu", "acc")]["ci_low"] is None
