"""The paper's tables from a results store (built here; rendered as Markdown, LaTeX or CSV by
``benchmark.table_formats``).

1. Harmfulness: the aligned and unaligned models, then each fine-tuned model (by regime and task)
   followed by its re-aligned variants (method and every parameter), on CatQA en / zh / vi and
   overall, HarmfulQA, DangerousQA, AdversarialQA, and XSTest's refusals of safe and unsafe prompts.
2. Utility: the same systems on the utility tasks lm-eval scored.
3. The β sweep: the pooled CatQA harmful rate of each (fine-tuned model, method, p) across β.

Units are the site's (``leaderboards.units``): rates in %, utility in its metric's unit, named in its
header. Cells carry their interval where the format allows (CSV gives the bounds their own columns),
and each table says which interval it is: 95% Wilson for rates, ±1.96 × lm-eval's standard error for
utility (none where that is 0). A column nobody has a number for is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.store import SYSTEM_FILE, UTILITY_SCORES, ResultsStore

# Where the tables are rendered; imported from here by `resta tables`, `resta compare` and the demo.
from resta_bench.benchmark.table_formats import FORMATS, Cell, Table, render, write_tables
from resta_bench.leaderboards.labels import benchmark_name, method_name, variant_name
from resta_bench.leaderboards.store import read_store
from resta_bench.leaderboards.units import (
    STANDARD_ERROR,
    WILSON,
    metric_unit,
    utility_header,
)
from resta_bench.tasks import catalogue

__all__ = [
    "FORMATS",
    "Cell",
    "SystemScores",
    "Table",
    "beta_sweep_table",
    "default_judge",
    "harmfulness_table",
    "load_systems",
    "ordered_blocks",
    "paper_tables",
    "render",
    "utility_header",
    "utility_table",
    "write_tables",
]

HARMFUL_SETS = catalogue.of_kind(catalogue.HARMFUL_QUESTIONS)


def _harm_columns() -> tuple[tuple[str, str, str, str], ...]:
    """(header, benchmark, language, metric): each harmful-question set's harmful rate, per language then
    overall for a multilingual one; then each over-refusal set's headline metrics."""
    columns = []
    for entry in HARMFUL_SETS:
        if len(entry.languages) > 1:
            columns += [
                (f"{entry.title}-{lang}", entry.name, lang, catalogue.HARMFUL) for lang in entry.languages
            ]
        columns.append((entry.title, entry.name, "all", catalogue.HARMFUL))
    for entry in catalogue.of_kind(catalogue.OVER_REFUSAL):
        columns += [(f"{entry.title} {m.label}", entry.name, "all", m.name) for m in entry.headline_metrics]
    return tuple(columns)


HARM_COLUMNS = _harm_columns()
SWEEP_BENCHMARKS = tuple(entry.name for entry in HARMFUL_SETS)
NUMBER_PARAMS = ("beta", "dare_p")  # formatted with :g in row names and column headers
RATE_NOTE = f"Rates in %; [low, high]: {WILSON}."
UTILITY_NOTE = (
    f"Each metric in the unit its header names; [low, high]: {STANDARD_ERROR}; "
    "no interval where lm-eval reports a standard error of 0."
)


@dataclass
class SystemScores:
    meta: dict[str, Any]
    scores: dict[str, dict[str, Any]]

    def row(self, judge_id: str, benchmark: str, language: str, metric: str = "harmful") -> dict | None:
        for row in self.scores.get(judge_id, {}).get("rows", []):
            if (row["benchmark"], row["language"], row["metric"]) == (benchmark, language, metric) and (
                row["category"],
                row["subcategory"],
            ) == ("all", "all"):
                return row
        return None


def _cell(row: dict | None, percent: bool = True) -> Cell | None:
    if row is None or row.get("value") is None:
        return None
    return Cell(row["value"], row.get("ci_low"), row.get("ci_high"), percent)


def load_systems(store: ResultsStore) -> list[SystemScores]:
    """Every system of the store, read and checked by the leaderboard's reader (one line naming the
    file and field for a malformed one), plus the parameters the tables format as numbers."""
    if not store.system_ids():
        raise ConfigError(f"{store.root}: no systems in this results store")
    systems = read_store(store.root)
    for system in systems:
        for name in NUMBER_PARAMS:
            value = (system.meta.get("params") or {}).get(name)
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                raise ConfigError(
                    f"{store.system_dir(system.id) / SYSTEM_FILE}: field 'params.{name}' should be a number, "
                    f"got {value!r:.60}"
                )
    return [SystemScores(system.meta, system.score_files) for system in systems]


def default_judge(systems: list[SystemScores]) -> str:
    """The judge that scored the most systems (ties: the first by name)."""
    counts: dict[str, int] = {}
    for system in systems:
        for judge_id in system.scores:
            if judge_id != UTILITY_SCORES:
                counts[judge_id] = counts.get(judge_id, 0) + 1
    if not counts:
        raise ConfigError("no system in this results store has judged scores")
    return min(counts, key=lambda judge_id: (-counts[judge_id], judge_id))


def ordered_blocks(systems: list[SystemScores]) -> list[list[SystemScores]]:
    """Aligned and unaligned models first, then each fine-tuned model with its re-aligned variants."""
    by_id = {s.meta["system_id"]: s for s in systems}
    aligned = [s for role in ("aligned", "unaligned") for s in systems if s.meta["role"] == role]
    sfts = sorted(
        (s for s in systems if s.meta["role"] == "sft"),
        key=lambda s: (s.meta.get("regime") or "", s.meta.get("finetune_task") or "", s.meta["label"]),
    )
    blocks = [aligned] if aligned else []
    for sft in sfts:
        variants = [s for s in systems if s.meta.get("sft_system") == sft.meta["system_id"]]
        variants.sort(
            key=lambda s: (s.meta.get("method") or "", sorted((s.meta.get("params") or {}).items()))
        )
        blocks.append([sft, *variants])
    placed = {s.meta["system_id"] for block in blocks for s in block}
    rest = [s for s in by_id.values() if s.meta["system_id"] not in placed]
    return blocks + ([rest] if rest else [])


def _system_table(
    key: str, title: str, blocks: list[list[SystemScores]], columns: list[tuple[str, Callable]], note: str
) -> Table:
    table = Table(key, title, ["Task", "Regime", "Model", *(name for name, _ in columns)], note=note)
    for block in blocks:
        table.rules.add(len(table.rows))
        for system in block:
            # Re-aligned variants sit under their fine-tuned model and share its task and regime.
            meta, head = system.meta, block[0].meta
            task = meta.get("finetune_task") or head.get("finetune_task") or "–"
            regime = meta.get("regime") or head.get("regime") or "–"
            labels = [task, regime, variant_name(meta)]
            table.rows.append([*labels, *(get(system) for _, get in columns)])
    return _drop_empty_columns(table, first_value_column=3)


def _drop_empty_columns(table: Table, first_value_column: int) -> Table:
    keep = [
        index
        for index in range(len(table.header))
        if index < first_value_column or any(row[index] is not None for row in table.rows)
    ]
    table.header = [table.header[i] for i in keep]
    table.rows = [[row[i] for i in keep] for row in table.rows]
    return table


def harmfulness_table(systems: list[SystemScores], judge_id: str) -> Table:
    columns = [
        (name, lambda s, b=benchmark, lang=language, m=metric: _cell(s.row(judge_id, b, lang, m)))
        for name, benchmark, language, metric in HARM_COLUMNS
    ]
    refusals = "; ".join(
        f"{entry.title}: {' and '.join(m.label for m in entry.headline_metrics)} (%)"
        for entry in catalogue.of_kind(catalogue.OVER_REFUSAL)
    )
    title = f"Harmful rate (%) judged by {judge_id}" + (f"; {refusals}" if refusals else "")
    return _system_table("harmfulness", title, ordered_blocks(systems), columns, RATE_NOTE)


def utility_table(systems: list[SystemScores]) -> Table:
    chosen: dict[str, str] = {}
    for system in systems:
        metrics: dict[str, set[str]] = {}
        for row in system.scores.get(UTILITY_SCORES, {}).get("rows", []):
            metrics.setdefault(row["benchmark"], set()).add(row["metric"])
        for benchmark, names in metrics.items():
            metric = catalogue.primary_metric(benchmark, names)  # None only for no metrics
            if metric is not None:
                chosen.setdefault(benchmark, metric)
    columns = [
        (
            utility_header(benchmark, metric),
            lambda s, b=benchmark, m=metric: _cell(
                s.row(UTILITY_SCORES, b, "all", m), metric_unit(m, b).percent
            ),
        )
        for benchmark, metric in sorted(chosen.items())
    ]
    return _system_table(
        "utility", "Utility (lm-eval's metrics)", ordered_blocks(systems), columns, UTILITY_NOTE
    )


def beta_sweep_table(systems: list[SystemScores], judge_id: str) -> Table:
    """Rows: (fine-tuned model, method, p); columns: β; cells: pooled harmful rate on one benchmark."""
    benchmark = next(
        (b for b in SWEEP_BENCHMARKS if any(s.row(judge_id, b, "all") for s in systems)), SWEEP_BENCHMARKS[0]
    )
    by_id = {s.meta["system_id"]: s for s in systems}
    lines: dict[tuple[str, str, str], dict[float, Cell | None]] = {}
    for system in systems:
        meta, params = system.meta, system.meta.get("params") or {}
        if meta["role"] != "realigned" or "beta" not in params or meta.get("sft_system") not in by_id:
            continue
        sft = by_id[meta["sft_system"]].meta
        line = (
            f"{sft.get('finetune_task') or sft['label']} ({sft.get('regime') or '–'})",
            method_name(meta.get("method"), meta.get("method_title")),
            f"{params.get('dare_p', 0):g}",
        )
        lines.setdefault(line, {})[float(params["beta"])] = _cell(system.row(judge_id, benchmark, "all"))
    betas = sorted({beta for cells in lines.values() for beta in cells})
    table = Table(
        "beta_sweep",
        f"Harmful rate (%) on {benchmark_name(benchmark)} across β, judged by {judge_id}",
        ["Fine-tune", "Method", "p", *(f"β={beta:g}" for beta in betas)],
        note=RATE_NOTE,
    )
    for line, cells in sorted(lines.items()):
        table.rows.append([*line, *(cells.get(beta) for beta in betas)])
    return table


def paper_tables(store: ResultsStore, judge_id: str | None = None) -> list[Table]:
    systems = load_systems(store)
    judged = {judge for system in systems for judge in system.scores} - {UTILITY_SCORES}
    if judge_id is not None and judge_id not in judged:
        raise ConfigError(f"--judge: no system has scores by {judge_id!r} (judges here: {sorted(judged)})")
    judge_id = judge_id or default_judge(systems)
    tables = [
        harmfulness_table(systems, judge_id),
        utility_table(systems),
        beta_sweep_table(systems, judge_id),
    ]
    # A store without utility runs or without a β sweep has nothing to show in those tables.
    return [table for table in tables if any(isinstance(cell, Cell) for row in table.rows for cell in row)]
