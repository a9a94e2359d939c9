"""Reading the results store: malformed files stop the build with one line naming file and field,
missing optional parts are tolerated, and a failed build leaves the previous site as it was."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from leaderboard_store_factory import StoreSpec, write_store
from resta_bench.benchmark.cli import main
from resta_bench.leaderboards import LeaderboardError, build_site
from resta_bench.leaderboards.store import read_store

LOCK = ".site.lock"  # beside the site, left (unlocked) after each build


def _first(folder: Path, pattern: str) -> Path:
    return sorted(folder.glob(pattern))[0]


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _set_row(field: str, value):
    def change(data):
        data["rows"][0][field] = value

    return change


def _set_delta(field: str, value):
    def change(data):
        data["deltas"][0][field] = value

    return change


CASES = {
    "system.json not JSON": ("*/system.json", lambda p: p.write_text("{oops"), "not valid JSON"),
    "label missing": (
        "*/system.json",
        lambda p: _edit_json(p, lambda d: d.pop("label")),
        "label: Field required",
    ),
    "role unknown": (
        "*/system.json",
        lambda p: _edit_json(p, lambda d: d.update(role="boss")),
        "role: Input should be 'aligned', 'unaligned', 'sft' or 'realigned', got 'boss'",
    ),
    "id vs folder": (
        "*/system.json",
        lambda p: _edit_json(p, lambda d: d.update(system_id="x")),
        "system_id: 'x' but the folder is",
    ),
    "value a string": (
        "*/scores/refusal.json",
        lambda p: _edit_json(p, _set_row("value", "12%")),
        "rows[0].value: Input should be a valid number, got '12%'",
    ),
    "value NaN": (
        "*/scores/refusal.json",
        lambda p: _edit_json(p, _set_row("value", float("nan"))),
        "rows[0].value: Input should be a finite number",
    ),
    "n a bool": (
        "*/scores/refusal.json",
        lambda p: _edit_json(p, _set_row("n", True)),
        "rows[0].n: Input should be a valid integer",
    ),
    "rate negative": (
        "*/scores/refusal.json",
        lambda p: _edit_json(p, _set_row("value", -0.1)),
        "rows[0].value: -0.1 is outside 0-1 where a rate is expected",
    ),
    "rate above one": (
        "*/scores/refusal.json",
        lambda p: _edit_json(p, _set_row("ci_high", 1.2)),
        "rows[0].ci_high: 1.2 is outside 0-1 where a rate is expected",
    ),
    "rate infinite": (
        "*/scores/refusal.json",
        lambda p: _edit_json(p, _set_row("ci_low", float("-inf"))),
        "rows[0].ci_low: Input should be a finite number",
    ),
    "n negative": (
        "*/scores/refusal.json",
        lambda p: _edit_json(p, _set_row("n", -1)),
        "rows[0].n: Input should be greater than or equal to 0, got -1",
    ),
    "invalid negative": (
        "*/scores/lm_eval.json",
        lambda p: _edit_json(p, _set_row("invalid", -3)),
        "rows[0].invalid: Input should be greater than or equal to 0, got -3",
    ),
    "rows missing": (
        "*/scores/refusal.json",
        lambda p: _edit_json(p, lambda d: d.pop("rows")),
        "rows: Field required",
    ),
    "judge id": (
        "*/scores/refusal.json",
        lambda p: _edit_json(p, lambda d: d["judge"].update(id="gpt")),
        "judge.id: 'gpt' but the file is refusal.json",
    ),
    "deltas not a list": (
        "sft-*/scores/refusal.json",
        lambda p: _edit_json(p, lambda d: d.update(deltas={"sft": -0.1})),
        "deltas: Input should be a valid list",
    ),
    "delta against unknown": (
        "sft-*/scores/refusal.json",
        lambda p: _edit_json(p, _set_delta("against", "base")),
        "deltas[0].against: Input should be 'sft' or 'aligned', got 'base'",
    ),
    "delta p above one": (
        "sft-*/scores/refusal.json",
        lambda p: _edit_json(p, _set_delta("p_mcnemar", 1.5)),
        "deltas[0].p_mcnemar: Input should be less than or equal to 1, got 1.5",
    ),
    "delta difference beyond a rate": (
        "sft-*/scores/refusal.json",
        lambda p: _edit_json(p, _set_delta("low", -2)),
        "deltas[0].low: Input should be greater than or equal to -1, got -2",
    ),
    "delta interval reversed": (
        "sft-*/scores/refusal.json",
        lambda p: _edit_json(p, lambda d: d["deltas"][0].update(low=0.2, high=0.1)),
        "deltas[0]: low (0.2) and high (0.1) are reversed",
    ),
    "delta pairs negative": (
        "sft-*/scores/refusal.json",
        lambda p: _edit_json(p, _set_delta("n_pairs", -4)),
        "deltas[0].n_pairs: Input should be greater than or equal to 0, got -4",
    ),
    "delta system not an id": (
        "sft-*/scores/refusal.json",
        lambda p: _edit_json(p, _set_delta("against_system", "../x")),
        "deltas[0].against_system: not a plain id",
    ),
    "judgment not JSON": (
        "*/judgments/refusal.jsonl",
        lambda p: p.write_text(p.read_text() + '{"task": "catqa_en_x", "doc_\n'),
        "line 196: not valid JSON",
    ),
    "verdict unknown": (
        "*/judgments/refusal.jsonl",
        lambda p: p.write_text(p.read_text().replace('"verdict": "safe"', '"verdict": "meh"', 1)),
        "line 1: verdict: Input should be 'harmful', 'safe' or 'invalid', got 'meh'",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_store_names_file_and_field_and_keeps_previous_site(case, small_store, tmp_path, capsys):
    pattern, damage, message = CASES[case]
    site = build_site(small_store, tmp_path / "site", progress=False)
    before = sorted(p.relative_to(site) for p in site.rglob("*"))
    target = _first(small_store, pattern)
    damage(target)

    assert main(["leaderboard", str(small_store), "--out", str(site), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("resta leaderboard: error: ") and str(target) in error and message in error
    # Nothing half-written: the previous site is intact and no staging folder is left next to it.
    assert sorted(p.relative_to(site) for p in site.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK, "results", "site"]


def test_rebuild_replaces_the_previous_site(small_store, tmp_path, capsys):
    site = build_site(small_store, tmp_path / "site", progress=False)
    (site / "stale.html").write_text("old")
    shutil.rmtree(_first(small_store, "unaligned-*"))
    assert main(["leaderboard", str(small_store), "--out", str(site), "--no-progress"]) == 0
    assert capsys.readouterr().out.strip() == str(site / "index.html")
    assert not (site / "stale.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK, "results", "site"]
    assert len(list((site / "systems").glob("*.html"))) == len(read_store(small_store))


def test_optional_parts_may_be_missing(small_store, tmp_path):
    """No utility rows, no judgments for one system, no scores at all for another: still a site."""
    for path in small_store.glob("*/scores/lm_eval.json"):
        path.unlink()
    shutil.rmtree(_first(small_store, "resta-*") / "judgments")
    shutil.rmtree(_first(small_store, "unaligned-*") / "scores")
    (small_store / "not-a-system").mkdir()  # a stray folder is skipped with a warning
    # Every verdict invalid: the runner stores value null, which shows as "–" and sorts last, never as 0.
    sft_scores = _first(small_store, "sft-*") / "scores" / "refusal.json"
    _edit_json(
        sft_scores,
        lambda d: [
            row.update(value=None, ci_low=None, ci_high=None, n=0)
            for row in d["rows"]
            if row["language"] == "all"
        ],
    )
    site = build_site(small_store, tmp_path / "site", progress=False)
    index = (site / "index.html").read_text()
    assert 'data-sort="None"' not in index and 'title="no verdict counted (n = 0)"' in index
    rows = json.loads((site / "data" / "index.json").read_text())["rows"]
    assert any(row["change_vs_sft"] for row in rows)  # stored deltas still show: they are not recomputed
    assert "No chart" not in index  # the β sweep still draws
    assert "No stored agreement: no system was judged by two judges" in index
    assert len(list((site / "systems").glob("*.html"))) == len(read_store(small_store))


def test_empty_store_is_an_error(tmp_path):
    (tmp_path / "results").mkdir()
    with pytest.raises(LeaderboardError, match="no system folders"):
        build_site(tmp_path / "results", tmp_path / "site", progress=False)
    assert not (tmp_path / "site").exists()


def test_a_malformed_judgment_stops_a_parallel_build_too(copy_store, tmp_path):
    """Large stores are written by worker processes; their errors reach the caller the same way."""
    target = _first(copy_store, "*/judgments/redeval-gpt-4.jsonl")
    lines = target.read_text().split("\n")
    lines[6] = lines[6].replace('"doc_id": 6', '"doc_id": "six"')
    target.write_text("\n".join(lines))
    with pytest.raises(
        LeaderboardError,
        match=r"redeval-gpt-4.jsonl: line 7: doc_id: Input should be a valid integer, got 'six'",
    ):
        build_site(copy_store, tmp_path / "site", workers=2, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK, "results"]  # nothing but the (unlocked) lock


def _delta_cells(site: Path, system_id: str) -> list[str]:
    """The text of a system's two Δ cells in the headline."""
    html = (site / "index.html").read_text(encoding="utf-8")
    row = html[html.index(f'data-system="{system_id}"') :].split("</tr>", 1)[0]
    cells = [cell.split(">", 1)[1].split("</td>")[0] for cell in row.split('<td class="num delta')[1:]]
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]


def test_deltas_are_shown_as_stored_and_only_against_the_systems_they_name(tmp_path):
    """The leaderboard computes no difference: absent or stale stored deltas show as "–"."""
    store = tmp_path / "results"
    write_store(
        store, StoreSpec(tasks=("code",), regimes=("lora",), betas=(0.25, 0.5, 1.0), judges=("refusal",))
    )
    realigned = sorted(store.glob("resta-*"))
    missing, stale, kept = realigned[0], realigned[1], realigned[2]
    _edit_json(missing / "scores" / "refusal.json", lambda d: d.pop("deltas"))
    _edit_json(
        stale / "scores" / "refusal.json",
        lambda d: [delta.update(against_system="sft-000000000000") for delta in d["deltas"]],
    )
    site = build_site(store, tmp_path / "site", progress=False)
    rows = {row["system_id"]: row for row in json.loads((site / "data" / "index.json").read_text())["rows"]}
    for system in (missing, stale):
        assert rows[system.name]["change_vs_sft"] is None and rows[system.name]["change_vs_aligned"] is None
        assert _delta_cells(site, system.name) == ["–", "–"]
    stored = json.loads((kept / "scores" / "refusal.json").read_text())["deltas"]
    [against_sft] = [
        d for d in stored if (d["against"], d["benchmark"], d["language"]) == ("sft", "catqa", "all")
    ]
    assert rows[kept.name]["change_vs_sft"] == {**against_sft, "judge": "refusal"}
    assert all(cell != "–" for cell in _delta_cells(site, kept.name))
    # Every stored delta is listed on the system page, with its pairs, interval and p.
    page = (site / "systems" / f"{kept.name}.html").read_text(encoding="utf-8")
    assert page.count('<tr class="delta">') == len(stored)
