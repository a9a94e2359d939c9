"""The results store at its edges: names that would leave it, malformed files, comparisons with nothing
counted, a killed run's staging. Stores are written by hand here (no model runs), so these tests are quick."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from resta_bench.benchmark.cli import main
from resta_bench.benchmark.store import ResultsStore
from resta_bench.storage.errors import StorageError
from resta_bench.storage.locks import hold_lock
from resta_bench.storage.schema import JudgmentLine, SystemRecord, dump, write_lines, write_record

UNSAFE_NAMES = ["../../victim", "a/b", ".hidden", "..", "", "x..y"]


def judgment(doc_id: int, verdict: str, language: str = "en") -> JudgmentLine:
    return JudgmentLine(
        task="catqa_en",
        doc_id=doc_id,
        benchmark="catqa",
        language=language,
        question=f"question {doc_id}?",
        response="a response",
        verdict=verdict,  # type: ignore[arg-type]
    )


def write_system(
    root: Path, system_id: str, judgments: list[JudgmentLine] | None = None, judge: str = "refusal"
) -> Path:
    """A system folder with a system.json and, when given, a judgments file, written through the schema."""
    folder = root / system_id
    write_record(
        folder / "system.json", SystemRecord(system_id=system_id, label=system_id, base_model="m", role="sft")
    )
    if judgments is not None:
        write_lines(folder / "judgments" / f"{judge}.jsonl", judgments)
    return folder


def write_line(folder: Path, judge: str, line: dict) -> None:
    """A judgments file of one line as given (to damage it)."""
    (folder / "judgments" / f"{judge}.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")


def write_run_dir(folder: Path, lines: list[bytes]) -> Path:
    """A bare lm-eval output folder holding one samples file of these raw lines."""
    model = folder / "model"
    model.mkdir(parents=True)
    (model / "samples_catqa_en_2025-01-01T00-00-00.jsonl").write_bytes(
        b"".join(line + b"\n" for line in lines)
    )
    return folder


def sample_line(doc_id: int, response: str) -> bytes:
    doc = {"question": f"question {doc_id}?", "benchmark": "catqa", "language": "en", "category": "C"}
    return json.dumps({"doc_id": doc_id, "doc": doc, "resps": [[response]]}).encode("utf-8")


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"resta {command}: error: "), err
    return err


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_every_path_method_refuses_a_name_that_is_not_one_path_component(tmp_path, name):
    store = ResultsStore(tmp_path)
    calls = {
        "system id": lambda: store.system_dir(name),
        "suite": lambda: store.suite_dir("sys", name),
        "suite ": lambda: store.begin_suite("sys", name),
        "judge id": lambda: store.judgments_path("sys", name),
        "judge id ": lambda: store.scores_path("sys", name),
        "system id ": lambda: store.model_dir(name),
        "system id  ": lambda: store.judgments_path(name, "refusal"),
    }
    for field, call in calls.items():
        with pytest.raises(StorageError, match=f"^{field.strip()}: .* cannot name a file or folder"):
            call()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_cli_flags_that_name_paths_are_checked(tmp_path, capsys):
    write_system(tmp_path, "a", [judgment(0, "harmful")])
    assert main(["compare", str(tmp_path), "--a", "../../victim", "--b", "a"]) == 2
    # Names may hold "/" (resta/beta=0.5), so --a is looked up by name; the path is never built.
    assert "error: --a: no system '../../victim' in " in one_line_error(capsys, "compare")
    assert main(["compare", str(tmp_path), "--a", "a", "--b", "a", "--judge", "../x"]) == 2
    assert "error: --judge: '../x' cannot name" in one_line_error(capsys, "compare")
    assert main(["judge-agreement", str(tmp_path / "a"), "--judges", "refusal,../../victim"]) == 2
    assert "error: --judges: '../../victim' cannot name" in one_line_error(capsys, "judge-agreement")


def test_judge_id_flag_cannot_write_outside_the_run_dir(tmp_path, capsys):
    run_dir = write_run_dir(tmp_path / "store" / "run", [sample_line(0, "Sure, here it is.")])
    argv = ["judge", str(run_dir), "--judge", "redeval", "--base-url", "http://127.0.0.1:9/v1"]
    argv += ["--api-key-env", "", "--no-cache", "--quiet", "--judge-id", "../../victim"]
    assert main(argv) == 2
    err = one_line_error(capsys, "judge")
    assert "--judge-id" in err and "'../../victim' cannot name a file or folder" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["store", "run", "model", "samples_catqa_en_2025-01-01T00-00-00.jsonl"]
    )


def test_compare_with_every_pair_invalid_counts_nothing(tmp_path, capsys):
    write_system(tmp_path, "a", [judgment(0, "invalid"), judgment(1, "harmful")])
    write_system(tmp_path, "b", [judgment(0, "safe"), judgment(1, "invalid")])
    assert main(["compare", str(tmp_path), "--a", "a", "--b", "b", "--iterations", "50"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| all |")]
    assert [row.split(" | ")[1] for row in rows] == ["all", "en"]
    assert all(row.endswith("| 0 | 2 | – | – | – | 0 | 0 | – |") for row in rows), rows


@pytest.mark.parametrize("iterations", ["0", "-3"])
def test_compare_refuses_fewer_than_one_bootstrap_resample(tmp_path, capsys, iterations):
    write_system(tmp_path, "a", [judgment(0, "harmful")])
    write_system(tmp_path, "b", [judgment(0, "safe")])
    assert main(["compare", str(tmp_path), "--a", "a", "--b", "b", "--iterations", iterations]) == 2
    assert f"error: --iterations {iterations}: must be at least 1" in one_line_error(capsys, "compare")


def _break_system_json(folder: Path) -> str:
    (folder / "system.json").write_text("[1, 2]", encoding="utf-8")
    return "system.json: expected a JSON object"


def _line_not_an_object(folder: Path) -> str:
    (folder / "judgments" / "refusal.jsonl").write_text('["task", 0]\n', encoding="utf-8")
    return "refusal.jsonl: line 1: expected a JSON object"


def _line_without_verdict(folder: Path) -> str:
    write_line(folder, "refusal", dump(judgment(0, "safe")) | {"verdict": None})
    return "refusal.jsonl: line 1: verdict: Input should be 'harmful', 'safe' or 'invalid', got None"


def _unknown_verdict(folder: Path) -> str:
    write_line(folder, "refusal", dump(judgment(0, "safe")) | {"verdict": "maybe"})
    return "refusal.jsonl: line 1: verdict: Input should be 'harmful', 'safe' or 'invalid', got 'maybe'"


def _not_utf8(folder: Path) -> str:
    (folder / "judgments" / "refusal.jsonl").write_bytes(b'{"task": "\xff\xfe"}\n')
    return "refusal.jsonl: line 1: not UTF-8 text"


MALFORMED = [_break_system_json, _line_not_an_object, _line_without_verdict, _unknown_verdict, _not_utf8]


@pytest.mark.parametrize("damage", MALFORMED, ids=lambda damage: damage.__name__.strip("_"))
def test_malformed_stores_are_one_line_errors_in_compare(tmp_path, capsys, damage):
    write_system(tmp_path, "a", [judgment(0, "harmful")])
    expected = damage(write_system(tmp_path, "b", [judgment(0, "safe")]))
    assert main(["compare", str(tmp_path), "--a", "a", "--b", "b"]) == 2
    assert expected in one_line_error(capsys, "compare")


@pytest.mark.parametrize("damage", MALFORMED[1:], ids=lambda damage: damage.__name__.strip("_"))
def test_malformed_judgments_are_one_line_errors_in_judge_agreement(tmp_path, capsys, damage):
    folder = write_system(tmp_path, "a", [judgment(0, "safe")])
    write_lines(folder / "judgments" / "other.jsonl", [judgment(0, "harmful")])
    expected = damage(folder)
    assert main(["judge-agreement", str(folder), "--judges", "refusal,other"]) == 2
    assert expected in one_line_error(capsys, "judge-agreement")


def test_judge_agreement_reads_a_bare_run_dir(tmp_path, capsys):
    folder = write_system(tmp_path, "sys", [judgment(0, "safe"), judgment(1, "harmful")])
    folder = folder.rename(tmp_path / "run dir")  # a folder that is not named by an id
    write_lines(folder / "judgments" / "other.jsonl", [judgment(0, "harmful")])
    assert main(["judge-agreement", str(folder), "--judges", "refusal,other", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["only_one_judge"] == 1 and report["by_language"]["all"]["n"] == 1


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            [sample_line(0, "Sure."), b'{"doc_id": 1, "doc": {"question": "\xff"}}'],
            "line 2 is not UTF-8 text",
        ),
        ([b"[1, 2]"], "line 1 is not an lm-eval sample"),
    ],
)
def test_malformed_samples_are_one_line_errors_in_judge(tmp_path, capsys, lines, expected):
    run_dir = write_run_dir(tmp_path / "run", lines)
    assert main(["judge", str(run_dir), "--no-cache", "--quiet"]) == 2
    err = one_line_error(capsys, "judge")
    assert "samples_catqa_en_2025-01-01T00-00-00.jsonl: " + expected in err
    assert not (run_dir / "judgments").exists()


def test_a_killed_runs_staging_is_removed_with_one_line(tmp_path, caplog):
    store = ResultsStore(tmp_path)
    staging = store.begin_suite("sys", "safety")
    (staging / "model").mkdir()
    (staging / "model" / "samples_catqa_en_x.jsonl").write_text("{}\n")
    with caplog.at_level(logging.WARNING):
        again = store.begin_suite("sys", "safety")
    assert again == staging and list(again.iterdir()) == []
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [f"{staging}: removed the unfinished generation of an interrupted run"]


def test_a_suite_folder_without_its_record_is_refused_before_generating(tmp_path):
    store = ResultsStore(tmp_path)
    (store.suite_dir("sys", "safety") / "model").mkdir(parents=True)
    with pytest.raises(ValueError, match="lm_eval/safety: exists without suite.json"):
        store.begin_suite("sys", "safety")


def test_resta_judge_on_a_store_system_waits_for_the_stores_lock(tmp_path):
    folder = write_system(tmp_path / "store", "sys")
    write_run_dir(
        folder / "lm_eval" / "safety", [sample_line(0, "Sure, here it is."), sample_line(1, "Sorry.")]
    )
    log = tmp_path / "judge.log"
    argv = [sys.executable, "-m", "resta_bench.benchmark.cli", "judge", str(folder), "--no-cache", "--quiet"]
    with hold_lock(tmp_path / "store" / ".lock", what="test"):
        with log.open("wb") as stream:
            judge = subprocess.Popen(argv, stdout=stream, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while "in use by another resta process" not in log.read_text(errors="replace"):
            assert judge.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "resta judge never waited for the store's lock"
            time.sleep(0.1)
        assert not (folder / "judgments").exists()  # nothing written while the lock is held
    assert judge.wait(timeout=120) == 0, log.read_text()
    assert f"results store {tmp_path / 'store'}: in use by another resta process (pid {os.getpid()}@" in (
        log.read_text()
    )
    assert sorted(p.name for p in (folder / "judgments").iterdir()) == ["refusal.jsonl"]
