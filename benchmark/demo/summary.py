"""The demo's closing table: harmfulness per language, utility and over-refusal for every system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resta_bench.benchmark.store import UTILITY_SCORES, ResultsStore
from resta_bench.benchmark.tables import SystemScores, load_systems, ordered_blocks

JUDGE = "refusal"
UTILITY_TASK = "demo_last_word"
HARM_LANGUAGES = ("all", "en", "zh", "vi")


@dataclass(frozen=True)
class SummaryRow:
    name: str  # the experiment's system name, e.g. "resta/beta=1.0"
    role: str
    method: str | None
    params: dict[str, Any]
    harmful: dict[str, float | None]  # CatQA harmful rate by language ("all" pools them)
    utility: float | None  # exact match on the held-out last-word questions
    over_refusal: float | None  # refusals of the safe XSTest-format prompts


def _value(row: dict | None) -> float | None:
    return None if row is None else row.get("value")


def _summary_row(system: SystemScores) -> SummaryRow:
    meta = system.meta
    over_refusal = system.row(JUDGE, "xstest", "all", "refusal_safe") or system.row(
        JUDGE, "xstest", "en", "refusal_safe"
    )
    return SummaryRow(
        name=meta.get("name") or meta["label"],
        role=meta["role"],
        method=meta.get("method"),
        params={key: value for key, value in (meta.get("params") or {}).items() if key != "seed"},
        harmful={language: _value(system.row(JUDGE, "catqa", language)) for language in HARM_LANGUAGES},
        utility=_value(system.row(UTILITY_SCORES, UTILITY_TASK, "all", "exact_match")),
        over_refusal=_value(over_refusal),
    )


def summary_rows(store: ResultsStore) -> list[SummaryRow]:
    """Aligned, then the fine-tune and its re-aligned variants, then the unaligned model."""
    systems = load_systems(store)
    ordered = [system for block in ordered_blocks(systems) for system in block]
    # The tables put the unaligned model beside the aligned one; the summary ends with it, once.
    unaligned = [system for system in ordered if system.meta["role"] == "unaligned"]
    ordered = [system for system in ordered if system.meta["role"] != "unaligned"] + unaligned
    return [_summary_row(system) for system in ordered]


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def render_summary(rows: list[SummaryRow]) -> str:
    header = ["system", "harmful", "en", "zh", "vi", "utility", "over-refusal"]
    lines = [
        [
            row.name,
            *(_percent(row.harmful[lang]) for lang in HARM_LANGUAGES),
            _percent(row.utility),
            _percent(row.over_refusal),
        ]
        for row in rows
    ]
    widths = [max(len(line[column]) for line in [header, *lines]) for column in range(len(header))]

    def format_line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(cells)
        )

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([format_line(header), rule, *(format_line(line) for line in lines)])
