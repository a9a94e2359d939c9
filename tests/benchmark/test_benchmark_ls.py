"""`resta ls RESULTS` and names in place of system ids: a store written by hand as the runner writes it
(system.json, suite records, scores and judgments files), so these tests are quick."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from resta_bench.benchmark.cli import main
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.store import ResultsStore
from resta_bench.storage.atomic import write_json_atomic

SYSTEMS = [
    # (id, system.json fields, suites generated, judges scored, harmful doc ids)
    ("aligned-0a1b2c3d4e5f", {"name": "chat", "role": "aligned"}, ["safety"], ["refusal"], []),
    (
        "sft-1a2b3c4d5e6f",
        {"name": "sft-code", "role": "sft", "finetune_task": "code", "regime": "full"},
        ["safety", "utility"],
        ["refusal", "lm_eval"],
        [0, 1, 2, 3],
    ),
    (
        "resta-2a3b4c5d6e7f",
        {
            "name": "resta/beta=0.5",
            "role": "realigned",
            "method": "resta",
            "params": {"beta": 0.5, "seed": 0},
        },
        ["safety"],
        ["refusal"],
        [0],
    ),
    ("unaligned-3a4b5c6d7e8f", {"role": "unaligned"}, [], [], []),  # no name: made by hand
]


def _write_store(root: Path) -> ResultsStore:
    store = ResultsStore(root)
    for system_id, meta, suites, judges, harmful in SYSTEMS:
        store.write_system(
            system_id, {"system_id": system_id, "label": system_id, "base_model": "tiny", **meta}
        )
        for suite in suites:
            write_json_atomic(store.suite_dir(system_id, suite) / "suite.json", {"settings": {}, "tasks": []})
        for judge in judges:
            write_json_atomic(store.scores_path(system_id, judge), {"judge": {"id": judge}, "rows": []})
            if judge == "lm_eval":
                continue
            lines = [
                {"task": "catqa_en", "doc_id": i, "benchmark": "catqa", "language": "en"}
                | {"question": f"question {i}?", "response": "a response"}
                | {"verdict": "harmful" if i in harmful else "safe"}
                for i in range(8)
            ]
            path = store.judgments_path(system_id, judge)
            path.parent.mkdir(exist_ok=True)
            path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    (root / ".models").mkdir()  # dot folders are not systems
    return store


@pytest.fixture
def store(tmp_path) -> ResultsStore:
    return _write_store(tmp_path / "results")


def _table(text: str) -> list[list[str]]:
    return [re.split(r" {2,}", line.rstrip()) for line in text.splitlines()]


def test_ls_lists_every_system_with_its_name_role_method_suites_and_judges(store, capsys):
    assert main(["ls", str(store.root)]) == 0
    header, *rows = _table(capsys.readouterr().out)
    assert header == ["NAME", "ID", "ROLE", "METHOD", "PARAMS", "SUITES", "JUDGES"]
    assert rows == [  # aligned, unaligned, fine-tuned, re-aligned
        ["chat", "aligned-0a1b2c3d4e5f", "aligned", "–", "–", "safety", "refusal"],
        ["–", "unaligned-3a4b5c6d7e8f", "unaligned", "–", "–", "–", "–"],
        ["sft-code", "sft-1a2b3c4d5e6f", "sft", "–", "task=code regime=full", "safety, utility", "refusal"],
        [
            "resta/beta=0.5",
            "resta-2a3b4c5d6e7f",
            "realigned",
            "resta",
            "beta=0.5 seed=0",
            "safety",
            "refusal",
        ],
    ]


def test_ls_json_gives_the_same_records(store, capsys):
    assert main(["ls", str(store.root), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["system_id"] for r in records][:1] == ["aligned-0a1b2c3d4e5f"]
    sft = next(r for r in records if r["name"] == "sft-code")
    assert sft["suites"] == ["safety", "utility"] and sft["judges"] == ["refusal"]
    assert sft["utility"] is True and next(r for r in records if r["name"] == "chat")["utility"] is False


def test_ls_of_a_folder_that_is_no_store_is_one_line(tmp_path, capsys):
    assert main(["ls", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"resta ls: error: {tmp_path / 'nowhere'}: no results store here (no system folders)"


def test_resolve_takes_an_id_or_a_name(store):
    assert store.resolve("resta-2a3b4c5d6e7f", "system") == "resta-2a3b4c5d6e7f"
    assert store.resolve("resta/beta=0.5", "system") == "resta-2a3b4c5d6e7f"
    with pytest.raises(ConfigError) as raised:
        store.resolve("sft-last-word", "system_a")
    message = str(raised.value)
    assert message.startswith(
        f"system_a: no system 'sft-last-word' in {store.root}, by name or id (systems: "
    )
    assert "chat (aligned-0a1b2c3d4e5f)" in message and "resta/beta=0.5 (resta-2a3b4c5d6e7f)" in message
    assert "– (unaligned-3a4b5c6d7e8f)" in message


def test_a_name_two_systems_share_must_be_given_as_an_id(store):
    meta = store.read_system("unaligned-3a4b5c6d7e8f") | {"name": "chat"}
    store.write_system("unaligned-3a4b5c6d7e8f", meta)
    with pytest.raises(ConfigError, match=r"'chat' names 2 systems: aligned-0a1b2c3d4e5f, unaligned-3a4b"):
        store.resolve("chat", "--a")
    assert store.resolve("aligned-0a1b2c3d4e5f", "--a") == "aligned-0a1b2c3d4e5f"


def test_compare_takes_names_and_shows_them_beside_ids(store, capsys):
    argv = ["compare", str(store.root), "--a", "sft-code", "--b", "resta/beta=0.5", "--iterations", "50"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "resta/beta=0.5 (resta-2a3b4c5d6e7f) - sft-code (sft-1a2b3c4d5e6f)" in out


def test_an_unknown_system_in_compare_names_the_flag_and_lists_names_beside_ids(store, capsys):
    assert main(["compare", str(store.root), "--a", "sft-last-word", "--b", "chat"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("resta compare: error: --a: no system 'sft-last-word' in ")
    assert "sft-code (sft-1a2b3c4d5e6f)" in err


def test_tables_says_which_judge_it_used(store, capsys):
    assert main(["tables", str(store.root)]) == 0
    err = capsys.readouterr().err
    assert "resta tables: judge refusal (scored 3 of 4 systems; --judge picks another)" in err
