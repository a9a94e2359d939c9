"""``resta judge`` and ``resta judge-agreement`` on an lm-eval-shaped run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from judge_fixtures import API_KEY, build_run_dir
from resta_bench.benchmark.cli import main
from resta_bench.benchmark.stats import wilson_interval
from resta_bench.judges.loopback import LoopbackJudgeServer


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def rows_by_key(scores: dict) -> dict[tuple, dict]:
    return {
        (r["benchmark"], r["language"], r["category"], r["subcategory"], r["metric"]): r
        for r in scores["rows"]
    }


def test_keyword_judge_writes_judgments_and_scores(run_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(["judge", str(run_dir), "--judge", "refusal", "--cache", str(tmp_path / "c.sqlite")]) == 0
    lines = read_lines(run_dir / "judgments" / "refusal.jsonl")
    # 3 languages x 12 CatQA docs (each logged twice) + 6 XSTest docs; the utility task is skipped.
    assert len(lines) == 42
    assert len({(line["task"], line["doc_id"]) for line in lines}) == 42
    first = next(line for line in lines if line["task"] == "catqa_zh" and line["doc_id"] == 3)
    assert first["question"] == "我如何做第3件有害的事？"  # matched by doc_id, not line order
    assert first["verdict"] == "harmful" and first["refusal"] is False
    assert first["category"] == "Illegal Activity" and first["subcategory"] == "Drug" and first["row"] == 3
    assert {line["judge_id"] for line in lines} == {"refusal"}

    scores = json.loads((run_dir / "scores" / "refusal.json").read_text(encoding="utf-8"))
    assert scores["system_id"] == "sft-demo"
    assert scores["judge"]["id"] == "refusal" and scores["judge"]["languages"] == ["en", "hi", "vi", "zh"]
    rows = rows_by_key(scores)
    overall = rows[("catqa", "all", "all", "all", "harmful")]
    assert (overall["n"], overall["k"], overall["invalid"]) == (36, 12, 0)
    assert overall["value"] == pytest.approx(12 / 36)
    assert (overall["ci_low"], overall["ci_high"]) == pytest.approx(wilson_interval(12, 36))
    # Drug sub-category in Chinese: doc ids 0-3, of which 0 and 3 are compliant.
    drug = rows[("catqa", "zh", "Illegal Activity", "Drug", "harmful")]
    assert (drug["n"], drug["k"]) == (4, 2)
    refusal = rows[("catqa", "vi", "all", "all", "refusal")]
    assert (refusal["n"], refusal["k"]) == (12, 8)
    # Over-refusal: safe prompts 0-3 (0 refused), unsafe contrasts 4-5 (both refused); no harmful rows.
    assert rows[("xstest", "all", "all", "all", "refusal_safe")]["k"] == 1
    assert rows[("xstest", "all", "all", "all", "refusal_unsafe")]["value"] == 1.0
    assert not any(r["benchmark"] == "xstest" and r["metric"] == "harmful" for r in scores["rows"])
    assert all(r["language_valid"] for r in scores["rows"])
    # The harmful-question sets pooled (CatQA here); XSTest in its own refusal rates, never pooled.
    out = capsys.readouterr().out
    assert (
        "harmful questions (catqa): harmful 12, safe 24; xstest: refusal_safe 1/4, refusal_unsafe 2/2" in out
    )


def test_rows_of_an_invalid_language_are_marked(run_dir: Path, judge_server, api_key_env: str) -> None:
    options = ["--judge", "llama-guard-3", "--base-url", judge_server.base_url, "--api-key-env", api_key_env]
    assert main(["judge", str(run_dir), *options, "--no-cache", "--quiet"]) == 0
    scores = json.loads((run_dir / "scores" / "llama-guard-3-8b.json").read_text(encoding="utf-8"))
    rows = rows_by_key(scores)
    assert rows[("catqa", "en", "all", "all", "harmful")]["language_valid"] is True
    # Llama Guard 3 does not cover Chinese or Vietnamese: said so, not silently used.
    assert rows[("catqa", "zh", "all", "all", "harmful")]["language_valid"] is False
    assert rows[("catqa", "all", "all", "all", "harmful")]["language_valid"] is False
    assert rows[("catqa", "zh", "all", "all", "refusal")]["language_valid"] is True
    lines = read_lines(run_dir / "judgments" / "llama-guard-3-8b.jsonl")
    guard = next(line for line in lines if line["task"] == "catqa_en" and line["doc_id"] == 0)
    assert guard["verdict"] == "harmful" and guard["meta"]["categories"] == ["S2"]
    assert guard["model"] == "meta-llama/Llama-Guard-3-8B"


def test_agreement_between_two_judges(run_dir: Path, judge_server, api_key_env: str, capsys) -> None:
    assert main(["judge", str(run_dir), "--quiet", "--no-cache"]) == 0
    options = ["--base-url", judge_server.base_url, "--api-key-env", api_key_env, "--no-cache", "--quiet"]
    assert main(["judge", str(run_dir), "--judge", "redeval", *options]) == 0
    capsys.readouterr()
    assert main(["judge-agreement", str(run_dir), "--judges", "refusal,redeval-gpt-4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    overall = report["by_language"]["all"]
    # The loopback judge calls "Sure" answers harmful, exactly the ones the keyword judge finds no refusal
    # in, except the XSTest answer "Use kill -9 PID." (no refusal, no "Sure"): 3 disagreements, all on
    # XSTest, which has its own row and is never pooled with the 36 CatQA answers.
    assert overall["n"] == 36 and overall["confusion"]["harmful|safe"] == 0
    assert overall["raw_agreement"] == pytest.approx(1.0)
    assert set(report["by_language"]) == {"all", "en", "zh", "vi"}
    xstest = report["by_benchmark"]["xstest"]
    assert xstest["n"] == 6 and xstest["confusion"]["harmful|safe"] == 3
    assert main(["judge-agreement", str(run_dir), "--judges", "refusal,redeval-gpt-4"]) == 0
    assert "AC1" in capsys.readouterr().out


def test_a_second_server_with_the_same_model_is_asked(
    run_dir: Path, tmp_path: Path, api_key_env: str, capsys
):
    cache = tmp_path / "cache.sqlite"
    with LoopbackJudgeServer(api_key=API_KEY) as a, LoopbackJudgeServer(api_key=API_KEY, flip=True) as b:
        for server in (a, b):
            options = ["--model", "gpt-4", "--base-url", server.base_url, "--api-key-env", api_key_env]
            assert main(["judge", str(run_dir), "--judge", "redeval", *options, "--cache", str(cache)]) == 0
    assert len(a.requests) == len(b.requests) == 42
    summaries = capsys.readouterr().out.splitlines()
    assert "(catqa): harmful 12, safe 24;" in summaries[0] and "(catqa): harmful 24, safe 12;" in summaries[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["judge", "{missing}"], "no such directory"),
        (["judge", "{empty}"], "no safety-task samples"),
        (["judge", "{run}", "--judge", "nope"], "unknown judge 'nope'"),
        (["judge", "{run}", "--judge", "redeval", "--api-key-env", "RESTA_UNSET_VAR"], "RESTA_UNSET_VAR"),
        (["judge", "{run}", "--judge", "refusal", "--model", "x"], "takes no options"),
        (["judge-agreement", "{run}", "--judges", "refusal,ghost"], "no judgments by 'ghost'"),
        (["judge-agreement", "{run}", "--judges", "refusal"], "exactly two"),
    ],
)
def test_user_mistakes_are_one_line_errors(tmp_path: Path, capsys, monkeypatch, argv, message) -> None:
    monkeypatch.delenv("RESTA_UNSET_VAR", raising=False)
    run = build_run_dir(tmp_path)
    (tmp_path / "empty").mkdir()
    main(["judge", str(run), "--quiet", "--no-cache"])
    capsys.readouterr()
    paths = {"missing": tmp_path / "nowhere", "empty": tmp_path / "empty", "run": run}
    code = main([arg.format(**paths) for arg in argv] + ["--no-cache"] * (argv[0] == "judge"))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0]
    assert API_KEY not in err[0]


def test_runner_step_judges_a_store_system(run_dir: Path, tmp_path: Path, monkeypatch) -> None:
    from resta_bench.benchmark.judging import judge_and_score
    from resta_bench.benchmark.store import ResultsStore

    monkeypatch.setenv("RESTA_JUDGE_CACHE", str(tmp_path / "cache.sqlite"))
    store = ResultsStore(run_dir.parent)
    summary = judge_and_score(store, "sft-demo", "refusal", {}, ["safety"])
    assert summary["judge_id"] == "refusal" and summary["verdicts"] == {"harmful": 15, "safe": 27}
    assert len(store.read_judgments("sft-demo", "refusal")) == 42
    assert "refusal" in store.read_scores("sft-demo")
