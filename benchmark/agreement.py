"""Judge-vs-judge agreement: raw agreement, Cohen's κ and Gwet's AC1 (``judges.agreement``) of two judges'
verdicts on the same responses, computed here and stored, so that the leaderboard only reads it.

- :func:`judges_agreement` — two judges compared in one system folder or over a store (``resta
  judge-agreement``), computed from the judgments files on demand.
- :func:`write_system_agreement` — ``<system>/agreement.json``: every pair of judges that judged the
  system, written whenever one of its judges is scored (so it follows the judgments it is counted from).
- :func:`write_store_agreement` — ``<store>/_agreement.json``: every system's tables summed and the
  statistics computed again from the sums, what the leaderboard's judges panel shows. It names each
  system's file by its SHA-256, so a reader can tell when a store merged from elsewhere outgrew it.

What ``n`` counts (:data:`N_COUNTS`): responses both judges gave harmful or safe. A response either judge
called invalid is counted in ``excluded_invalid``, one only one judge judged in ``only_a`` / ``only_b``:
for each judge, ``both_judged + only_<it>`` is the number of its judgment lines. Harmful-question sets
are pooled per language (``all`` first); each benchmark also has its own row (XSTest's answers are never
pooled with harmful questions).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.store import (
    SYSTEM_FILE,
    ResultsStore,
    judgments_path,
    read_json_object,
    read_judgments,
)
from resta_bench.judges.agreement import Agreement, agreement
from resta_bench.leaderboards.judging import STORE_AGREEMENT, SYSTEM_AGREEMENT, StoreAgreement  # the reader's
from resta_bench.storage.atomic import write_json_atomic
from resta_bench.storage.names import is_safe_name
from resta_bench.storage.schema import ALL, JudgmentLine, write_record
from resta_bench.tasks import catalogue

SCHEMA = "resta-bench/judge-agreement/1"
N_COUNTS = (
    "responses (system, task, doc_id, sample) both judges gave harmful or safe; a response either "
    "judge called invalid is counted in excluded_invalid, not in n"
)
ONE_FOLDER = ""  # judges_agreement on one system's folder rather than a store

Judged = Mapping[tuple, JudgmentLine]  # judgments keyed by ([system,] task, doc_id, sample)


def _compare(a: Judged, b: Judged) -> dict[str, Any]:
    """Two judges' verdicts on the responses both judged: counts, per language (harmful-question sets
    pooled) and per benchmark."""
    by_language: dict[str, list[tuple[str, str]]] = {ALL: []}
    by_benchmark: dict[str, list[tuple[str, str]]] = {}
    for key in sorted(a.keys() & b.keys()):
        line, pair = a[key], (a[key].verdict, b[key].verdict)
        by_benchmark.setdefault(line.benchmark, []).append(pair)
        if catalogue.pools_into(catalogue.HARMFUL, line.benchmark):
            by_language[ALL].append(pair)
            by_language.setdefault(line.language, []).append(pair)
    return _report(
        {
            "both_judged": len(a.keys() & b.keys()),
            "only_a": len(a.keys() - b.keys()),
            "only_b": len(b.keys() - a.keys()),
        },
        {language: agreement(pairs) for language, pairs in by_language.items()},
        {name: agreement(pairs) for name, pairs in by_benchmark.items()},
    )


def _report(
    counts: dict[str, int], by_language: Mapping[str, Agreement], by_benchmark: Mapping[str, Agreement]
) -> dict[str, Any]:
    languages = sorted(
        by_language, key=lambda language: (language != ALL, catalogue.language_order(language))
    )
    return {
        "only_one_judge": counts["only_a"] + counts["only_b"],
        "counts": counts,
        "by_language": {language: by_language[language].as_record() for language in languages},
        "by_benchmark": {
            name: by_benchmark[name].as_record() for name in sorted(by_benchmark, key=catalogue.order)
        },
    }


def judges_agreement(path: str | Path, judge_a: str, judge_b: str) -> dict[str, Any]:
    """Agreement of two judges on the responses both judged, in one system folder or in every system of a
    results store."""
    folders = _agreement_folders(Path(path), judge_a, judge_b)
    a: dict[tuple, JudgmentLine] = {}
    b: dict[tuple, JudgmentLine] = {}
    for system, folder in folders.items():
        for judged, judge_id in ((a, judge_a), (b, judge_b)):
            # One folder must hold both; a store's systems may lack either (counted in only_one_judge).
            if system == ONE_FOLDER or judgments_path(folder, judge_id).is_file():
                judged.update(
                    {(system, *key): line for key, line in read_judgments(folder, judge_id).items()}
                )
    report: dict[str, Any] = {"judges": [judge_a, judge_b], "n_counts": N_COUNTS}
    if ONE_FOLDER not in folders:
        report["systems"] = sorted(folders)
    return {**report, **_compare(a, b)}


def _agreement_folders(path: Path, judge_a: str, judge_b: str) -> dict[str, Path]:
    """System id -> folder: the folder itself (as :data:`ONE_FOLDER`) if it is a system's, else every system
    of the store at ``path`` that either judge scored."""
    if (path / "judgments").is_dir() or (path / SYSTEM_FILE).is_file():
        return {ONE_FOLDER: path}
    store = ResultsStore(path)
    systems = store.system_ids()
    if not systems:
        raise ConfigError(
            f"{path}: no judgments/ folder and no systems (<system>/system.json) here; "
            "name one system's folder or a results store"
        )
    judged = {
        system: store.system_dir(system)
        for system in systems
        if any(store.judgments_path(system, judge_id).is_file() for judge_id in (judge_a, judge_b))
    }
    if not judged:
        raise ConfigError(
            f"{path}: no system in this results store has judgments by {judge_a!r} or {judge_b!r}"
        )
    for judge_id in (judge_a, judge_b):  # else every response would count as judged by one judge only
        if not any(store.judgments_path(system, judge_id).is_file() for system in judged):
            found = sorted(
                {
                    p.stem
                    for system in judged
                    for p in (store.system_dir(system) / "judgments").glob("*.jsonl")
                }
            )
            raise ConfigError(
                f"{path}: no system in this results store has judgments by {judge_id!r} "
                f"(judged here: {', '.join(found)})"
            )
    return judged


def _created() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_system_agreement(system_dir: Path) -> Path | None:
    """``<system>/agreement.json`` for every pair of judges with judgments here; removed (None returned)
    when fewer than two judges judged the system, so no stale file outlives the judgments."""
    path = system_dir / SYSTEM_AGREEMENT
    # A stray file whose name is no judge id is not a judge's (the store's path methods would refuse it).
    judges = sorted(p.stem for p in (system_dir / "judgments").glob("*.jsonl") if is_safe_name(p.stem))
    if len(judges) < 2:
        path.unlink(missing_ok=True)
        return None
    judged = {judge: read_judgments(system_dir, judge) for judge in judges}
    pairs = [
        {"judges": [first, second], **_compare(judged[first], judged[second])}
        for first, second in itertools.combinations(judges, 2)
    ]
    record = {"schema": SCHEMA, "n_counts": N_COUNTS, "created": _created(), "pairs": pairs}
    write_json_atomic(path, record)
    return path


def _stored_pairs(row: Mapping[str, Any]) -> Iterator[tuple[str, ...]]:
    """The (A, B) verdict pairs a stored agreement row counts; its invalid ones as ("invalid", "invalid")."""
    for cell, count in row["confusion"].items():
        yield from itertools.repeat(tuple(cell.split("|")), count)
    yield from itertools.repeat(("invalid", "invalid"), row["excluded_invalid"])


def _add(sums: dict[tuple[str, ...], dict[str, Any]], system: str, pair: Mapping[str, Any]) -> None:
    """One system's pair of judges added into the store's sums."""
    total = sums.setdefault(tuple(pair["judges"]), {"systems": [], "counts": {}, "by": {}})
    total["systems"].append(system)
    for name, count in pair["counts"].items():
        total["counts"][name] = total["counts"].get(name, 0) + count
    for by in ("by_language", "by_benchmark"):
        for group, row in pair[by].items():
            total["by"].setdefault(by, {}).setdefault(group, []).extend(_stored_pairs(row))


def write_store_agreement(store: ResultsStore) -> Path | None:
    """``<store>/_agreement.json``: each pair of judges' tables summed over the systems both judged, and
    κ and AC1 computed from the sums; removed (None returned) when no system has two judges."""
    path = store.root / STORE_AGREEMENT
    files = {
        system: store.system_dir(system) / SYSTEM_AGREEMENT
        for system in store.system_ids()
        if (store.system_dir(system) / SYSTEM_AGREEMENT).is_file()
    }
    if not files:
        path.unlink(missing_ok=True)
        return None
    sums: dict[tuple[str, ...], dict[str, Any]] = {}
    for system, file in files.items():
        try:
            for pair in read_json_object(file)["pairs"]:
                _add(sums, system, pair)
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise ConfigError(
                f"{file}: not an agreement record ({type(error).__name__}: {error}); "
                "resta judge-agreement STORE --write writes it again"
            ) from None
    pairs = []
    for judges, total in sorted(sums.items()):
        by = {
            key: {group: agreement(pairs) for group, pairs in groups.items()}
            for key, groups in total["by"].items()
        }
        report = _report(total["counts"], by.get("by_language", {}), by.get("by_benchmark", {}))
        pairs.append({"judges": list(judges), "systems": total["systems"], **report})
    record = {
        "schema": SCHEMA,
        "n_counts": N_COUNTS,
        "created": _created(),
        # What this file was summed from: a reader compares these with the systems' files it finds.
        "system_files": {system: _sha256(file) for system, file in files.items()},
        "pairs": pairs,
    }
    write_record(path, StoreAgreement.model_validate(record))
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refresh_agreement(store: ResultsStore) -> Path | None:
    """Every system's ``agreement.json`` written again from its judgments, then the store's: for a store
    merged from several machines or judged before agreement was stored (``judge-agreement --write``)."""
    with store.lock():
        for system in store.system_ids():
            write_system_agreement(store.system_dir(system))
        return write_store_agreement(store)
