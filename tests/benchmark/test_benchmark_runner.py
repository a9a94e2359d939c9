"""The runner end to end on CPU with tiny models: re-align, generate with lm-eval, judge, score;
then killed midway (a real SIGKILL) and resumed, then run again with nothing left to do."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from resta_bench.benchmark.compare import compare_systems
from resta_bench.benchmark.config import load_experiment
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.plan import build_plan
from resta_bench.benchmark.runner import run_experiment
from resta_bench.benchmark.store import ResultsStore, read_json
from resta_bench.benchmark.tables import paper_tables, render

pytestmark = pytest.mark.slow


def _files_with_mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def _kill_after_first_suite(experiment: Path, results: Path, env: dict[str, str]) -> None:
    """Start ``resta run`` and SIGKILL it as soon as one suite is complete in the store."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "resta_bench.benchmark.cli",
            "run",
            str(experiment),
            "-o",
            str(results),
            "--skip-task-check",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not list(results.glob("*/lm_eval/*/suite.json")):
            assert process.poll() is None, "resta run ended before it could be killed"
            assert time.monotonic() < deadline, "no suite finished in time"
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_run_killed_resumed_and_rerun(write_experiment, judge_cache, tmp_path):
    experiment = write_experiment()
    results = tmp_path / "results"
    _kill_after_first_suite(experiment, results, {**os.environ, "RESTA_JUDGE_CACHE": str(judge_cache)})

    before = build_plan(load_experiment(experiment), results)
    done_before = [step for step in before.steps if step.done]
    assert done_before and before.pending, "the kill should land between finished and pending steps"
    finished_suite = next(results.glob("*/lm_eval/*/suite.json"))
    finished_mtime = finished_suite.stat().st_mtime_ns

    plan = run_experiment(experiment, results, device="cpu")  # resumes
    assert finished_suite.stat().st_mtime_ns == finished_mtime, "finished work was redone"
    assert [s.describe() for s in plan.pending] == [s.describe() for s in before.pending]

    store = ResultsStore(results)
    ids = plan.system_ids
    assert sorted(store.system_ids()) == sorted(ids.values())
    assert not list(results.glob("*/lm_eval/.*.partial")), "a staging folder was left behind"
    for name, system_id in ids.items():
        meta = store.read_system(system_id)
        assert meta["system_id"] == system_id and meta["name"] == name
        assert meta["provenance"]["lm_eval"] and meta["provenance"]["finished"]
        record = store.suite_record(system_id, "safety")
        assert record["settings"]["max_gen_toks"] == 8
        assert set(record["task_hashes"]) == {"catqa_en_illegal_activity", "catqa_zh_illegal_activity"}
        assert record["chat_template_sha256"]
        assert list(store.suite_dir(system_id, "safety").rglob("samples_catqa_en_illegal_activity_*.jsonl"))
        judgments = store.read_judgments(system_id, "refusal")
        assert len(judgments) == 4 and {line["language"] for line in judgments.values()} == {"en", "zh"}
        scores = read_json(store.scores_path(system_id, "refusal"))
        overall = next(
            r
            for r in scores["rows"]
            if r["metric"] == "harmful"
            and r["language"] == "all"
            and r["category"] == "all"
            and r["benchmark"] == "catqa"
        )
        assert overall["n"] + overall["invalid"] == 4
    resta = store.read_system(ids["resta"])
    assert resta["role"] == "realigned" and resta["method"] == "resta" and resta["params"]["beta"] == 0.5
    assert resta["sft_system"] == ids["sft"] and resta["recipe"]["method"] == "resta"
    assert (resta["finetune_task"], resta["regime"]) == ("code", "full")  # what its SFT model was
    assert set(resta["model"]["sha256"]) >= {"config.json"}

    # Run again: nothing pending, nothing written.
    snapshot = _files_with_mtimes(results)
    again = run_experiment(experiment, results, device="cpu")
    assert again.pending == [] and _files_with_mtimes(results) == snapshot

    judge_id, rows = compare_systems(store, ids["sft"], ids["resta"], iterations=200)
    assert judge_id == "refusal" and rows[0].benchmark == "all" and rows[0].language == "all"
    assert rows[0].n + rows[0].invalid == 4 and 0 <= rows[0].p_value <= 1
    markdown = render(paper_tables(store), "md")
    assert "CatQA-en" in markdown and "RESTA β=0.5" in markdown

    # Re-aligned weights deleted once evaluated are not remade; changed suite settings are refused.
    shutil.rmtree(results / ".models" / ids["resta"])
    assert build_plan(load_experiment(experiment), results).pending == []
    experiment.write_text(experiment.read_text().replace("max_gen_toks: 8", "max_gen_toks: 9"))
    with pytest.raises(ConfigError, match="lm_eval/safety: suite 'safety' was generated with other settings"):
        build_plan(load_experiment(experiment), results)


def test_ray_executor_runs_a_generation_job(write_experiment, tiny_family, judge_cache, tmp_path):
    ray = pytest.importorskip("ray")
    experiment = write_experiment(
        "ray", systems=[{"name": "chat", "role": "aligned", "model": str(tiny_family["aligned"])}]
    )
    ray.init(
        num_cpus=1,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"RESTA_JUDGE_CACHE": str(judge_cache)}},
    )
    try:
        plan = run_experiment(experiment, tmp_path / "results", executor="ray", device="cpu")
    finally:
        ray.shutdown()
    system_id = plan.system_ids["chat"]
    store = ResultsStore(tmp_path / "results")
    record = store.suite_record(system_id, "safety")
    assert record["machine"]["host"] and record["settings"]["limit"] == 2
    assert len(store.read_judgments(system_id, "refusal")) == 4
    assert build_plan(plan.experiment, tmp_path / "results").pending == []


def test_chat_completions_backend_against_a_loopback_server(write_experiment, judge_cache, tmp_path):
    """A served model (here a loopback OpenAI-compatible server standing in for vLLM / TGI)."""
    from resta_bench.judges.loopback import LoopbackJudgeServer

    with LoopbackJudgeServer() as server:
        experiment = write_experiment(
            "served",
            systems=[
                {
                    "name": "served",
                    "role": "aligned",
                    "model": "org/served-chat",
                    "backend": {
                        "type": "local-chat-completions",
                        "base_url": f"{server.base_url}/chat/completions",
                        "batch_size": 1,
                    },
                }
            ],
        )
        plan = run_experiment(experiment, tmp_path / "results")
        requests = [r for r in server.requests if r.path.endswith("/chat/completions")]
    assert len(requests) == 4 and requests[0].body["model"] == "org/served-chat"
    assert requests[0].body["messages"][-1]["role"] == "user"
    store = ResultsStore(tmp_path / "results")
    system_id = plan.system_ids["served"]
    assert store.suite_record(system_id, "safety")["backend"] == "local-chat-completions"
    assert store.read_system(system_id)["model"] == {"path": "org/served-chat", "revision": "main"}
    assert len(store.read_judgments(system_id, "refusal")) == 4
