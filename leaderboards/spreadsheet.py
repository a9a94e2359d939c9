"""CSV cells that a spreadsheet reads as text, never as a formula (OWASP's "CSV injection"), in rows
that any CSV reader splits where they end.

Labels, method names and categories come from results stores that others publish. A cell starting
with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some spreadsheets skip before
looking) is run as a formula when the file is opened; such text gets a leading single quote, which
spreadsheets show as plain text. A cell that is a number (``-0.25``, ``+1e3``) is not a formula and is
written as it is, so negative differences and bounds stay numbers.
"""

from __future__ import annotations

import re

# RFC 4180's line end. With "\n" alone, Python's csv module leaves a field holding a carriage return
# unquoted, and readers then split the row there.
CSV_LINE_END = "\r\n"
# Text that starts like a formula and is not, as a whole, a plain decimal number.
FORMULA = re.compile(r"(?![+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z)[=+\-@\t\r]")


def spreadsheet_text(value: object) -> object:
    """``value``, with a leading ``'`` if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and FORMULA.match(value):
        return "'" + value
    return value
