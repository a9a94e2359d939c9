"""Generation protocols: the paper's settings as lm-eval receives them, several samples per question,
their seed, each sample judged, rates averaged over samples with a cluster bootstrap over questions."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from resta_bench.benchmark.cli import main
from resta_bench.benchmark.commands.eval import lm_eval_argv
from resta_bench.benchmark.config import Backend, Suite, parse_experiment
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.generate import generation_kwargs, run_suite
from resta_bench.benchmark.runner import run_experiment
from resta_bench.benchmark.scoring import score_rows
from resta_bench.benchmark.stats import cluster_bootstrap_interval, wilson_interval
from resta_bench.benchmark.store import ResultsStore, read_json
from resta_bench.tasks import TASKS_DIR
from resta_bench.tasks.errors import TaskError

TASK = "catqa_en_illegal_activity"
# What the paper's script leaves to Llama-2-chat's generation_config.json and transformers' defaults.
PAPER_SAMPLING = {"do_sample": True, "temperature": 0.6, "top_p": 0.9, "top_k": 50}


def _suite(**fields) -> Suite:
    document = {"systems": [{"name": "m", "role": "aligned", "model": "org/m"}], "suites": [{"name": "s"}]}
    document["suites"][0].update({"tasks": [TASK], **fields})
    return parse_experiment(document, source="exp.yaml").suites[0]


def _samples(folder: Path) -> list[dict]:
    (path,) = folder.rglob(f"samples_{TASK}_*.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _received(sample: dict) -> tuple[str, dict]:
    """The prompt and the generation settings lm-eval handed the model for one document."""
    arguments = sample["arguments"]["gen_args_0"]
    return arguments["arg_0"], arguments["arg_1"]


def test_the_default_protocol_is_greedy_and_records_what_it_always_did():
    suite = _suite(max_gen_toks=64)
    assert (suite.protocol, suite.apply_chat_template, suite.samples, suite.seed, suite.dtype) == (
        "greedy",
        True,
        1,
        None,
        None,
    )
    assert generation_kwargs(suite) == {"do_sample": False, "max_gen_toks": 64}
    # A suite recorded before protocols existed still matches: default protocol fields are left out.
    assert set(suite.settings()) == {
        "tasks",
        "apply_chat_template",
        "system_prompt",
        "max_gen_toks",
        "limit",
        "num_fewshot",
        "gen_kwargs",
        "confirm_run_unsafe_code",
    }


def test_the_paper_protocol_fills_in_the_authors_settings_and_a_suite_overrides_them():
    suite = _suite(protocol="paper", samples=5, seed=3)
    assert (suite.apply_chat_template, suite.system_prompt, suite.max_gen_toks, suite.dtype) == (
        False,
        None,
        500,
        "float32",
    )
    assert generation_kwargs(suite) == {**PAPER_SAMPLING, "max_gen_toks": 500}
    assert suite.settings()["protocol"] == "paper" and suite.settings()["samples"] == 5
    changed = _suite(protocol="paper", apply_chat_template=True, max_gen_toks=64, gen_kwargs={"top_k": 0})
    assert changed.apply_chat_template and generation_kwargs(changed)["top_k"] == 0
    assert generation_kwargs(changed)["max_gen_toks"] == 64


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"protocol": "nucleus"}, "suites[0].protocol: must be one of greedy, paper, got 'nucleus'"),
        ({"samples": 3}, "suites[0].samples: more than one sample per question needs sampling"),
        ({"protocol": "paper", "samples": 0}, "suites[0].samples: must be at least 1"),
        ({"protocol": "paper", "seed": -1}, "suites[0].seed: must be at least 0"),
        ({"protocol": "paper", "seed": 1.5}, "suites[0].seed: must be an integer, got float 1.5"),
    ],
)
def test_protocol_mistakes_name_the_field(fields, message):
    with pytest.raises(ConfigError) as caught:
        _suite(**fields)
    assert str(caught.value).startswith(f"exp.yaml: {message}")


def test_sampling_through_gen_kwargs_allows_several_samples():
    suite = _suite(samples=2, gen_kwargs={"do_sample": True, "temperature": 1.0})
    assert generation_kwargs(suite)["do_sample"] is True and suite.samples == 2


@pytest.fixture
def paper_run(tmp_path, tiny_model_dir, catqa_dir, judge_cache) -> tuple[ResultsStore, str, Path]:
    """The runner over one tiny model with a suite in the paper's protocol: 2 questions x 3 samples, of
    16 tokens rather than 500 (a random model seldom ends an answer, and 500 tokens take minutes)."""
    suite = {"name": "paper", "tasks": [TASK], "protocol": "paper", "samples": 3, "seed": 7, "limit": 2}
    document = {
        "name": "paper-protocol",
        "data": {"catqa_dir": str(catqa_dir)},
        "backend": {"type": "hf", "device": "cpu", "batch_size": 3, "dtype": "bfloat16"},
        "systems": [{"name": "chat", "role": "aligned", "model": str(tiny_model_dir)}],
        "suites": [{**suite, "max_gen_toks": 16}],
        "judges": [{"name": "refusal"}],
    }
    experiment = tmp_path / "paper.yaml"
    experiment.write_text(yaml.safe_dump(document), encoding="utf-8")
    plan = run_experiment(experiment, tmp_path / "results", device="cpu")
    store = ResultsStore(tmp_path / "results")
    system_id = plan.system_ids["chat"]
    return store, system_id, store.suite_dir(system_id, "paper")


@pytest.mark.slow
def test_paper_settings_reach_lm_eval_and_every_sample_is_judged(paper_run, catqa_dir):
    store, system_id, suite_dir = paper_run
    questions = [json.loads(line)["Question"] for line in (catqa_dir / "catqa_english.json").open()][:2]
    samples = sorted(_samples(suite_dir), key=lambda sample: sample["doc_id"])
    for sample, question in zip(samples, questions, strict=True):
        prompt, settings = _received(sample)
        assert prompt == question  # the bare question: no chat template, no system prompt
        assert settings == {**PAPER_SAMPLING, "max_gen_toks": 16, "until": []}
        assert len(sample["resps"][0]) == 3  # lm-eval's repeats: three responses per question
    (results_file,) = suite_dir.rglob("results_*.json")
    config = read_json(results_file)
    assert config["configs"][TASK]["repeats"] == 3
    assert config["config"]["model_args"]["dtype"] == "float32"  # over the backend's bfloat16
    assert (config["config"]["random_seed"], config["config"]["torch_seed"]) == (7, 7)

    # system.json records the protocol, its settings, the seeds and the number of samples.
    record = store.read_system(system_id)["generation"]["paper"]
    assert record["protocol"] == "paper" and record["samples"] == 3
    assert record["gen_kwargs"] == {**PAPER_SAMPLING, "max_gen_toks": 16}
    assert record["seeds"] == {
        "random_seed": 7,
        "numpy_random_seed": 7,
        "torch_random_seed": 7,
        "fewshot_random_seed": 1234,
    }
    assert record["settings"]["protocol"] == "paper" and record["model_args"]["dtype"] == "float32"

    judged = store.read_judgments(system_id, "refusal")
    assert sorted(judged) == [(TASK, doc, sample) for doc in (0, 1) for sample in (0, 1, 2)]
    assert {line["response"] for line in judged.values()} == {r for s in samples for r in s["resps"][0]}
    overall = next(
        row
        for row in read_json(store.scores_path(system_id, "refusal"))["rows"]
        if (row["metric"], row["language"], row["category"]) == ("harmful", "all", "all")
    )
    assert (overall["n"], overall["questions"], overall["interval"]) == (6, 2, "cluster-bootstrap")
    assert overall["value"] == sum(line["verdict"] == "harmful" for line in judged.values()) / 6


@pytest.mark.slow
def test_a_seed_fixes_the_draws(tiny_model_dir, catqa_dir, tmp_path):
    suite = _suite(protocol="paper", samples=2, seed=11, limit=2, max_gen_toks=12)

    def responses(name: str, suite: Suite) -> list[list[str]]:
        backend, data = Backend(device="cpu"), {"catqa_dir": str(catqa_dir)}
        run_suite(str(tiny_model_dir), backend, suite, tmp_path / name, data=data)
        return [sample["resps"][0] for sample in sorted(_samples(tmp_path / name), key=lambda s: s["doc_id"])]

    first = responses("a", suite)
    assert first == responses("b", suite)
    assert first != responses("c", replace(suite, seed=12))


def test_resta_eval_puts_the_protocol_ahead_of_the_users_options():
    argv = lm_eval_argv(["--protocol", "paper", "--tasks", TASK, "--gen_kwargs", "max_gen_toks=16"])
    assert argv == [
        "lm-eval",
        "run",
        "--gen_kwargs",
        "do_sample=True",
        "temperature=0.6",
        "top_p=0.9",
        "top_k=50",
        "max_gen_toks=500",
        "--model_args",
        "dtype=float32",
        "--tasks",
        TASK,
        "--gen_kwargs",
        "max_gen_toks=16",
        "--include_path",
        str(TASKS_DIR),
    ]
    assert "--apply_chat_template" in lm_eval_argv(["--protocol=greedy", "--tasks", TASK])
    with pytest.raises(TaskError, match="--protocol 'beam': must be one of greedy, paper"):
        lm_eval_argv(["--protocol", "beam", "--tasks", TASK])
    with pytest.raises(TaskError, match="--protocol: only for running an evaluation, not for lm-eval ls"):
        lm_eval_argv(["ls", "tasks", "--protocol", "paper"])


@pytest.mark.slow
def test_resta_eval_with_the_paper_protocol(tiny_model_dir, catqa_dir, tmp_path, judge_cache):
    out = tmp_path / "out"
    argv = ["eval", "--protocol", "paper", "--model", "hf", "--model_args", f"pretrained={tiny_model_dir}"]
    argv += ["--tasks", TASK, "--limit", "1", "--device", "cpu", "--log_samples", "--output_path", str(out)]
    argv += ["--metadata", json.dumps({"catqa_dir": str(catqa_dir)}), "--gen_kwargs", "max_gen_toks=16"]
    argv += ["--seed", "5"]
    assert main(argv) == 0
    (sample,) = _samples(out)
    prompt, settings = _received(sample)
    assert not prompt.startswith("<")  # no chat template's markers
    assert settings == {**PAPER_SAMPLING, "max_gen_toks": 16, "until": []}  # the user's cap wins
    (results_file,) = out.rglob("results_*.json")
    config = read_json(results_file)["config"]
    assert config["model_args"]["dtype"] == "float32" and config["torch_seed"] == 5


def _records(verdicts_by_question: list[list[str]]) -> list[dict]:
    return [
        {
            "task": TASK,
            "doc_id": doc_id,
            "sample": index,
            "benchmark": "catqa",
            "language": "en",
            "category": "Illegal Activity",
            "subcategory": "Drug",
            "verdict": verdict,
            "refusal": verdict == "safe",
        }
        for doc_id, verdicts in enumerate(verdicts_by_question)
        for index, verdict in enumerate(verdicts)
    ]


def _harmful_overall(records: list[dict]) -> dict:
    rows = score_rows(records, ["en"], ["en"])
    return next(r for r in rows if (r["metric"], r["language"], r["category"]) == ("harmful", "all", "all"))


def test_several_samples_average_and_take_a_cluster_interval():
    # Four questions whose samples agree with each other: 8 responses, but only 4 independent ones.
    row = _harmful_overall(_records([["harmful"] * 2, ["harmful"] * 2, ["safe"] * 2, ["safe", "invalid"]]))
    assert (row["value"], row["n"], row["k"], row["invalid"], row["questions"]) == (4 / 7, 7, 4, 1, 4)
    assert row["interval"] == "cluster-bootstrap"
    naive = wilson_interval(4, 7)
    assert row["ci_high"] - row["ci_low"] > naive[1] - naive[0]  # wider than if the 7 were independent
    single = _harmful_overall(_records([["harmful"], ["safe"], ["safe"]]))
    assert single["interval"] == "wilson" and (single["ci_low"], single["ci_high"]) == wilson_interval(1, 3)


def test_cluster_bootstrap_interval():
    hits, trials = [5, 4, 0, 1, 5, 0, 3, 2], [5] * 8
    low, high = cluster_bootstrap_interval(hits, trials, seed=3)
    assert low < sum(hits) / sum(trials) < high
    assert cluster_bootstrap_interval(hits, trials, seed=3) == (low, high)  # reproducible by its seed
    # Each question's samples all alike: the clusters, not the 40 responses, set the width.
    assert high - low > 0.2
    # Nothing harmful (or all): no resample differs; Wilson's bound over the questions instead.
    assert cluster_bootstrap_interval([0, 0, 0], [4, 4, 4]) == wilson_interval(0, 3)
    assert cluster_bootstrap_interval([4, 2], [4, 2]) == wilson_interval(2, 2)
    assert cluster_bootstrap_interval([0], [0]) is None  # only invalid verdicts: no rate
    with pytest.raises(ValueError, match="differ in length"):
        cluster_bootstrap_interval([1], [1, 2])
