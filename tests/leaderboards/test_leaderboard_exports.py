"""The built site's files: scores.csv, the JSON behind every page, paper-reported rows kept apart,
and untrusted strings escaped in the HTML and the embedded JSON."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from resta_bench.leaderboards.store import read_store

CSV_HEADER = [
    "system",
    "method",
    "benchmark",
    "language",
    "category",
    "subcategory",
    "judge",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "n",
]


def _csv(site: Path) -> list[dict[str, str]]:
    with (site / "scores.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_scores_csv_holds_every_stored_row_unchanged(lb_store, lb_site):
    rows = _csv(lb_site)
    assert list(rows[0]) == CSV_HEADER
    systems = read_store(lb_store)
    assert len(rows) == sum(len(system.rows) for system in systems)
    stored = json.loads((lb_store / systems[3].id / "scores" / "redeval-gpt-4.json").read_text())["rows"][5]
    [line] = [
        r
        for r in rows
        if r["system"] == systems[3].id
        and r["judge"] == "redeval-gpt-4"
        and all(r[k] == stored[k] for k in ("benchmark", "language", "category", "subcategory", "metric"))
    ]
    assert float(line["value"]) == stored["value"] and float(line["ci_high"]) == stored["ci_high"]
    assert line["n"] == str(stored["n"])  # a whole number, not "50.0"
    assert line["method"] == (systems[3].meta["method"] or systems[3].meta["role"])
    utility = [r for r in rows if r["judge"] == "lm_eval"]
    assert utility and {r["metric"] for r in utility} == {"pass@1", "exact_match"}


def _meta(systems, system_id):
    return next(s.meta for s in systems if s.id == system_id)


def test_json_behind_every_page(lb_store, lb_site):
    systems = read_store(lb_store)
    index = json.loads((lb_site / "data" / "index.json").read_text())
    assert {row["system_id"] for row in index["rows"]} == {s.id for s in systems}
    assert index["reference"] == "catqa/all/harmful"
    sft = next(row for row in index["rows"] if row["role"] == "sft" and row["judge"] == "refusal")
    resta = next(
        row
        for row in index["rows"]
        if row["role"] == "realigned"
        and row["judge"] == "refusal"
        and _meta(systems, row["system_id"])["sft_system"] == sft["system_id"]
    )
    # The stored paired comparison, as the scores file holds it; the leaderboard computes none.
    stored = json.loads((lb_store / resta["system_id"] / "scores" / "refusal.json").read_text())["deltas"]
    assert resta["change_vs_sft"] == {
        **next(d for d in stored if (d["against"], d["benchmark"], d["language"]) == ("sft", "catqa", "all")),
        "judge": "refusal",
    }
    assert resta["change_vs_sft"]["against_system"] == sft["system_id"]
    assert {j["id"] for j in index["judges"]} == {"refusal", "redeval-gpt-4"}
    # The judge-vs-judge agreement resta stored (<store>/_agreement.json), exported as it is.
    [pair] = index["agreement"]
    stored = json.loads((lb_store / "_agreement.json").read_text())["pairs"]
    assert pair["judges"] == ["redeval-gpt-4", "refusal"] and [pair] == stored
    for system in systems:
        page = json.loads((lb_site / "data" / "systems" / f"{system.id}.json").read_text())
        assert page["system"] == system.meta and set(page["scores"]) == {
            "refusal",
            "redeval-gpt-4",
            "lm_eval",
        } - (set() if (lb_store / system.id / "scores" / "lm_eval.json").exists() else {"lm_eval"})
        responses = json.loads((lb_site / "data" / "responses" / f"{system.id}.json").read_text())
        assert len(responses["items"]) == 3 * 55 + 30
        assert set(responses["items"][0]["verdicts"]) == {"refusal", "redeval-gpt-4"}
        assert (lb_site / "systems" / f"{system.id}.html").is_file()
        assert (lb_site / "responses" / f"{system.id}.html").is_file()


def test_paper_rows_are_only_the_published_figures_and_kept_apart(lb_site):
    paper = json.loads((lb_site / "data" / "paper_reported.json").read_text())
    assert [row["value"] for row in paper["rows"]] == [0.186, 0.051, 0.092, 0.015]
    for figure in ("18.6%", "5.1%", "9.2%", "1.5%"):
        assert figure in paper["quote"]
    assert paper["citation"]["arxiv"] == "2402.11746"
    assert not any(r["system"].startswith("paper") for r in _csv(lb_site))
    index = (lb_site / "index.html").read_text()
    section = index[index.index('id="paper"') :]
    assert "reported, not measured here" in section and "18.6%" in section


def test_untrusted_strings_are_escaped_everywhere(lb_site):
    for page in lb_site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "<script>window" not in html and "<img src=x" not in html, page
        # Only the site's own script elements: the JS file, and at most one JSON data block.
        scripts = re.findall(r"<script[^>]*>", html)
        assert all(
            'src="' in s or s == '<script type="application/json" id="responses-data">' for s in scripts
        )
        if "responses-data" in html:
            block = html.split('id="responses-data">', 1)[1].split("</script>", 1)[0]
            assert "<" not in block and ">" not in block and "&" not in block
            assert "window.__pwned = 1" in json.loads(block)["items"][0]["response"]


def test_every_link_in_the_site_resolves_to_a_file_in_it(lb_site):
    """Provenance: each number links to a system page, which links to its responses; none dangle."""
    from urllib.parse import unquote

    checked = 0
    for page in lb_site.rglob("*.html"):
        for href in re.findall(r'href="([^"#]*)(?:#[^"]*)?"', page.read_text(encoding="utf-8")):
            if href.startswith("https://arxiv.org/") or not href:
                continue
            target = (page.parent / unquote(href.replace("&amp;", "&"))).resolve()
            assert target.is_file() and lb_site.resolve() in target.parents, (page, href)
            checked += 1
    assert checked > 1000


FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2-3", "@SUM(A1)", "\tcmd", "\rcmd"]
CSV_ROW = {"benchmark": "gsm8k", "language": "all", "category": "all", "subcategory": "all", "n": 10}


def test_scores_csv_cannot_start_a_spreadsheet_formula(small_store, tmp_path):
    """Text a spreadsheet would run gets a leading quote (OWASP); numbers, negative ones too, stay numbers."""
    from resta_bench.leaderboards import build_site

    system = sorted(small_store.glob("resta-*"))[0]
    meta = json.loads((system / "system.json").read_text())
    (system / "system.json").write_text(json.dumps({**meta, "method": "=1+2"}))
    scores = json.loads((system / "scores" / "refusal.json").read_text())
    detailed = [row for row in scores["rows"] if row["subcategory"] != "all"]
    for row, text in zip(detailed, FORMULAS, strict=False):
        row["subcategory"] = text
    (system / "scores" / "refusal.json").write_text(json.dumps(scores))
    row = {**CSV_ROW, "metric": "-1", "value": -0.25, "ci_low": -0.5, "ci_high": 0.0}
    utility = {"judge": {"id": "lm_eval"}, "rows": [row]}  # as benchmark/utility.py writes it
    (system / "scores" / "lm_eval.json").write_text(json.dumps(utility))

    rows = _csv(build_site(small_store, tmp_path / "site", progress=False))
    mine = [row for row in rows if row["system"] == system.name]
    assert {row["method"] for row in mine} == {"'=1+2"}
    assert {row["subcategory"] for row in mine} >= {"'" + text for text in FORMULAS}
    [line] = [row for row in mine if row["judge"] == "lm_eval"]
    assert (line["metric"], line["value"], line["ci_low"]) == ("-1", "-0.25", "-0.5")
