"""Experiment files: validation, sweep expansion, system ids, and errors that name the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated

import pytest
import yaml
from resta_bench.benchmark.config import load_experiment, parse_experiment
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.plan import build_plan
from resta_bench.benchmark.system_id import HashCache, assign_system_ids
from resta_bench.realign.methods import registry
from resta_bench.realign.params import param

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

BASE = {
    "name": "t",
    "systems": [
        {"name": "chat", "role": "aligned", "model": "org/chat"},
        {"name": "bad", "role": "unaligned", "model": "org/bad"},
        {"name": "sft", "role": "sft", "task": "code", "regime": "lora", "model": "org/sft"},
        {
            "name": "resta",
            "recipe": {
                "method": "resta",
                "sft": "sft",
                "aligned": "chat",
                "unaligned": "bad",
                "sweep": {"beta": [0.5, 1.0], "dare_p": [0.0, 0.3]},
            },
        },
    ],
    "suites": [{"name": "safety", "tasks": ["catqa_en"], "max_gen_toks": 8, "limit": 2}],
    "judges": [{"name": "refusal"}],
}


def with_change(path: str, value) -> dict:
    """BASE with one field (dotted path, list indices as numbers) set to ``value``."""
    document = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = document
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return document


def test_sweeps_expand_into_one_system_each():
    experiment = parse_experiment(BASE, source="exp.yaml")
    variants = [spec for spec in experiment.systems if spec.recipe is not None]
    assert len(variants) == 4
    assert {(v.recipe.params["beta"], v.recipe.params["dare_p"]) for v in variants} == {
        (0.5, 0.0),
        (0.5, 0.3),
        (1.0, 0.0),
        (1.0, 0.3),
    }
    assert variants[0].name == "resta/beta=0.5/dare_p=0.0" and variants[0].role == "realigned"
    assert variants[0].recipe.inputs == {"sft": "sft", "aligned": "chat", "unaligned": "bad"}


def test_system_ids_are_stable_and_follow_identity(tmp_path):
    experiment = parse_experiment(BASE, source="exp.yaml")
    ids = assign_system_ids(experiment, HashCache(None))
    assert ids == assign_system_ids(parse_experiment(BASE, source="exp.yaml"), HashCache(None))
    assert ids["chat"].startswith("aligned-") and ids["resta/beta=0.5/dare_p=0.3"].startswith("resta-dare-")
    assert len(set(ids.values())) == len(ids)
    # Renaming a system keeps its id; changing what it is changes it (and its dependants').
    renamed = with_change("systems.0.name", "llama")
    renamed["systems"][3]["recipe"]["aligned"] = "llama"
    assert assign_system_ids(parse_experiment(renamed), HashCache(None))["llama"] == ids["chat"]
    other = assign_system_ids(parse_experiment(with_change("systems.2.model", "org/sft2")), HashCache(None))
    assert (
        other["sft"] != ids["sft"] and other["resta/beta=0.5/dare_p=0.0"] != ids["resta/beta=0.5/dare_p=0.0"]
    )
    assert other["chat"] == ids["chat"]


def test_local_model_id_hashes_its_files(tmp_path, tiny_model_dir):
    document = with_change("systems.0.model", str(tiny_model_dir))
    cache = HashCache(tmp_path / "cache.json")
    first = assign_system_ids(parse_experiment(document), cache)["chat"]
    assert (tmp_path / "cache.json").is_file()
    assert assign_system_ids(parse_experiment(document), HashCache(tmp_path / "cache.json"))["chat"] == first


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "systems.3.recipe.sweep.beta",
            [0.5, "high"],
            "systems[3].recipe.sweep.beta[1]: must be a finite number, got 'high'",
        ),
        ("systems.3.recipe.sweep.dare_p", [0.0, 1.0], "systems[3].recipe.sweep.dare_p[1]: must be in [0, 1)"),
        ("systems.3.recipe.dare_p", 1.0, "systems[3].recipe.dare_p: must be in [0, 1)"),
        ("systems.3.recipe.sft", "nobody", "systems[3].recipe.sft: no system is named 'nobody'"),
        ("systems.3.recipe.sweep.beta", [], "systems[3].recipe.sweep.beta: an empty sweep gives no systems"),
        ("systems.3.recipe.sweep.beta", 0.5, "systems[3].recipe.sweep.beta: must be a list of the values"),
        ("systems.3.recipe.seed", "x", "systems[3].recipe.seed: must be an integer, got str 'x'"),
        ("systems.3.recipe.method", "resta2", "systems[3].recipe.method: unknown method 'resta2'"),
        ("systems.3.recipe.betta", 0.5, "systems[3].recipe: method resta takes no parameter"),
        (
            "systems.3.recipe.aligned",
            None,
            "systems[3].recipe: method resta needs vector, or aligned and unaligned",
        ),
        ("systems.3.recipe.base", "chat", "systems[3].recipe: method resta does not use base"),
        ("systems.3.recipe.sft", None, "systems[3].recipe: method resta needs sft"),
        ("systems.3.recipe.vector", "chat", "systems[3].recipe: give vector or unaligned, not both"),
        ("systems.3.recipe.sweep.sft", ["sft"], "systems[3].recipe.sweep.sft: is also given as recipe.sft"),
        ("systems.3.recipe.sweep.models", [["sft"]], "systems[3].recipe: method resta does not use models"),
        ("systems.0.role", "friendly", "systems[0].role: must be one of aligned, unaligned, sft, realigned"),
        ("systems.1.name", "chat", "systems: two entries are named 'chat'"),
        ("systems.2.regime", "half", "systems[2].regime: must be one of lora, full"),
        ("systems.2.suites", ["utility"], "systems[2].suites[0]: no suite is named 'utility'"),
        ("systems.2.colour", "red", "systems[2].colour: unknown field"),
        ("suites.0.max_gen_toks", 0, "suites[0].max_gen_toks: must be at least 1"),
        ("suites.0.limit", True, "suites[0].limit: must be an integer or a number, got bool True"),
        ("suites.0.tasks", [], "suites[0].tasks: must not be empty"),
        ("suites.0.protocol", ["paper"], "suites[0].protocol: must be a string, got list ['paper']"),
        ("suites.0.protocol", "fast", "suites[0].protocol: must be one of greedy, paper, got 'fast'"),
        ("judges.0", {"options": {}}, "judges[0].name: is required"),
        ("backend", {"type": "tgi"}, "backend.type: must be one of hf, vllm, local-chat-completions"),
        ("backend", {"type": "local-chat-completions"}, "backend.base_url: is required"),
    ],
)
def test_errors_name_the_file_and_field(path, value, message):
    with pytest.raises(ConfigError) as caught:
        parse_experiment(with_change(path, value), source="exp.yaml")
    assert str(caught.value).startswith("exp.yaml: ") and "\n" not in str(caught.value)
    assert message in str(caught.value)


def test_system_needs_exactly_one_source_and_no_cycles():
    document = copy.deepcopy(BASE)
    document["systems"][0]["recipe"] = {"method": "resta", "sft": "sft"}
    with pytest.raises(ConfigError, match=r"systems\[0\]: needs exactly one of model"):
        parse_experiment(document, source="exp.yaml")
    document = copy.deepcopy(BASE)
    document["systems"] = [
        {"name": "a", "role": "sft", "finetune": {"from": "b", "data": "x.jsonl"}},
        {"name": "b", "role": "sft", "finetune": {"from": "a", "data": "x.jsonl"}},
    ]
    with pytest.raises(ConfigError, match="systems: recipes and fine-tunes form a cycle"):
        parse_experiment(document, source="exp.yaml")


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read experiment file"):
        load_experiment(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("systems: [\n  - name: a\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: line \d+ not valid YAML"):
        load_experiment(broken)
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="list.yaml: must be a mapping, got list"):
        load_experiment(tmp_path / "list.yaml")


@pytest.mark.parametrize("name", ["paper.yaml", "single-sft.yaml"])
def test_examples_validate_and_plan_offline(name, tmp_path):
    experiment = load_experiment(EXAMPLES / name)
    plan = build_plan(experiment, tmp_path / "results")
    assert plan.steps and plan.pending == plan.steps
    text = plan.render()
    assert text.startswith(f"experiment {experiment.name!r}")
    if name == "paper.yaml":
        document = yaml.safe_load((EXAMPLES / name).read_text())
        assert len(document["systems"]) == 17
        # 1 aligned + 1 unaligned + 10 fine-tunes + 10 x 4 betas x 2 p.
        assert len(experiment.systems) == 92


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("suites.0.name", "../../victim", "suites[0].name: '../../victim' cannot name a file or folder"),
        ("suites.0.name", "lm_eval/x", "suites[0].name: 'lm_eval/x' cannot name a file or folder"),
        ("suites.0.tasks", ["catqa_en", "../x"], "suites[0].tasks[1]: '../x' cannot name a file or folder"),
        (
            "judges.0",
            {"name": "redeval", "options": {"judge_id": "../../../victim"}},
            "judges[0].options.judge_id: '../../../victim' cannot name a file or folder",
        ),
    ],
)
def test_names_that_become_paths_are_checked_when_the_file_is_read(path, value, message):
    with pytest.raises(ValueError) as caught:
        parse_experiment(with_change(path, value), source="exp.yaml")
    assert str(caught.value).startswith(f"exp.yaml: {message}")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (".nan", "suites[0].limit: must be a finite number, got nan"),
        (".inf", "suites[0].limit: must be a finite number, got inf"),
        ("-.inf", "suites[0].limit: must be a finite number, got -inf"),
        ("-2", "suites[0].limit: must be positive"),
        ("2.5", "suites[0].limit: must be a whole number of documents, or a fraction below 1, got 2.5"),
    ],
)
def test_limit_is_a_count_or_a_fraction(tmp_path, value, message):
    text = yaml.safe_dump(BASE).replace("limit: 2", f"limit: {value}")
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_experiment(path)
    assert str(caught.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ("systems.3.recipe.sweep.beta", [0.5, float("nan")], "systems[3].recipe.sweep.beta[1]"),
        ("backend", {"model_args": {"gpu_memory_utilization": float("inf")}}, "backend.model_args"),
        ("suites.0.gen_kwargs", {"temperature": float("nan")}, "suites[0].gen_kwargs.temperature"),
        ("judges.0", {"name": "redeval", "options": {"timeout_s": float("inf")}}, "judges[0].options"),
    ],
)
def test_no_number_anywhere_may_be_infinite_or_nan(path, value, where):
    with pytest.raises(ConfigError) as caught:
        parse_experiment(with_change(path, value), source="exp.yaml")
    message = str(caught.value)
    assert message.startswith(f"exp.yaml: {where}") and "must be a finite number" in message


def test_num_fewshot_cannot_be_negative():
    with pytest.raises(ConfigError, match=r"suites\[0\].num_fewshot: must be at least 0"):
        parse_experiment(with_change("suites.0.num_fewshot", -1), source="exp.yaml")


def test_the_paper_example_generates_its_safety_suite_as_the_authors_did():
    experiment = load_experiment(EXAMPLES / "paper.yaml")
    protocols = {suite.name: suite.protocol for suite in experiment.suites}
    safety = experiment.suite("safety")
    assert protocols.pop("safety") == "paper" and not safety.apply_chat_template and safety.seed == 0
    assert set(protocols.values()) == {"greedy"}
    # The other suites' rows are not the paper's, and the file's header says so.
    header = "".join(
        line for line in (EXAMPLES / "paper.yaml").open(encoding="utf-8") if line.startswith("#")
    )
    assert "over-refusal (XSTest): not in the paper" in header and "utility rows:" in header


def test_a_sweep_over_an_input_names_each_system_by_it():
    document = with_change("systems.3.recipe.sft", None)
    document["systems"][3]["recipe"]["sweep"] = {"sft": ["sft", "chat"], "beta": [1.0], "dare_p": [0.3]}
    experiment = parse_experiment(document, source="exp.yaml")
    assert [spec.name for spec in experiment.systems[3:]] == ["resta/sft=sft", "resta/sft=chat"]
    assert experiment.system("resta/sft=chat").recipe.inputs["sft"] == "chat"
    document["systems"][3]["recipe"]["sweep"]["sft"] = ["sft", "ghost"]
    with pytest.raises(
        ConfigError, match=r"^exp.yaml: systems\[3\].recipe.sweep.sft\[1\]: no system is named"
    ):
        parse_experiment(document, source="exp.yaml")


@pytest.mark.parametrize(
    ("key", "value", "hint"),
    [
        ("beta", [0.5, 1.0], "sweep: {beta: [0.5, 1.0]}"),
        ("sft", ["sft", "chat"], "sweep: {sft: [sft, chat]}"),
        ("seed", [0, 1], "sweep: {seed: [0, 1]}"),
    ],
)
def test_a_list_outside_sweep_is_one_value_and_says_how_to_sweep(key, value, hint):
    """Before sweeps were explicit every list was one; a parameter that takes one value says so now."""
    document = with_change(f"systems.3.recipe.{key}", value)
    document["systems"][3]["recipe"]["sweep"] = {}
    with pytest.raises(ConfigError) as caught:
        parse_experiment(document, source="exp.yaml")
    message = str(caught.value)
    assert (
        message
        == f"exp.yaml: systems[3].recipe.{key}: takes one value, not a list; to sweep it, write {hint}"
    )


def test_a_list_value_is_one_value_not_a_sweep():
    """Task arithmetic's models and weights are lists: one system, whose inputs are the named systems."""
    document = copy.deepcopy(BASE)
    recipe = {"method": "task-arithmetic", "base": "chat", "models": ["sft", "bad"], "weights": [1, 0.5]}
    document["systems"][3] = {"name": "merged", "recipe": recipe}
    experiment = parse_experiment(document, source="exp.yaml")
    merged = experiment.system("merged")
    assert merged.recipe.inputs == {"base": "chat", "models": ("sft", "bad")}
    assert merged.recipe.params == {"weights": (1, 0.5)}
    assert merged.input_names() == ("chat", "sft", "bad")
    assert merged.recipe.as_dict()["inputs"]["models"] == ["sft", "bad"]
    recipe["weights"] = [1.0]
    with pytest.raises(ConfigError, match=r"^exp.yaml: systems\[3\].recipe: weights has 1 value"):
        parse_experiment(document, source="exp.yaml")
    recipe["weights"], recipe["models"] = [1, 0.5], ["sft", "nobody"]
    with pytest.raises(ConfigError, match=r"^exp.yaml: systems\[3\].recipe.models\[1\]: no system is named"):
        parse_experiment(document, source="exp.yaml")


def test_a_safety_vector_is_an_input_never_evaluated():
    document = copy.deepcopy(BASE)
    document["systems"][3:] = [
        {"name": "v", "role": "vector", "model": "org/safety-vector"},
        {"name": "v-made", "recipe": {"method": "safety-vector", "aligned": "chat", "unaligned": "bad"}},
        {"name": "resta", "recipe": {"method": "resta", "sft": "sft", "vector": "v", "beta": 0.5}},
        {"name": "hdr", "recipe": {"method": "hdr", "sft": "sft", "vector": "v-made", "lambda": 3.0}},
    ]
    experiment = parse_experiment(document, source="exp.yaml")
    assert experiment.system("v-made").role == "vector" and experiment.system("hdr").role == "realigned"
    assert experiment.suites_for(experiment.system("v")) == ()
    assert experiment.system("resta").recipe.inputs == {"sft": "sft", "vector": "v"}
    assert experiment.system("hdr").recipe.params == {"lambda": 3.0}  # the user's name, not Python's lam

    def refused(index: int, key: str, value, message: str) -> None:
        changed = copy.deepcopy(document)
        entry = changed["systems"][index]
        (entry if key in ("suites", "role") else entry["recipe"])[key] = value
        with pytest.raises(ConfigError) as caught:
            parse_experiment(changed, source="exp.yaml")
        assert str(caught.value).startswith(f"exp.yaml: {message}"), caught.value

    refused(5, "vector", "chat", "systems[5].recipe.vector: 'chat' is not a safety vector (role: vector)")
    refused(5, "sft", "v", "systems[5].recipe.sft: 'v' is a safety vector; only vector: names one")
    refused(5, "dare_p", 0.3, "systems[5].recipe: resta with dare_p needs aligned")
    refused(6, "lam", 3.0, "systems[6].recipe: method hdr takes no parameter")
    refused(3, "suites", ["safety"], "systems[3].suites: a safety vector is no model to evaluate")
    refused(4, "suites", ["safety"], "systems[4].suites: a safety vector is no model to evaluate")
    refused(4, "role", "aligned", "systems[4].role: a safety-vector recipe, and only one, makes a vector")
    refused(6, "role", "vector", "systems[6].role: a safety-vector recipe, and only one, makes a vector")


def test_system_and_suite_lookups_name_what_exists():
    experiment = parse_experiment(BASE, source="exp.yaml")
    with pytest.raises(
        ConfigError, match=r"^exp.yaml: no system is named 'nobody' \(its systems: chat, bad, sft,"
    ):
        experiment.system("nobody")
    with pytest.raises(ConfigError, match=r"^exp.yaml: no suite is named 'utility' \(its suites: safety\)$"):
        experiment.suite("utility")


@pytest.fixture
def toy_method(monkeypatch):
    """A method registered by the test alone (the registry is restored afterwards)."""
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))

    @registry.register_method("toy", title="Toy", template="sft", reference="https://example.org/toy")
    def toy(
        sft,
        *,
        ctx,
        strength: Annotated[float, param("how much", symbol="s", within="[0, 10]")] = 1.0,
        mode: Annotated[str, param("which way", choices=("up", "down"))] = "up",
    ):
        """sft · strength."""
        return sft * strength

    return "toy"


def test_a_new_methods_parameters_are_experiment_keys_and_type_checked(toy_method):
    """A method's typed signature is its interface: registering it is all an experiment file needs."""
    document = copy.deepcopy(BASE)
    recipe = {"method": toy_method, "sft": "sft", "mode": "down", "sweep": {"strength": [0.5, 2]}}
    document["systems"][3] = {"name": "toy", "recipe": recipe}
    experiment = parse_experiment(document, source="exp.yaml")
    assert [(s.name, dict(s.recipe.params)) for s in experiment.systems[3:]] == [
        ("toy/strength=0.5", {"mode": "down", "strength": 0.5}),
        ("toy/strength=2", {"mode": "down", "strength": 2}),
    ]
    for key, value, message in [
        ("sweep", {"strength": [1, "big"]}, "systems[3].recipe.sweep.strength[1]: must be a finite number"),
        ("sweep", {"strength": [20]}, "systems[3].recipe.sweep.strength[0]: must be in [0, 10], got 20"),
        ("mode", "sideways", "systems[3].recipe.mode: must be one of up, down, got 'sideways'"),
        ("base", "chat", "systems[3].recipe: method toy does not use base"),
    ]:
        changed = copy.deepcopy(document)
        changed["systems"][3]["recipe"][key] = value
        with pytest.raises(ConfigError) as caught:
            parse_experiment(changed, source="exp.yaml")
        assert str(caught.value).startswith(f"exp.yaml: {message}"), caught.value
