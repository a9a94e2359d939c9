"""Errors a user can cause with the tasks: a missing or malformed data file, a bad task setting."""


class TaskError(ValueError):
    """An absent or unreadable data file, or a bad judge setting; the message names the file or field."""
