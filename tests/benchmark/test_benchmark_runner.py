"""The runner end to end on CPU with tiny models: re-align, generate with lm-eval, judge, score;
then killed midway (a real SIGKILL) and resumed, then run again with nothing left to do."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path

import pytest
from resta_bench.benchmark.compare import compare_systems
from resta_bench.benchmark.config import load_experiment, parse_experiment
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.plan import MAKE, StoreState, build_plan, judge_key, plan_waves
from resta_bench.benchmark.runner import SystemRecords, execute_step, run_experiment
from resta_bench.benchmark.store import ResultsStore, read_json
from resta_bench.benchmark.system_id import identify_systems, system_record
from resta_bench.benchmark.tables import paper_tables, render
from resta_bench.storage.locks import hold_lock
from resta_bench.storage.schema import ModelFiles, Runs, ScoresRun, SuiteRecord, SystemRecord

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

    with store_file_events(results) as events:
        plan = run_experiment(experiment, results, device="cpu")  # resumes
    assert finished_suite.stat().st_mtime_ns == finished_mtime, "finished work was redone"
    # Each pending step's record is written once into its system.json (no write before or after the
    # steps), and the store's hash cache is read once: identities are not rebuilt after every step.
    pending_by_id = Counter(step.system_id for step in before.pending)
    written = {p: n for (p, what), n in events.items() if what == "write" and p.endswith("system.json")}
    assert written == {f"{system_id}/system.json": count for system_id, count in pending_by_id.items()}
    assert events[".cache/sha256.json", "read"] == 1
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
    assert resta["method_title"] == "RESTA" and resta["param_labels"] == {"beta": "β", "dare_p": "p"}
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
    # Judged after its SFT and aligned models, the re-aligned system stores its paired deltas to both.
    deltas = read_json(store.scores_path(ids["resta"], "refusal"))["deltas"]
    overall = [d for d in deltas if (d["benchmark"], d["language"]) == ("all", "all")]
    assert {(d["against"], d["against_system"]) for d in overall} == {
        ("sft", ids["sft"]),
        ("aligned", ids["chat"]),
    }
    assert all(d["n_pairs"] + d["invalid_pairs"] == 4 for d in overall)
    assert read_json(store.scores_path(ids["sft"], "refusal"))["deltas"] == []  # it names no SFT or aligned
    markdown = render(paper_tables(store), "md")
    assert "CatQA-en" in markdown and "RESTA β=0.5" in markdown

    # Re-aligned weights deleted once evaluated are not remade; changed suite settings are refused.
    shutil.rmtree(results / ".models" / ids["resta"])
    assert build_plan(load_experiment(experiment), results).pending == []
    experiment.write_text(experiment.read_text().replace("max_gen_toks: 8", "max_gen_toks: 9"))
    with pytest.raises(ConfigError, match="lm_eval/safety: suite 'safety' was generated with other settings"):
        build_plan(load_experiment(experiment), results)


_watched: list[tuple[str, Counter[tuple[str, str]]]] = []  # (root, counts) while a block watches


def _on_audit_event(event: str, args: tuple) -> None:
    if not _watched or event not in ("open", "os.rename") or not isinstance(args[0], (str, Path)):
        return
    root, counts = _watched[-1]
    if event == "open":  # reads; storage.atomic opens its temporary file with os.open (no mode string)
        if not isinstance(args[1], str) or any(flag in args[1] for flag in "wax+"):
            return
        path, what = str(args[0]), "read"
    else:  # the rename that ends every atomic write
        path, what = str(args[1]), "write"
    if path.startswith(root + os.sep):
        counts[path[len(root) + 1 :], what] += 1


@contextmanager
def store_file_events(root: Path) -> Iterator[Counter[tuple[str, str]]]:
    """(path under ``root``, "read" | "write") -> how often, seen through the interpreter's audit events
    while the block runs (a hook stays installed for the process, idle outside such blocks)."""
    if not getattr(sys, "_resta_runner_audit", False):
        sys.addaudithook(_on_audit_event)
        sys._resta_runner_audit = True  # type: ignore[attr-defined]
    counts: Counter[tuple[str, str]] = Counter()
    _watched.append((str(root.resolve()), counts))
    try:
        yield counts
    finally:
        _watched.pop()


def test_the_plan_is_a_function_of_the_experiment_and_the_store_state(tmp_path):
    """Steps and their status come from the experiment and a state read once; planning reads nothing."""
    experiment = parse_experiment(
        {
            "systems": [
                {"name": "chat", "role": "aligned", "model": "org/chat"},
                {"name": "sft", "role": "sft", "model": "org/sft"},
                {"name": "bad", "role": "unaligned", "model": "org/bad"},
                {
                    "name": "resta",
                    "recipe": {"method": "resta", "sft": "sft", "aligned": "chat", "unaligned": "bad"},
                },
            ],
            "suites": [{"name": "safety", "tasks": ["catqa_en"]}],
            "judges": [{"name": "refusal"}],
        },
        source=tmp_path / "exp.yaml",
    )
    store = ResultsStore(tmp_path / "nowhere")
    ids = identify_systems(experiment, None).ids
    status = {s.describe(): s.done for s in chain(*plan_waves(experiment, store, ids, StoreState()))}
    assert len(status) == 1 + 4 + 4 and not any(status.values())  # make resta; generate, judge each

    settings = json.loads(json.dumps(experiment.suite("safety").settings()))
    generated = SuiteRecord(settings=settings, tasks=["catqa_en_illegal_activity"])
    judged = Runs(scores={judge_key("refusal", {}): ScoresRun(suites=["safety"])})
    record = SystemRecord(system_id=ids["sft"], label="sft", base_model="org/sft", role="sft", runs=judged)
    state = StoreState(
        records={ids["sft"]: record},
        suites={(ids[name], "safety"): generated for name in ("sft", "resta")},
        made=frozenset({"resta"}),
    )
    done = [s.describe() for s in chain(*plan_waves(experiment, store, ids, state)) if s.done]
    assert done == [
        f"{'make model':<24} resta ({ids['resta']})",
        f"{'generate safety':<24} sft ({ids['sft']})",
        f"{'generate safety':<24} resta ({ids['resta']})",
        f"{'judge refusal':<24} sft ({ids['sft']})",
    ]
    assert not store.root.exists()


def test_identity_records_the_methods_title_and_parameter_symbols(tmp_path):
    experiment = parse_experiment(
        {
            "systems": [
                {"name": "chat", "role": "aligned", "model": "org/chat"},
                {"name": "sft", "role": "sft", "task": "code", "regime": "lora", "model": "org/sft"},
                {"name": "bad", "role": "unaligned", "model": "org/bad"},
                {
                    "name": "dare",
                    "recipe": {
                        "method": "resta",
                        "sft": "sft",
                        "aligned": "chat",
                        "unaligned": "bad",
                        "dare_p": 0.3,
                    },
                },
            ],
            "suites": [{"name": "safety", "tasks": ["catqa_en"]}],
        },
        source=tmp_path / "exp.yaml",
    )
    ids = identify_systems(experiment, None).ids
    record = system_record(experiment, ids, experiment.system("dare"), ModelFiles(path="x"), None)
    assert (record.method, record.method_title) == ("resta-dare", "RESTA+DARE")
    assert record.param_labels == {"beta": "β", "dare_p": "p"} and record.params["dare_p"] == 0.3
    assert (record.finetune_task, record.regime, record.base_model) == ("code", "lora", "org/chat")
    assert record.inputs == {"sft": ids["sft"], "aligned": ids["chat"], "unaligned": ids["bad"]}


def test_vector_and_task_arithmetic_inputs_are_made_and_identified(write_experiment, tiny_family, tmp_path):
    """A safety-vector system (made, never evaluated: no system folder), RESTA from it, and task arithmetic
    over a list of models: each made from the right folders and recorded with its inputs' ids."""
    experiment = load_experiment(
        write_experiment(
            "inputs",
            systems=[
                {"name": "chat", "role": "aligned", "model": str(tiny_family["aligned"])},
                {"name": "bad", "role": "unaligned", "model": str(tiny_family["unaligned"])},
                {"name": "sft", "role": "sft", "model": str(tiny_family["sft"])},
                {
                    "name": "v",
                    "role": "vector",
                    "recipe": {"method": "safety-vector", "aligned": "chat", "unaligned": "bad"},
                },
                {"name": "resta-v", "recipe": {"method": "resta", "sft": "sft", "vector": "v", "beta": 0.5}},
                {
                    "name": "ta",
                    "recipe": {
                        "method": "task-arithmetic",
                        "base": "chat",
                        "models": ["sft", "bad"],
                        "weights": [1.0, 0.5],
                    },
                },
            ],
        )
    )
    results = tmp_path / "results"
    plan = build_plan(experiment, results)
    ids = plan.system_ids
    records = SystemRecords(plan)
    for step in plan.pending:  # only the models: generation is the other tests' business
        if step.kind == MAKE:
            records.record(step, execute_step(plan, step))
    assert [s.system for s in build_plan(experiment, results).pending if s.kind == MAKE] == []
    store = ResultsStore(results)
    assert (results / ".models" / ids["v"] / "recipe.json").is_file() and not (results / ids["v"]).exists()
    made_from_vector = store.read_system_record(ids["resta-v"])
    assert made_from_vector.inputs == {"sft": ids["sft"], "vector": ids["v"]}
    assert made_from_vector.recipe["method"] == "resta" and made_from_vector.model.sha256
    arithmetic = store.read_system_record(ids["ta"])
    assert arithmetic.inputs == {"base": ids["chat"], "models": [ids["sft"], ids["bad"]]}
    assert (arithmetic.method_title, arithmetic.param_labels) == ("task arithmetic", {"weights": "w"})
    assert arithmetic.base_model == tiny_family["aligned"].name


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
    assert store.read_system_record(system_id).model == ModelFiles(path="org/served-chat", revision="main")
    assert len(store.read_judgments(system_id, "refusal")) == 4


def _resta_run(experiment: Path, results: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as stream:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "resta_bench.benchmark.cli", "run", str(experiment), "-o", str(results)]
            + ["--skip-task-check", "--device", "cpu"],
            env=env,
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_two_runs_on_one_store_wait_for_each_other_and_never_redo_work(
    write_experiment, tiny_family, judge_cache, tmp_path
):
    experiment = write_experiment(
        "two", systems=[{"name": "chat", "role": "aligned", "model": str(tiny_family["aligned"])}]
    )
    results = tmp_path / "results"
    env = {**os.environ, "RESTA_JUDGE_CACHE": str(judge_cache)}
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    waiting = f"in use by another resta process (pid {os.getpid()}@"
    # This test holds the store's lock until both runs are queued behind it, so that they must then
    # contend with each other: whichever gets the lock first does the work, the other waits for it.
    with hold_lock(results / ".lock", what="test"):
        runs = [_resta_run(experiment, results, env, log) for log in logs]
        deadline = time.monotonic() + 240
        while not all(waiting in log.read_text(errors="replace") for log in logs):
            assert all(run.poll() is None for run in runs), [log.read_text() for log in logs]
            assert time.monotonic() < deadline, "the runs never waited for the store's lock"
            time.sleep(0.1)
    try:
        codes = [run.wait(timeout=600) for run in runs]
    finally:
        for run in runs:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0], outputs
    for output in outputs:
        waits = [line for line in output.splitlines() if "in use by another resta process" in line]
        assert len(waits) == 1 and f"results store {results}: " in waits[0]
    summaries = sorted(output.strip().splitlines()[-1] for output in outputs)
    assert summaries == [f"0 of 2 steps run; results in {results}", f"2 of 2 steps run; results in {results}"]
    assert build_plan(load_experiment(experiment), results).pending == []
    assert not list(results.glob("*/lm_eval/.*")), "a staging folder was left behind"


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_a_run_writes_with_the_umask_and_clears_a_killed_makes_staging(
    write_experiment, judge_cache, tmp_path, umask, caplog
):
    experiment = write_experiment("modes")
    results = tmp_path / "results"
    before = os.umask(umask)
    try:
        resta_id = build_plan(load_experiment(experiment), results).system_ids["resta"]
        killed = results / ".models" / f".{resta_id}.4194303.partial"
        # What a re-alignment killed with SIGKILL leaves: its staging folder beside the model's folder.
        killed.mkdir(parents=True)
        (killed / "model-00001-of-00002.safetensors").write_bytes(b"half written")
        with caplog.at_level(logging.WARNING):
            run_experiment(experiment, results, device="cpu")
    finally:
        os.umask(before)
    assert not killed.exists() and (results / ".models" / resta_id / "recipe.json").is_file()
    assert [r.getMessage() for r in caplog.records if str(killed) in r.getMessage()] == [
        f"{killed}: removed unfinished output of an interrupted run"
    ]
    paths = list(results.rglob("*"))  # the store, its hash cache, its lock and the models made in it
    files = {str(p.relative_to(results)): p.stat().st_mode & 0o777 for p in paths if p.is_file()}
    folders = {str(p.relative_to(results)): p.stat().st_mode & 0o777 for p in paths if p.is_dir()}
    for name in (
        "system.json",
        "judgments/refusal.jsonl",
        "scores/refusal.json",
        "lm_eval/safety/suite.json",
    ):
        assert f"{resta_id}/{name}" in files
    assert set(files.values()) == {0o666 & ~umask}, files
    assert set(folders.values()) == {0o777 & ~umask}, folders
