"""Static HTML leaderboard built from a results store."""
