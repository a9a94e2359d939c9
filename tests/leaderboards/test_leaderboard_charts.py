"""Sweep charts and the headline's reference column, built from a small store written as files.

What a chart calls a parameter comes from the store (system.json ``params`` and ``param_labels``), and
which benchmark the headline compares on or draws as a heat map comes from the benchmark catalogue,
not from names written into the leaderboard.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from resta_bench.leaderboards.chart_geometry import nice_ticks
from resta_bench.leaderboards.charts import sweep_charts
from resta_bench.leaderboards.store import read_store
from resta_bench.leaderboards.tables import headline, heat_maps, score_frame

JUDGE = "refusal"


def _row(benchmark: str, value: float, language: str = "all", category: str = "all") -> dict[str, Any]:
    return {
        "benchmark": benchmark,
        "language": language,
        "category": category,
        "subcategory": "all",
        "metric": "harmful",
        "value": value,
        "ci_low": max(value - 0.05, 0.0),
        "ci_high": min(value + 0.05, 1.0),
        "n": 100,
        "k": round(value * 100),
        "invalid": 0,
    }


def _system(root: Path, system_id: str, role: str, rows: list[dict[str, Any]], **meta: Any) -> None:
    folder = root / system_id
    (folder / "scores").mkdir(parents=True)
    record = {
        "system_id": system_id,
        "label": f"llama + code ({system_id})",
        "base_model": "llama",
        "role": role,
        "finetune_task": "code",
        "regime": "lora",
        **meta,
    }
    (folder / "system.json").write_text(json.dumps(record), encoding="utf-8")
    scores = {"judge": {"id": JUDGE, "languages": ["en"]}, "rows": rows}
    (folder / "scores" / f"{JUDGE}.json").write_text(json.dumps(scores), encoding="utf-8")


def _sweep_store(root: Path, method: str, values: list[dict[str, Any]], **meta: Any) -> Path:
    """An SFT model and one re-aligned system per parameter setting in ``values``."""
    _system(root, "sft", "sft", [_row("catqa", 0.4)])
    for index, params in enumerate(values):
        links = {"sft_system": "sft", "method": method, "params": params}
        _system(root, f"{method}-{index}", "realigned", [_row("catqa", 0.3 / (1 + index))], **links, **meta)
    return root


def _sweeps(root: Path):
    systems = read_store(root)
    head = headline(systems, score_frame(systems))
    return sweep_charts(head, {system.id: f"systems/{system.id}.html" for system in systems})


def test_a_sweep_is_named_as_its_method_stored_it(tmp_path):
    # A method and parameters the site has no names of: they can only come from system.json's
    # method_title and param_labels (written by the runner from the method's signature).
    values = [{"gamma": gamma, "delta": 1, "seed": 0} for gamma in (0.5, 1.0, 2.0)]
    labels = {"gamma": "γ", "delta": "δ"}
    store = _sweep_store(tmp_path, "toy", values, method_title="Toy scale", param_labels=labels)
    (chart,) = _sweeps(store)
    assert (chart.attributes["param"], chart.x_title) == ("gamma", "γ")
    assert "Toy scale: harm and utility against γ" in chart.title
    (curve,) = chart.panels[0].series
    assert curve.name == "δ=1"
    assert sorted(point.x for point in curve.points) == [0.5, 1.0, 2.0]


def test_an_hdr_lambda_sweep_charts_with_the_other_settings_as_curves(tmp_path):
    values = [{"lambda": lam, "top_k": top_k} for lam in (1.0, 3.0) for top_k in (0.1, 0.2)]
    labels = {"lambda": "λ", "top_k": "top-k", "top_k_scope": "top-k scope"}
    store = _sweep_store(tmp_path, "hdr", values, param_labels=labels)
    charts = {chart.attributes["param"]: chart for chart in _sweeps(store)}
    assert set(charts) == {"lambda", "top_k"}  # each varying parameter gets its own chart
    assert charts["lambda"].x_title == "λ"
    curves = {series.name: sorted(p.x for p in series.points) for series in charts["lambda"].panels[0].series}
    assert curves == {"top-k=0.1": [1.0, 3.0], "top-k=0.2": [1.0, 3.0]}


def test_a_store_written_before_param_labels_still_charts_a_legacy_lam_sweep(tmp_path):
    store = _sweep_store(tmp_path, "hdr", [{"lam": lam} for lam in (1.0, 3.0, 5.0)])
    (chart,) = _sweeps(store)
    assert (chart.attributes["param"], chart.x_title) == ("lam", "λ")


def test_the_reference_column_is_the_catalogues_first_harmful_question_set(tmp_path):
    # No CatQA here, and a multilingual benchmark the catalogue does not know comes first in the
    # headline: the changes against SFT are still taken on a catalogued harmful-question set's pooled rate.
    rows = [_row("mybench", 0.2, "en"), _row("mybench", 0.3, "zh"), _row("mybench", 0.25)]
    rows += [_row("harmfulqa", 0.1), _row("dangerousqa", 0.2)]
    _system(tmp_path, "sft", "sft", rows)
    systems = read_store(tmp_path)
    head = headline(systems, score_frame(systems))
    assert head.columns[0].key == "mybench/en/harmful"
    assert head.reference is not None and head.reference.key == "harmfulqa/all/harmful"


def test_the_heat_map_is_of_the_benchmark_the_system_has_categories_of(tmp_path):
    rows = [_row("harmfulqa", 0.1), _row("harmfulqa", 0.2, category="Chemistry")]
    _system(tmp_path, "sft", "sft", rows)
    (system,) = read_store(tmp_path)
    (heat_map,) = heat_maps(system)
    assert (heat_map.benchmark, [category for category, _, _ in heat_map.categories]) == (
        "harmfulqa",
        ["Chemistry"],
    )


def test_round_ticks_cover_the_range():
    assert nice_ticks(0.0, 23.0) == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    assert nice_ticks(0.25, 1.0, most=4) == [0.25, 0.5, 0.75, 1.0]
