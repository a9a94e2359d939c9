"""``build_site(results_dir, out_dir)``: the whole static site, built in a staging folder beside
``out_dir`` and swapped into place (:func:`resta_bench.storage.folders.staged_output`), so a failed or
killed build leaves the previous site (or nothing) behind, never half of one; the next build removes
what a killed one left.

Layout of the site::

    index.html                  headline table, trade-off and sweep charts, judges, paper-reported rows
    systems/<id>.html           one system: settings, provenance, scores per judge, category heat maps
    responses/<id>.html         per-question responses with every judge's verdict (content warning)
    static/                     the site's own CSS and JavaScript (no network, no CDN)
    scores.csv                  every stored score row, long format
    data/                       the JSON behind every page
    .resta-output               the marker: resta built this folder, so the next build may replace it
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import json
import logging
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from resta_bench.leaderboards.charts import sweep_charts, tradeoff_charts
from resta_bench.leaderboards.errors import LeaderboardError
from resta_bench.leaderboards.judging import (
    Agreement,
    JudgeSummary,
    VerdictCounter,
    judge_summaries,
    read_agreement,
)
from resta_bench.leaderboards.render import environment, script_json, to_json
from resta_bench.leaderboards.responses import response_items
from resta_bench.leaderboards.store import System, read_store
from resta_bench.leaderboards.tables import (
    Headline,
    headline,
    heat_maps,
    score_frame,
    scores_csv,
    system_summary,
)
from resta_bench.leaderboards.validations import (
    KAPPA_FLOOR,
    Validation,
    apply_measured_validity,
    confusion_table,
    measured_validity,
    read_validations,
)
from resta_bench.storage.atomic import write_json_atomic
from resta_bench.storage.errors import StorageError
from resta_bench.storage.folders import MARKER, check_output, staged_output
from tqdm import tqdm

log = logging.getLogger(__name__)

KIND = "leaderboard"  # the kind written into the marker; only a folder of this kind is replaced
# Sites built before the common marker carry this one instead; they are adopted as resta's own.
LEGACY_MARKER = ".resta-leaderboard"
PACKAGE = Path(__file__).parent
PAPER_ROWS = PACKAGE / "paper_reported.json"
MIN_SYSTEMS_PER_POOL = 16  # below this, starting worker processes costs more than it saves
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def build_site(
    results_dir: Path | str, out_dir: Path | str, *, workers: int | None = None, progress: bool = True
) -> Path:
    """Build the leaderboard for the store in ``results_dir`` into ``out_dir``; returns ``out_dir``.

    ``out_dir`` may exist only as an earlier leaderboard (it is then replaced); any other non-empty
    folder, including another resta command's output, is refused. ``workers``: processes writing the
    per-system pages (default: one per CPU, at most 8; a small store is done in-process). Raises
    :class:`LeaderboardError` (one line naming the file and field) on a malformed store and
    :class:`~resta_bench.storage.errors.StorageError` on an output folder it may not replace.
    """
    workers = workers if workers is not None else min(8, os.cpu_count() or 1)
    options: dict[str, Any] = {"overwrite": True, "inputs": {"RESULTS": results_dir}}
    _adopt_earlier_build(Path(out_dir))
    out = check_output(out_dir, **options)  # refused before a large store is read, not after
    _check_is_leaderboard(out)
    systems = read_store(Path(results_dir))
    panel = _read_judges_panel(Path(results_dir), systems)
    with staged_output(out, kind=KIND, **options) as staging:
        _write_site(staging, systems, panel, workers, progress)
    log.info("leaderboard of %d systems written to %s", len(systems), out)
    return out


def _adopt_earlier_build(out: Path) -> None:
    """Give a site built before the common marker that marker, so it is replaced like any other."""
    if (out / LEGACY_MARKER).is_file() and not (out / MARKER).exists() and not out.is_symlink():
        write_json_atomic(out / MARKER, {"written_by": "resta-bench", "kind": KIND})
        log.info("%s: built by an earlier version (%s), replaced like any other site", out, LEGACY_MARKER)


def _check_is_leaderboard(out: Path) -> None:
    """Refuse another resta command's output (a re-aligned model, tables): only a site is rebuilt."""
    marker = out / MARKER
    if not marker.is_file():
        return  # absent or empty: check_output has refused a non-empty folder without a marker
    try:
        kind = json.loads(marker.read_text(encoding="utf-8"))["kind"]
    except (OSError, ValueError, TypeError, KeyError):
        kind = "output"
    if kind != KIND:
        raise LeaderboardError(
            f"--out {out}: holds resta's {kind}, not a leaderboard; "
            "remove it yourself or choose another folder"
        )


def _write(path: Path, content: str | bytes) -> None:
    """A new file of the site: plain ``open`` semantics, so its mode is the one the umask gives."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    except OSError as error:
        if error.filename is None:  # a full disk fails the write, and that error names no file
            raise OSError(error.errno, error.strerror, str(path)) from None
        raise


def _copy_static(site: Path) -> None:
    # Not shutil.copytree: it copies the installed files' modes, where the site's must follow the umask.
    for source in sorted((PACKAGE / "static").iterdir()):
        _write(site / "static" / source.name, source.read_bytes())


def _die_with_parent(parent: int) -> None:
    """Worker initializer: have the kernel kill this worker when the build dies, ``kill -9`` included,
    rather than leave it writing into staging the next build removes, or idle forever (Linux only)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return  # no prctl (not Linux): there a killed build's workers may outlive it
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the build died before the request took effect
        os._exit(1)


def _version() -> str:
    try:
        return importlib.metadata.version("resta-bench")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _read_judges_panel(results_dir: Path, systems: list[System]) -> tuple[list[Validation], Agreement | None]:
    """The stored validation records and judge-vs-judge agreement; each system's score rows then take the
    measured validity of their judge for their language where a record measured it."""
    try:
        validations = read_validations(results_dir)
        agreement = read_agreement(results_dir, systems)
    except StorageError as error:  # a malformed record: one line naming it, as for the systems' files
        raise LeaderboardError(str(error)) from None
    for judge in {validation.judge for validation in validations}:
        valid = measured_validity(validations, judge)
        for system in systems:
            apply_measured_validity([row for row in system.rows if row["judge"] == judge], valid)
    return validations, agreement


def _write_site(
    site: Path,
    systems: list[System],
    panel: tuple[list[Validation], Agreement | None],
    workers: int,
    progress: bool,
) -> None:
    validations, agreement = panel
    frame = score_frame(systems)
    head = headline(systems, frame)
    built = {"generated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "version": _version()}
    _copy_static(site)
    labels = {system.id: system.meta["label"] for system in systems}
    verdicts = VerdictCounter()
    jobs = [(system, site, labels, built) for system in systems]
    with ExitStack() as stack:
        if workers > 1 and len(systems) >= MIN_SYSTEMS_PER_POOL:
            pool = ProcessPoolExecutor(workers, initializer=_die_with_parent, initargs=(os.getpid(),))
            pages = stack.enter_context(pool).map(_system_pages, jobs, chunksize=4)
        else:
            pages = map(_system_pages, jobs)
        bar = tqdm(
            pages,
            total=len(jobs),
            desc="leaderboard pages",
            unit="system",
            file=sys.stderr,
            disable=not progress,
        )
        for counts in bar:
            verdicts.merge(counts)
    judges = judge_summaries(systems, frame, verdicts, validations)
    for validation in validations:  # each record as stored, behind its detail on the judges panel
        _write(site / validation.data_path, validation.path.read_bytes())
    paper = json.loads(PAPER_ROWS.read_text(encoding="utf-8"))
    href = {system.id: f"systems/{system.id}.html" for system in systems}
    charts = {"tradeoff": tradeoff_charts(head, href), "sweeps": sweep_charts(head, href)}
    _write(site / "scores.csv", scores_csv(frame, systems))
    _write(site / "data" / "paper_reported.json", json.dumps(paper, ensure_ascii=False, indent=1))
    _write(site / "data" / "index.json", to_json(_index_data(head, judges, agreement, built)))
    _write(
        site / "index.html",
        environment()
        .get_template("index.html.jinja")
        .render(
            root="",
            head=head,
            groups=_column_groups(head),
            filters=_filters(head),
            charts=charts,
            judges=judges,
            validations=validations,
            confusion_table=confusion_table,
            kappa_floor=KAPPA_FLOOR,
            agreement=agreement,
            paper=paper,
            built=built,
            system_count=len(systems),
        ),
    )


def _system_pages(job: tuple[System, Path, dict[str, str], dict[str, str]]) -> VerdictCounter:
    """A system's page, its response browser and their JSON; returns its judges' verdict counts.

    Runs in a worker process for large stores: it reads the (large) judgments files itself."""
    system, site, labels, built = job
    env = environment()
    items = response_items(system)
    payload = to_json({"system_id": system.id, "judges": sorted(system.judgment_files), "items": items})
    _write(site / "data" / "responses" / f"{system.id}.json", payload)
    _write(
        site / "responses" / f"{system.id}.html",
        env.get_template("responses.html.jinja").render(
            root="../", system=system, data=script_json(payload), count=len(items), built=built
        ),
    )
    _write(
        site / "data" / "systems" / f"{system.id}.json",
        to_json({"system": system.meta, "scores": system.score_files}),
    )
    _write(
        site / "systems" / f"{system.id}.html",
        env.get_template("system.html.jinja").render(
            root="../",
            system=system,
            labels=labels,
            summary=system_summary(system),
            heat_maps=heat_maps(system),
            has_responses=bool(items),
            built=built,
        ),
    )
    counts = VerdictCounter()
    counts.add(items)
    return counts


def _filters(head: Headline) -> dict[str, list[str]]:
    """The values each headline filter offers, as shown in the rows' data attributes."""
    fields = {"base": "base_model", "task": "finetune_task", "method": "method", "regime": "regime"}
    options = {
        name: sorted({str(row.system.meta.get(key) or "–") for row in head.rows})
        for name, key in fields.items()
    }
    options["judge"] = sorted({row.judge or "–" for row in head.rows})
    return options


def _column_groups(head: Headline) -> list[tuple[str, str, int]]:
    """The headline's column groups a reader may hide: (key, title, number of columns)."""
    groups = [("settings", "System settings", 5)]
    groups += [(group.key, group.title, len(group.columns)) for group in head.groups]
    if head.reference:
        groups.append(("delta", f"Δ {head.reference.rate_name} (pp)", 2))
    return groups


def _judge_data(judge: JudgeSummary) -> dict[str, Any]:
    """A judge's panel row for data/index.json: each language's validity and what decided it."""
    validity = [
        {
            "language": lv.language,
            "valid": lv.valid,
            "source": lv.source,
            "set": lv.measured.validation.set_name if lv.measured else None,
            "record": lv.measured.validation.data_path if lv.measured else None,
        }
        for lv in judge.validity
    ]
    return {**vars(judge), "invalid_rate": judge.invalid_rate, "validity": validity}


def _index_data(head: Headline, judges: list, agreement: Agreement | None, built: dict) -> dict[str, Any]:
    return {
        **built,
        "columns": [
            {
                "key": c.key,
                "benchmark": c.benchmark,
                "language": c.language,
                "metric": c.metric,
                "utility": c.utility,
                "group": c.group,
                "unit": c.unit.header,
                "lower_is_better": c.lower_is_better,
            }
            for c in head.columns
        ],
        "reference": head.reference.key if head.reference else None,
        "rows": [
            {
                "system_id": row.system.id,
                "label": row.system.meta["label"],
                "judge": row.judge or None,
                "role": row.system.meta["role"],
                "base_model": row.system.meta["base_model"],
                "finetune_task": row.system.meta.get("finetune_task"),
                "regime": row.system.meta.get("regime"),
                "method": row.system.meta.get("method"),
                "params": row.system.meta.get("params") or {},
                "cells": row.cells,
                "change_vs_sft": row.vs_sft,
                "change_vs_aligned": row.vs_aligned,
            }
            for row in head.rows
        ],
        "judges": [_judge_data(j) for j in judges],
        "agreement": [pair.model_dump(mode="json") for pair in agreement.pairs] if agreement else [],
    }
