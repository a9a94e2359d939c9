"""Static HTML leaderboard built from a results store (docs/results-store.md).

``build_site(results_dir, out_dir) -> Path`` is the library entry point; ``resta leaderboard`` wraps
it. The package reads the store's files and never imports ``benchmark``.
"""

from resta_bench.leaderboards.errors import LeaderboardError
from resta_bench.leaderboards.site import build_site

__all__ = ["LeaderboardError", "build_site"]
