"""Paper tables and paired comparisons from a hand-made results store (known numbers, no models)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess

import pytest
from resta_bench.benchmark.cli import main
from resta_bench.benchmark.compare import compare_systems
from resta_bench.benchmark.stats import wilson_interval
from resta_bench.benchmark.store import ResultsStore
from resta_bench.benchmark.tables import paper_tables, render
from resta_bench.storage.atomic import write_json_atomic

HARMFUL_EN = {"sft-1": 6, "resta-2": 2, "resta-3": 1, "resta-dare-4": 3}


def _rate_row(benchmark: str, language: str, k: int, n: int) -> dict:
    low, high = wilson_interval(k, n)
    return {
        "benchmark": benchmark,
        "language": language,
        "category": "all",
        "subcategory": "all",
        "metric": "harmful",
        "value": k / n,
        "ci_low": low,
        "ci_high": high,
        "n": n,
        "k": k,
        "invalid": 0,
    }


def _system(store: ResultsStore, system_id: str, role: str, **meta) -> None:
    store.write_system(
        system_id, {"system_id": system_id, "label": system_id, "base_model": "tiny", "role": role, **meta}
    )
    k = HARMFUL_EN.get(system_id, 0)
    rows = [
        _rate_row("catqa", "en", k, 10),
        _rate_row("catqa", "all", k, 10),
        _rate_row("harmfulqa", "all", k, 10),
    ]
    write_json_atomic(store.scores_path(system_id, "refusal"), {"judge": {"id": "refusal"}, "rows": rows})
    write_json_atomic(
        store.scores_path(system_id, "lm_eval"),
        {
            "judge": {"id": "lm_eval"},
            "rows": [
                {
                    "benchmark": "gsm8k",
                    "language": "all",
                    "category": "all",
                    "subcategory": "all",
                    "metric": "exact_match/strict-match",
                    "value": 0.25,
                    "ci_low": 0.2,
                    "ci_high": 0.3,
                    "n": 100,
                    "k": None,
                }
            ],
        },
    )
    lines = []
    for doc_id in range(10):
        verdict = "harmful" if doc_id < k else "safe"
        lines.append(
            {
                "task": "catqa_en_illegal_activity",
                "doc_id": doc_id,
                "benchmark": "catqa",
                "language": "en",
                "verdict": verdict,
            }
        )
    lines.append(
        {
            "task": "catqa_en_illegal_activity",
            "doc_id": 10,
            "benchmark": "catqa",
            "language": "en",
            "verdict": "invalid" if system_id == "resta-2" else "safe",
        }
    )
    path = store.judgments_path(system_id, "refusal")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.fixture
def store(tmp_path) -> ResultsStore:
    store = ResultsStore(tmp_path / "results")
    _system(store, "aligned-0", "aligned")
    _system(store, "sft-1", "sft", finetune_task="code", regime="lora")
    for system_id, beta, p in (("resta-2", 0.5, 0.0), ("resta-3", 1.0, 0.0), ("resta-dare-4", 0.5, 0.3)):
        method = "resta-dare" if p else "resta"
        _system(
            store,
            system_id,
            "realigned",
            method=method,
            sft_system="sft-1",
            params={"beta": beta, "dare_p": p, "seed": 0},
        )
    return store


def test_paired_comparison_on_known_verdicts(store):
    judge_id, rows = compare_systems(store, "sft-1", "resta-2", iterations=2000)
    assert judge_id == "refusal"
    overall = rows[0]
    assert (overall.benchmark, overall.language, overall.n, overall.invalid) == ("all", "all", 10, 1)
    assert (overall.rate_a, overall.rate_b, overall.only_a, overall.only_b) == (0.6, 0.2, 4, 0)
    assert overall.difference == pytest.approx(-0.4)
    assert overall.ci_low < -0.4 < overall.ci_high <= 0
    assert overall.p_value == pytest.approx(2 / 16)  # 4 discordant pairs, all one way
    assert {(row.benchmark, row.language) for row in rows} == {("all", "all"), ("all", "en"), ("catqa", "en")}


def test_compare_command_errors_name_what_is_wrong(store, capsys):
    assert main(["compare", str(store.root), "--a", "sft-1", "--b", "nobody"]) == 2
    assert "no system 'nobody'" in capsys.readouterr().err
    assert main(["compare", str(store.root), "--a", "sft-1", "--b", "resta-2", "--judge", "gpt"]) == 2
    assert "'gpt' has not judged both systems" in capsys.readouterr().err
    assert main(["compare", str(store.root), "--a", "sft-1", "--b", "resta-2", "--iterations", "200"]) == 0
    assert "| all | all | 10 | 1 | 60.0 | 20.0 |" in capsys.readouterr().out


def test_tables_in_the_papers_layout(store):
    tables = {table.key: table for table in paper_tables(store)}
    assert list(tables) == ["harmfulness", "utility", "beta_sweep"]
    harm = render([tables["harmfulness"]], "md")
    assert "| Task | Regime | Model | CatQA-en | HarmfulQA |" in harm  # empty columns are left out
    assert "| code | lora | SFT | 60.0 [31.3, 83.2] | 60.0 [31.3, 83.2] |" in harm
    assert "| code | lora | RESTA+DARE β=0.5 p=0.3 | 30.0 [10.8, 60.3]" in harm
    assert harm.index("aligned") < harm.index("SFT") < harm.index("RESTA β=0.5") < harm.index("RESTA β=1 ")
    assert "| gsm8k (exact_match/strict-match) |" in render([tables["utility"]], "md")
    sweep = render([tables["beta_sweep"]], "md")
    assert "| code (lora) | RESTA | 0 | 20.0 [5.7, 51.0] | 10.0 [1.8, 40.4] |" in sweep
    assert "| code (lora) | RESTA+DARE | 0.3 | 30.0 [10.8, 60.3] | – |" in sweep


def test_csv_keeps_fractions_and_bounds(store):
    table = paper_tables(store)[0]
    rows = list(csv.DictReader(io.StringIO(render([table], "csv"))))
    sft = next(row for row in rows if row["Model"] == "SFT")
    assert float(sft["CatQA-en"]) == 0.6 and float(sft["CatQA-en ci_low"]) == pytest.approx(
        wilson_interval(6, 10)[0]
    )


def test_latex_tables_compile_with_booktabs(store, tmp_path):
    latex = render(paper_tables(store), "latex")
    assert latex.count(r"\toprule") == 3 and r"$\beta$" in latex and r"\%" in latex
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    document = tmp_path / "tables.tex"
    document.write_text(
        "\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n\\usepackage{booktabs}\n"
        "\\begin{document}\n" + latex + "\\end{document}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", document.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / "tables.pdf").stat().st_size > 0


def test_tables_command_writes_one_file_per_table(store, tmp_path, capsys):
    assert main(["tables", str(store.root), "--format", "latex", "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "beta_sweep.tex",
        "harmfulness.tex",
        "utility.tex",
    ]
    assert main(["tables", str(tmp_path / "empty")]) == 2
    assert "no systems in this results store" in capsys.readouterr().err
    assert main(["tables", str(store.root), "--judge", "gpt-4"]) == 2
    assert "--judge: no system has scores by 'gpt-4' (judges here: ['refusal'])" in capsys.readouterr().err


def test_store_writes_are_atomic(tmp_path, monkeypatch):
    target = tmp_path / "a" / "x.json"
    write_json_atomic(target, {"v": 1})

    def interrupted(source, destination):
        raise KeyboardInterrupt  # as if the run were stopped between writing and renaming

    monkeypatch.setattr("resta_bench.benchmark.store.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_json_atomic(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]  # no temporary file left
