"""CSV cells a spreadsheet would run as a formula, neutralised (OWASP "CSV injection").

Every CSV that storewise writes for people to open (audiences, recommendation exports, rejected
import rows, classified messages) goes through :func:`csv_writer`, so a product title, a
customer's message or a raw import cell such as ``=HYPERLINK("http://evil","x")`` arrives as
text, never as a formula. A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading single quote, which Excel, LibreOffice and Google Sheets show
as text; numbers (ints and floats, negative ones included) are left as they are.

>>> safe_cell('=HYPERLINK("http://x","y")')
'\\'=HYPERLINK("http://x","y")'
>>> safe_cell("-2+3"), safe_cell(-97.15), safe_cell("Cake stand")
("'-2+3", -97.15, 'Cake stand')
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

#: First characters that make a spreadsheet evaluate a cell (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> int: ...


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet will show it as text: a quote before a formula start."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """A ``csv.writer`` whose every cell passes :func:`safe_cell` first."""

    def __init__(self, handle: _Writable, **options: Any) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        """Write one row, neutralised."""
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        """Write many rows, neutralised."""
        for row in rows:
            self.writerow(row)


def csv_writer(handle: _Writable, **options: Any) -> SafeWriter:
    """The CSV writer for files people open in a spreadsheet (same options as csv.writer)."""
    return SafeWriter(handle, **options)


__all__ = ["FORMULA_STARTS", "SafeWriter", "csv_writer", "safe_cell"]
