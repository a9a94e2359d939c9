"""Which charts the site draws, built from the headline table: the harmfulness–utility trade-off and
parameter sweeps (drawn by ``leaderboards.chart_svg``; no charting library in the browser).

- A trade-off chart (per judge, utility column and base model) puts each system at (harmful rate,
  utility), coloured by its fine-tuned model, labelled with its method and parameters. Points and
  labels are placed so that none covers another; a point moved off a crowded spot keeps a thin line to
  where it belongs.
- A sweep chart (per judge, SFT model, method and swept parameter) shows the harmful rate and the
  utility against the parameter in two panels on one x axis, with the SFT and aligned models as
  reference lines, so a setting that babbles reads as lost utility rather than as safety.
"""

from __future__ import annotations

from resta_bench.leaderboards.chart_svg import Chart, Panel, Point, Reference, Series
from resta_bench.leaderboards.labels import method_name, param_symbol, param_text, variant_name
from resta_bench.leaderboards.tables import Column, Headline, HeadlineRow
from resta_bench.leaderboards.units import RATE, Unit

RAW = Unit(percent=False)  # a parameter's own values


def _rows(head: Headline) -> dict[tuple[str, str], HeadlineRow]:
    return {(row.system.id, row.judge): row for row in head.rows}


def _value(row: HeadlineRow | None, column: Column) -> float | None:
    cell = row.cells.get(column.key) if row else None
    return None if cell is None else cell["value"]


def _axis_title(column: Column) -> str:
    """A column in words, with its unit and which way is better: a chart axis' title."""
    name = column.short if column.utility else f"{column.rate_name} (%)"
    return f"{name}, {'lower' if column.lower_is_better else 'higher'} is better"


def tradeoff_charts(head: Headline, href: dict[str, str]) -> list[Chart]:
    """Per judge, utility column and base model: each system at (harmful rate, utility), coloured by
    its fine-tuned model and labelled with its method and parameters. The unaligned model is left out:
    it is the harmful model the safety vector is taken from, not a candidate."""
    reference = head.reference
    if reference is None:
        return []
    rows = _rows(head)
    charts = []
    for utility in (c for c in head.columns if c.utility):
        families: dict[tuple[str, str], dict[str, Series]] = {}
        for row in head.rows:
            harm, value = _value(row, reference), _value(row, utility)
            if not row.judge or harm is None or value is None or row.system.meta["role"] == "unaligned":
                continue
            meta = row.system.meta
            sft = rows.get((meta.get("sft_system"), row.judge))
            group = sft.system.meta["label"] if sft else meta["label"] if meta["role"] == "sft" else "aligned"
            family = families.setdefault((row.judge, meta["base_model"]), {})
            family.setdefault(group, Series(group)).points.append(
                Point(harm, value, variant_name(meta), meta["label"], href[row.system.id])
            )
        for (judge, base), series in sorted(families.items()):
            panel = Panel(
                "utility", _axis_title(utility), utility.unit, list(series.values()), from_zero=False
            )
            title = f"{base}: {reference.rate_name} against {utility.short}, judge {judge}"
            charts.append(
                Chart("tradeoff", title, judge, _axis_title(reference), RATE, [panel], {"base": base})
            )
    return charts


def _swept(rows: list[HeadlineRow]) -> list[str]:
    """The numeric parameters that take more than one value among these systems (seed aside)."""
    values: dict[str, set[float]] = {}
    for row in rows:
        for name, value in (row.system.meta.get("params") or {}).items():
            if name != "seed" and isinstance(value, (int, float)) and not isinstance(value, bool):
                values.setdefault(name, set()).add(value)
    return [name for name, seen in values.items() if len(seen) > 1]


def sweep_charts(head: Headline, href: dict[str, str]) -> list[Chart]:
    """Per judge, SFT model, method and swept parameter: the harmful rate and each utility score the
    SFT model has, against the parameter, one curve per setting of the method's other parameters."""
    reference = head.reference
    if reference is None:
        return []
    rows = _rows(head)
    families: dict[tuple[str, str, str], list[HeadlineRow]] = {}
    for row in head.rows:
        meta = row.system.meta
        if meta["role"] == "realigned" and row.judge and (meta.get("sft_system"), row.judge) in rows:
            families.setdefault((row.judge, meta["sft_system"], meta.get("method") or ""), []).append(row)
    charts = []
    for (judge, sft_id, _), members in sorted(families.items()):
        sft = rows[(sft_id, judge)]
        # The re-aligned models name the aligned model they were re-aligned towards.
        aligned_id = members[0].system.meta.get("aligned_system") or sft.system.meta.get("aligned_system")
        aligned = rows.get((aligned_id, judge))
        for param in _swept(members):
            charts.append(_sweep(head, href, members, param, sft, aligned))
    return charts


def _sweep(
    head: Headline,
    href: dict[str, str],
    members: list[HeadlineRow],
    param: str,
    sft: HeadlineRow,
    aligned: HeadlineRow | None,
) -> Chart:
    reference = head.reference
    assert reference is not None
    utilities = [c for c in head.columns if c.utility and _value(sft, c) is not None]
    panels = [_sweep_panel("harm", reference, members, param, href)]
    panels += [_sweep_panel("utility", column, members, param, href) for column in utilities]
    if not utilities:
        panels.append(
            Panel("utility", "Utility", RATE, [], empty="no utility score stored for the SFT model")
        )
    for panel, column in zip(panels, [reference, *utilities], strict=False):
        panel.references = [
            Reference(kind, name, value)
            for kind, name, row in (("sft", "SFT", sft), ("aligned", "aligned", aligned))
            if (value := _value(row, column)) is not None
        ]
    meta = members[0].system.meta
    # Members of one family share the method; its title (RESTA, RESTA+DARE, ...) may vary with settings.
    titles = {row.system.meta.get("method_title") for row in members}
    method = method_name(meta.get("method"), titles.pop() if len(titles) == 1 else None)
    labels: dict[str, str] = {}
    for row in members:
        labels.update(row.system.meta.get("param_labels") or {})
    symbol = param_symbol(param, labels)
    return Chart(
        "sweep",
        f"{sft.system.meta['label']}, {method}: harm and utility against {symbol}, judge {sft.judge}",
        sft.judge,
        symbol,
        RAW,
        panels,
        {"sft": sft.system.id, "method": meta.get("method") or "", "param": param},
    )


def _sweep_panel(
    key: str, column: Column, members: list[HeadlineRow], param: str, href: dict[str, str]
) -> Panel:
    curves: dict[str, Series] = {}
    for row in members:
        params = row.system.meta.get("params") or {}
        value = _value(row, column)
        if value is None or not isinstance(params.get(param), (int, float)):
            continue
        labels = row.system.meta.get("param_labels")
        name = param_text(params, leave_out=(param,), labels=labels) or variant_name(
            {**row.system.meta, "params": {}}
        )
        curves.setdefault(name, Series(name)).points.append(
            Point(
                params[param],
                value,
                variant_name(row.system.meta),
                row.system.meta["label"],
                href[row.system.id],
            )
        )
    return Panel(key, _axis_title(column), column.unit, list(curves.values()))
