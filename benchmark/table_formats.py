"""A paper table as data (:class:`Table` of labels and :class:`Cell` numbers with their intervals) and
its rendering as Markdown, LaTeX (booktabs) or CSV, one file per table.

A rate is stored as a fraction and shown in %; other numbers in their own unit. A zero-width interval
is no interval. CSV gives each value column its bounds as columns of their own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resta_bench.leaderboards.spreadsheet import CSV_LINE_END, spreadsheet_text
from resta_bench.storage.atomic import write_text_atomic
from resta_bench.storage.folders import staged_output

FORMATS = ("md", "latex", "csv")
EXTENSIONS = {"md": "md", "latex": "tex", "csv": "csv"}


@dataclass(frozen=True)
class Cell:
    value: float
    low: float | None = None
    high: float | None = None
    percent: bool = True


@dataclass
class Table:
    key: str
    title: str
    header: list[str]
    rows: list[list[str | Cell | None]] = field(default_factory=list)
    rules: set[int] = field(default_factory=set)  # row indices that start a new block
    note: str = ""  # what the numbers' units and intervals are


def _number(cell: Cell, value: float) -> str:
    return f"{value * 100:.1f}" if cell.percent else f"{value:.3g}"


def _text(cell: str | Cell | None, interval: Callable[[str, str], str]) -> str:
    if cell is None:
        return "–"
    if isinstance(cell, str):
        return cell
    text = _number(cell, cell.value)
    # A zero-width interval (lm-eval's standard error of 0) is no interval: "0.0 [0.0, 0.0]" would say
    # the score is known exactly.
    if cell.low is not None and cell.high is not None and cell.low != cell.high:
        text += interval(_number(cell, cell.low), _number(cell, cell.high))
    return text


def _markdown_row(cells: list[str]) -> str:
    # A "|" would end the cell and a line break the row: names come from stores others wrote.
    return (
        "| "
        + " | ".join(cell.replace("|", r"\|").replace("\r", " ").replace("\n", " ") for cell in cells)
        + " |"
    )


def to_markdown(table: Table) -> str:
    lines = [
        f"### {table.title}",
        "",
        _markdown_row(table.header),
        "|" + "|".join("---" for _ in table.header) + "|",
    ]
    for row in table.rows:
        lines.append(_markdown_row([_text(cell, lambda lo, hi: f" [{lo}, {hi}]") for cell in row]))
    if table.note:
        lines += ["", table.note]
    return "\n".join(lines) + "\n"


_LATEX_SPECIALS = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
    "β": r"$\beta$",
    "α": r"$\alpha$",
    "λ": r"$\lambda$",
    "±": r"$\pm$",
    "×": r"$\times$",
    "–": "--",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(char, char) for char in text)


def to_latex(table: Table) -> str:
    """A ``table`` environment with a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``)."""
    labels = sum(1 for cell in (table.rows[0] if table.rows else []) if isinstance(cell, str))
    spec = "l" * labels + "r" * (len(table.header) - labels)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(name) for name in table.header) + r" \\",
        r"\midrule",
    ]
    for index, row in enumerate(table.rows):
        if index in table.rules and index > 0:
            lines.append(r"\midrule")
        cells = [
            latex_escape(cell)
            if isinstance(cell, str)
            else _text(cell, lambda lo, hi: rf" {{\scriptsize[{lo}, {hi}]}}").replace("–", "--")
            for cell in row
        ]
        lines.append(" & ".join(cells) + r" \\")
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        rf"\caption{{{latex_escape(f'{table.title}. {table.note}' if table.note else table.title)}}}",
        rf"\label{{tab:{table.key.replace('_', '-')}}}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """One CSV block per table: value columns as fractions, each followed by its interval bounds."""
    value_columns = [i for i, _ in enumerate(table.header) if any(isinstance(r[i], Cell) for r in table.rows)]
    header = ["table"]
    for index, name in enumerate(table.header):
        header += [name, f"{name} ci_low", f"{name} ci_high"] if index in value_columns else [name]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=CSV_LINE_END)
    writer.writerow(map(spreadsheet_text, header))
    for row in table.rows:
        line: list[Any] = [table.key]
        for index, cell in enumerate(row):
            if index not in value_columns:
                line.append(cell)
            elif cell is None or isinstance(cell, str):
                line += ["", "", ""]
            else:
                line += [
                    cell.value,
                    "" if cell.low is None else cell.low,
                    "" if cell.high is None else cell.high,
                ]
        writer.writerow(map(spreadsheet_text, line))
    return out.getvalue()


def render(tables: list[Table], fmt: str) -> str:
    renderer = {"md": to_markdown, "latex": to_latex, "csv": to_csv}[fmt]
    return (CSV_LINE_END if fmt == "csv" else "\n").join(renderer(table) for table in tables)


def write_tables(
    tables: list[Table], out: Path | str, fmt: str, *, overwrite: bool, inputs: dict[str, Path | str]
) -> list[Path]:
    """One file per table in the folder ``out``, built beside it and swapped into place; ``out`` is
    replaced only with ``overwrite`` and only if resta wrote it. Returns the files' final paths."""
    names = [f"{table.key}.{EXTENSIONS[fmt]}" for table in tables]
    with staged_output(out, overwrite=overwrite, kind="tables", inputs=inputs) as staging:
        for name, table in zip(names, tables, strict=True):
            write_text_atomic(staging / name, render([table], fmt))
    folder = Path(out).absolute().resolve()
    return [folder / name for name in names]
