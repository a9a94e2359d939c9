"""End-to-end ``resta eval`` runs: a tiny chat model, real lm-eval, the per-sample logs and results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from resta_bench.benchmark.cli import main
from resta_bench.judges import is_refusal
from resta_bench.tasks import TASKS_DIR

pytestmark = pytest.mark.slow

CATQA_GROUPS = "catqa_en,catqa_zh,catqa_vi"
SYSTEM_PROMPT = "You are a careful assistant."


def resta_eval(model_dir: Path, output: Path, tasks: str, *extra: str) -> int:
    return main(
        [
            "eval",
            "--model", "hf",
            "--model_args", f"pretrained={model_dir}",
            "--tasks", tasks,
            "--device", "cpu",
            "--batch_size", "8",
            "--gen_kwargs", "max_gen_toks=4",  # a random model babbles to the limit: keep it short
            "--apply_chat_template",
            "--log_samples",
            "--output_path", str(output),
            *extra,
        ]
    )  # fmt: skip


def read_run(output: Path) -> tuple[dict, dict[str, list[dict]]]:
    (results_file,) = output.glob("*/results_*.json")
    samples = {}
    for path in output.glob("*/samples_*.jsonl"):
        task = path.name.removeprefix("samples_").rsplit("_", 1)[0]
        samples[task] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return json.loads(results_file.read_text(encoding="utf-8")), samples


def test_catqa_in_three_languages_judged_once_per_task(tiny_model_dir, catqa_dir, recording_judge, tmp_path):
    code = resta_eval(
        tiny_model_dir, tmp_path, CATQA_GROUPS,
        "--limit", "3",
        "--system_instruction", SYSTEM_PROMPT,
        "--metadata", f"catqa_dir={catqa_dir}",
    )  # fmt: skip
    assert code == 0
    results, samples = read_run(tmp_path)
    assert len(samples) == 33

    # One judge call per task, holding all of that task's responses.
    assert len(recording_judge.calls) == 33
    for lines in samples.values():
        (call,) = [
            items for items in recording_judge.calls if items[0].question == lines[0]["doc"]["question"]
        ]
        assert [item.question for item in call] == [line["doc"]["question"] for line in lines]
        assert [item.response for item in call] == [line["resps"][0][0] for line in lines]

    for task, lines in samples.items():
        language, category = task.split("_")[1], lines[0]["doc"]["category"]
        assert len(lines) == 3
        for line in lines:
            doc = line["doc"]
            assert (doc["language"], doc["category"], doc["benchmark"]) == (language, category, "catqa")
            assert doc["subcategory"] in ("Alpha", "Beta") and isinstance(doc["row"], int)
            assert SYSTEM_PROMPT in line["arguments"]["gen_args_0"]["arg_0"]
            record = json.loads(line["filtered_resps"][0])
            assert record["judge_id"] == "recording-test"
            # Verdicts cycle harmful, safe, invalid over the three questions of each task.
            expected = ("harmful", "safe", "invalid")[doc["row"] % 3]
            assert record["verdict"] == expected
            assert line["harmful"] == {"harmful": 1, "safe": 0, "invalid": None}[expected]

        metrics = results["results"][task]
        assert metrics["harmful,judge"] == 0.5  # the invalid verdict counts neither way
        assert metrics["invalid,judge"] == 1
    assert results["results"]["catqa_zh"]["harmful,judge"] == 0.5
    assert results["system_instruction"] == SYSTEM_PROMPT


def test_other_safety_sets_and_over_refusal_with_the_keyword_judge(
    tiny_model_dir, redeval_dir, xstest_dir, monkeypatch, tmp_path
):
    monkeypatch.delenv("CATQA_JUDGE", raising=False)
    monkeypatch.setenv("REDEVAL_DIR", str(redeval_dir))
    monkeypatch.setenv("XSTEST_DIR", str(xstest_dir))
    assert resta_eval(tiny_model_dir, tmp_path, "harmfulqa,dangerousqa,adversarialqa,xstest") == 0
    results, samples = read_run(tmp_path)
    assert {name: len(lines) for name, lines in samples.items()} == {
        "harmfulqa": 3,
        "dangerousqa": 2,
        "adversarialqa": 1,
        "xstest": 3,
    }
    for task in ("harmfulqa", "dangerousqa", "adversarialqa"):
        refusals = []
        for line in samples[task]:
            record = json.loads(line["filtered_resps"][0])
            refused = is_refusal(line["resps"][0][0], "en")
            assert record["judge_id"] == "refusal"
            assert record["verdict"] == ("safe" if refused else "harmful")
            refusals.append(refused)
        metrics = results["results"][task]
        assert metrics["refusal,judge"] == pytest.approx(sum(refusals) / len(refusals))
        assert metrics["harmful,judge"] == pytest.approx(1 - metrics["refusal,judge"])
        assert metrics["invalid,judge"] == 0

    xstest = {line["doc"]["row"]: line for line in samples["xstest"]}
    safe_refusals = [is_refusal(xstest[row]["resps"][0][0]) for row in (0, 1)]
    assert results["results"]["xstest"]["refusal_safe,none"] == pytest.approx(sum(safe_refusals) / 2)
    assert results["results"]["xstest"]["refusal_unsafe,none"] == int(is_refusal(xstest[2]["resps"][0][0]))
    assert xstest[0]["refusal_unsafe"] is None and xstest[2]["refusal_safe"] is None


def test_bad_data_file_is_a_one_line_error(tiny_model_dir, tmp_path, capsys):
    (tmp_path / "catqa_english.json").write_text('{"Category": "Drugs", "Question": }\n', encoding="utf-8")
    code = resta_eval(tiny_model_dir, tmp_path / "out", "catqa_en", "--metadata", f"catqa_dir={tmp_path}")
    assert code == 2
    error_lines = [
        line for line in capsys.readouterr().err.splitlines() if line.startswith("resta eval: error")
    ]
    assert error_lines == [
        f"resta eval: error: {tmp_path / 'catqa_english.json'}: line 1: not valid JSON (Expecting value)"
    ]
    assert not (tmp_path / "out").exists()


def test_group_rows_say_they_weight_task_rates_by_questions(
    tiny_model_dir, catqa_dir, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("CATQA_JUDGE", "uneven-test")
    local_data = ("--limit", "3", "--metadata", f"catqa_dir={catqa_dir}")
    assert resta_eval(tiny_model_dir, tmp_path, "catqa_en", *local_data) == 0
    results, samples = read_run(tmp_path)
    lines = [line for task_lines in samples.values() for line in task_lines]
    verdicts = [json.loads(line["filtered_resps"][0])["verdict"] for line in lines]
    pooled = verdicts.count("harmful") / (verdicts.count("harmful") + verdicts.count("safe"))
    rates = {task: results["results"][task]["harmful,judge"] for task in samples}
    weighted = sum(rates[task] * len(task_lines) for task, task_lines in samples.items()) / len(lines)
    assert (pooled, weighted) == (pytest.approx(11 / 31), pytest.approx(13 / 33))

    # What the group row reports is the question-weighted mean, and its name in lm-eval's table says so.
    group = results["groups"]["catqa_en"]
    alias = "catqa_en (harmful: question-weighted mean of task rates)"
    assert group["harmful,judge"] == pytest.approx(weighted)
    assert group["alias"] == alias
    assert f"|{alias}" in capsys.readouterr().out
    # `refusal` is defined on every document, so its question-weighted mean is the pooled refusal rate.
    refused = [int(is_refusal(line["resps"][0][0], "en")) for line in lines]
    assert group["refusal,judge"] == pytest.approx(sum(refused) / len(refused))
    readme = (TASKS_DIR / "catqa" / "README.md").read_text(encoding="utf-8")
    assert "harmful: question-weighted mean of task rates" in readme
