"""The stored score rows as one pandas frame, and the tables cut from it: headline, heat map, CSV.

Nothing here computes a rate or a difference: values, intervals, counts and the paired comparisons
against the SFT and aligned models (``deltas``) are the stored ones. The only arithmetic is
presentation (a colour for a heat-map cell).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from resta_bench.leaderboards.labels import benchmark_name
from resta_bench.leaderboards.spreadsheet import CSV_LINE_END, FORMULA, spreadsheet_text
from resta_bench.leaderboards.store import KEY_FIELDS, ROLES, UTILITY_SCORES, System
from resta_bench.leaderboards.units import RATE, Unit, metric_unit, utility_header
from resta_bench.tasks import catalogue

ALL = "all"
# The judged benchmarks' own numbers (the catalogue's headline metrics), in the catalogue's order.
HEADLINE_METRICS = tuple(
    dict.fromkeys(m.name for entry in catalogue.BENCHMARKS if entry.judged for m in entry.headline_metrics)
)
# The scores.csv columns: the long format, with "subcategory" so sub-category rows stay apart.
CSV_COLUMNS = (
    "system method benchmark language category subcategory judge metric value ci_low ci_high n".split()
)
NUMBER_COLUMNS = ("value", "ci_low", "ci_high", "n")  # the rest is text, from the store's files
# The frame behind them: a stored row's fields plus the system it belongs to.
SCORE_COLUMNS = ["system", "judge", *KEY_FIELDS, *"value ci_low ci_high n k invalid language_valid".split()]


def score_frame(systems: list[System]) -> pd.DataFrame:
    """Every stored score row of every system, judge ``lm_eval`` for utility rows."""
    records = [{**row, "system": system.id} for system in systems for row in system.rows]
    frame = pd.DataFrame.from_records(records, columns=SCORE_COLUMNS)
    # Absent (stores written before the field) is valid; "boolean" holds the gaps an all-absent column has.
    frame["language_valid"] = frame["language_valid"].astype("boolean").fillna(True).astype(bool)
    for count in ("n", "k", "invalid"):  # keep counts whole numbers in the CSV, empty where absent
        frame[count] = frame[count].astype("Int64")
    return frame


def scores_csv(frame: pd.DataFrame, systems: list[System]) -> str:
    """The long-format download: one line per stored score row, its text safe to open in a spreadsheet."""
    methods = {system.id: system.meta.get("method") or system.meta["role"] for system in systems}
    table = frame.assign(method=frame["system"].map(methods)).loc[:, CSV_COLUMNS]
    for name in CSV_COLUMNS:
        if name not in NUMBER_COLUMNS:
            table[name] = _spreadsheet_column(table[name])
    return table.to_csv(index=False, lineterminator=CSV_LINE_END)


def _spreadsheet_column(column: pd.Series) -> pd.Series:
    # A column holds few distinct values (categories, ids) in many rows: check each value once.
    risky = {value: spreadsheet_text(value) for value in column.unique() if FORMULA.match(value)}
    return column.replace(risky) if risky else column


def _order(values: list[str], rank: Callable[[str], int]) -> list[str]:
    return sorted(values, key=lambda value: (rank(value), value))


def _metric_order(metric: str) -> int:
    return HEADLINE_METRICS.index(metric) if metric in HEADLINE_METRICS else len(HEADLINE_METRICS)


def _kind(benchmark: str) -> str | None:
    entry = catalogue.benchmark(benchmark)
    return entry.kind if entry else None


def _is_over_refusal(benchmark: str) -> bool:
    return _kind(benchmark) == catalogue.OVER_REFUSAL


@dataclass(frozen=True)
class Column:
    benchmark: str
    language: str
    metric: str
    utility: bool = False
    multilingual: bool = False  # its benchmark also has per-language columns

    @property
    def key(self) -> str:
        return f"{self.benchmark}/{self.language}/{self.metric}"

    @property
    def rate_name(self) -> str:
        """``CatQA harmful rate``: the column in words, for chart axes and the Δ columns' group."""
        language = "" if self.language == ALL else f" {self.language}"
        if _is_over_refusal(self.benchmark):
            what = catalogue.metric_info(self.metric, self.benchmark).label
        else:
            what = "harmful rate" if self.metric == catalogue.HARMFUL else self.metric
        return f"{benchmark_name(self.benchmark)}{language} {what}"

    @property
    def group(self) -> str:
        """The headline's column group: a multilingual benchmark by language, the other safety sets,
        over-refusal, utility."""
        if self.utility:
            return "utility"
        if _is_over_refusal(self.benchmark):
            return "over-refusal"
        return self.benchmark if self.multilingual or self.language != ALL else "safety"

    @property
    def short(self) -> str:
        """The column's header under its group's header, with its unit where the group does not say it."""
        if self.utility:
            return utility_header(self.benchmark, self.metric)
        if _is_over_refusal(self.benchmark):
            return (
                f"{benchmark_name(self.benchmark)} {catalogue.metric_info(self.metric, self.benchmark).label}"
            )
        if self.group == self.benchmark:
            return self.language
        return benchmark_name(self.benchmark)

    @property
    def unit(self) -> Unit:
        return metric_unit(self.metric, self.benchmark) if self.utility else RATE

    @property
    def lower_is_better(self) -> bool:
        return catalogue.metric_info(self.metric, self.benchmark).lower_is_better


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    columns: list[Column]


GROUP_TITLES = {
    "safety": "Other safety sets: harmful rate (%)",
    "over-refusal": "Over-refusal (%)",
    "utility": "Utility (lm-eval's metrics)",
}


def column_groups(columns: list[Column]) -> list[Group]:
    """The headline's columns in their groups, in column order (columns arrive grouped)."""
    groups: dict[str, list[Column]] = {}
    for column in columns:
        groups.setdefault(column.group, []).append(column)
    return [
        Group(key, GROUP_TITLES.get(key, f"{benchmark_name(key)}: harmful rate (%)"), members)
        for key, members in groups.items()
    ]


@dataclass
class HeadlineRow:
    system: System
    judge: str  # "" where a system has utility scores only
    cells: dict[str, dict[str, Any]] = field(default_factory=dict)  # column key -> stored score row
    vs_sft: dict[str, Any] | None = None  # the stored delta against its SFT model on the reference column
    vs_aligned: dict[str, Any] | None = None


@dataclass
class Headline:
    columns: list[Column]
    rows: list[HeadlineRow]
    reference: Column | None  # the column the changes against SFT / aligned are taken on

    @property
    def groups(self) -> list[Group]:
        return column_groups(self.columns)


def _overall(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[(frame["category"] == ALL) & (frame["subcategory"] == ALL)]


def headline_columns(frame: pd.DataFrame) -> list[Column]:
    overall = _overall(frame)
    judged = overall[(overall["judge"] != UTILITY_SCORES) & overall["metric"].isin(HEADLINE_METRICS)]
    columns = []
    for benchmark in _order(judged["benchmark"].unique().tolist(), catalogue.order):
        rows = judged[judged["benchmark"] == benchmark]
        languages = [lang for lang in rows["language"].unique().tolist() if lang != ALL]
        # Per-language columns only for a multilingual benchmark (CatQA); then its overall column.
        shown = _order(languages, catalogue.language_order) if len(languages) > 1 else []
        for metric in _order(rows["metric"].unique().tolist(), _metric_order):
            columns += [Column(benchmark, language, metric) for language in shown]
            if (rows["metric"] == metric).any() and (rows["language"] == ALL).any():
                columns.append(Column(benchmark, ALL, metric, multilingual=bool(shown)))
    # Grouped as the headline shows them: by-language benchmarks, other safety sets, over-refusal.
    rank = {"safety": 1, "over-refusal": 2}
    columns.sort(key=lambda column: rank.get(column.group, 0))  # stable: the order above within a group
    utility = overall[(overall["judge"] == UTILITY_SCORES) & (overall["language"] == ALL)]
    pairs = utility[["benchmark", "metric"]].drop_duplicates().sort_values(["benchmark", "metric"])
    columns += [Column(b, ALL, m, utility=True) for b, m in pairs.itertuples(index=False)]
    return columns


def _cells(system: System, keys: set[str]) -> dict[str, dict[str, dict]]:
    """judge -> column key -> stored row, for the headline columns only."""
    cells: dict[str, dict[str, dict]] = {}
    for row in system.rows:
        key = f"{row['benchmark']}/{row['language']}/{row['metric']}"
        if key in keys and _is_overall(row):
            cells.setdefault(row["judge"], {})[key] = row
    return cells


def _is_pooled_harm(column: Column) -> bool:
    """A harmful-question set's harmful rate over all its languages: the first such column (the
    catalogue's first set, CatQA) is the one the changes against SFT and aligned are taken on."""
    return (
        column.language == ALL
        and column.metric == catalogue.HARMFUL
        and _kind(column.benchmark) == catalogue.HARMFUL_QUESTIONS
    )


def headline(systems: list[System], frame: pd.DataFrame) -> Headline:
    columns = headline_columns(frame)
    keys = {column.key for column in columns}
    judged = [c for c in columns if not c.utility]
    reference = next((c for c in judged if _is_pooled_harm(c)), judged[0] if judged else None)
    rows = []
    for system in sorted(systems, key=_display_order):
        cells = _cells(system, keys)
        utility = cells.get(UTILITY_SCORES, {})
        for judge in sorted(system.judges) or [""]:
            rows.append(HeadlineRow(system, judge, {**cells.get(judge, {}), **utility}))
    if reference is not None:
        for row in rows:
            row.vs_sft = stored_delta(row.system, row.judge, "sft", reference)
            row.vs_aligned = stored_delta(row.system, row.judge, "aligned", reference)
    return Headline(columns, rows, reference)


def stored_delta(system: System, judge: str, against: str, column: Column) -> dict[str, Any] | None:
    """The delta ``benchmark`` stored for this system against its SFT or aligned model on ``column``,
    or None: none stored, or stored against another system than ``system.json`` now names."""
    other = system.meta.get(f"{against}_system")
    for delta in system.deltas:
        if (
            delta["judge"] == judge
            and delta["against"] == against
            and delta["against_system"] == other
            and (delta["benchmark"], delta["language"], delta["metric"])
            == (column.benchmark, column.language, column.metric)
        ):
            return delta
    return None


def _display_order(system: System) -> tuple:
    """Base model, then fine-tune, then aligned → unaligned → SFT → re-aligned, then method and parameters."""
    meta = system.meta
    params = sorted((k, str(v)) for k, v in (meta.get("params") or {}).items())
    return (
        meta["base_model"],
        meta.get("finetune_task") or "",
        meta.get("regime") or "",
        ROLES.index(meta["role"]),
        meta.get("method") or "",
        params,
        meta["label"],
    )


def _is_overall(row: dict[str, Any]) -> bool:
    return row["category"] == ALL and row["subcategory"] == ALL


def system_summary(system: System) -> dict[str, list[dict[str, Any]]]:
    """One system's overall and per-language rows, by judge (utility under ``lm_eval``)."""
    summary: dict[str, list[dict[str, Any]]] = {}
    for row in system.rows:
        if _is_overall(row):
            summary.setdefault(row["judge"], []).append(row)
    return {judge: sorted(rows, key=_summary_order) for judge, rows in sorted(summary.items())}


def _summary_order(row: dict[str, Any]) -> tuple:
    language = row["language"]
    language_rank = 0 if language == ALL else 1 + catalogue.language_order(language)
    return catalogue.order(row["benchmark"]), row["benchmark"], row["metric"], language_rank, language


@dataclass
class HeatMap:
    benchmark: str
    judge: str
    languages: list[str]  # columns; "all" last
    categories: list[tuple[str, dict[str, dict], list[tuple[str, dict[str, dict]]]]]
    # each: (category, language -> row, [(sub-category, language -> row)])


def heat_maps(system: System, benchmark: str | None = None) -> list[HeatMap]:
    """Per judge: categories × languages of ``benchmark`` harmful rates, each with its sub-categories.
    By default the benchmark is the first, in catalogue order, that this system has category rows of."""
    if benchmark is None:
        categorised = {
            row["benchmark"]
            for row in system.rows
            if row["metric"] == catalogue.HARMFUL and row["category"] != ALL
        }
        benchmark = min(categorised, key=lambda name: (catalogue.order(name), name), default="")
    grids: dict[str, dict[str, dict[str, dict[str, dict]]]] = {}
    for row in system.rows:  # the stored order keeps the benchmark's own category order
        if row["benchmark"] == benchmark and row["metric"] == catalogue.HARMFUL and row["category"] != ALL:
            grid = grids.setdefault(row["judge"], {})
            grid.setdefault(row["category"], {}).setdefault(row["subcategory"], {})[row["language"]] = row
    maps = []
    for judge, grid in sorted(grids.items()):
        seen = {language for subs in grid.values() for cells in subs.values() for language in cells}
        languages = _order(sorted(seen - {ALL}), catalogue.language_order) + ([ALL] if ALL in seen else [])
        categories = [
            (category, subs.get(ALL, {}), [(sub, cells) for sub, cells in subs.items() if sub != ALL])
            for category, subs in grid.items()
        ]
        maps.append(HeatMap(benchmark, judge, languages, categories))
    return maps
