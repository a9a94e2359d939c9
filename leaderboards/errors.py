"""Errors a user can cause when building a leaderboard (a malformed results store, a bad output path)."""


class LeaderboardError(ValueError):
    """A malformed or missing results-store file; the message names the file and the field."""
