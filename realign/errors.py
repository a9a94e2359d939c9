"""The one error class for mistakes a user can make when re-aligning (exit code 2 on the command line)."""

from __future__ import annotations


class RealignError(ValueError):
    """A bad input or option; the message is one line naming the file, tensor or option."""
