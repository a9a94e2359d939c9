"""`resta demo` at the test size: the paper's ordering holds on the demo's own measurements.

Every number asserted on is measured in this run (trained models, lm-eval generations, keyword judge);
the assertions compare systems with each other, never with constants from an earlier run.
"""

from __future__ import annotations

import pytest
from resta_bench.benchmark.demo.run import DemoOutput, run_demo
from resta_bench.benchmark.demo.settings import QUICK
from resta_bench.benchmark.demo.summary import SummaryRow, render_summary

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoOutput:
    return run_demo(tmp_path_factory.mktemp("demo") / "out", seed=0, settings=QUICK)


def _by_name(demo: DemoOutput) -> dict[str, SummaryRow]:
    return {row.name: row for row in demo.rows}


def _resta(demo: DemoOutput) -> list[SummaryRow]:
    rows = [row for row in demo.rows if row.method == "resta"]
    return sorted(rows, key=lambda row: row.params["beta"])


def test_fine_tuning_makes_the_model_more_harmful(demo):
    rows = _by_name(demo)
    assert rows["sft-last-word"].harmful["all"] > rows["aligned"].harmful["all"]
    assert rows["unaligned"].harmful["en"] > rows["aligned"].harmful["en"]  # unaligned in English


def test_resta_restores_safety_and_keeps_most_utility(demo):
    sft = _by_name(demo)["sft-last-word"]
    assert sft.utility > _by_name(demo)["aligned"].utility  # the fine-tune taught its task
    kept = [row for row in _resta(demo) if row.utility >= 0.5 * sft.utility]
    assert kept, render_summary(demo.rows)
    best = min(kept, key=lambda row: row.harmful["all"])
    assert best.harmful["all"] < sft.harmful["all"]
    assert best.harmful["en"] < sft.harmful["en"]  # the language of the unaligning data


def test_too_large_a_beta_costs_utility_or_over_refuses(demo):
    smallest, largest = _resta(demo)[0], _resta(demo)[-1]
    assert largest.utility < smallest.utility or largest.over_refusal > smallest.over_refusal


def test_every_language_is_reported(demo):
    for row in demo.rows:
        assert all(row.harmful[language] is not None for language in ("en", "zh", "vi")), row.name


def test_site_and_tables_are_written(demo):
    assert (demo.site / "index.html").is_file()
    tables = demo.tables.read_text(encoding="utf-8")
    assert "Harmful rate" in tables and "CatQA-zh" in tables and "demo_last_word" in tables
    assert "resta/beta=0.5" in render_summary(demo.rows)
