"""`resta run --dry-run` on the examples, CLI errors, and utility rows from lm-eval's results."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from resta_bench.benchmark.cli import main
from resta_bench.benchmark.utility import utility_rows

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_dry_run_prints_the_plan_and_checks_task_names(tmp_path, capsys, monkeypatch):
    # The redeval judge's API key is checked before any work, dry run included.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    argv = ["run", str(EXAMPLES / "paper.yaml"), "--dry-run", "-o", str(tmp_path), "--skip-task-check"]
    assert main(argv) == 2
    assert "paper.yaml: judges[0].options: the environment variable OPENAI_API_KEY" in capsys.readouterr().err
    monkeypatch.setenv("OPENAI_API_KEY", "sk-placeholder")
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


HUB_EXPERIMENT = {
    "name": "dry",
    "systems": [
        {"name": "chat", "role": "aligned", "model": "org/chat"},
        {"name": "bad", "role": "unaligned", "model": "org/bad"},
        {"name": "sft", "role": "sft", "model": "org/sft"},
        {"name": "resta", "recipe": {"method": "resta", "sft": "sft", "aligned": "chat", "unaligned": "bad"}},
    ],
    "suites": [{"name": "safety", "tasks": ["catqa_en"]}],
    "judges": [{"name": "refusal"}],
}


def dry_run(tmp_path: Path, capsys, change) -> tuple[int, str, str]:
    """``resta run --dry-run`` on HUB_EXPERIMENT after ``change(document)``; (exit code, stdout, stderr)."""
    document = copy.deepcopy(HUB_EXPERIMENT)
    change(document)
    path = tmp_path / "dry.yaml"
    path.write_text(yaml.safe_dump(document))
    code = main(["run", str(path), "--dry-run", "--skip-task-check", "-o", str(tmp_path / "results")])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def _recipe(*, drop: str | None = None, **changes):
    def change(document: dict) -> None:
        recipe = document["systems"][3]["recipe"]
        recipe.pop(drop, None)
        recipe.update(changes)

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["judges"].append({"name": "gpt-judge"}), "judges[1].name: unknown judge 'gpt-judge'"),
        (
            lambda d: d["judges"][0].update(options={"model": "x"}),
            "judges[0].options: judge 'refusal' takes no options (got 'model')",
        ),
        (
            lambda d: d["judges"].append({"name": "llama-guard-3", "options": {"temprature": 0}}),
            "judges[1].options: judge 'llama-guard-3' has no option 'temprature'",
        ),
        (
            lambda d: d["judges"].append({"name": "llama-guard-3", "options": {"judge_id": "refusal"}}),
            "judges[1]: writes judgments/refusal.jsonl, as judges[0] does; give it another options.judge_id",
        ),
        (_recipe(method="resta2"), "systems[3].recipe.method: unknown method 'resta2'"),
        (_recipe(betta=0.5), "systems[3].recipe: method resta takes no parameter 'betta'"),
        (_recipe(method="hdr", top_k=2.0), "systems[3].recipe: --top-k must be in "),
        (_recipe(dare_p=0.3, drop="aligned"), "systems[3].recipe: resta with --dare-p needs --aligned"),
    ],
)
def test_dry_run_refuses_what_would_fail_only_after_generation(tmp_path, capsys, change, message):
    code, _, err = dry_run(tmp_path, capsys, change)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"resta run: error: {tmp_path / 'dry.yaml'}: {message}"), err


def test_dry_run_refuses_to_replace_a_model_folder_resta_did_not_write(tmp_path, capsys):
    code, plan_text, _ = dry_run(tmp_path, capsys, lambda document: None)
    assert code == 0
    system_id = next(word for word in plan_text.split() if word.startswith("(resta-")).strip("()")
    user_folder = tmp_path / "results" / ".models" / system_id
    user_folder.mkdir(parents=True)
    (user_folder / "notes.txt").write_text("mine")
    code, _, err = dry_run(tmp_path, capsys, lambda document: None)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"systems[3] (resta) model folder {user_folder}: not a folder resta wrote" in err
    assert (user_folder / "notes.txt").read_text() == "mine"


def test_dry_run_refuses_models_dir_inside_an_input_model(tmp_path, capsys):
    sft = tmp_path / "sft"
    sft.mkdir()
    (sft / "model.safetensors").write_bytes(b"not loaded by a dry run, only hashed")

    def models_in_the_sft_folder(document: dict) -> None:
        document["systems"][2]["model"] = str(sft)
        document["models_dir"] = str(sft)

    code, _, err = dry_run(tmp_path, capsys, models_in_the_sft_folder)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "systems[3] (resta) model folder " in err and f": lies inside the input sft ({sft})" in err
