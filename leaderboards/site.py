"""``build_site(results_dir, out_dir)``: the whole static site, written to a temporary folder and
swapped into place, so a failed build leaves the previous site (or nothing) behind, never half of one.

Layout of the site::

    index.html                  headline table, trade-off and sweep charts, judges, paper-reported rows
    systems/<id>.html           one system: settings, provenance, scores per judge, category heat maps
    responses/<id>.html         per-question responses with every judge's verdict (content warning)
    static/                     the site's own CSS and JavaScript (no network, no CDN)
    scores.csv                  every stored score row, long format
    data/                       the JSON behind every page
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from resta_bench.leaderboards.charts import sweep_charts, tradeoff_charts
from resta_bench.leaderboards.errors import LeaderboardError
from resta_bench.leaderboards.judging import AgreementCounter, judge_summaries
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
from tqdm import tqdm

log = logging.getLogger(__name__)

MARKER = ".resta-leaderboard"  # marks a folder this builder made, so it may replace it
PACKAGE = Path(__file__).parent
PAPER_ROWS = PACKAGE / "paper_reported.json"
MIN_SYSTEMS_PER_POOL = 16  # below this, starting worker processes costs more than it saves


def build_site(
    results_dir: Path | str, out_dir: Path | str, *, workers: int | None = None, progress: bool = True
) -> Path:
    """Build the leaderboard for the store in ``results_dir`` into ``out_dir``; returns ``out_dir``.

    ``out_dir`` may exist only as an earlier leaderboard (it is then replaced). ``workers``: processes
    writing the per-system pages (default: one per CPU, at most 8; a small store is done in-process).
    Raises :class:`LeaderboardError` (one line naming the file and field) on a malformed store.
    """
    workers = workers if workers is not None else min(8, os.cpu_count() or 1)
    out = Path(out_dir).resolve()
    _check_output(out)
    systems = read_store(Path(results_dir))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a published site must be readable
    try:
        _write_site(staging, systems, workers, progress)
        _swap_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("leaderboard of %d systems written to %s", len(systems), out)
    return out


def _check_output(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise LeaderboardError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise LeaderboardError(
            f"{out}: not empty and not a leaderboard built by resta (no {MARKER}); choose another --out"
        )


def _swap_into_place(staging: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    try:
        staging.rename(out)
    except OSError:
        if old is not None:  # put the previous site back rather than leave none
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _version() -> str:
    try:
        return importlib.metadata.version("resta-bench")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _write_site(site: Path, systems: list[System], workers: int, progress: bool) -> None:
    frame = score_frame(systems)
    head = headline(systems, frame)
    built = {"generated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "version": _version()}
    shutil.copytree(PACKAGE / "static", site / "static")
    labels = {system.id: system.meta["label"] for system in systems}
    agreement = AgreementCounter()
    jobs = [(system, site, labels, built) for system in systems]
    with ExitStack() as stack:
        if workers > 1 and len(systems) >= MIN_SYSTEMS_PER_POOL:
            pages = stack.enter_context(ProcessPoolExecutor(workers)).map(_system_pages, jobs, chunksize=4)
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
            agreement.merge(counts)
    judges = judge_summaries(systems, frame)
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
            filters=_filters(head),
            charts=charts,
            judges=judges,
            agreement=agreement.rows(),
            paper=paper,
            built=built,
            system_count=len(systems),
        ),
    )
    _write(site / MARKER, "built by resta leaderboard; this folder is replaced on the next build\n")


def _system_pages(job: tuple[System, Path, dict[str, str], dict[str, str]]) -> AgreementCounter:
    """A system's page, its response browser and their JSON; returns the judges' agreement counts.

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
    counts = AgreementCounter()
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


def _index_data(head: Headline, judges: list, agreement: AgreementCounter, built: dict) -> dict[str, Any]:
    return {
        **built,
        "columns": [
            {
                "key": c.key,
                "benchmark": c.benchmark,
                "language": c.language,
                "metric": c.metric,
                "utility": c.utility,
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
        "judges": [{**vars(j), "invalid_rate": j.invalid_rate} for j in judges],
        "agreement": agreement.rows(),
    }
