"""Read a results store (docs/results-store.md) into plain, validated records.

The leaderboard never computes scores: it reads ``scores/*.json`` as written by the runner, rates and
the paired comparisons (``deltas``) alike. What it checks here is shape, so that a malformed file stops
the build with one line naming the file and the field, instead of a half-built site.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resta_bench.leaderboards.errors import LeaderboardError

log = logging.getLogger(__name__)

UTILITY_SCORES = "lm_eval"  # scores/lm_eval.json holds utility rows, not a judge's
ROLES = ("aligned", "unaligned", "sft", "realigned")
VERDICTS = ("harmful", "safe", "invalid")
KEY_FIELDS = ("benchmark", "language", "category", "subcategory", "metric")  # what a score row is about
AGAINST = ("sft", "aligned")  # whom a stored delta compares the system with (system.json's *_system)
# Ids become file names and URL parts of the site; anything else is refused rather than mangled.
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=-]{0,199}$")

_NUMBER = (int, float)


@dataclass
class System:
    """One evaluated system: its ``system.json``, its judged and utility score rows, its judgments."""

    id: str
    meta: dict[str, Any]
    judges: dict[str, dict[str, Any]] = field(default_factory=dict)  # judge id -> scores' "judge" block
    score_files: dict[str, dict[str, Any]] = field(default_factory=dict)  # judge id -> whole scores file
    rows: list[dict[str, Any]] = field(default_factory=list)  # every score row, with "judge" added
    deltas: list[dict[str, Any]] = field(default_factory=list)  # every stored delta, with "judge" added
    # judge id -> judgments file; read one system at a time while its pages are written (they are large)
    judgment_files: dict[str, Path] = field(default_factory=dict)


def read_store(results_dir: Path) -> list[System]:
    """Every system under ``results_dir`` (folders holding a ``system.json``), sorted by id."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise LeaderboardError(f"{results_dir}: not a results directory")
    systems = []
    for folder in sorted(results_dir.iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        if not (folder / "system.json").is_file():
            log.warning("%s: no system.json, skipped", folder)
            continue
        systems.append(read_system(folder))
    if not systems:
        raise LeaderboardError(f"{results_dir}: no system folders (none holds a system.json)")
    return systems


def read_system(folder: Path) -> System:
    path = folder / "system.json"
    meta = _load_json(path)
    _check_system(meta, path, folder.name)
    system = System(id=meta["system_id"], meta=meta)
    scores_dir = folder / "scores"
    for score_path in sorted(scores_dir.glob("*.json")) if scores_dir.is_dir() else []:
        _read_scores(system, score_path)
    judgments_dir = folder / "judgments"
    for judgment_path in sorted(judgments_dir.glob("*.jsonl")) if judgments_dir.is_dir() else []:
        judge_id = _checked_id(judgment_path.stem, judgment_path, "file name")
        system.judgment_files[judge_id] = judgment_path
    return system


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise LeaderboardError(f"{path}: cannot read ({error})") from None
    except json.JSONDecodeError as error:
        raise LeaderboardError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise LeaderboardError(f"{path}: expected a JSON object at the top level")
    return data


def _field(
    obj: dict[str, Any], name: str, types: tuple[type, ...], where: str, optional: bool = False
) -> Any:
    """``obj[name]`` if it has one of ``types`` (None allowed when ``optional``), else a one-line error."""
    value = obj.get(name)
    if value is None and optional:
        return None
    if name not in obj and not optional:
        raise LeaderboardError(f"{where}: missing field {name!r}")
    # bool is an int in Python; a true/false where a count or rate belongs is a malformed file.
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        wanted = " or ".join(t.__name__ for t in types) + (" or null" if optional else "")
        raise LeaderboardError(f"{where}: field {name!r} should be {wanted}, got {value!r:.60}")
    return value


def _checked_id(value: str, path: Path, what: str) -> str:
    if not SAFE_ID.match(value):
        raise LeaderboardError(f"{path}: {what} {value!r:.60} is not a plain id (letters, digits, . _ + = -)")
    return value


def _check_system(meta: dict[str, Any], path: Path, folder_name: str) -> None:
    system_id = _field(meta, "system_id", (str,), str(path))
    if system_id != folder_name:
        raise LeaderboardError(
            f"{path}: field 'system_id' is {system_id!r} but the folder is {folder_name!r}"
        )
    _checked_id(system_id, path, "field 'system_id'")
    for name in ("label", "base_model"):
        _field(meta, name, (str,), str(path))
    role = _field(meta, "role", (str,), str(path))
    if role not in ROLES:
        raise LeaderboardError(f"{path}: field 'role' is {role!r}, expected one of {', '.join(ROLES)}")
    for name in ("finetune_task", "regime", "method", "sft_system", "aligned_system"):
        _field(meta, name, (str,), str(path), optional=True)
    for name in ("params", "model", "recipe", "generation", "provenance"):
        _field(meta, name, (dict,), str(path), optional=True)


def _read_scores(system: System, path: Path) -> None:
    data = _load_json(path)
    key = _checked_id(path.stem, path, "file name")
    if key == UTILITY_SCORES:
        judge: dict[str, Any] = {"id": UTILITY_SCORES}
    else:
        judge = _field(data, "judge", (dict,), str(path))
        judge_id = _field(judge, "id", (str,), f"{path}: judge")
        if judge_id != key:
            raise LeaderboardError(f"{path}: field 'judge.id' is {judge_id!r} but the file is {key}.json")
        languages = _field(judge, "languages", (list,), f"{path}: judge", optional=True)
        if languages is not None and not all(isinstance(lang, str) for lang in languages):
            raise LeaderboardError(f"{path}: field 'judge.languages' should be a list of strings")
    rows = _field(data, "rows", (list,), str(path))
    for index, row in enumerate(rows):
        where = f"{path}: rows[{index}]"
        if not isinstance(row, dict):
            raise LeaderboardError(f"{where}: expected an object")
        for name in KEY_FIELDS:
            _field(row, name, (str,), where)
        # value is null where nothing was counted (every verdict invalid): shown as "–", never as 0.
        if "value" not in row:
            raise LeaderboardError(f"{where}: missing field 'value'")
        for name in ("value", "ci_low", "ci_high"):
            number = _field(row, name, _NUMBER, where, optional=True)
            if number is not None and not math.isfinite(number):
                raise LeaderboardError(f"{where}: field {name!r} is {number}, not a finite number")
            # A judge's rows are rates; lm-eval's metrics (perplexity, BLEU, bounds below 0) need not be.
            if number is not None and key != UTILITY_SCORES and not 0 <= number <= 1:
                raise LeaderboardError(
                    f"{where}: field {name!r} is {number}, outside 0-1 where a rate is expected"
                )
        for name in ("n", "k", "invalid"):
            count = _field(row, name, (int,), where, optional=True)
            if count is not None and count < 0:
                raise LeaderboardError(f"{where}: field {name!r} is {count}, a count cannot be negative")
        _field(row, "language_valid", (bool,), where, optional=True)
        system.rows.append({**row, "judge": key})
    deltas = _field(data, "deltas", (list,), str(path), optional=True) or []
    for index, delta in enumerate(deltas):
        _check_delta(delta, path, f"{path}: deltas[{index}]")
        system.deltas.append({**delta, "judge": key})
    system.score_files[key] = data
    if key != UTILITY_SCORES:
        system.judges[key] = judge


def _check_delta(delta: Any, path: Path, where: str) -> None:
    """One paired comparison as ``benchmark`` stores it at scoring time (docs/results-store.md)."""
    if not isinstance(delta, dict):
        raise LeaderboardError(f"{where}: expected an object")
    against = _field(delta, "against", (str,), where)
    if against not in AGAINST:
        raise LeaderboardError(f"{where}: field 'against' is {against!r:.40}, expected sft or aligned")
    if not SAFE_ID.match(_field(delta, "against_system", (str,), where)):
        raise LeaderboardError(
            f"{where}: field 'against_system' {delta['against_system']!r:.60} is not a plain id"
        )
    for name in ("benchmark", "language", "metric"):
        _field(delta, name, (str,), where)
    for name in ("n_pairs", "invalid_pairs", "only_this", "only_against"):
        count = _field(delta, name, (int,), where, optional=name != "n_pairs")
        if count is not None and count < 0:
            raise LeaderboardError(f"{where}: field {name!r} is {count}, a count cannot be negative")
    # A difference of two rates lies in -1..1; the rates themselves and the p-value in 0..1.
    for names, low, high, what in (
        (("difference", "low", "high"), -1, 1, "a difference of rates"),
        (("rate", "against_rate"), 0, 1, "a rate"),
        (("p_mcnemar",), 0, 1, "a p-value"),
    ):
        for name in names:
            if name not in delta and name not in ("rate", "against_rate"):
                raise LeaderboardError(f"{where}: missing field {name!r}")
            number = _field(delta, name, _NUMBER, where, optional=True)
            if number is not None and not (math.isfinite(number) and low <= number <= high):
                span = f"{low}-{high}" if low == 0 else f"{low} to {high}"
                raise LeaderboardError(
                    f"{where}: field {name!r} is {number}, outside {span} where {what} is expected"
                )
    if delta["low"] is not None and delta["high"] is not None and delta["low"] > delta["high"]:
        raise LeaderboardError(
            f"{where}: fields 'low' ({delta['low']}) and 'high' ({delta['high']}) are reversed"
        )
    _field(delta, "interval", (str,), where, optional=True)


def read_judgments(path: Path) -> list[dict[str, Any]]:
    """The lines of one ``judgments/<judge_id>.jsonl``, each checked for the fields the site shows."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LeaderboardError(f"{path}: cannot read ({error})") from None
    # Split on "\n" only: a response may hold U+2028 and friends, which str.splitlines() would cut at.
    numbered = [(number, line) for number, line in enumerate(text.split("\n"), start=1) if line.strip()]
    try:  # one parse for the whole file is much faster than one per line
        items = json.loads("[" + ",".join(line for _, line in numbered) + "]")
    except json.JSONDecodeError:
        items = None
    if items is None or len(items) != len(numbered):
        items = [_parse_line(path, number, line) for number, line in numbered]
    for (number, _), item in zip(numbered, items, strict=True):
        _check_judgment(item, path, number)
    return items


def _parse_line(path: Path, number: int, line: str) -> Any:
    """One line on its own, to name the line that spoiled the whole-file parse."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise LeaderboardError(f"{path}: line {number}: not valid JSON ({error.msg})") from None


def _check_judgment(item: Any, path: Path, number: int) -> None:
    # A store holds hundreds of thousands of lines: the well-formed case is one flat expression, and
    # the checks go field by field only to word an error.
    if type(item) is dict:
        get = item.get
        category, subcategory, raw = get("category"), get("subcategory"), get("raw")
        refusal, valid = get("refusal"), get("language_valid")
        if (
            type(get("task")) is str and type(get("benchmark")) is str and type(get("language")) is str
            and type(get("question")) is str and type(get("response")) is str and type(get("doc_id")) is int
            and get("verdict") in VERDICTS
            and (category is None or type(category) is str)
            and (subcategory is None or type(subcategory) is str) and (raw is None or type(raw) is str)
            and (refusal is None or type(refusal) is bool) and (valid is None or type(valid) is bool)
        ):  # fmt: skip
            return
    where = f"{path}: line {number}"
    if not isinstance(item, dict):
        raise LeaderboardError(f"{where}: expected a JSON object")
    for name in ("task", "benchmark", "language", "question", "response"):
        _field(item, name, (str,), where)
    _field(item, "doc_id", (int,), where)
    for name in ("category", "subcategory", "raw"):
        _field(item, name, (str,), where, optional=True)
    verdict = _field(item, "verdict", (str,), where)
    if verdict not in VERDICTS:
        raise LeaderboardError(
            f"{where}: field 'verdict' is {verdict!r:.40}, expected harmful, safe or invalid"
        )
    for name in ("refusal", "language_valid"):
        _field(item, name, (bool,), where, optional=True)
