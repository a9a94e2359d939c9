"""Names that become one path component (system ids, suite names, judge ids, task names, file stems).

One rule everywhere, the leaderboard's rule for ids: a letter or digit first, then letters, digits and
``. _ + = -``, at most 200 characters. No separator, no ``..``, no leading dot (hidden folders are the
store's own), nothing a shell or a URL must quote.
"""

from __future__ import annotations

import re

from resta_bench.storage.errors import StorageError

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,199}")


def is_safe_name(value: object) -> bool:
    return isinstance(value, str) and SAFE_NAME.fullmatch(value) is not None and ".." not in value


def check_name(value: object, field: str) -> str:
    """``value`` when it is a safe path component, else a one-line :class:`StorageError` naming ``field``."""
    if not is_safe_name(value):
        raise StorageError(
            f"{field}: {value!r} cannot name a file or folder (use letters, digits and . _ + = -, "
            "starting with a letter or digit, no '..', at most 200 characters)"
        )
    return value
