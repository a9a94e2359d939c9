"""The one error class of ``storage``: a refused output folder, a name or a lock held by someone else."""

from __future__ import annotations


class StorageError(ValueError):
    """A user's mistake or a busy folder; the message is one line naming the path, name or flag."""
