"""The results store's one schema: an old store still reads, every record round-trips, and a malformed
file is one line naming the file, the line and the field.

``v1_store/`` is a store written by resta before the schema existed (the demo at commit 743a447,
trimmed to two systems): no file in it has a ``schema_version``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from resta_bench.benchmark.cli import main
from resta_bench.benchmark.compare import compare_systems
from resta_bench.benchmark.scoring import score_rows
from resta_bench.benchmark.store import ResultsStore
from resta_bench.leaderboards.errors import LeaderboardError
from resta_bench.leaderboards.store import read_judgments, read_store
from resta_bench.storage.errors import StorageError
from resta_bench.storage.schema import (
    SCHEMA_VERSION,
    JudgmentLine,
    Record,
    ScoreRow,
    ScoresFile,
    SuiteRecord,
    SystemRecord,
    ValidationRecord,
    dump,
    read_lines,
    read_record,
    write_lines,
    write_record,
)

V1_STORE = Path(__file__).parent / "v1_store"
SFT, RESTA = "sft-f4e179d64e8c", "resta-0614bef517d0"
# Every governed file of the old store and the record it holds.
FILES: dict[str, type[Record]] = {
    f"{SFT}/system.json": SystemRecord,
    f"{RESTA}/system.json": SystemRecord,
    f"{SFT}/lm_eval/safety/suite.json": SuiteRecord,
    f"{RESTA}/scores/refusal.json": ScoresFile,
    f"{RESTA}/scores/lm_eval.json": ScoresFile,
    "_judges/refusal/gptfuzz-evaluate.json": ValidationRecord,
}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return Path(shutil.copytree(V1_STORE, tmp_path / "results"))


def test_the_old_store_has_no_schema_version():
    """Guards the fixture itself: it must stay a version-1 store."""
    assert not [path for path in V1_STORE.rglob("*.json*") if "schema_version" in path.read_text()]


def test_an_old_store_reads_through_the_benchmark_and_the_leaderboard(store):
    results = ResultsStore(store)
    assert results.system_ids() == [RESTA, SFT]
    record = results.read_system_record(RESTA)
    assert record is not None and record.schema_version == 1 and record.sft_system == SFT
    assert record.method_title is None and record.param_labels == {}  # absent before: labels fall back
    suite = results.read_suite_record(SFT, "safety")
    assert suite is not None and suite.settings["tasks"] and suite.backend == "hf"
    judged = results.read_judgments(RESTA, "refusal")
    assert len(judged) == 4 and all(line.schema_version == 1 for line in judged.values())
    scores = results.read_scores(RESTA)
    assert set(scores) == {"lm_eval", "refusal"} and scores["refusal"]["deltas"][0]["against"] == "sft"
    validation = read_record(ValidationRecord, store / "_judges/refusal/gptfuzz-evaluate.json")
    assert validation.schema_ == "resta-bench/judge-validation/1" and validation.labelled_set.name
    systems = {system.id: system for system in read_store(store)}
    assert set(systems) == {RESTA, SFT} and systems[RESTA].meta["label"] == record.label
    assert systems[RESTA].judges["refusal"]["id"] == "refusal" and systems[RESTA].deltas
    assert len(read_judgments(systems[SFT].judgment_files["refusal"])) == 4


def test_resta_compare_reads_an_old_store(store, capsys):
    judge_id, rows = compare_systems(ResultsStore(store), SFT, RESTA, iterations=20)
    assert judge_id == "refusal" and rows
    assert main(["compare", str(store), "--a", SFT, "--b", RESTA, "--iterations", "20"]) == 0


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_record_round_trips_and_is_written_as_this_version(store, tmp_path, name):
    model = FILES[name]
    record = read_record(model, store / name)
    again = tmp_path / "again.json"
    write_record(again, record)
    written = json.loads(again.read_text(encoding="utf-8"))
    assert written["schema_version"] == SCHEMA_VERSION
    reread = read_record(model, again)
    assert dump(reread) == dump(record)
    # Nothing of the old file is lost: every key it had is written back with its value (fields added
    # since are written with their defaults).
    assert _holds(written, json.loads((store / name).read_text(encoding="utf-8")))


def _holds(written: object, old: object) -> bool:
    if isinstance(old, dict):
        return isinstance(written, dict) and all(
            key in written and _holds(written[key], old[key]) for key in old
        )
    if isinstance(old, list):
        return isinstance(written, list) and len(written) == len(old) and all(map(_holds, written, old))
    return written == old


def test_judgment_lines_round_trip(store, tmp_path):
    lines = [line for _, line in read_lines(JudgmentLine, store / SFT / "judgments/refusal.jsonl")]
    write_lines(tmp_path / "again.jsonl", lines)
    again = [line for _, line in read_lines(JudgmentLine, tmp_path / "again.jsonl")]
    assert [dump(line) for line in again] == [dump(line) for line in lines]
    assert all(
        json.loads(text)["schema_version"] == SCHEMA_VERSION for text in open(tmp_path / "again.jsonl")
    )


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _edit_line(path: Path, number: int, change) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    data = json.loads(lines[number - 1])
    change(data)
    lines[number - 1] = json.dumps(data)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _upgrade(path: Path, model: type[Record]) -> None:
    """Rewrite a file as this version writes it (so that unknown keys are refused)."""
    write_record(path, read_record(model, path))


BAD = {
    "wrong type": (
        f"{RESTA}/scores/refusal.json",
        lambda p: _edit(p, lambda d: d["rows"][2].update(n="50")),
        "rows[2].n: Input should be a valid integer, got '50'",
    ),
    "a bool for a count": (
        f"{RESTA}/scores/refusal.json",
        lambda p: _edit(p, lambda d: d["deltas"][1].update(n_pairs=True)),
        "deltas[1].n_pairs: Input should be a valid integer, got True",
    ),
    "missing field": (
        f"{SFT}/system.json",
        lambda p: _edit(p, lambda d: d.pop("base_model")),
        "base_model: Field required",
    ),
    "unknown field in a version-2 file": (
        f"{SFT}/system.json",
        lambda p: (_upgrade(p, SystemRecord), _edit(p, lambda d: d["provenance"].update(startd="x"))),
        "provenance.startd: unknown field (not in the schema)",
    ),
    "newer version": (
        f"{SFT}/lm_eval/safety/suite.json",
        lambda p: _edit(p, lambda d: d.update(schema_version=SCHEMA_VERSION + 1)),
        f"written by a newer resta (schema version {SCHEMA_VERSION + 1}; this one reads up to "
        f"{SCHEMA_VERSION}): upgrade resta-bench",
    ),
    "a counted row with nothing counted but a value": (
        f"{RESTA}/scores/refusal.json",
        lambda p: _edit(p, lambda d: d["rows"][0].update(n=0, k=0, invalid=3, value=0.0)),
        "rows[0]: nothing was counted (n = 0), so value, ci_low and ci_high must be null, got value 0.0",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_malformed_file_is_one_line_naming_file_and_field(store, case):
    name, damage, message = BAD[case]
    path = store / name
    damage(path)
    with pytest.raises(StorageError) as raised:
        read_record(FILES.get(name, SystemRecord), path)
    assert str(raised.value) == f"{path}: {message}"


def test_the_leaderboard_and_the_benchmark_read_through_one_schema(store):
    path = store / RESTA / "scores/refusal.json"
    BAD["wrong type"][1](path)
    with pytest.raises(LeaderboardError) as by_leaderboard:
        read_store(store)
    with pytest.raises(StorageError) as by_benchmark:
        ResultsStore(store).read_scores(RESTA)
    assert str(by_leaderboard.value) == str(by_benchmark.value) == f"{path}: {BAD['wrong type'][2]}"


JUDGMENT_BAD = {
    "wrong type": (lambda d: d.update(doc_id="six"), "doc_id: Input should be a valid integer, got 'six'"),
    "missing field": (lambda d: d.pop("question"), "question: Field required"),
    "unknown verdict": (
        lambda d: d.update(verdict="meh"),
        "verdict: Input should be 'harmful', 'safe' or 'invalid', got 'meh'",
    ),
    "unknown field in a version-2 line": (
        lambda d: d.update(schema_version=2, verdikt="safe"),
        "verdikt: unknown field (not in the schema)",
    ),
    "newer version": (lambda d: d.update(schema_version=9), "written by a newer resta (schema version 9;"),
}


@pytest.mark.parametrize("case", sorted(JUDGMENT_BAD))
def test_a_malformed_judgment_line_names_file_line_and_field(store, case):
    change, message = JUDGMENT_BAD[case]
    path = store / SFT / "judgments/refusal.jsonl"
    _edit_line(path, 3, change)
    with pytest.raises(StorageError) as raised:
        list(read_lines(JudgmentLine, path))
    assert str(raised.value).startswith(f"{path}: line 3: {message}")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b'{"task": "\xff"}\n', "line 2: not UTF-8 text"), (b'{"task": \n', "line 2: not valid JSON")],
)
def test_a_line_that_is_not_json_text_is_named(store, raw, message):
    path = store / SFT / "judgments/refusal.jsonl"
    path.write_bytes(path.read_bytes().splitlines(keepends=True)[0] + raw)
    with pytest.raises(StorageError, match=f"^{path}: {message}"):
        list(read_lines(JudgmentLine, path))


def test_a_torn_last_line_of_a_killed_writer_is_skipped(store):
    path = store / SFT / "judgments/refusal.jsonl"
    whole = path.read_bytes()
    path.write_bytes(whole + whole.splitlines(keepends=True)[0][:25])  # no newline: cut mid-write
    assert [number for number, _ in read_lines(JudgmentLine, path)] == [1, 2, 3, 4]


def test_nothing_counted_is_none_in_the_scoring_and_the_factory_store_alike(tmp_path):
    """The runner's scoring writes value None for a group whose every verdict is invalid; the schema
    refuses 0.0 there, so a hand-made store can no longer say 0.0 (the old reader accepted it)."""
    lines = [
        JudgmentLine(
            task="catqa_en",
            doc_id=i,
            benchmark="catqa",
            language="en",
            question="q",
            response="r",
            verdict="invalid",
            refusal=False,
            language_valid=True,
        )  # fmt: skip
        for i in range(3)
    ]
    rows = score_rows(lines, ["en"], ["en"])
    harmful = next(row for row in rows if row.metric == "harmful" and row.language == "all")
    assert (harmful.value, harmful.ci_low, harmful.n, harmful.invalid) == (None, None, 0, 3)
    with pytest.raises(ValueError, match="nothing was counted"):
        ScoreRow.model_validate({**harmful.model_dump(), "value": 0.0})


def test_the_leaderboard_refuses_a_rate_of_zero_where_nothing_was_counted(store):
    """The old reader took ``value: 0.0`` with ``n: 0`` and showed it as 0 %; scoring writes null there."""
    path = store / RESTA / "scores/refusal.json"
    _edit(path, lambda d: d["rows"][0].update(n=0, k=0, value=0.0, ci_low=None, ci_high=None))
    with pytest.raises(LeaderboardError, match=r"rows\[0\]: nothing was counted \(n = 0\)"):
        read_store(store)


def test_an_unknown_key_of_an_old_file_is_read_but_never_written_into_a_new_one(store, tmp_path):
    path = store / SFT / "system.json"
    _edit(path, lambda d: d.update(notes="added by hand"))
    record = read_record(SystemRecord, path)  # version 1: kept
    assert record.schema_version == 1 and record.model_extra == {"notes": "added by hand"}
    target = tmp_path / "system.json"
    with pytest.raises(StorageError, match=r"system.json: notes: unknown field \(not in the schema\)"):
        write_record(target, record)
    assert not target.exists()  # nothing half-written, nothing unreadable
