"""Errors a user can cause when configuring or running a judge."""


class JudgeError(ValueError):
    """Bad judge name or options, a missing API key variable, an unreadable run directory."""
