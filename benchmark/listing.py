"""What a results store holds, one line per system: ``resta ls RESULTS``.

Read from the store's files only (``system.json``, the finished suites' ``suite.json``, ``scores/``), so
it lists a store copied from elsewhere as well as one a run is writing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.store import SUITE_FILE, UTILITY_SCORES, ResultsStore

ROLE_ORDER = ("aligned", "unaligned", "sft", "realigned")
HEADER = ("NAME", "ID", "ROLE", "METHOD", "PARAMS", "SUITES", "JUDGES")
NONE = "–"


@dataclass(frozen=True)
class SystemSummary:
    system_id: str
    name: str | None
    role: str | None
    method: str | None
    params: dict[str, Any] = field(default_factory=dict)
    suites: list[str] = field(default_factory=list)  # generated (their suite.json written)
    judges: list[str] = field(default_factory=list)  # with a scores file
    utility: bool = False  # lm-eval's utility metrics scored (scores/lm_eval.json)

    def cells(self) -> tuple[str, ...]:
        params = " ".join(f"{key}={value}" for key, value in self.params.items())
        return (
            self.name or NONE,
            self.system_id,
            self.role or NONE,
            self.method or NONE,
            params or NONE,
            ", ".join(self.suites) or NONE,
            ", ".join(self.judges) or NONE,
        )


def _params(meta: dict[str, Any]) -> dict[str, Any]:
    """A re-aligned system's parameters; a fine-tune's task and regime (its variants share them)."""
    if meta.get("role") == "sft":
        return {
            key: meta[field]
            for key, field in (("task", "finetune_task"), ("regime", "regime"))
            if meta.get(field)
        }
    return dict(meta.get("params") or {})


def summarize(store: ResultsStore) -> list[SystemSummary]:
    """Every system of the store: aligned, unaligned, fine-tuned, re-aligned, then by name and id."""
    system_ids = store.system_ids()
    if not system_ids:
        raise ConfigError(f"{store.root}: no results store here (no system folders)")
    summaries = []
    for system_id in system_ids:
        meta = store.read_system(system_id) or {}
        suites = sorted(
            p.parent.name for p in (store.system_dir(system_id) / "lm_eval").glob(f"*/{SUITE_FILE}")
        )
        judges = sorted(p.stem for p in (store.system_dir(system_id) / "scores").glob("*.json"))
        summaries.append(
            SystemSummary(
                system_id=system_id,
                name=meta.get("name"),
                role=meta.get("role"),
                method=meta.get("method"),
                params=_params(meta),
                suites=suites,
                judges=[judge for judge in judges if judge != UTILITY_SCORES],
                utility=UTILITY_SCORES in judges,
            )
        )

    def order(summary: SystemSummary) -> tuple[int, str, str]:
        rank = ROLE_ORDER.index(summary.role) if summary.role in ROLE_ORDER else len(ROLE_ORDER)
        return rank, summary.name or "", summary.system_id

    return sorted(summaries, key=order)


def render_listing(summaries: list[SystemSummary]) -> str:
    """A plain-text table, columns two spaces apart (the last one unpadded)."""
    rows = [HEADER, *(summary.cells() for summary in summaries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER) - 1)]
    lines = ["  ".join([*map(str.ljust, row[:-1], widths), row[-1]]) for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def as_records(summaries: list[SystemSummary]) -> list[dict[str, Any]]:
    return [asdict(summary) for summary in summaries]
