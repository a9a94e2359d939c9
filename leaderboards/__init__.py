"""Static HTML leaderboard built from a results store (docs/results-store.md).

``build_site(results_dir, out_dir) -> Path`` is the library entry point; ``resta leaderboard`` wraps
it. The package reads the store's files and never imports ``benchmark``.
"""

from __future__ import annotations

from typing import Any

from resta_bench.leaderboards.errors import LeaderboardError

__all__ = ["LeaderboardError", "build_site"]


def __getattr__(name: str) -> Any:
    # build_site brings pandas and jinja2; `resta tables` and `resta --help` read the store without them.
    if name == "build_site":
        from resta_bench.leaderboards.site import build_site

        return build_site
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
