"""Paper tables and paired comparisons from a hand-made results store (known numbers, no models)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess

import pytest
from resta_bench.benchmark.cli import main
from resta_bench.benchmark.compare import compare_systems
from resta_bench.benchmark.stats import wilson_interval
from resta_bench.benchmark.store import ResultsStore
from resta_bench.benchmark.tables import Cell, Table, paper_tables, render
from resta_bench.storage.atomic import write_json_atomic
from resta_bench.storage.folders import MARKER

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
                "question": f"question {doc_id}?",
                "response": "a response",
                "verdict": verdict,
            }
        )
    lines.append(
        {
            "task": "catqa_en_illegal_activity",
            "doc_id": 10,
            "benchmark": "catqa",
            "language": "en",
            "question": "question 10?",
            "response": "a response",
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
    assert "| Task | Regime | Model | CatQA-en | CatQA | HarmfulQA |" in harm  # empty columns are left out
    assert "| code | lora | SFT | 60.0 [31.3, 83.2] | 60.0 [31.3, 83.2] |" in harm
    assert "| code | lora | RESTA+DARE β=0.5, p=0.3 | 30.0 [10.8, 60.3]" in harm
    assert harm.index("aligned") < harm.index("SFT") < harm.index("RESTA β=0.5") < harm.index("RESTA β=1 ")
    assert "| gsm8k exact_match/strict-match (%) |" in render([tables["utility"]], "md")
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


@pytest.mark.parametrize("more", [False, True], ids=["paper-systems", "with-hdr-interpolation-xstest"])
def test_latex_tables_compile_with_booktabs(more, store, tmp_path):
    if more:  # λ, α, ±, × and the notes' words must compile too
        _add_unaligned_hdr_interpolation_and_xstest(store)
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
        MARKER,
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


TABLE_KEYS = ("harmfulness", "utility", "beta_sweep")


def test_tables_out_replaces_only_a_folder_resta_wrote_and_only_with_overwrite(store, tmp_path, capsys):
    out = tmp_path / "tables"
    assert main(["tables", str(store.root), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["tables", str(store.root), "--out", str(out)]) == 2
    assert f"--out {out}: already exists (pass --overwrite to replace it)" in capsys.readouterr().err
    (out / "notes.md").write_text("from an earlier run")
    assert main(["tables", str(store.root), "--out", str(out), "--overwrite"]) == 0
    assert capsys.readouterr().out.splitlines() == [str(out / f"{key}.md") for key in TABLE_KEYS]
    assert sorted(p.name for p in out.iterdir()) == [MARKER, *sorted(f"{key}.md" for key in TABLE_KEYS)]

    mine = tmp_path / "paper"
    mine.mkdir()
    (mine / "draft.tex").write_text("keep me")
    assert main(["tables", str(store.root), "--out", str(mine), "--overwrite"]) == 2
    assert "not a folder resta wrote (no .resta-output)" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["draft.tex"]
    assert main(["tables", str(store.root), "--out", str(store.root / "tables")]) == 2
    assert "lies inside the input RESULTS" in capsys.readouterr().err
    # Staged beside the target and swapped in: nothing left but the target and its (unlocked) lock.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tables.lock", "paper", "results", "tables"]


@pytest.mark.parametrize("umask", [0o022, 0o002], ids=["umask-022", "umask-002"])
def test_tables_out_modes_follow_the_umask(umask, store, tmp_path):
    previous = os.umask(umask)
    try:
        assert main(["tables", str(store.root), "--out", str(tmp_path / "out")]) == 0
    finally:
        os.umask(previous)
    out = tmp_path / "out"
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    assert {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()} == {
        p.name: 0o666 & ~umask for p in out.iterdir()
    }


def _write(path, content) -> None:
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())


def _meta(store, system_id: str = "sft-1", **change) -> dict:
    return {**json.loads((store.root / system_id / "system.json").read_text()), **change}


def _without(record: dict, name: str) -> dict:
    return {key: value for key, value in record.items() if key != name}


MALFORMED = {
    "system.json a list": ("sft-1/system.json", lambda s: [1, 2], "expected a JSON object at the top level"),
    "system.json not UTF-8": ("sft-1/system.json", lambda s: b'{"label": "\xff"}', "not UTF-8 text"),
    "role missing": ("sft-1/system.json", lambda s: _without(_meta(s), "role"), "role: Field required"),
    "beta a string": (
        "resta-2/system.json",
        lambda s: _meta(s, "resta-2", params={"beta": "0.5"}),
        "field 'params.beta' should be a number, got '0.5'",
    ),
    "scores a list": ("sft-1/scores/refusal.json", lambda s: [], "expected a JSON object at the top level"),
    "score row not an object": (
        "sft-1/scores/refusal.json",
        lambda s: {"judge": {"id": "refusal"}, "rows": ["60%"]},
        "rows[0]: Input should be a valid dictionary or instance of ScoreRow, got '60%'",
    ),
    "score value missing": (
        "sft-1/scores/refusal.json",
        lambda s: {"judge": {"id": "refusal"}, "rows": [_without(_rate_row("catqa", "en", 1, 2), "value")]},
        "rows[0].value: Field required",
    ),
    "rate out of range": (
        "sft-1/scores/refusal.json",
        lambda s: {"judge": {"id": "refusal"}, "rows": [{**_rate_row("catqa", "en", 1, 2), "value": 5}]},
        "rows[0].value: 5.0 is outside 0-1 where a rate is expected",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_store_is_one_line_naming_file_and_field(case, store, capsys):
    name, content, message = MALFORMED[case]
    path = store.root / name
    _write(path, content(store))
    assert main(["tables", str(store.root)]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert line.startswith(f"resta tables: error: {path}: ") and message in line, line
    assert captured.out == ""


def test_csv_text_cannot_start_a_spreadsheet_formula_and_numbers_stay_numbers():
    texts = ['=HYPERLINK("http://x")', "+1+1", "-2-3", "@SUM(A1)", "\tcmd", "\rcmd"]
    table = Table("t", "t", ["name", "=rate", "-3"], rows=[[text, Cell(0.5), "x"] for text in texts])
    table.rows.append(["-3", Cell(-0.4, -0.5, -0.25), "+1.5e3"])
    rows = list(csv.reader(io.StringIO(render([table], "csv"))))
    assert rows[0] == ["table", "name", "'=rate", "'=rate ci_low", "'=rate ci_high", "-3"]
    assert [row[1] for row in rows[1:-1]] == ["'" + text for text in texts]
    assert rows[-1] == ["t", "-3", "-0.4", "-0.5", "-0.25", "+1.5e3"]


def test_a_pipe_in_a_name_does_not_break_the_markdown_table(store):
    sft = store.root / "sft-1" / "system.json"
    _write(sft, _meta(store, finetune_task="code|math", regime="lo|ra"))
    markdown = render(paper_tables(store), "md")
    assert "| code\\|math | lo\\|ra | SFT |" in markdown
    for table in markdown.split("### ")[1:]:
        lines = [line for line in table.splitlines() if line.startswith("|")]
        cells = {len(re.split(r"(?<!\\)\|", line)) for line in lines}
        assert len(cells) == 1, table  # every row has as many cells as the header


def _xstest_rows(safe: int, unsafe: int, n: int = 20) -> list[dict]:
    rows = []
    for metric, k in (("refusal_safe", safe), ("refusal_unsafe", unsafe)):
        rows.append({**_rate_row("xstest", "all", k, n), "metric": metric})
    return rows


def _add_unaligned_hdr_interpolation_and_xstest(store: ResultsStore) -> None:
    _system(store, "unaligned-5", "unaligned")
    write_json_atomic(
        store.scores_path("unaligned-5", "lm_eval"),
        {"judge": {"id": "lm_eval"}, "rows": [_utility_row(0.0, 0.0)]},  # lm-eval: 0, standard error 0
    )
    hdr = {"lam": 3.0, "top_k": 0.1, "top_k_scope": "global", "seed": 0}
    _system(store, "hdr-6", "realigned", method="hdr", sft_system="sft-1", params=hdr)
    _system(
        store, "interpolate-7", "realigned", method="interpolate", sft_system="sft-1", params={"alpha": 0.5}
    )
    scores = json.loads(store.scores_path("sft-1", "refusal").read_text())
    write_json_atomic(
        store.scores_path("sft-1", "refusal"), {**scores, "rows": scores["rows"] + _xstest_rows(3, 18)}
    )


def test_tables_show_every_system_xstest_overall_catqa_and_every_method_parameter(store):
    """Issue 16 item 13: the unaligned row, XSTest, an overall CatQA column, HDR's and interpolation's
    parameters, and no "0.0 [0.0, 0.0]" for a utility score lm-eval gives a standard error of 0."""
    _add_unaligned_hdr_interpolation_and_xstest(store)
    tables = {table.key: table for table in paper_tables(store)}
    harm = render([tables["harmfulness"]], "md")
    header = (
        "| Task | Regime | Model | CatQA-en | CatQA | HarmfulQA | "
        + "XSTest safe prompts refused | XSTest unsafe prompts refused |"
    )
    assert header in harm
    assert (
        "| code | lora | SFT | 60.0 [31.3, 83.2] | 60.0 [31.3, 83.2] | 60.0 [31.3, 83.2] | 15.0 [5.2, 36.0] |"
        in harm
    )
    assert harm.index("| aligned |") < harm.index("| unaligned |") < harm.index("| SFT |")
    assert "| code | lora | HDR λ=3, top-k=0.1, top-k scope=global |" in harm
    assert "| code | lora | interpolation α=0.5 |" in harm
    assert "[low, high]: 95% Wilson interval" in harm

    utility = render([tables["utility"]], "md")
    assert "| – | – | unaligned | 0.0 |" in utility and "[0.0, 0.0]" not in utility
    assert "| code | lora | SFT | 25.0 [20.0, 30.0] |" in utility
    assert "standard error" in utility and "Wilson" not in utility
    latex = render([tables["utility"]], "latex")
    assert "standard error" in latex and "[0.0, 0.0]" not in latex


def _utility_row(value: float, stderr: float) -> dict:
    return {
        "benchmark": "gsm8k",
        "language": "all",
        "category": "all",
        "subcategory": "all",
        "metric": "exact_match/strict-match",
        "value": value,
        "ci_low": value - 1.96 * stderr,
        "ci_high": value + 1.96 * stderr,
        "n": 100,
        "k": None,
    }


def test_utility_units_follow_the_metric():
    """Fractions lm-eval reports on 0–1 (acc, exact_match, pass@k) in %; BLEU, perplexity as they are."""
    from resta_bench.benchmark.tables import utility_header
    from resta_bench.leaderboards.units import metric_unit

    assert metric_unit("acc").percent and metric_unit("exact_match/strict-match").percent
    assert metric_unit("pass@10").percent and not metric_unit("bleu").percent
    assert not metric_unit("word_perplexity").percent and not metric_unit("some_new_score").percent
    assert utility_header("wmt16", "bleu") == "wmt16 bleu (lm-eval's scale)"
    assert utility_header("arc_easy", "acc_norm") == "arc_easy acc_norm (%)"
