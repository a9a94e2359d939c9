"""`resta run --dry-run` on the examples, CLI errors, and utility rows from lm-eval's results."""

from __future__ import annotations

import copy
import logging
import re
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
    assert "[pending] make model               llama2-unaligned (no id yet)" in out
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
        (_recipe(betta=0.5), "systems[3].recipe: method resta takes no parameter betta"),
        (_recipe(method="hdr", top_k=2.0), "systems[3].recipe.top_k: must be in (0, 1], got 2"),
        (_recipe(dare_p=0.3, drop="aligned"), "systems[3].recipe: method resta needs vector, or aligned and"),
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


def _parsers():
    """Every sub-command's parser (``resta eval`` hands its arguments to lm-eval, which has its own help)."""
    import argparse

    from resta_bench.benchmark.cli import build_parser

    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: parser for name, parser in subparsers.choices.items() if name != "eval"}


def test_every_flag_has_help_and_no_help_prints_a_doubled_percent_sign():
    for name, parser in _parsers().items():
        text = parser.format_help()
        assert "%%" not in text, name
        for action in parser._actions:
            assert action.help, f"resta {name} {action.option_strings or action.dest}: no help"


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("finetune", ["--epochs EPOCHS  ", "(default: 3)", "--batch-size", "(default: 8)", "--lora-r"]),
        ("compare", ["95% interval", "(default: 10000)", "(default: md)"]),
        ("tables", ["95% intervals", "scored the most systems"]),
        ("run", ["(default: results)", "(default: local)"]),
        ("demo", ["(default: 0)"]),
    ],
)
def test_help_shows_each_default(command, shown, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for expected in shown:
        assert " ".join(expected.split()) in text, (command, expected)


def test_help_never_states_a_default_twice():
    judges = ("judge", "judge-agreement", "validate-judge")  # one flag serves several judges, each its own
    for name, parser in _parsers().items():
        if name in judges:
            continue
        formatter = parser._get_formatter()
        for action in parser._actions:
            text = formatter._expand_help(action) if action.help else ""
            assert text.count("default") <= 1, (name, action.option_strings, text)


def test_dry_run_flags_missing_fine_tuning_data_and_prints_no_id_known_later(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-placeholder")
    paper = EXAMPLES / "paper.yaml"
    assert main(["run", str(paper), "--dry-run", "-o", str(tmp_path), "--skip-task-check"]) == 0
    out = capsys.readouterr().out
    missing = r"\n  systems\[1\]\.finetune\.data: \S*data/finetune/harmfulqa_harmful\.jsonl: no such file\n"
    assert re.search(missing, out)
    # The unaligned fine-tune's id hashes its data file: unknown until the file is there, and so are the
    # ids of everything made from it.
    assert "[pending] make model               llama2-unaligned (no id yet)" in out
    assert "llama2-chat (aligned-" in out  # a hub model's id is known
    assert not re.search(r"\((unaligned|sft|resta|resta-dare)-[0-9a-f]{12}\)", out)


def test_dry_run_prints_no_id_for_a_missing_model_folder(tmp_path, capsys):
    single = EXAMPLES / "single-sft.yaml"
    assert main(["run", str(single), "--dry-run", "-o", str(tmp_path), "--skip-task-check"]) == 0
    out = capsys.readouterr().out
    assert "generate safety          chat-unaligned (no id yet)" in out
    assert "generate safety          chat (aligned-" in out
    assert "make model               sft-resta/beta=0.5 (no id yet)" in out
    assert f"  systems[1].model: {EXAMPLES / 'models' / 'llama2-chat-unaligned'}: no such model folder" in out
    # A run refuses before it starts, and leaves no log file behind (it is made with the first record).
    assert main(["run", str(single), "-o", str(tmp_path), "--skip-task-check"]) == 2
    assert "llama2-chat-unaligned: no such model folder" in capsys.readouterr().err
    assert not (tmp_path / ".logs").exists()


def test_lm_eval_info_goes_to_the_log_file_not_stderr(tmp_path, capsys):
    from resta_bench.benchmark import logs

    logs.configure(verbose=False)
    ours, theirs = logging.getLogger("resta_bench.benchmark.x"), logging.getLogger("lm_eval.evaluator")
    ours.info("our step")
    theirs.info("Setting random seed")
    theirs.warning("catqa_en: Custom kwargs can be passed to `--metadata` in console")
    theirs.warning("a real warning")
    err = capsys.readouterr().err
    assert "our step" in err and "a real warning" in err
    assert "Setting random seed" not in err and "Custom kwargs" not in err
    with logs.log_file(tmp_path / "logs" / "run.log") as path:
        ours.info("while the bars run")
        theirs.info("Running generate_until requests")
        theirs.warning("Custom kwargs can be passed to `--metadata`")
    assert capsys.readouterr().err == ""
    logged = path.read_text(encoding="utf-8")
    assert "INFO resta_bench.benchmark.x: while the bars run" in logged
    assert "INFO lm_eval.evaluator: Running generate_until requests" in logged and "Custom kwargs" in logged
    theirs.info("after the file is closed")
    assert "after the file" not in path.read_text(encoding="utf-8")
    logs.configure(verbose=True)
    theirs.debug("everything with -v")
    assert "DEBUG lm_eval.evaluator: everything with -v" in capsys.readouterr().err
    logs.configure(verbose=False)


def test_lm_evals_git_lookup_prints_nothing_outside_a_checkout(tmp_path, capfd, monkeypatch):
    import lm_eval.evaluator
    from resta_bench.benchmark import logs

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # whatever holds the tmp folder
    original = lm_eval.evaluator.get_git_commit_hash
    with logs.quiet_lm_eval():
        assert lm_eval.evaluator.get_git_commit_hash() is None
    assert lm_eval.evaluator.get_git_commit_hash is original
    assert "fatal" not in capfd.readouterr().err
    original()
    assert "fatal: not a git repository" in capfd.readouterr().err  # what the swap keeps off the terminal


def test_verbose_is_taken_after_the_command_too(tmp_path, capsys):
    assert main(["ls", str(tmp_path), "-v"]) == 2
    assert main(["-v", "ls", str(tmp_path)]) == 2


def test_finetune_has_a_flag_per_setting_leaving_its_default_to_the_library():
    from resta_bench.realign.finetune import SETTINGS

    flags = {action.dest: action for action in _parsers()["finetune"]._actions}
    for setting in SETTINGS:
        action = flags[setting.name]
        assert action.option_strings == [setting.flag]
        assert action.default in (None, False), setting.name  # unset: the library's own default
        assert f"(default: {setting.default_text})" in action.help, setting.name


def test_realign_help_states_each_methods_own_defaults():
    from resta_bench.realign.methods import get_method, method_names

    help_text = " ".join(_parsers()["realign"].format_help().split())
    for name in method_names():
        for param in get_method(name).params:
            assert f"{name}: {param.describe()}" in help_text, (name, param.name)


@pytest.mark.slow
def test_a_run_logs_lm_eval_into_the_store_and_keeps_stderr_for_bars(
    write_experiment, tiny_family, judge_cache, tmp_path, capsys
):
    experiment = write_experiment(
        "logged", systems=[{"name": "chat", "role": "aligned", "model": str(tiny_family["aligned"])}]
    )
    results = tmp_path / "results"
    assert main(["run", str(experiment), "-o", str(results), "--skip-task-check"]) == 0
    captured = capsys.readouterr()
    log = results / ".logs" / "run.log"
    assert captured.out.strip() == f"2 of 2 steps run; results in {results}"
    assert f"resta run: log in {log}" in captured.err
    assert "INFO lm_eval" not in captured.err and "INFO resta_bench" not in captured.err
    text = log.read_text(encoding="utf-8")
    assert " INFO lm_eval.evaluator: " in text
    assert " INFO resta_bench.benchmark.runner: generate safety" in text
    assert main(["ls", str(results)]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("chat  ")
