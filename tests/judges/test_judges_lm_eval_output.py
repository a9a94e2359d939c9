"""Reading lm-eval output trees, including files written by lm-eval's own writer."""

from __future__ import annotations

from pathlib import Path

import pytest
from judge_fixtures import lm_eval_sample, write_samples
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.lm_eval_output import iter_samples, results_files, samples_files


def doc(row: int) -> dict:
    return {
        "question": f"q{row}",
        "language": "en",
        "category": "",
        "subcategory": "",
        "row": row,
        "benchmark": "dangerousqa",
    }


def test_files_written_by_lm_evals_own_tracker_are_read(tmp_path: Path) -> None:
    from lm_eval.loggers import EvaluationTracker

    tracker = EvaluationTracker(output_path=str(tmp_path))
    tracker.general_config_tracker.model_name_sanitized = "__models__tiny"
    tracker.date_id = "2026-11-30T14-00-00.000001"
    logged = [
        {
            **lm_eval_sample(doc_id, doc(doc_id), f"q{doc_id}", f"answer {doc_id}", "none"),
            "arguments": [(f"q{doc_id}", {"until": []})],
        }
        for doc_id in (2, 0, 1)
    ]
    tracker.save_results_samples("dangerousqa", logged)
    samples = list(iter_samples(tmp_path))
    assert [(s.task, s.doc_id, s.response) for s in samples] == [
        ("dangerousqa", 0, "answer 0"),
        ("dangerousqa", 1, "answer 1"),
        ("dangerousqa", 2, "answer 2"),
    ]
    assert samples[0].doc["benchmark"] == "dangerousqa"


def test_latest_run_wins_and_staging_folders_are_ignored(tmp_path: Path) -> None:
    model = tmp_path / "lm_eval" / "suite" / "m"
    staging = tmp_path / "lm_eval" / ".suite.partial" / "m"
    model.mkdir(parents=True)
    staging.mkdir(parents=True)
    old = write_samples(model, "harmful_qa_x", "2026-11-29T10-00-00.1", [])
    new = write_samples(model, "harmful_qa_x", "2026-11-30T10-00-00.1", [])
    write_samples(staging, "other_task", "2026-11-30T11-00-00.1", [])
    (model / "results_2026-11-30T10-00-00.1.json").write_text("{}")
    (staging / "results_2026-11-30T11-00-00.1.json").write_text("{}")
    assert samples_files(tmp_path) == {"harmful_qa_x": new} and old.exists()
    assert [p.name for p in results_files(tmp_path)] == ["results_2026-11-30T10-00-00.1.json"]


def test_a_damaged_samples_line_names_the_file_and_line(tmp_path: Path) -> None:
    path = write_samples(
        tmp_path, "catqa_en", "2026-11-30T10-00-00.1", [{"doc_id": 0, "doc": {}, "resps": []}]
    )
    with pytest.raises(ConfigError, match=r"samples_catqa_en_2026-11-30T10-00-00.1.jsonl: line 1"):
        list(iter_samples(tmp_path))
    assert path.exists()
